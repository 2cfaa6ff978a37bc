"""ListGroups (with the state filter), DescribeGroups, DeleteGroups."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import (
    AUTHORIZED_OPERATIONS_OMITTED,
    authorize,
    authorized,
    authorized_operations,
    denied,
)
from odradek.server.collaborators import GroupCoordination
from odradek.server.handlers.group_membership import coordinator_error, not_coordinator

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class GroupAdminCollaborators(GroupCoordination, Protocol):
    """What ListGroups, DescribeGroups and DeleteGroups read from the broker."""


ZERO = timedelta(0)


def handle_list_groups(broker: GroupAdminCollaborators, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(keys.LIST_GROUPS_KEY, header.api_version)
    states = tuple(getattr(request, "states_filter", ()) or ())
    types = tuple(getattr(request, "types_filter", ()) or ())
    listed = {
        g: (t, s, k)
        for g, t, s, k in broker.groups.coordinator.list_typed_groups(states or None, types or None)
    }
    if not authorize(ctx, broker, AclOperation.DESCRIBE, ResourceType.CLUSTER):
        visible = authorized(ctx, broker, AclOperation.DESCRIBE, ResourceType.GROUP, listed)
        listed = {g: listed[g] for g in visible}
    groups = [
        build(module.ListedGroup, group_id=g, protocol_type=t, group_state=s, group_type=k)
        for g, (t, s, k) in listed.items()
    ]
    return build(
        module.ListGroupsResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        groups=tuple(groups),
    )


def handle_describe_groups(
    broker: GroupAdminCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.DESCRIBE_GROUPS_KEY, header.api_version)
    unavailable = coordinator_error(broker)
    with_operations = bool(getattr(request, "include_authorized_operations", False))
    described = []
    for group_id in request.groups:
        moved = unavailable or not_coordinator(broker, group_id)
        if not authorize(ctx, broker, AclOperation.DESCRIBE, ResourceType.GROUP, group_id):
            moved = ErrorCode.group_authorization_failed
        if moved is not None:
            described.append(
                build(
                    module.DescribedGroup,
                    error_code=moved,
                    group_id=group_id,
                    group_state="",
                    protocol_type="",
                    protocol_data="",
                    members=(),
                    authorized_operations=AUTHORIZED_OPERATIONS_OMITTED,
                )
            )
            continue
        if broker.groups.coordinator.consumer_group(group_id) is not None:
            # As Kafka 4.0: DescribeGroups describes classic groups; ConsumerGroupDescribe
            # the others.
            described.append(
                build(
                    module.DescribedGroup,
                    error_code=ErrorCode.group_id_not_found,
                    error_message=f"Group {group_id} is not a classic group.",
                    group_id=group_id,
                    group_state="Dead",
                    protocol_type="",
                    protocol_data="",
                    members=(),
                    authorized_operations=AUTHORIZED_OPERATIONS_OMITTED,
                )
            )
            continue
        group = broker.groups.coordinator.describe_group(group_id)
        stable = group.state == "Stable"
        members = tuple(
            build(
                module.DescribedGroupMember,
                member_id=m.member_id,
                group_instance_id=m.group_instance_id,
                client_id=m.client_id,
                client_host=m.client_host,
                member_metadata=m.metadata_for(group.protocol) if stable else b"",
                member_assignment=m.assignment if stable else b"",
            )
            for m in group.members
        )
        described.append(
            build(
                module.DescribedGroup,
                error_code=ErrorCode.none,
                group_id=group_id,
                group_state=group.state,
                protocol_type=group.protocol_type,
                protocol_data=group.protocol,
                members=members,
                authorized_operations=(
                    authorized_operations(ctx, broker, ResourceType.GROUP, group_id)
                    if with_operations
                    else AUTHORIZED_OPERATIONS_OMITTED
                ),
            )
        )
    return build(module.DescribeGroupsResponse, throttle_time=ZERO, groups=tuple(described))


def handle_delete_groups(broker: GroupAdminCollaborators, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    module = response_module(keys.DELETE_GROUPS_KEY, header.api_version)
    unavailable = coordinator_error(broker)
    names = list(request.groups_names)
    refused = denied(ctx, broker, AclOperation.DELETE, ResourceType.GROUP, names)
    mine = [
        n
        for n in names
        if unavailable is None and n not in refused and not_coordinator(broker, n) is None
    ]
    results = dict.fromkeys(names, unavailable or ErrorCode.not_coordinator)
    results.update(dict.fromkeys(refused, ErrorCode.group_authorization_failed))
    if mine:
        results.update(broker.groups.coordinator.delete_groups(mine, ctx.writes))
    return build(
        module.DeleteGroupsResponse,
        throttle_time=ZERO,
        results=tuple(
            build(module.DeletableGroupResult, group_id=name, error_code=results[name])
            for name in names
        ),
    )
