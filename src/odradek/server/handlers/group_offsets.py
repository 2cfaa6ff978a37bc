"""OffsetCommit, OffsetFetch (one group, or several from v8), OffsetDelete."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from odradek.coordinator.group.coordinator import OffsetCommit
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.server.handlers.group_membership import coordinator_error, not_coordinator

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer
    from odradek.server.request_context import RequestContext

ZERO = timedelta(0)


def handle_offset_commit(broker: BrokerServer, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(keys.OFFSET_COMMIT_KEY, header.api_version)
    offsets = {
        (topic.name, p.partition_index): OffsetCommit(
            p.committed_offset, getattr(p, "committed_leader_epoch", -1), p.committed_metadata
        )
        for topic in request.topics
        for p in topic.partitions
    }
    unknown = {key for key in offsets if not _partition_exists(broker, key)}
    known = {key: value for key, value in offsets.items() if key not in unknown}
    unavailable = coordinator_error(broker, request.group_id)
    if unavailable is not None:
        results = dict.fromkeys(known, unavailable)
    elif known:
        results = broker.groups.coordinator.commit_offsets(
            request.group_id,
            request.member_id,
            getattr(request, "group_instance_id", None),
            request.generation_id_or_member_epoch,
            known,
            ctx.writes,
        )
    else:
        results = {}
    results.update(dict.fromkeys(unknown, ErrorCode.unknown_topic_or_partition))
    topics = tuple(
        build(
            module.OffsetCommitResponseTopic,
            name=topic.name,
            partitions=tuple(
                build(
                    module.OffsetCommitResponsePartition,
                    partition_index=p.partition_index,
                    error_code=results[(topic.name, p.partition_index)],
                )
                for p in topic.partitions
            ),
        )
        for topic in request.topics
    )
    return build(module.OffsetCommitResponse, throttle_time=ZERO, topics=topics)


def handle_offset_fetch(broker: BrokerServer, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(keys.OFFSET_FETCH_KEY, header.api_version)
    unavailable = coordinator_error(broker)
    if header.api_version >= 8:
        stable = bool(getattr(request, "require_stable", False))
        groups = tuple(
            _fetch_group(broker, module, g.group_id, g.topics, unavailable, True, stable)
            for g in request.groups
        )
        return build(module.OffsetFetchResponse, throttle_time=ZERO, groups=groups)
    topics, error = _fetch_topics(
        broker,
        module,
        request.group_id,
        request.topics,
        unavailable,
        False,
        bool(getattr(request, "require_stable", False)),
    )
    return build(module.OffsetFetchResponse, throttle_time=ZERO, topics=topics, error_code=error)


def _fetch_group(
    broker: BrokerServer,
    module: Any,
    group_id: str,
    requested: Any,
    unavailable: ErrorCode | None,
    batched: bool,
    require_stable: bool,
) -> Any:
    topics, error = _fetch_topics(
        broker, module, group_id, requested, unavailable, batched, require_stable
    )
    return build(
        module.OffsetFetchResponseGroup, group_id=group_id, topics=topics, error_code=error
    )


def _fetch_topics(
    broker: BrokerServer,
    module: Any,
    group_id: str,
    requested: Any,
    unavailable: ErrorCode | None,
    batched: bool,
    require_stable: bool,
) -> tuple[Any, ErrorCode]:
    topic_type = module.OffsetFetchResponseTopics if batched else module.OffsetFetchResponseTopic
    part_type = (
        module.OffsetFetchResponsePartitions if batched else module.OffsetFetchResponsePartition
    )
    if unavailable is None:
        unavailable = not_coordinator(broker, group_id)
    if unavailable is not None:
        return (), unavailable
    wanted = (
        None if requested is None else [(t.name, p) for t in requested for p in t.partition_indexes]
    )
    coordinator = broker.groups.coordinator
    found = coordinator.fetch_offsets(group_id, wanted)
    by_topic: dict[str, list[Any]] = {}
    for (topic, partition), value in found.items():
        unstable = require_stable and coordinator.has_pending_offsets(group_id, (topic, partition))
        by_topic.setdefault(topic, []).append(
            build(
                part_type,
                partition_index=partition,
                committed_offset=value.offset if value is not None and not unstable else -1,
                committed_leader_epoch=value.leader_epoch if value is not None else -1,
                metadata=value.metadata if value is not None else "",
                error_code=ErrorCode.unstable_offset_commit if unstable else ErrorCode.none,
            )
        )
    topics = tuple(
        build(topic_type, name=name, partitions=tuple(parts)) for name, parts in by_topic.items()
    )
    return topics, ErrorCode.none


def handle_offset_delete(broker: BrokerServer, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(keys.OFFSET_DELETE_KEY, header.api_version)
    wanted = [(t.name, p.partition_index) for t in request.topics for p in t.partitions]
    unavailable = coordinator_error(broker, request.group_id)
    results: dict[tuple[str, int], ErrorCode] = {}
    if unavailable is not None:
        error = unavailable
    else:
        unknown = [key for key in wanted if not _partition_exists(broker, key)]
        error, results = broker.groups.coordinator.delete_offsets(
            request.group_id, [key for key in wanted if key not in unknown], ctx.writes
        )
        results.update(dict.fromkeys(unknown, ErrorCode.unknown_topic_or_partition))
    topics = (
        ()
        if error is not ErrorCode.none
        else tuple(
            build(
                module.OffsetDeleteResponseTopic,
                name=t.name,
                partitions=tuple(
                    build(
                        module.OffsetDeleteResponsePartition,
                        partition_index=p.partition_index,
                        error_code=results[(t.name, p.partition_index)],
                    )
                    for p in t.partitions
                ),
            )
            for t in request.topics
        )
    )
    return build(module.OffsetDeleteResponse, error_code=error, throttle_time=ZERO, topics=topics)


def _partition_exists(broker: BrokerServer, key: tuple[str, int]) -> bool:
    """Kafka answers UNKNOWN_TOPIC_OR_PARTITION for offsets of partitions that do not exist
    before the coordinator sees them."""
    topic = broker.metadata_store.topics.get(key[0])
    return topic is not None and 0 <= key[1] < topic.partitions
