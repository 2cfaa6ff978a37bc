"""ListOffsets: earliest, latest, by timestamp (through the time index), max timestamp."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.protocol.api_versions import LIST_OFFSETS_KEY
from odradek.protocol.codec import RequestHeader, build, response_module
from odradek.server.handlers.leader_epoch import epoch_error
from odradek.storage.log import Log

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer

LATEST = -1
EARLIEST = -2
MAX_TIMESTAMP = -3
EARLIEST_LOCAL = -4
LATEST_TIERED = -5


def handle_list_offsets(broker: BrokerServer, header: RequestHeader, request: Any) -> Any:
    module = response_module(LIST_OFFSETS_KEY, header.api_version)
    topics = []
    for topic in request.topics:
        partitions = []
        for item in topic.partitions:
            try:
                log_obj = broker.replica_manager.get_log(topic.name, item.partition_index)
                fenced = epoch_error(log_obj, getattr(item, "current_leader_epoch", -1))
                if fenced is not None:
                    timestamp, offset, code = -1, -1, fenced
                else:
                    timestamp, offset = _lookup(log_obj, item.timestamp,
                                                getattr(request, "isolation_level", 0) == 1)
                    code = ErrorCode.none
            except KafkaError as exc:
                timestamp, offset, code = -1, -1, exc.error_code
            partitions.append(build(module.ListOffsetsPartitionResponse,
                                    partition_index=item.partition_index, error_code=code,
                                    timestamp=timestamp, offset=offset,
                                    leader_epoch=log_obj.leader_epoch if code == 0 else -1,
                                    old_style_offsets=()))
        topics.append(build(module.ListOffsetsTopicResponse, name=topic.name,
                            partitions=tuple(partitions)))
    return build(module.ListOffsetsResponse, throttle_time=timedelta(0), topics=tuple(topics))


def _lookup(log_obj: Log, timestamp: int, committed: bool) -> tuple[int, int]:
    """(timestamp, offset) as Kafka answers them; (-1, -1) when no record qualifies."""
    if timestamp in (EARLIEST, EARLIEST_LOCAL):
        return -1, log_obj.log_start_offset
    if timestamp == LATEST:
        return -1, log_obj.last_stable_offset if committed else log_obj.high_watermark
    if timestamp == LATEST_TIERED:
        return -1, -1
    if timestamp == MAX_TIMESTAMP:
        max_ts, offset = log_obj.max_timestamp_and_offset()
        return (max_ts, offset) if offset >= 0 else (-1, -1)
    found = log_obj.offset_for_timestamp(timestamp)
    if found is None:
        return -1, -1
    offset, record_ts = found
    return record_ts, offset
