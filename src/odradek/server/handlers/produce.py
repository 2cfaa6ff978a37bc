"""Produce: validate each partition's batches as bytes, append, answer per partition.

acks=0 gets no response; if such a request fails, the connection is closed so the client
notices (as Kafka does)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.common.errors import (
    KafkaError,
    UnsupportedCompressionTypeError,
)
from odradek.common.ids import TopicPartition
from odradek.observability import metrics
from odradek.protocol.api_versions import PRODUCE_KEY
from odradek.protocol.codec import build, response_module
from odradek.protocol.records.batch import (
    ATTRIBUTES_OFFSET,
    COMPRESSION_MASK,
    MAGIC_OFFSET,
    TRANSACTIONAL_FLAG,
)
from odradek.protocol.records.compression import CompressionType
from odradek.protocol.records.validation import record_errors_of
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import authorize, denied
from odradek.server.collaborators import Authorizing, HasQuotas, HasReplicaManager, LeaderDiscovery
from odradek.server.errors import CloseConnectionError
from odradek.server.leader_discovery import (
    node_endpoints,
    supports_leader_discovery,
    with_current_leader,
)

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class ProduceCollaborators(Authorizing, LeaderDiscovery, HasQuotas, HasReplicaManager, Protocol):
    """What Produce reads from the broker: the replica manager, quotas, the authorizer and
    leader discovery."""


def handle_produce(broker: ProduceCollaborators, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(PRODUCE_KEY, header.api_version)
    acks = request.acks
    valid_acks = acks in (0, 1, -1)
    failed = False
    topics: list[Any] = []
    acks_all = acks == -1
    leadership = broker.replica_manager.leadership
    waits: list[tuple[int, int, TopicPartition, int]] = []
    refused = None if broker.authorizer is None else _refused(broker, ctx, request)
    unauthorized = denied(
        ctx, broker, AclOperation.WRITE, ResourceType.TOPIC, (t.name for t in request.topic_data)
    )
    for topic_data in request.topic_data:
        partitions = []
        topic_error = refused
        if unauthorized and topic_data.name in unauthorized:
            topic_error = ErrorCode.topic_authorization_failed
        for data in topic_data.partition_data:
            if not valid_acks:
                partitions.append(_error(module, data.index, ErrorCode.invalid_required_acks, None))
                continue
            if topic_error is not None:
                failed = True
                partitions.append(_error(module, data.index, topic_error, None))
                continue
            try:
                if header.api_version < ZSTD_MIN_PRODUCE_VERSION:
                    reject_zstd(data.records)
                if acks_all:
                    leadership.check_min_isr(topic_data.name, data.index)
                info = broker.replica_manager.append_records(
                    topic_data.name,
                    data.index,
                    data.records,
                    legacy=header.api_version < FIRST_V2_PRODUCE_VERSION,
                )
            except KafkaError as exc:
                failed = True
                metrics.produce_failed(topic_data.name, len(data.records or b""), exc.error_code)
                partitions.append(_failed(broker, module, topic_data.name, data.index, exc))
                continue
            metrics.produced(
                topic_data.name, info.last_offset - info.first_offset + 1, len(data.records)
            )
            append_time = (
                None
                if info.log_append_time < 0
                else datetime.fromtimestamp(info.log_append_time / 1000, UTC)
            )
            partitions.append(
                build(
                    module.PartitionProduceResponse,
                    index=data.index,
                    error_code=ErrorCode.none,
                    base_offset=info.first_offset,
                    log_append_time=append_time,
                    log_start_offset=info.log_start_offset,
                    record_errors=(),
                    error_message=None,
                )
            )
            if acks_all and (required := leadership.isr_offset(info.last_offset + 1)) is not None:
                waits.append(
                    (
                        len(topics),
                        len(partitions) - 1,
                        TopicPartition(topic_data.name, data.index),
                        required,
                    )
                )
        topics.append((topic_data.name, partitions))
    _record_quota(broker, ctx, request)
    if acks == 0:
        if failed:
            raise CloseConnectionError("acks=0 produce failed")
        return None
    if waits:
        return _await_isr(broker, module, ctx, request, topics, waits)
    return _response(broker, module, ctx, topics)


def _record_quota(broker: ProduceCollaborators, ctx: RequestContext, request: Any) -> None:
    """The request's record bytes against the client's producer_byte_rate (the dispatcher
    puts the throttle time in the response and mutes the connection)."""
    quotas = broker.quotas
    if quotas.produce.quota(ctx.principal.name, ctx.header.client_id or "") is None:
        return
    size = sum(len(d.records or b"") for t in request.topic_data for d in t.partition_data)
    quotas.record(quotas.produce, ctx, size, time.monotonic())


def _refused(broker: ProduceCollaborators, ctx: RequestContext, request: Any) -> ErrorCode | None:
    """TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every partition when the request carries
    transactional batches and the principal may not WRITE its transactional id."""
    transactional_id = getattr(request, "transactional_id", None)
    if not any(
        _is_transactional(data.records)
        for topic_data in request.topic_data
        for data in topic_data.partition_data
    ):
        return None
    if transactional_id is not None and authorize(
        ctx, broker, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transactional_id
    ):
        return None
    return ErrorCode.transactional_id_authorization_failed


def _is_transactional(records: bytes | None) -> bool:
    """Whether the first batch of a partition's records is a transactional v2 batch (what
    Kafka looks at)."""
    return bool(
        records
        and len(records) > ATTRIBUTES_OFFSET + 1
        and records[MAGIC_OFFSET] == 2
        and records[ATTRIBUTES_OFFSET + 1] & TRANSACTIONAL_FLAG
    )


def _response(
    broker: ProduceCollaborators, module: Any, ctx: RequestContext, topics: list[Any]
) -> Any:
    """The response; from v10 a NOT_LEADER_OR_FOLLOWER partition names its leader (KIP-951)."""
    leaders: set[int] = set()
    if supports_leader_discovery(module):
        topics = [
            (
                name,
                [
                    with_current_leader(broker, module, TopicPartition(name, p.index), p, leaders)
                    for p in partitions
                ],
            )
            for name, partitions in topics
        ]
    return build(
        module.ProduceResponse,
        responses=tuple(
            build(module.TopicProduceResponse, name=name, partition_responses=tuple(partitions))
            for name, partitions in topics
        ),
        throttle_time=timedelta(0),
        node_endpoints=node_endpoints(broker, module, ctx.listener_name, leaders)
        if leaders
        else (),
    )


async def _await_isr(
    broker: ProduceCollaborators,
    module: Any,
    ctx: RequestContext,
    request: Any,
    topics: list[Any],
    waits: list[tuple[int, int, TopicPartition, int]],
) -> Any:
    """acks=all where the ISR is more than this broker: answer once it has every appended
    batch (or with the partition's error: timed out, not enough replicas after append,
    leadership lost)."""
    timeout_s = max(request.timeout.total_seconds(), 0.001)
    results = await broker.replica_manager.wait_for_isr(
        {tp: required for _, _, tp, required in waits}, timeout_s
    )
    for topic_index, partition_index, tp, _ in waits:
        error = results[tp]
        if error is not None:
            name, partitions = topics[topic_index]
            metrics.produce_failed(name, 0, error.error_code)
            partitions[partition_index] = _error(module, tp.partition, error.error_code, str(error))
    return _response(broker, module, ctx, topics)


ZSTD_MIN_PRODUCE_VERSION = 7
FIRST_V2_PRODUCE_VERSION = 3  # v0-2 carry magic v0/v1 message sets


def reject_zstd(records: bytes | None) -> None:
    """zstd needs Produce v7+ (KIP-110): older requests get UNSUPPORTED_COMPRESSION_TYPE.
    (Magic v0/v1 message sets are checked when they are converted.)"""
    if (
        records
        and len(records) > ATTRIBUTES_OFFSET + 1
        and records[MAGIC_OFFSET] == 2
        and records[ATTRIBUTES_OFFSET + 1] & COMPRESSION_MASK == CompressionType.ZSTD
    ):
        raise UnsupportedCompressionTypeError("zstd compression needs Produce v7 or later")


def _failed(
    broker: ProduceCollaborators, module: Any, topic: str, partition: int, exc: KafkaError
) -> Any:
    """A failed partition. Record-level failures (KIP-467) list the failing records and carry
    Kafka's summary as error_message, with the log start offset, as Kafka answers them."""
    record_errors = record_errors_of(exc)
    entry = getattr(module, "BatchIndexAndErrorMessage", None)  # Produce v8+
    if record_errors is None or entry is None:
        return _error(module, partition, exc.error_code, str(exc))
    try:
        log_start = broker.replica_manager.get_log(topic, partition).log_start_offset
    except KafkaError:
        log_start = -1
    return build(
        module.PartitionProduceResponse,
        index=partition,
        error_code=exc.error_code,
        base_offset=-1,
        log_append_time=None,
        log_start_offset=log_start,
        record_errors=tuple(
            build(entry, batch_index=e.batch_index, batch_index_error_message=e.message)
            for e in record_errors
        ),
        error_message=str(exc),
    )


def _error(module: Any, partition: int, error: ErrorCode, message: str | None) -> Any:
    return build(
        module.PartitionProduceResponse,
        index=partition,
        error_code=error,
        base_offset=-1,
        log_append_time=None,
        log_start_offset=-1,
        record_errors=(),
        error_message=message,
    )
