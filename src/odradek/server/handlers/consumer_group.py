"""ConsumerGroupHeartbeat and ConsumerGroupDescribe (KIP-848): thin translations between kio
messages and the consumer-group half of the group coordinator."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.coordinator.group.consumer.model import Assignment, ConsumerGroup, Requester
from odradek.coordinator.group.coordinator import HeartbeatRequest
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import (
    AUTHORIZED_OPERATIONS_OMITTED,
    GROUP_AUTHORIZATION_FAILED,
    TOPIC_AUTHORIZATION_FAILED,
    authorize,
    authorized_operations,
    denied,
)
from odradek.server.collaborators import GroupCoordination
from odradek.server.handlers.group_membership import (
    coordinator_error,
    group_refused,
    not_coordinator,
)

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class ConsumerGroupCollaborators(GroupCoordination, Protocol):
    """What ConsumerGroupHeartbeat and ConsumerGroupDescribe (KIP-848) read from the broker."""


ZERO = timedelta(0)
# ConsumerGroupDescribe v1's MemberType: a member speaking the classic or the consumer protocol
CLASSIC_MEMBER_TYPE = 0
CONSUMER_MEMBER_TYPE = 1


def _ms(value: Any) -> int:
    return int(value.total_seconds() * 1000) if isinstance(value, timedelta) else int(value)


def _consumer_protocol_enabled(broker: ConsumerGroupCollaborators) -> bool:
    """``group.coordinator.rebalance.protocols`` lists ``consumer``."""
    return "consumer" in broker.groups.coordinator.config.rebalance_protocols


def _owned(request: Any) -> Assignment | None:
    if request.topic_partitions is None:
        return None
    owned: Assignment = {}
    for topic in request.topic_partitions:
        if topic.topic_id is not None and topic.partitions:
            owned[topic.topic_id] = owned.get(topic.topic_id, frozenset()) | frozenset(
                topic.partitions
            )
    return owned


def handle_consumer_group_heartbeat(
    broker: ConsumerGroupCollaborators, ctx: RequestContext, request: Any
) -> Any:
    module = response_module(keys.CONSUMER_GROUP_HEARTBEAT_KEY, ctx.header.api_version)

    def failed(error: ErrorCode, message: str | None = None) -> Any:
        return build(
            module.ConsumerGroupHeartbeatResponse,
            throttle_time=ZERO,
            error_code=error,
            error_message=message,
            member_id=request.member_id or None,
            member_epoch=-1,
            heartbeat_interval=ZERO,
            assignment=None,
        )

    if not _consumer_protocol_enabled(broker):
        return failed(ErrorCode.unsupported_version, "The consumer group protocol is disabled.")
    refused = group_refused(broker, ctx, request.group_id)
    if refused is not None:
        return failed(refused, GROUP_AUTHORIZATION_FAILED)
    names = request.subscribed_topic_names
    # Kafka 4.0 (KAFKA-18813): a member may subscribe only to topics it may DESCRIBE.
    if names and denied(ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, names):
        return failed(ErrorCode.topic_authorization_failed, TOPIC_AUTHORIZATION_FAILED)
    unavailable = coordinator_error(broker, request.group_id)
    if unavailable is not None:
        return failed(unavailable)
    if ctx.header.api_version >= 1 and not request.member_id:
        return failed(ErrorCode.invalid_request, "MemberId can't be empty.")
    result = broker.groups.coordinator.consumer_group_heartbeat(
        HeartbeatRequest(
            group_id=request.group_id,
            member_id=request.member_id,
            member_epoch=request.member_epoch,
            instance_id=request.instance_id,
            rack_id=request.rack_id,
            rebalance_timeout_ms=_ms(request.rebalance_timeout),
            subscribed_topic_names=tuple(names) if names is not None else None,
            subscribed_topic_regex=getattr(request, "subscribed_topic_regex", None),
            server_assignor=request.server_assignor,
            owned=_owned(request),
            client_id=ctx.header.client_id or "",
            client_host=ctx.client_host,
            requester=Requester(ctx.principal, ctx.connection.peer_host),
        )
    )
    ctx.writes.add(result.write)
    assignment = None
    if result.assignment is not None:
        assignment = build(
            module.Assignment,
            topic_partitions=tuple(
                build(module.TopicPartitions, topic_id=topic_id, partitions=tuple(sorted(parts)))
                for topic_id, parts in sorted(result.assignment.items(), key=lambda i: str(i[0]))
            ),
        )
    return build(
        module.ConsumerGroupHeartbeatResponse,
        throttle_time=ZERO,
        error_code=result.error,
        error_message=result.message,
        member_id=result.member_id,
        member_epoch=result.member_epoch,
        heartbeat_interval=timedelta(milliseconds=result.heartbeat_interval_ms),
        assignment=assignment,
    )


def handle_consumer_group_describe(
    broker: ConsumerGroupCollaborators, ctx: RequestContext, request: Any
) -> Any:
    module = response_module(keys.CONSUMER_GROUP_DESCRIBE_KEY, ctx.header.api_version)
    unavailable = coordinator_error(broker)
    described = []
    for group_id in request.group_ids:
        error, message = unavailable or not_coordinator(broker, group_id), None
        if not authorize(ctx, broker, AclOperation.DESCRIBE, ResourceType.GROUP, group_id):
            error, message = ErrorCode.group_authorization_failed, GROUP_AUTHORIZATION_FAILED
        group = broker.groups.coordinator.consumer_group(group_id) if error is None else None
        if error is None and group is None:
            known = group_id in broker.groups.coordinator.groups
            error = ErrorCode.group_id_not_found
            message = (
                f"Group {group_id} is not a consumer group."
                if known
                else f"Group {group_id} not found."
            )
        if error is not None or group is None:
            described.append(_failed_group(module, group_id, error, message))
            continue
        if denied(
            ctx, broker, AclOperation.DESCRIBE, ResourceType.TOPIC, _topics_of(broker, group)
        ):
            # Kafka 4.0 (KAFKA-18813): nothing of a group with topics the principal may not
            # DESCRIBE in its members' assignments or targets.
            described.append(_failed_group(module, group_id, ErrorCode.topic_authorization_failed))
            continue
        operations = (
            authorized_operations(ctx, broker, ResourceType.GROUP, group_id)
            if request.include_authorized_operations
            else AUTHORIZED_OPERATIONS_OMITTED
        )
        described.append(_described(broker, module, group, operations))
    return build(module.ConsumerGroupDescribeResponse, throttle_time=ZERO, groups=tuple(described))


def _failed_group(
    module: Any, group_id: str, error: ErrorCode | None, message: str | None = None
) -> Any:
    if error is ErrorCode.topic_authorization_failed and message is None:
        message = TOPIC_AUTHORIZATION_FAILED
    return build(
        module.DescribedGroup,
        error_code=error,
        error_message=message,
        group_id=group_id,
        group_state="Dead",
        group_epoch=-1,
        assignment_epoch=-1,
        assignor_name="",
        members=(),
        authorized_operations=AUTHORIZED_OPERATIONS_OMITTED,
    )


def _topics_of(broker: ConsumerGroupCollaborators, group: ConsumerGroup) -> set[str]:
    """The names of the topics in the members' assignments and target assignments."""
    topic_ids: set[uuid.UUID] = set()
    for member in group.members.values():
        topic_ids.update(member.assigned)
        topic_ids.update(group.target.get(member.member_id, {}))
    topics = broker.groups.coordinator.context.topics
    return {name for name in map(topics.topic_name, topic_ids) if name is not None}


def _described(
    broker: ConsumerGroupCollaborators, module: Any, group: ConsumerGroup, operations: int
) -> Any:
    default = broker.groups.coordinator.config.consumer_assignors[0]
    members = tuple(
        build(
            module.Member,
            member_id=m.member_id,
            instance_id=m.instance_id,
            rack_id=m.rack_id,
            member_epoch=m.member_epoch,
            client_id=m.client_id,
            client_host=m.client_host,
            subscribed_topic_names=m.subscribed_topic_names,
            subscribed_topic_regex=m.subscribed_topic_regex,
            assignment=_assignment(broker, module, m.assigned),
            target_assignment=_assignment(broker, module, group.target.get(m.member_id, {})),
            member_type=CLASSIC_MEMBER_TYPE if m.uses_classic_protocol else CONSUMER_MEMBER_TYPE,
        )
        for m in group.members.values()
    )
    return build(
        module.DescribedGroup,
        error_code=ErrorCode.none,
        error_message=None,
        group_id=group.group_id,
        group_state=group.state.value,
        group_epoch=group.group_epoch,
        assignment_epoch=group.assignment_epoch,
        assignor_name=group.preferred_assignor(default),
        members=members,
        authorized_operations=operations,
    )


def _assignment(broker: ConsumerGroupCollaborators, module: Any, assignment: Assignment) -> Any:
    topics = broker.groups.coordinator.context.topics
    named: list[tuple[str, uuid.UUID, frozenset[int]]] = []
    for topic_id, partitions in assignment.items():
        name = topics.topic_name(topic_id)
        if name is not None:
            named.append((name, topic_id, partitions))
    return build(
        module.Assignment,
        topic_partitions=tuple(
            build(
                module.TopicPartitions,
                topic_id=topic_id,
                topic_name=name,
                partitions=tuple(sorted(partitions)),
            )
            for name, topic_id, partitions in sorted(named)
        ),
    )
