"""FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup: thin translations between
kio messages and the group coordinator. JoinGroup and SyncGroup answer when the coordinator
calls back (a rebalance may take a while)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.common.ids import TopicPartition
from odradek.common.internal_topics import OFFSETS_TOPIC, TXN_TOPIC
from odradek.coordinator.group.coordinator import JoinResult, SyncResult
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import (
    GROUP_AUTHORIZATION_FAILED,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    authorize,
)
from odradek.server.collaborators import (
    GroupCoordination,
    HasCluster,
    HasLogManager,
    HasNodeId,
    TxnCoordination,
)

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class GroupMembershipCollaborators(
    GroupCoordination, TxnCoordination, HasCluster, HasLogManager, HasNodeId, Protocol
):
    """What FindCoordinator and the classic group membership requests read from the broker:
    the coordinators, and where the coordinator of a key is (its leader and address)."""

    @property
    def advertised_endpoint(self) -> tuple[str, int]: ...

    def endpoint_for(self, listener_name: str) -> tuple[str, int] | None: ...

    def broker_endpoint(self, broker_id: int, listener_name: str) -> tuple[str, int] | None: ...


GROUP_KEY_TYPE = 0
TRANSACTION_KEY_TYPE = 1
ZERO = timedelta(0)


def _ms(value: Any) -> int:
    return int(value.total_seconds() * 1000) if isinstance(value, timedelta) else int(value)


def handle_find_coordinator(
    broker: GroupMembershipCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.FIND_COORDINATOR_KEY, header.api_version)
    key_type = getattr(request, "key_type", GROUP_KEY_TYPE)
    wanted = list(getattr(request, "coordinator_keys", ())) or [getattr(request, "key", "")]
    host, port = broker.endpoint_for(ctx.listener_name) or broker.advertised_endpoint
    results = []
    for key in wanted:
        error, message = ErrorCode.none, None
        if key_type not in (GROUP_KEY_TYPE, TRANSACTION_KEY_TYPE):
            error, message = ErrorCode.invalid_request, f"unknown key type {key_type}"
        elif not key:
            error, message = ErrorCode.invalid_request, "empty coordinator key"
        elif (refused := _describe_refused(broker, ctx, key_type, key)) is not None:
            error, message = refused
        else:
            try:
                if key_type == GROUP_KEY_TYPE:
                    broker.groups.ensure_offsets_topic()
                else:
                    broker.txns.ensure_txn_topic()
            except KafkaError as exc:
                error, message = exc.error_code, str(exc)
        node, h, p = broker.node_id, host, port
        if error is ErrorCode.none:
            node, h, p = _coordinator(broker, key_type, key, ctx.listener_name)
        if error is ErrorCode.none and (
            node < 0
            or (
                node == broker.node_id
                and broker.log_manager.is_offline(_internal_partition(broker, key_type, key))
            )
        ):
            # No leader, or (KIP-112) its log is in an offline log dir here.
            error, message = (
                ErrorCode.coordinator_not_available,
                "The coordinator is not available.",
            )
        ok = error is ErrorCode.none
        results.append((key, error, message, node if ok else -1, h if ok else "", p if ok else -1))
    if header.api_version >= 4:
        coordinators = tuple(
            build(
                module.Coordinator,
                key=key,
                node_id=node,
                host=h,
                port=p,
                error_code=err,
                error_message=msg,
            )
            for key, err, msg, node, h, p in results
        )
        return build(module.FindCoordinatorResponse, throttle_time=ZERO, coordinators=coordinators)
    _, err, msg, node, h, p = results[0]
    return build(
        module.FindCoordinatorResponse,
        throttle_time=ZERO,
        error_code=err,
        error_message=msg,
        node_id=node,
        host=h,
        port=p,
    )


def _describe_refused(
    broker: GroupMembershipCollaborators, ctx: RequestContext, key_type: int, key: str
) -> tuple[ErrorCode, str] | None:
    """Finding a coordinator needs DESCRIBE on the group or the transactional id."""
    if key_type == GROUP_KEY_TYPE:
        if not authorize(ctx, broker, AclOperation.DESCRIBE, ResourceType.GROUP, key):
            return ErrorCode.group_authorization_failed, GROUP_AUTHORIZATION_FAILED
    elif not authorize(ctx, broker, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, key):
        return (
            ErrorCode.transactional_id_authorization_failed,
            TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        )
    return None


def group_refused(
    broker: GroupCoordination, ctx: RequestContext, group_id: str
) -> ErrorCode | None:
    """GROUP_AUTHORIZATION_FAILED unless the principal may READ the group (every request
    of a group member)."""
    if authorize(ctx, broker, AclOperation.READ, ResourceType.GROUP, group_id):
        return None
    return ErrorCode.group_authorization_failed


def _coordinator(
    broker: GroupMembershipCollaborators, key_type: int, key: str, listener_name: str
) -> tuple[int, str, int]:
    """The leader of the key's internal partition, with its endpoint; -1 when none."""
    leader = broker.cluster.leader_of(_internal_partition(broker, key_type, key))
    endpoint = broker.broker_endpoint(leader, listener_name) if leader >= 0 else None
    if endpoint is None:
        return -1, "", -1
    return leader, endpoint[0], endpoint[1]


def _internal_partition(
    broker: GroupMembershipCollaborators, key_type: int, key: str
) -> TopicPartition:
    """The partition of ``__consumer_offsets`` or ``__transaction_state`` the key maps to."""
    if key_type == GROUP_KEY_TYPE:
        return TopicPartition(OFFSETS_TOPIC, broker.groups.coordinator.partition_for(key))
    return TopicPartition(TXN_TOPIC, broker.txns.coordinator.partition_for(key))


def not_coordinator(broker: GroupCoordination, group_id: str) -> ErrorCode | None:
    try:
        broker.groups.check_coordinator(group_id)
    except KafkaError as exc:
        return exc.error_code
    return None


def coordinator_error(broker: GroupCoordination, group_id: str | None = None) -> ErrorCode | None:
    """COORDINATOR_NOT_AVAILABLE (or similar) when group state cannot be stored yet;
    NOT_COORDINATOR when another broker coordinates ``group_id``."""
    try:
        broker.groups.ensure_offsets_topic()
        if group_id is not None:
            broker.groups.check_coordinator(group_id)
    except KafkaError as exc:
        return exc.error_code
    return None


async def handle_join_group(
    broker: GroupMembershipCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.JOIN_GROUP_KEY, header.api_version)
    unavailable = group_refused(broker, ctx, request.group_id) or coordinator_error(
        broker, request.group_id
    )
    if unavailable is not None:
        return build(
            module.JoinGroupResponse,
            throttle_time=ZERO,
            error_code=unavailable,
            generation_id=-1,
            protocol_name=None if header.api_version >= 7 else "",
            leader="",
            member_id=request.member_id,
            members=(),
        )
    future: asyncio.Future[JoinResult] = asyncio.get_running_loop().create_future()

    def respond(result: JoinResult) -> None:
        if not future.done():
            future.set_result(result)

    session_ms = _ms(request.session_timeout)
    rebalance_ms = _ms(getattr(request, "rebalance_timeout", session_ms))
    if rebalance_ms < 0:
        rebalance_ms = session_ms
    broker.groups.coordinator.join_group(
        request.group_id,
        request.member_id,
        getattr(request, "group_instance_id", None),
        header.client_id or "",
        ctx.client_host,
        session_ms,
        rebalance_ms,
        request.protocol_type,
        [(p.name, p.metadata) for p in request.protocols],
        require_known_member_id=header.api_version >= 4,
        callback=respond,
    )
    result = await future
    ctx.writes.add(result.write)
    members = tuple(
        build(module.JoinGroupResponseMember, member_id=m, group_instance_id=i, metadata=meta)
        for m, i, meta in result.members
    )
    return build(
        module.JoinGroupResponse,
        throttle_time=ZERO,
        error_code=result.error,
        generation_id=result.generation_id,
        protocol_type=result.protocol_type,
        protocol_name=result.protocol_name or ("" if header.api_version < 7 else None),
        leader=result.leader_id,
        skip_assignment=result.skip_assignment,
        member_id=result.member_id,
        members=members,
    )


async def handle_sync_group(
    broker: GroupMembershipCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.SYNC_GROUP_KEY, header.api_version)
    unavailable = group_refused(broker, ctx, request.group_id) or coordinator_error(
        broker, request.group_id
    )
    if unavailable is not None:
        return build(
            module.SyncGroupResponse, throttle_time=ZERO, error_code=unavailable, assignment=b""
        )
    future: asyncio.Future[SyncResult] = asyncio.get_running_loop().create_future()

    def respond(result: SyncResult) -> None:
        if not future.done():
            future.set_result(result)

    broker.groups.coordinator.sync_group(
        request.group_id,
        request.generation_id,
        request.member_id,
        getattr(request, "group_instance_id", None),
        getattr(request, "protocol_type", None),
        getattr(request, "protocol_name", None),
        {a.member_id: a.assignment for a in request.assignments},
        respond,
    )
    result = await future
    ctx.writes.add(result.write)
    return build(
        module.SyncGroupResponse,
        throttle_time=ZERO,
        error_code=result.error,
        protocol_type=result.protocol_type,
        protocol_name=result.protocol_name,
        assignment=result.assignment,
    )


def handle_heartbeat(
    broker: GroupMembershipCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.HEARTBEAT_KEY, header.api_version)
    error = (
        group_refused(broker, ctx, request.group_id)
        or not_coordinator(broker, request.group_id)
        or broker.groups.coordinator.heartbeat(
            request.group_id,
            request.generation_id,
            request.member_id,
            getattr(request, "group_instance_id", None),
        )
    )
    return build(module.HeartbeatResponse, throttle_time=ZERO, error_code=error)


def handle_leave_group(
    broker: GroupMembershipCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.LEAVE_GROUP_KEY, header.api_version)
    if header.api_version >= 3:
        leaving = [(m.member_id, m.group_instance_id) for m in request.members]
    else:
        leaving = [(request.member_id, None)]
    refused = group_refused(broker, ctx, request.group_id)
    moved = not_coordinator(broker, request.group_id)
    results: list[tuple[str, str | None, ErrorCode]]
    if refused is not None:
        error, results = refused, []
    elif moved is not None:
        error, results = moved, [(m, i, moved) for m, i in leaving]
    else:
        error, results = broker.groups.coordinator.leave_group(
            request.group_id, leaving, ctx.writes
        )
    if header.api_version < 3:
        error = results[0][2] if results else error
        return build(module.LeaveGroupResponse, throttle_time=ZERO, error_code=error)
    members = tuple(
        build(module.MemberResponse, member_id=m, group_instance_id=i, error_code=e)
        for m, i, e in results
    )
    return build(module.LeaveGroupResponse, throttle_time=ZERO, error_code=error, members=members)
