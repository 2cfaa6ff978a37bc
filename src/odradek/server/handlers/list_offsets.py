"""ListOffsets: earliest, latest, by timestamp (through the time index), max timestamp; v0 (the
pre-0.10.1 OffsetRequest) with Kafka 3.x's offsets-before semantics over segment files."""

from __future__ import annotations

from datetime import timedelta
from itertools import dropwhile
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.cluster.replica_manager import check_leader_epoch
from odradek.common.errors import KafkaError
from odradek.protocol.api_versions import LIST_OFFSETS_KEY
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import TopicAuthorizationError, denied
from odradek.server.collaborators import Authorizing, HasReplicaManager
from odradek.storage.log import Log
from odradek.storage.segment import LogSegment

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class ListOffsetsCollaborators(Authorizing, HasReplicaManager, Protocol):
    """What ListOffsets reads from the broker."""


LATEST = -1
EARLIEST = -2
MAX_TIMESTAMP = -3
EARLIEST_LOCAL = -4
LATEST_TIERED = -5
CONSUMER_REPLICA_ID = -1


def handle_list_offsets(broker: ListOffsetsCollaborators, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(LIST_OFFSETS_KEY, header.api_version)
    from_consumer = request.replica_id == CONSUMER_REPLICA_ID
    unauthorized = denied(
        ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, (t.name for t in request.topics)
    )
    topics = []
    for topic in request.topics:
        partitions = []
        for item in topic.partitions:
            old_style: tuple[int, ...] = ()
            try:
                if unauthorized and topic.name in unauthorized:
                    raise TopicAuthorizationError(topic.name)
                log_obj = broker.replica_manager.get_log(topic.name, item.partition_index)
                check_leader_epoch(log_obj, getattr(item, "current_leader_epoch", -1))
                if header.api_version == 0:
                    timestamp, offset, code = -1, -1, ErrorCode.none
                    old_style = legacy_offsets_before(
                        log_obj, item.timestamp, item.max_num_offsets, from_consumer
                    )
                else:
                    timestamp, offset = _lookup(
                        log_obj, item.timestamp, getattr(request, "isolation_level", 0) == 1
                    )
                    code = ErrorCode.none
            except KafkaError as exc:
                timestamp, offset, code = -1, -1, exc.error_code
            except NegativeMaxOffsetsError:
                timestamp, offset, code = -1, -1, ErrorCode.unknown_server_error
            partitions.append(
                build(
                    module.ListOffsetsPartitionResponse,
                    partition_index=item.partition_index,
                    error_code=code,
                    timestamp=timestamp,
                    offset=offset,
                    leader_epoch=log_obj.leader_epoch if code == 0 else -1,
                    old_style_offsets=old_style,
                )
            )
        topics.append(
            build(module.ListOffsetsTopicResponse, name=topic.name, partitions=tuple(partitions))
        )
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
        if offset < 0:
            return -1, -1
        exact = log_obj.offset_for_timestamp(max_ts)
        return (max_ts, exact[0]) if exact is not None else (max_ts, offset)
    found = log_obj.offset_for_timestamp(timestamp)
    if found is None:
        return -1, -1
    offset, record_ts = found
    return record_ts, offset


class NegativeMaxOffsetsError(ValueError):
    """A v0 max_num_offsets below zero: Kafka fails that partition with UNKNOWN_SERVER_ERROR."""


def legacy_offsets_before(
    log_obj: Log, timestamp: int, max_num_offsets: int, from_consumer: bool
) -> tuple[int, ...]:
    """ListOffsets v0, as Kafka 3.x's ``legacyFetchOffsetsBefore``: each segment is the point
    (base offset, at least the log start offset; the segment file's last-modified time), and
    a non-empty active segment adds (log end offset, now). Latest starts from the last point,
    earliest from the first, a timestamp from the last point modified at or before it; up to
    ``max_num_offsets`` offsets are returned from there backwards, in descending order. For a
    consumer (replica id -1) offsets above the high watermark give way to the high watermark."""
    segments = list(log_obj.segments)
    points = [
        (max(s.base_offset, log_obj.log_start_offset), _last_modified_ms(s)) for s in segments
    ]
    if segments[-1].size > 0:
        points.append((log_obj.log_end_offset, log_obj.clock.milliseconds()))
    if timestamp == LATEST:
        start = len(points) - 1
    elif timestamp == EARLIEST:
        start = 0
    else:
        start = next((i for i in reversed(range(len(points))) if points[i][1] <= timestamp), -1)
    count = min(max_num_offsets, start + 1)
    if count < 0:
        raise NegativeMaxOffsetsError(f"max_num_offsets {max_num_offsets}")
    offsets = sorted((points[start - j][0] for j in range(count)), reverse=True)
    if from_consumer:
        high_watermark = log_obj.high_watermark
        if any(offset > high_watermark for offset in offsets):
            offsets = [high_watermark, *dropwhile(lambda o: o > high_watermark, offsets)]
    return tuple(offsets)


def _last_modified_ms(segment: LogSegment) -> int:
    try:
        return int(segment.log_path.stat().st_mtime * 1000)
    except FileNotFoundError:
        return 0  # as Java's File.lastModified for a file that is gone
