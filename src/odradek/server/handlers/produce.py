"""Produce: validate each partition's batches as bytes, append, answer per partition.

acks=0 gets no response; if such a request fails, the connection is closed so the client
notices (as Kafka does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError, UnsupportedCompressionTypeError
from odradek.observability import metrics
from odradek.protocol.api_versions import PRODUCE_KEY
from odradek.protocol.codec import RequestHeader, build, response_module
from odradek.protocol.records.batch import ATTRIBUTES_OFFSET, COMPRESSION_MASK
from odradek.protocol.records.compression import CompressionType
from odradek.server.errors import CloseConnectionError

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer


def handle_produce(broker: BrokerServer, header: RequestHeader, request: Any) -> Any:
    module = response_module(PRODUCE_KEY, header.api_version)
    acks = request.acks
    valid_acks = acks in (0, 1, -1)
    failed = False
    topics = []
    for topic_data in request.topic_data:
        partitions = []
        for data in topic_data.partition_data:
            if not valid_acks:
                partitions.append(_error(module, data.index, ErrorCode.invalid_required_acks,
                                         None))
                continue
            try:
                if header.api_version < ZSTD_MIN_PRODUCE_VERSION:
                    reject_zstd(data.records)
                info = broker.replica_manager.append_records(topic_data.name, data.index,
                                                             data.records)
            except KafkaError as exc:
                failed = True
                metrics.produce_failed(topic_data.name, len(data.records or b""), exc.error_code)
                partitions.append(_error(module, data.index, exc.error_code, str(exc)))
                continue
            metrics.produced(topic_data.name, info.last_offset - info.first_offset + 1,
                             len(data.records))
            append_time = None if info.log_append_time < 0 else datetime.fromtimestamp(
                info.log_append_time / 1000, UTC)
            partitions.append(build(
                module.PartitionProduceResponse, index=data.index, error_code=ErrorCode.none,
                base_offset=info.first_offset, log_append_time=append_time,
                log_start_offset=info.log_start_offset, record_errors=(), error_message=None))
        topics.append(build(module.TopicProduceResponse, name=topic_data.name,
                            partition_responses=tuple(partitions)))
    if acks == 0:
        if failed:
            raise CloseConnectionError("acks=0 produce failed")
        return None
    return build(module.ProduceResponse, responses=tuple(topics), throttle_time=timedelta(0))


ZSTD_MIN_PRODUCE_VERSION = 7


def reject_zstd(records: bytes | None) -> None:
    """zstd needs Produce v7+ (KIP-110): older requests get UNSUPPORTED_COMPRESSION_TYPE."""
    if records and len(records) > ATTRIBUTES_OFFSET + 1 and \
            records[ATTRIBUTES_OFFSET + 1] & COMPRESSION_MASK == CompressionType.ZSTD:
        raise UnsupportedCompressionTypeError("zstd compression needs Produce v7 or later")


def _error(module: Any, partition: int, error: ErrorCode, message: str | None) -> Any:
    return build(module.PartitionProduceResponse, index=partition, error_code=error,
                 base_offset=-1, log_append_time=None, log_start_offset=-1, record_errors=(),
                 error_message=message)
