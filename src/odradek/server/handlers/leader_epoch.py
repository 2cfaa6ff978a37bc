"""OffsetForLeaderEpoch: where a leader epoch ended in this replica's log (consumers use it to
detect truncation after a leader change; followers use it to truncate before fetching)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.cluster.replica_manager import check_leader_epoch
from odradek.common.errors import KafkaError
from odradek.protocol.api_versions import OFFSET_FOR_LEADER_EPOCH_KEY
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import TopicAuthorizationError, authorize, denied
from odradek.server.collaborators import Authorizing, HasReplicaManager

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class LeaderEpochCollaborators(Authorizing, HasReplicaManager, Protocol):
    """What OffsetForLeaderEpoch reads from the broker."""


def handle_offset_for_leader_epoch(
    broker: LeaderEpochCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(OFFSET_FOR_LEADER_EPOCH_KEY, header.api_version)
    unauthorized = _unauthorized(broker, ctx, request)
    topics = []
    for topic in request.topics:
        partitions = []
        for item in topic.partitions:
            epoch, end, error = -1, -1, ErrorCode.none
            try:
                if unauthorized and topic.topic in unauthorized:
                    raise TopicAuthorizationError(topic.topic)
                log_obj = broker.replica_manager.get_log(topic.topic, item.partition)
                check_leader_epoch(log_obj, item.current_leader_epoch)
                epoch, end = log_obj.epoch_cache.end_offset_for(
                    item.leader_epoch, log_obj.log_end_offset
                )
            except KafkaError as exc:
                error = exc.error_code
            partitions.append(
                build(
                    module.EpochEndOffset,
                    error_code=error,
                    partition=item.partition,
                    leader_epoch=epoch,
                    end_offset=end,
                )
            )
        topics.append(
            build(
                module.OffsetForLeaderTopicResult, topic=topic.topic, partitions=tuple(partitions)
            )
        )
    return build(
        module.OffsetForLeaderEpochResponse, throttle_time=timedelta(0), topics=tuple(topics)
    )


def _unauthorized(
    broker: LeaderEpochCollaborators, ctx: RequestContext, request: Any
) -> frozenset[str]:
    """The topics the principal may not ask about: none with CLUSTER_ACTION on the cluster
    (followers), else those it may not DESCRIBE (consumers, KIP-320)."""
    if broker.authorizer is None or authorize(
        ctx, broker, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER
    ):
        return frozenset()
    names = (t.topic for t in request.topics)
    return denied(ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, names)
