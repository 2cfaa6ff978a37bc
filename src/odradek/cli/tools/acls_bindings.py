"""Kafka's ACL model to and from confluent-kafka's ``AclBinding``/``AclBindingFilter``."""

from __future__ import annotations

import importlib
from enum import IntEnum
from typing import Any

from odradek.cli.tools.common import (
    ToolError,
)
from odradek.security.acl import (
    AccessControlEntry,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)

# confluent-kafka's ACL classes: its type stubs neither re-export them from
# confluent_kafka.admin nor allow the None (any) of a filter, so they are typed loosely.
_admin: Any = importlib.import_module("confluent_kafka.admin")


def _librdkafka(enum: Any, member: IntEnum, what: str) -> Any:
    """confluent-kafka's member of ``enum`` with ``member``'s wire code."""
    try:
        return enum(int(member))
    except ValueError:
        raise ToolError(
            f"ACLs with {what} {member.name} cannot be managed with librdkafka "
            f"(confluent-kafka), which has no {member.name} {what}"
        ) from None


def _filter_fields(resource: ResourcePatternFilter) -> tuple[Any, Any, Any]:
    return (
        _librdkafka(_admin.ResourceType, resource.resource_type, "resource type"),
        resource.name,
        _librdkafka(_admin.ResourcePatternType, resource.pattern_type, "pattern type"),
    )


def as_filter(pattern: ResourcePattern) -> ResourcePatternFilter:
    """The filter that finds exactly ``pattern``."""
    return ResourcePatternFilter(pattern.resource_type, pattern.name, pattern.pattern_type)


def binding(pattern: ResourcePattern, entry: AccessControlEntry) -> Any:
    """confluent-kafka's AclBinding of one entry on one resource pattern."""
    return _admin.AclBinding(
        *_filter_fields(as_filter(pattern)),
        entry.principal,
        entry.host,
        _librdkafka(_admin.AclOperation, entry.operation, "operation"),
        _admin.AclPermissionType(int(entry.permission_type)),
    )


def binding_filter(resource: ResourcePatternFilter, entry: AccessControlEntry | None) -> Any:
    """confluent-kafka's AclBindingFilter: the bindings on ``resource`` that match ``entry``
    exactly (None: any entry)."""
    if entry is None:
        operation, permission = AclOperation.ANY, AclPermissionType.ANY
    else:
        operation, permission = entry.operation, entry.permission_type
    return _admin.AclBindingFilter(
        *_filter_fields(resource),
        None if entry is None else entry.principal,
        None if entry is None else entry.host,
        _librdkafka(_admin.AclOperation, operation, "operation"),
        _admin.AclPermissionType(int(permission)),
    )


def from_binding(found: Any) -> tuple[ResourcePattern, AccessControlEntry]:
    """A binding confluent-kafka returned, in Kafka's model."""
    pattern = ResourcePattern(
        ResourceType(found.restype.value),
        str(found.name),
        PatternType(found.resource_pattern_type.value),
    )
    entry = AccessControlEntry(
        str(found.principal),
        str(found.host),
        AclOperation(found.operation.value),
        AclPermissionType(found.permission_type.value),
    )
    return pattern, entry
