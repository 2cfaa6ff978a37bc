"""Kafka's ACL model: resource patterns, access control entries and their bindings, the
filters DescribeAcls/DeleteAcls match them with, the checks CreateAcls/DeleteAcls make,
and the ZooKeeper layout Kafka's AclAuthorizer keeps them in.

The enums carry Kafka's wire codes (CreateAcls, DescribeAcls, DeleteAcls). In ZooKeeper,
literal patterns live at ``/kafka-acl/<Type>/<name>`` and prefixed ones at
``/kafka-acl-extended/prefixed/<Type>/<name>``, each a JSON list of entries; a change to a
pattern is announced by a sequential ``acl_changes_`` node under ``/kafka-acl-changes``
(literal) or ``/kafka-acl-extended-changes`` (prefixed)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

from odradek.common.errors import InvalidRequestError

WILDCARD_RESOURCE = "*"
WILDCARD_PRINCIPAL = "User:*"
WILDCARD_HOST = "*"
CLUSTER_NAME = "kafka-cluster"


class ResourceType(IntEnum):
    """The kind of resource an ACL applies to; ANY only in filters."""

    UNKNOWN = 0
    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class PatternType(IntEnum):
    """How a pattern's name matches resource names; ANY and MATCH only in filters."""

    UNKNOWN = 0
    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4


class AclOperation(IntEnum):
    """The operation an ACL allows or denies; ANY only in filters."""

    UNKNOWN = 0
    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14


class AclPermissionType(IntEnum):
    """Whether an ACL allows or denies; ANY only in filters."""

    UNKNOWN = 0
    ANY = 1
    DENY = 2
    ALLOW = 3


_O = AclOperation
_SUPPORTED_OPERATIONS: dict[ResourceType, frozenset[AclOperation]] = {
    ResourceType.TOPIC: frozenset(
        {_O.READ, _O.WRITE, _O.CREATE, _O.DESCRIBE, _O.DELETE, _O.ALTER}
        | {_O.DESCRIBE_CONFIGS, _O.ALTER_CONFIGS}
    ),
    ResourceType.GROUP: frozenset({_O.READ, _O.DESCRIBE, _O.DELETE}),
    ResourceType.CLUSTER: frozenset(
        {_O.CREATE, _O.CLUSTER_ACTION, _O.DESCRIBE_CONFIGS, _O.ALTER_CONFIGS}
        | {_O.IDEMPOTENT_WRITE, _O.ALTER, _O.DESCRIBE}
    ),
    ResourceType.TRANSACTIONAL_ID: frozenset({_O.DESCRIBE, _O.WRITE}),
    ResourceType.DELEGATION_TOKEN: frozenset({_O.DESCRIBE}),
    ResourceType.USER: frozenset({_O.CREATE_TOKENS, _O.DESCRIBE_TOKENS}),
}


def supported_operations(resource_type: ResourceType) -> frozenset[AclOperation]:
    """The operations that apply to a concrete resource type (Kafka's
    ``AclEntry.supportedOperations``): the ones ``*_authorized_operations`` report on."""
    try:
        return _SUPPORTED_OPERATIONS[resource_type]
    except KeyError:
        raise ValueError(f"{resource_type.name} is not a concrete resource type") from None


@dataclass(frozen=True, slots=True, order=True)
class ResourcePattern:
    """A LITERAL name (``*`` meaning every resource of the type) or a PREFIXED one."""

    resource_type: ResourceType
    name: str
    pattern_type: PatternType


@dataclass(frozen=True, slots=True, order=True)
class AccessControlEntry:
    """Who (``Type:name``, ``User:*`` for everyone), from where (an address or ``*``), may or
    may not do what."""

    principal: str
    host: str
    operation: AclOperation
    permission_type: AclPermissionType


@dataclass(frozen=True, slots=True, order=True)
class AclBinding:
    """One ACL: an entry bound to a resource pattern."""

    pattern: ResourcePattern
    entry: AccessControlEntry

    def is_unknown(self) -> bool:
        """Whether any part is UNKNOWN (a code this broker does not know)."""
        return (
            self.pattern.resource_type == ResourceType.UNKNOWN
            or self.pattern.pattern_type == PatternType.UNKNOWN
            or self.entry.operation == AclOperation.UNKNOWN
            or self.entry.permission_type == AclPermissionType.UNKNOWN
        )


@dataclass(frozen=True, slots=True)
class ResourcePatternFilter:
    """Matches resource patterns: ANY type, a ``None`` name and pattern type ANY match all;
    MATCH matches the patterns that apply to ``name`` (equal literal, the ``*`` literal,
    prefixes of it)."""

    ANY: ClassVar[ResourcePatternFilter]

    resource_type: ResourceType
    name: str | None
    pattern_type: PatternType

    def matches(self, pattern: ResourcePattern) -> bool:
        if self.resource_type not in (ResourceType.ANY, pattern.resource_type):
            return False
        if self.pattern_type not in (PatternType.ANY, PatternType.MATCH, pattern.pattern_type):
            return False
        if self.name is None:
            return True
        if self.pattern_type in (PatternType.ANY, pattern.pattern_type):
            return self.name == pattern.name
        if pattern.pattern_type == PatternType.LITERAL:
            return pattern.name in (self.name, WILDCARD_RESOURCE)
        return pattern.pattern_type == PatternType.PREFIXED and self.name.startswith(pattern.name)

    def is_unknown(self) -> bool:
        return (
            self.resource_type == ResourceType.UNKNOWN or self.pattern_type == PatternType.UNKNOWN
        )

    def find_indefinite_field(self) -> str | None:
        """Why this filter may match more than one pattern, or ``None`` if it cannot."""
        if self.resource_type == ResourceType.ANY:
            return "Resource type is ANY."
        if self.resource_type == ResourceType.UNKNOWN:
            return "Resource type is UNKNOWN."
        if self.name is None:
            return "Resource name is NULL."
        if self.pattern_type == PatternType.MATCH:
            return "Resource pattern type is MATCH."
        if self.pattern_type == PatternType.UNKNOWN:
            return "Resource pattern type is UNKNOWN."
        return None


@dataclass(frozen=True, slots=True)
class AccessControlEntryFilter:
    """Matches entries: a ``None`` principal or host and ANY operation or permission match
    all; otherwise each must be equal (``User:*`` and ``*`` are not wildcards here)."""

    ANY: ClassVar[AccessControlEntryFilter]

    principal: str | None
    host: str | None
    operation: AclOperation
    permission_type: AclPermissionType

    def matches(self, entry: AccessControlEntry) -> bool:
        return (
            self.principal in (None, entry.principal)
            and self.host in (None, entry.host)
            and self.operation in (AclOperation.ANY, entry.operation)
            and self.permission_type in (AclPermissionType.ANY, entry.permission_type)
        )

    def is_unknown(self) -> bool:
        return (
            self.operation == AclOperation.UNKNOWN
            or self.permission_type == AclPermissionType.UNKNOWN
        )

    def find_indefinite_field(self) -> str | None:
        """Why this filter may match more than one entry, or ``None`` if it cannot."""
        if self.principal is None:
            return "Principal is NULL"
        if self.host is None:
            return "Host is NULL"
        if self.operation == AclOperation.ANY:
            return "Operation is ANY"
        if self.operation == AclOperation.UNKNOWN:
            return "Operation is UNKNOWN"
        if self.permission_type == AclPermissionType.ANY:
            return "Permission type is ANY"
        if self.permission_type == AclPermissionType.UNKNOWN:
            return "Permission type is UNKNOWN"
        return None


@dataclass(frozen=True, slots=True)
class AclBindingFilter:
    """Matches the bindings whose pattern and entry both match."""

    ANY: ClassVar[AclBindingFilter]

    pattern_filter: ResourcePatternFilter
    entry_filter: AccessControlEntryFilter

    def matches(self, binding: AclBinding) -> bool:
        return self.pattern_filter.matches(binding.pattern) and self.entry_filter.matches(
            binding.entry
        )

    def is_unknown(self) -> bool:
        return self.pattern_filter.is_unknown() or self.entry_filter.is_unknown()

    def find_indefinite_field(self) -> str | None:
        """Why this filter may match more than one binding, or ``None`` if it cannot."""
        return (
            self.pattern_filter.find_indefinite_field() or self.entry_filter.find_indefinite_field()
        )


ResourcePatternFilter.ANY = ResourcePatternFilter(ResourceType.ANY, None, PatternType.ANY)
AccessControlEntryFilter.ANY = AccessControlEntryFilter(
    None, None, AclOperation.ANY, AclPermissionType.ANY
)
AclBindingFilter.ANY = AclBindingFilter(ResourcePatternFilter.ANY, AccessControlEntryFilter.ANY)


class InvalidAclError(InvalidRequestError):
    """An ACL or filter a CreateAcls/DeleteAcls/DescribeAcls request may not carry; Kafka
    answers each with INVALID_REQUEST and this message."""


def validate_acl_binding(binding: AclBinding) -> None:
    """Raise :class:`InvalidAclError` unless CreateAcls may store ``binding``: a concrete
    type, LITERAL or PREFIXED, a concrete operation, ALLOW or DENY, a non-empty name without
    ``/`` (it becomes a znode), ``kafka-cluster`` for CLUSTER, a ``Type:name`` principal."""
    pattern, entry = binding.pattern, binding.entry
    if pattern.resource_type in (ResourceType.UNKNOWN, ResourceType.ANY):
        raise InvalidAclError(f"Invalid resourceType {pattern.resource_type.name}")
    if pattern.pattern_type not in (PatternType.LITERAL, PatternType.PREFIXED):
        raise InvalidAclError(f"Invalid patternType {pattern.pattern_type.name}")
    if entry.operation in (AclOperation.UNKNOWN, AclOperation.ANY):
        raise InvalidAclError(f"Invalid operation {entry.operation.name}")
    if entry.permission_type not in (AclPermissionType.ALLOW, AclPermissionType.DENY):
        raise InvalidAclError(f"Invalid permissionType {entry.permission_type.name}")
    if not pattern.name:
        raise InvalidAclError("Invalid empty resource name")
    if pattern.resource_type == ResourceType.CLUSTER and pattern.name != CLUSTER_NAME:
        raise InvalidAclError(f"The only valid name for the CLUSTER resource is {CLUSTER_NAME}")
    if "/" in pattern.name:
        raise InvalidAclError(f"ACL binding contains invalid resource name: {pattern.name}")
    if ":" not in entry.principal:
        raise InvalidAclError(
            f"Could not parse principal from `{entry.principal}` (no colon is present "
            "separating the principal type from the principal name)"
        )


def validate_acl_filter(acl_filter: AclBindingFilter) -> None:
    """Raise :class:`InvalidAclError` if a DescribeAcls/DeleteAcls filter has an UNKNOWN
    part (a code this broker does not know)."""
    if acl_filter.pattern_filter.is_unknown():
        raise InvalidAclError("Unknown patternFilter.")
    if acl_filter.entry_filter.is_unknown():
        raise InvalidAclError("Unknown entryFilter.")


# --- ZooKeeper layout (Kafka's ZkAclStore / ZkAclChangeStore) ---

LITERAL_ACL_PATH = "/kafka-acl"
PREFIXED_ACL_PATH = "/kafka-acl-extended/prefixed"
LITERAL_ACL_CHANGES_PATH = "/kafka-acl-changes"
EXTENDED_ACL_CHANGES_PATH = "/kafka-acl-extended-changes"
ACL_CHANGE_PREFIX = "acl_changes_"
ACL_JSON_VERSION = 1

_ACL_PATHS = {PatternType.LITERAL: LITERAL_ACL_PATH, PatternType.PREFIXED: PREFIXED_ACL_PATH}

_E = TypeVar("_E", bound=IntEnum)


def _pascal(member: IntEnum) -> str:
    """Kafka's stored name of an enum member: TRANSACTIONAL_ID -> TransactionalId."""
    return "".join(part.capitalize() for part in member.name.split("_"))


def _from_pascal(enum: type[_E], name: str, unknown: _E) -> _E:
    """The member whose stored name is ``name`` in any case, else ``unknown`` (as Kafka)."""
    wanted = name.upper()
    return next((m for m in enum if _pascal(m).upper() == wanted), unknown)


def _concrete_resource_types() -> list[ResourceType]:
    return [t for t in ResourceType if t not in (ResourceType.UNKNOWN, ResourceType.ANY)]


def acl_store_paths() -> list[str]:
    """The znodes Kafka creates for its ACL store: both roots, a child per resource type
    under each, and both change-notification parents."""
    paths: list[str] = []
    for root in _ACL_PATHS.values():
        paths.append(root)
        paths.extend(f"{root}/{_pascal(t)}" for t in _concrete_resource_types())
    return [*paths, LITERAL_ACL_CHANGES_PATH, EXTENDED_ACL_CHANGES_PATH]


def acl_znode_path(pattern: ResourcePattern) -> str:
    """The znode holding the ACLs of a LITERAL or PREFIXED pattern (the name unencoded)."""
    try:
        root = _ACL_PATHS[pattern.pattern_type]
    except KeyError:
        raise ValueError(f"no ACL znode for pattern type {pattern.pattern_type.name}") from None
    return f"{root}/{_pascal(pattern.resource_type)}/{pattern.name}"


def pattern_from_znode_path(path: str) -> ResourcePattern:
    """The pattern whose ACLs ``path`` holds (the inverse of :func:`acl_znode_path`);
    ValueError for a path outside the store or an unknown resource type."""
    for pattern_type, root in _ACL_PATHS.items():
        if path.startswith(root + "/"):
            type_name, _, name = path[len(root) + 1 :].partition("/")
            resource_type = _from_pascal(ResourceType, type_name, ResourceType.UNKNOWN)
            if resource_type in (ResourceType.UNKNOWN, ResourceType.ANY) or not name:
                break
            return ResourcePattern(resource_type, name, pattern_type)
    raise ValueError(f"{path} is not the znode of an ACL resource pattern")


def encode_acls(entries: Iterable[AccessControlEntry]) -> bytes:
    """A resource znode's JSON, as Kafka writes it (compact; entries in sorted order)."""
    acls = [
        {
            "principal": entry.principal,
            "permissionType": _pascal(entry.permission_type),
            "operation": _pascal(entry.operation),
            "host": entry.host,
        }
        for entry in sorted(set(entries))
    ]
    document = {"version": ACL_JSON_VERSION, "acls": acls}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def decode_acls(data: bytes | None) -> set[AccessControlEntry]:
    """The entries of a resource znode (none for empty data); operation and permission
    names Kafka does not know become UNKNOWN, as in Kafka. ValueError if malformed."""
    if not data:
        return set()
    document = _json_object(data)
    if document.get("version") != ACL_JSON_VERSION:
        raise ValueError(f"unsupported ACL znode version: {document.get('version')!r}")
    acls = document.get("acls")
    if not isinstance(acls, list):
        raise ValueError("ACL znode has no acls list")
    return {_decode_entry(item) for item in acls}


def _decode_entry(item: Any) -> AccessControlEntry:
    if not isinstance(item, dict):
        raise ValueError(f"ACL entry is not an object: {item!r}")
    fields = {key: item.get(key) for key in ("principal", "host", "operation", "permissionType")}
    if not all(isinstance(value, str) for value in fields.values()):
        raise ValueError(f"ACL entry lacks a field: {item!r}")
    principal = str(fields["principal"])
    if ":" not in principal:
        raise ValueError(f"expected a principal in format Type:name but got {principal!r}")
    return AccessControlEntry(
        principal,
        str(fields["host"]),
        _from_pascal(AclOperation, str(fields["operation"]), AclOperation.UNKNOWN),
        _from_pascal(AclPermissionType, str(fields["permissionType"]), AclPermissionType.UNKNOWN),
    )


def change_notification(pattern: ResourcePattern) -> tuple[str, bytes]:
    """The sequential znode to create (path prefix) and its payload, telling every broker
    that ``pattern``'s ACLs changed: ``TOPIC:name`` for a literal pattern, a JSON event for
    a prefixed one."""
    if pattern.pattern_type == PatternType.LITERAL:
        payload = f"{pattern.resource_type.name}:{pattern.name}".encode()
        return f"{LITERAL_ACL_CHANGES_PATH}/{ACL_CHANGE_PREFIX}", payload
    if pattern.pattern_type != PatternType.PREFIXED:
        raise ValueError(f"no change notification for pattern type {pattern.pattern_type.name}")
    event = {
        "version": ACL_JSON_VERSION,
        "resourceType": pattern.resource_type.name,
        "name": pattern.name,
        "patternType": pattern.pattern_type.name,
    }
    payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    return f"{EXTENDED_ACL_CHANGES_PATH}/{ACL_CHANGE_PREFIX}", payload


def parse_change_notification(path: str, data: bytes) -> ResourcePattern:
    """The pattern a change notification names; ``path`` is the notification's znode (or
    its parent), which tells the literal from the extended format. ValueError if malformed
    or naming a resource or pattern type this broker does not know."""
    if path.startswith(EXTENDED_ACL_CHANGES_PATH):
        return _parse_extended_change(data)
    if not path.startswith(LITERAL_ACL_CHANGES_PATH):
        raise ValueError(f"{path} is not an ACL change notification")
    type_name, colon, name = data.decode().partition(":")
    if not colon:
        raise ValueError(f"expected ResourceType:ResourceName but got {data!r}")
    return ResourcePattern(_enum_by_name(ResourceType, type_name), name, PatternType.LITERAL)


def _parse_extended_change(data: bytes) -> ResourcePattern:
    event = _json_object(data)
    version = event.get("version")
    if not isinstance(version, int) or version > ACL_JSON_VERSION:
        raise ValueError(f"unsupported ACL change event version: {version!r}")
    type_name, name, pattern_name = (event.get(k) for k in ("resourceType", "name", "patternType"))
    if not (isinstance(type_name, str) and isinstance(name, str) and isinstance(pattern_name, str)):
        raise ValueError(f"ACL change event lacks a field: {event!r}")
    pattern_type = _enum_by_name(PatternType, pattern_name)
    if pattern_type not in (PatternType.LITERAL, PatternType.PREFIXED):
        raise ValueError(f"ACL change event for pattern type {pattern_name}")
    return ResourcePattern(_enum_by_name(ResourceType, type_name), name, pattern_type)


def _enum_by_name(enum: type[_E], name: str) -> _E:
    """The member named ``name`` in any case (Kafka's ``fromString``), except UNKNOWN/ANY."""
    member = enum.__members__.get(name.upper())
    if member is None or member.name in ("UNKNOWN", "ANY"):
        raise ValueError(f"unknown {enum.__name__} {name!r}")
    return member


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {data!r}") from exc
    if not isinstance(document, dict):
        raise ValueError(f"not a JSON object: {data!r}")
    return document
