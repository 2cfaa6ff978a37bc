"""OffsetCommit, OffsetFetch (one group, or several from v8), OffsetDelete."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.coordinator.group.consumer.manager import ConsumerGroupManager
from odradek.coordinator.group.coordinator import OffsetCommit
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import authorize, denied
from odradek.server.collaborators import GroupCoordination, HasMetadataStore
from odradek.server.handlers.group_membership import (
    coordinator_error,
    group_refused,
    not_coordinator,
)

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class GroupOffsetsCollaborators(GroupCoordination, HasMetadataStore, Protocol):
    """What OffsetCommit, OffsetFetch and OffsetDelete read from the broker."""


ZERO = timedelta(0)


def handle_offset_commit(
    broker: GroupOffsetsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.OFFSET_COMMIT_KEY, header.api_version)
    offsets = {
        (topic.name, p.partition_index): OffsetCommit(
            p.committed_offset, getattr(p, "committed_leader_epoch", -1), p.committed_metadata
        )
        for topic in request.topics
        for p in topic.partitions
    }
    refused = group_refused(broker, ctx, request.group_id)
    if refused is not None:
        return _commit_response(module, request, dict.fromkeys(offsets, refused))
    unreadable = _unreadable(broker, ctx, request.topics)
    failed = {
        key: error
        for key in offsets
        if (error := _commit_refusal(broker, key, unreadable)) is not None
    }
    known = {key: value for key, value in offsets.items() if key not in failed}
    unavailable = coordinator_error(broker, request.group_id) or _needs_member_epoch(
        broker, request, header.api_version
    )
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
    results.update(failed)
    return _commit_response(module, request, results)


def _needs_member_epoch(
    broker: GroupOffsetsCollaborators, request: Any, version: int
) -> ErrorCode | None:
    """A member of a consumer-protocol group commits with OffsetCommit v9+, whose generation
    is its member epoch: older versions get UNSUPPORTED_VERSION, as in Kafka. A classic
    member of a consumer group (KIP-848's online migration) commits with any version."""
    if version >= 9:
        return None
    group = broker.groups.coordinator.consumer_group(request.group_id)
    member = group.members.get(request.member_id) if group is not None else None
    if member is not None and not member.uses_classic_protocol:
        return ErrorCode.unsupported_version
    return None


def _commit_response(module: Any, request: Any, results: dict[tuple[str, int], ErrorCode]) -> Any:
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


def _unreadable(
    broker: GroupOffsetsCollaborators, ctx: RequestContext, topics: Any
) -> frozenset[str]:
    """The topics (of a commit or an offset deletion) the principal may not READ."""
    return denied(ctx, broker, AclOperation.READ, ResourceType.TOPIC, (t.name for t in topics))


def _commit_refusal(
    broker: GroupOffsetsCollaborators, key: tuple[str, int], unreadable: frozenset[str]
) -> ErrorCode | None:
    """Why offsets of a partition cannot be committed or deleted: a topic the principal may
    not READ, or a partition that does not exist (Kafka answers both before the coordinator
    sees the offsets)."""
    if unreadable and key[0] in unreadable:
        return ErrorCode.topic_authorization_failed
    if not _partition_exists(broker, key):
        return ErrorCode.unknown_topic_or_partition
    return None


def handle_offset_fetch(
    broker: GroupOffsetsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.OFFSET_FETCH_KEY, header.api_version)
    unavailable = coordinator_error(broker)
    if header.api_version >= 8:
        stable = bool(getattr(request, "require_stable", False))
        groups = tuple(
            _fetch_group(
                broker,
                ctx,
                module,
                g.group_id,
                g.topics,
                unavailable or _stale_member(broker, g),
                True,
                stable,
            )
            for g in request.groups
        )
        return build(module.OffsetFetchResponse, throttle_time=ZERO, groups=groups)
    topics, error = _fetch_topics(
        broker,
        ctx,
        module,
        request.group_id,
        request.topics,
        unavailable,
        False,
        bool(getattr(request, "require_stable", False)),
    )
    return build(module.OffsetFetchResponse, throttle_time=ZERO, topics=topics, error_code=error)


def _stale_member(broker: GroupOffsetsCollaborators, group: Any) -> ErrorCode | None:
    """OffsetFetch v9 from a member of a consumer-protocol group: UNKNOWN_MEMBER_ID or
    STALE_MEMBER_EPOCH unless it is a member at its current epoch (KIP-848)."""
    consumer_group = broker.groups.coordinator.consumer_group(group.group_id)
    if consumer_group is None:
        return None
    return ConsumerGroupManager.validate_offset_fetch(
        consumer_group, getattr(group, "member_id", None), getattr(group, "member_epoch", -1)
    )


def _fetch_group(
    broker: GroupOffsetsCollaborators,
    ctx: RequestContext,
    module: Any,
    group_id: str,
    requested: Any,
    unavailable: ErrorCode | None,
    batched: bool,
    require_stable: bool,
) -> Any:
    topics, error = _fetch_topics(
        broker, ctx, module, group_id, requested, unavailable, batched, require_stable
    )
    return build(
        module.OffsetFetchResponseGroup, group_id=group_id, topics=topics, error_code=error
    )


def _fetch_topics(
    broker: GroupOffsetsCollaborators,
    ctx: RequestContext,
    module: Any,
    group_id: str,
    requested: Any,
    unavailable: ErrorCode | None,
    batched: bool,
    require_stable: bool,
) -> tuple[Any, ErrorCode]:
    """One group's offsets: the group needs DESCRIBE, and each topic too (see
    :func:`_undescribable`)."""
    topic_type = module.OffsetFetchResponseTopics if batched else module.OffsetFetchResponseTopic
    part_type = (
        module.OffsetFetchResponsePartitions if batched else module.OffsetFetchResponsePartition
    )
    if not authorize(ctx, broker, AclOperation.DESCRIBE, ResourceType.GROUP, group_id):
        return (), ErrorCode.group_authorization_failed
    if unavailable is None:
        unavailable = not_coordinator(broker, group_id)
    if unavailable is not None:
        return (), unavailable
    wanted = None
    if requested is not None:
        wanted = [(t.name, p) for t in requested for p in t.partition_indexes]
    refused: list[tuple[str, int]] = []
    hidden = _undescribable(broker, ctx, wanted)
    if hidden and wanted is not None:
        refused = [key for key in wanted if key[0] in hidden]
        wanted = [key for key in wanted if key[0] not in hidden]
    coordinator = broker.groups.coordinator
    found = coordinator.fetch_offsets(group_id, wanted)
    if requested is None and broker.authorizer is not None:
        hidden = _undescribable(broker, ctx, found)
        found = {key: value for key, value in found.items() if key[0] not in hidden}
    by_topic: dict[str, list[Any]] = {}
    for topic, partition in refused:
        by_topic.setdefault(topic, []).append(
            _fetched(part_type, partition, -1, -1, "", ErrorCode.topic_authorization_failed)
        )
    for (topic, partition), value in found.items():
        unstable = require_stable and coordinator.has_pending_offsets(group_id, (topic, partition))
        by_topic.setdefault(topic, []).append(
            _fetched(
                part_type,
                partition,
                value.offset if value is not None and not unstable else -1,
                value.leader_epoch if value is not None else -1,
                value.metadata if value is not None else "",
                ErrorCode.unstable_offset_commit if unstable else ErrorCode.none,
            )
        )
    topics = tuple(
        build(topic_type, name=name, partitions=tuple(parts)) for name, parts in by_topic.items()
    )
    return topics, ErrorCode.none


def _undescribable(
    broker: GroupOffsetsCollaborators,
    ctx: RequestContext,
    partitions: Iterable[tuple[str, int]] | None,
) -> frozenset[str]:
    """The topics of ``partitions`` whose offsets the principal may not see: those it may
    not DESCRIBE (left out of "all offsets", TOPIC_AUTHORIZATION_FAILED when asked for)."""
    names = (topic for topic, _ in partitions or ())
    return denied(ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, names)


def _fetched(
    part_type: Any, partition: int, offset: int, epoch: int, metadata: str, error: ErrorCode
) -> Any:
    return build(
        part_type,
        partition_index=partition,
        committed_offset=offset,
        committed_leader_epoch=epoch,
        metadata=metadata,
        error_code=error,
    )


def handle_offset_delete(
    broker: GroupOffsetsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.OFFSET_DELETE_KEY, header.api_version)
    wanted = [(t.name, p.partition_index) for t in request.topics for p in t.partitions]
    unavailable = (
        coordinator_error(broker, request.group_id)
        if authorize(ctx, broker, AclOperation.DELETE, ResourceType.GROUP, request.group_id)
        else ErrorCode.group_authorization_failed
    )
    results: dict[tuple[str, int], ErrorCode] = {}
    if unavailable is not None:
        error = unavailable
    else:
        unreadable = _unreadable(broker, ctx, request.topics)
        failed = {
            key: refusal
            for key in wanted
            if (refusal := _commit_refusal(broker, key, unreadable)) is not None
        }
        error, results = broker.groups.coordinator.delete_offsets(
            request.group_id, [key for key in wanted if key not in failed], ctx.writes
        )
        results.update(failed)
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


def _partition_exists(broker: GroupOffsetsCollaborators, key: tuple[str, int]) -> bool:
    """Kafka answers UNKNOWN_TOPIC_OR_PARTITION for offsets of partitions that do not exist
    before the coordinator sees them."""
    topic = broker.metadata_store.topics.get(key[0])
    return topic is not None and 0 <= key[1] < topic.partitions
