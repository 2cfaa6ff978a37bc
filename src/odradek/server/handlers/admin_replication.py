"""ElectLeaders, AlterPartitionReassignments, ListPartitionReassignments: requests for the
controller, answered by the broker's cluster membership (in a ZooKeeper cluster on the
controller's thread, NOT_CONTROLLER elsewhere; a single node is its own controller, whose
only replica is always the preferred leader)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from kio.schema.errors import ErrorCode

from odradek.cluster.elections import ElectionResult
from odradek.cluster.reassignment import OngoingReassignment
from odradek.common.errors import KafkaError
from odradek.common.ids import TopicPartition
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import CLUSTER_AUTHORIZATION_FAILED, authorize
from odradek.server.collaborators import Authorizing, HasCluster

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class AdminReplicationCollaborators(Authorizing, HasCluster, Protocol):
    """What ElectLeaders and the partition reassignment requests read from the broker: the
    cluster membership, which answers them."""


ZERO = timedelta(0)
PREFERRED, UNCLEAN = 0, 1
T = TypeVar("T")


# -- ElectLeaders ---------------------------------------------------------------------------


async def handle_elect_leaders(
    broker: AdminReplicationCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.ELECT_LEADERS_KEY, header.api_version)
    unclean = getattr(request, "election_type", PREFERRED) == UNCLEAN
    wanted = (
        None
        if request.topic_partitions is None
        else [TopicPartition(t.topic, p) for t in request.topic_partitions for p in t.partitions]
    )
    error = ErrorCode.none
    results: list[ElectionResult] = []
    if not authorize(ctx, broker, AclOperation.ALTER, ResourceType.CLUSTER):
        error = ErrorCode.cluster_authorization_failed
    elif unclean and header.api_version == 0:
        error = ErrorCode.invalid_request
    else:
        try:
            results = await broker.cluster.elect_leaders(wanted, unclean)
        except KafkaError as exc:
            error = exc.error_code
    by_topic: dict[str, list[Any]] = {}
    for result in results:
        by_topic.setdefault(result.tp.topic, []).append(
            build(
                module.PartitionResult,
                partition_id=result.tp.partition,
                error_code=result.error,
                error_message=result.message,
            )
        )
    if error is not ErrorCode.none and wanted:
        for tp in wanted:
            by_topic.setdefault(tp.topic, []).append(
                build(
                    module.PartitionResult,
                    partition_id=tp.partition,
                    error_code=error,
                    error_message=None,
                )
            )
    return build(
        module.ElectLeadersResponse,
        throttle_time=ZERO,
        error_code=error,
        replica_election_results=tuple(
            build(module.ReplicaElectionResult, topic=name, partition_result=tuple(rs))
            for name, rs in by_topic.items()
        ),
    )


# -- AlterPartitionReassignments ------------------------------------------------------------


async def handle_alter_partition_reassignments(
    broker: AdminReplicationCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.ALTER_PARTITION_REASSIGNMENTS_KEY, header.api_version)
    wanted: dict[TopicPartition, list[int] | None] = {}
    for topic in request.topics:
        for item in topic.partitions:
            replicas = None if item.replicas is None else [int(r) for r in item.replicas]
            wanted[TopicPartition(topic.name, item.partition_index)] = replicas
    error, message = ErrorCode.none, None
    results: dict[TopicPartition, tuple[ErrorCode, str | None]] = {}
    if not authorize(ctx, broker, AclOperation.ALTER, ResourceType.CLUSTER):
        error, message = ErrorCode.cluster_authorization_failed, CLUSTER_AUTHORIZATION_FAILED
    else:
        try:
            results = await broker.cluster.alter_reassignments(wanted)
        except KafkaError as exc:
            error, message = exc.error_code, str(exc)
    by_topic: dict[str, list[Any]] = {}
    for topic in request.topics:
        for item in topic.partitions:
            code, text = results.get(
                TopicPartition(topic.name, item.partition_index), (error, message)
            )
            by_topic.setdefault(topic.name, []).append(
                build(
                    module.ReassignablePartitionResponse,
                    partition_index=item.partition_index,
                    error_code=code,
                    error_message=text,
                )
            )
    return build(
        module.AlterPartitionReassignmentsResponse,
        throttle_time=ZERO,
        error_code=error,
        error_message=message,
        allow_replication_factor_change=False,
        responses=tuple(
            build(module.ReassignableTopicResponse, name=name, partitions=tuple(ps))
            for name, ps in by_topic.items()
        ),
    )


# -- ListPartitionReassignments -------------------------------------------------------------


async def handle_list_partition_reassignments(
    broker: AdminReplicationCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.LIST_PARTITION_REASSIGNMENTS_KEY, header.api_version)
    wanted = (
        None
        if request.topics is None
        else [TopicPartition(t.name, p) for t in request.topics for p in t.partition_indexes]
    )
    error, message = ErrorCode.none, None
    ongoing: list[OngoingReassignment] = []
    if not authorize(ctx, broker, AclOperation.DESCRIBE, ResourceType.CLUSTER):
        error, message = ErrorCode.cluster_authorization_failed, CLUSTER_AUTHORIZATION_FAILED
    else:
        try:
            ongoing = await broker.cluster.list_reassignments(wanted)
        except KafkaError as exc:
            error, message = exc.error_code, str(exc)
    by_topic: dict[str, list[Any]] = {}
    for item in ongoing:
        by_topic.setdefault(item.tp.topic, []).append(
            build(
                module.OngoingPartitionReassignment,
                partition_index=item.tp.partition,
                replicas=tuple(item.replicas),
                adding_replicas=tuple(item.adding),
                removing_replicas=tuple(item.removing),
            )
        )
    return build(
        module.ListPartitionReassignmentsResponse,
        throttle_time=ZERO,
        error_code=error,
        error_message=message,
        topics=tuple(
            build(module.OngoingTopicReassignment, name=name, partitions=tuple(ps))
            for name, ps in by_topic.items()
        ),
    )
