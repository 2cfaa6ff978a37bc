"""CreateAcls, DescribeAcls and DeleteAcls (Kafka's AclApis). The metadata store holds the
ACLs (ZooKeeper's ``/kafka-acl*`` in a cluster): CreateAcls and DeleteAcls write it, the
authorizer follows it. Without an authorizer each answers SECURITY_DISABLED.

Versions 1-3 (v1 added PREFIXED patterns; kio has no schema for v0)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.security.acl import (
    AccessControlEntry,
    AccessControlEntryFilter,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    InvalidAclError,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    validate_acl_binding,
    validate_acl_filter,
)
from odradek.server.authorization import CLUSTER_AUTHORIZATION_FAILED, authorize
from odradek.server.collaborators import Authorizing, HasMetadataStore

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class AclCollaborators(Authorizing, HasMetadataStore, Protocol):
    """What CreateAcls, DescribeAcls and DeleteAcls read from the broker: the authorizer and
    the metadata store that keeps the ACLs."""


ZERO = timedelta(0)
NO_AUTHORIZER = "No Authorizer is configured."
NO_AUTHORIZER_DESCRIBE = "No Authorizer is configured on the broker"

_E = TypeVar("_E", bound=IntEnum)
# An error code and message; (none, None) for success.
_Outcome = tuple[ErrorCode, str | None]
_OK: _Outcome = (ErrorCode.none, None)


def _code(enum: type[_E], value: int) -> _E:
    """The member with wire code ``value``; UNKNOWN for a code this broker does not know."""
    try:
        return enum(value)
    except ValueError:
        return enum["UNKNOWN"]


def _refusal(broker: AclCollaborators, ctx: RequestContext, operation: AclOperation) -> _Outcome:
    """Why the request may not touch ACLs: CLUSTER_AUTHORIZATION_FAILED without the
    operation on the cluster, SECURITY_DISABLED without an authorizer; else none."""
    if not authorize(ctx, broker, operation, ResourceType.CLUSTER):
        return ErrorCode.cluster_authorization_failed, CLUSTER_AUTHORIZATION_FAILED
    if broker.authorizer is None:
        return ErrorCode.security_disabled, NO_AUTHORIZER
    return _OK


# -- CreateAcls -------------------------------------------------------------------------------


async def handle_create_acls(broker: AclCollaborators, ctx: RequestContext, request: Any) -> Any:
    module = response_module(keys.CREATE_ACLS_KEY, ctx.header.api_version)
    refused = _refusal(broker, ctx, AclOperation.ALTER)
    bindings = [_binding(creation) for creation in request.creations]
    outcomes: list[_Outcome] = [refused] * len(bindings)
    if refused == _OK:
        by_pattern: dict[ResourcePattern, list[int]] = defaultdict(list)
        for index, binding in enumerate(bindings):
            try:
                validate_acl_binding(binding)
            except InvalidAclError as exc:
                outcomes[index] = exc.error_code, str(exc)
                continue
            by_pattern[binding.pattern].append(index)
        store = broker.metadata_store
        for pattern, indexes in by_pattern.items():
            added = {bindings[i].entry for i in indexes}
            try:
                # Read and write with no await between: no other change can slip in.
                await store.set_acls_async(pattern, store.acls.get(pattern, frozenset()) | added)
            except KafkaError as exc:
                for i in indexes:
                    outcomes[i] = exc.error_code, str(exc)
    return build(
        module.CreateAclsResponse,
        throttle_time=ZERO,
        results=tuple(
            build(module.AclCreationResult, error_code=code, error_message=message)
            for code, message in outcomes
        ),
    )


def _binding(creation: Any) -> AclBinding:
    return AclBinding(
        ResourcePattern(
            _code(ResourceType, creation.resource_type),
            creation.resource_name,
            _code(PatternType, creation.resource_pattern_type),
        ),
        AccessControlEntry(
            creation.principal,
            creation.host,
            _code(AclOperation, creation.operation),
            _code(AclPermissionType, creation.permission_type),
        ),
    )


# -- DescribeAcls -----------------------------------------------------------------------------


def handle_describe_acls(broker: AclCollaborators, ctx: RequestContext, request: Any) -> Any:
    module = response_module(keys.DESCRIBE_ACLS_KEY, ctx.header.api_version)
    code, message = _refusal(broker, ctx, AclOperation.DESCRIBE)
    if code is ErrorCode.security_disabled:
        message = NO_AUTHORIZER_DESCRIBE
    resources: tuple[Any, ...] = ()
    if broker.authorizer is not None and code is ErrorCode.none:
        acl_filter = _filter(request)
        try:
            validate_acl_filter(acl_filter)
        except InvalidAclError as exc:
            code, message = exc.error_code, str(exc)
        else:
            resources = _described(module, broker.authorizer.bindings(acl_filter))
    return build(
        module.DescribeAclsResponse,
        throttle_time=ZERO,
        error_code=code,
        error_message=message,
        resources=resources,
    )


def _described(module: Any, bindings: list[AclBinding]) -> tuple[Any, ...]:
    """The bindings (sorted, so each pattern's are together), one resource per pattern."""
    by_pattern: dict[ResourcePattern, list[AccessControlEntry]] = {}
    for binding in bindings:
        by_pattern.setdefault(binding.pattern, []).append(binding.entry)
    return tuple(
        build(
            module.DescribeAclsResource,
            resource_type=int(pattern.resource_type),
            resource_name=pattern.name,
            pattern_type=int(pattern.pattern_type),
            acls=tuple(
                build(
                    module.AclDescription,
                    principal=entry.principal,
                    host=entry.host,
                    operation=int(entry.operation),
                    permission_type=int(entry.permission_type),
                )
                for entry in entries
            ),
        )
        for pattern, entries in by_pattern.items()
    )


def _filter(item: Any) -> AclBindingFilter:
    """A DescribeAcls request or a DeleteAcls filter as an :class:`AclBindingFilter`."""
    return AclBindingFilter(
        ResourcePatternFilter(
            _code(ResourceType, item.resource_type_filter),
            item.resource_name_filter,
            _code(PatternType, item.pattern_type_filter),
        ),
        AccessControlEntryFilter(
            item.principal_filter,
            item.host_filter,
            _code(AclOperation, item.operation),
            _code(AclPermissionType, item.permission_type),
        ),
    )


# -- DeleteAcls -------------------------------------------------------------------------------


async def handle_delete_acls(broker: AclCollaborators, ctx: RequestContext, request: Any) -> Any:
    module = response_module(keys.DELETE_ACLS_KEY, ctx.header.api_version)
    refused = _refusal(broker, ctx, AclOperation.ALTER)
    outcomes: list[_Outcome] = [refused] * len(request.filters)
    matched: list[list[tuple[AclBinding, _Outcome]]] = [[] for _ in request.filters]
    if refused == _OK:
        filters: list[tuple[int, AclBindingFilter]] = []
        for index, item in enumerate(request.filters):
            acl_filter = _filter(item)
            try:
                validate_acl_filter(acl_filter)
            except InvalidAclError as exc:
                outcomes[index] = exc.error_code, str(exc)
                continue
            filters.append((index, acl_filter))
        await _delete(broker, filters, matched)
    return build(
        module.DeleteAclsResponse,
        throttle_time=ZERO,
        filter_results=tuple(
            build(
                module.DeleteAclsFilterResult,
                error_code=code,
                error_message=message,
                matching_acls=tuple(_matching(module, b, outcome) for b, outcome in bindings),
            )
            for (code, message), bindings in zip(outcomes, matched, strict=True)
        ),
    )


async def _delete(
    broker: AclCollaborators,
    filters: list[tuple[int, AclBindingFilter]],
    matched: list[list[tuple[AclBinding, _Outcome]]],
) -> None:
    """Remove from each pattern the entries a filter matches; each removed binding is
    reported under the first filter matching it (as Kafka's authorizer does)."""
    store = broker.metadata_store
    patterns = [p for p in store.acls if any(f.pattern_filter.matches(p) for _, f in filters)]
    for pattern in sorted(patterns):
        current = store.acls.get(pattern, frozenset())
        removed: dict[AccessControlEntry, int] = {}
        for entry in sorted(current):
            first = next((i for i, f in filters if f.matches(AclBinding(pattern, entry))), None)
            if first is not None:
                removed[entry] = first
        if not removed:
            continue
        outcome = _OK
        try:
            await store.set_acls_async(pattern, current - removed.keys())
        except KafkaError as exc:
            outcome = exc.error_code, str(exc)
        for entry, index in removed.items():
            matched[index].append((AclBinding(pattern, entry), outcome))


def _matching(module: Any, binding: AclBinding, outcome: _Outcome) -> Any:
    pattern, entry = binding.pattern, binding.entry
    return build(
        module.DeleteAclsMatchingAcl,
        error_code=outcome[0],
        error_message=outcome[1],
        resource_type=int(pattern.resource_type),
        resource_name=pattern.name,
        pattern_type=int(pattern.pattern_type),
        principal=entry.principal,
        host=entry.host,
        operation=int(entry.operation),
        permission_type=int(entry.permission_type),
    )
