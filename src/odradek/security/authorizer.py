"""Kafka's ACL authorizer over an in-memory copy of the ACLs: the decisions, and the indexes
that keep a decision from scanning every ACL. The metadata stores (ZooKeeper, a local
file) feed it; it does no I/O itself."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from odradek.common.errors import ConfigError
from odradek.common.principal import KafkaPrincipal
from odradek.security.acl import (
    WILDCARD_HOST,
    WILDCARD_PRINCIPAL,
    WILDCARD_RESOURCE,
    AccessControlEntry,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourceType,
    supported_operations,
)

_O = AclOperation
# An ALLOW for any of these operations also allows the key (only ALLOW implies; a DENY
# denies just its own operation, or everything if it is ALL).
_ALLOWED_BY: dict[AclOperation, frozenset[AclOperation]] = {
    _O.DESCRIBE: frozenset({_O.DESCRIBE, _O.READ, _O.WRITE, _O.DELETE, _O.ALTER}),
    _O.DESCRIBE_CONFIGS: frozenset({_O.DESCRIBE_CONFIGS, _O.ALTER_CONFIGS}),
}

# The ACLs of one resource pattern, as the index holds them.
_Entries = frozenset[AccessControlEntry]
# An entry on some pattern of a resource type: the key of the by-resource-type index.
_EntryKey = tuple[AccessControlEntry, ResourceType, PatternType]


def parse_super_users(text: str | None) -> frozenset[str]:
    """``super.users``: semicolon-separated ``Type:name`` principals (whitespace around each
    ignored). ConfigError for an entry that is not ``Type:name``, as Kafka refuses to start."""
    if not text:
        return frozenset()
    parts = text.split(";")
    while parts and not parts[-1]:  # Java's split drops trailing empty strings
        parts.pop()
    users = set()
    for part in parts:
        principal = part.strip()
        if ":" not in principal:
            raise ConfigError(
                "super.users: expected a string in format principalType:principalName "
                f"but got {principal!r}"
            )
        users.add(principal)
    return frozenset(users)


class AclAuthorizer:
    """Kafka's AclAuthorizer: super users may do anything; otherwise the ACLs that apply to a
    resource (its literal name, the ``*`` literal, every prefix pattern of the name) decide,
    a matching DENY beating any ALLOW; with none at all, ``allow_everyone_if_no_acl_found``."""

    def __init__(self, super_users: Iterable[str], allow_everyone_if_no_acl_found: bool) -> None:
        self._super_users = frozenset(super_users)
        self._allow_if_no_acl = allow_everyone_if_no_acl_found
        self._acls: dict[ResourcePattern, _Entries] = {}
        # Per resource type, how many prefixed patterns have each name length: the lengths
        # to try when looking up the prefixed patterns of a name.
        self._prefix_lengths: defaultdict[ResourceType, Counter[int]] = defaultdict(Counter)
        # The names of the patterns of each (entry, resource type, pattern type): what
        # authorize_any reads (Kafka's resourceCache).
        self._names: dict[_EntryKey, set[str]] = {}

    # --- the ACLs ---

    def add(self, bindings: Iterable[AclBinding]) -> None:
        """Add ACLs (already validated; adding one twice is a no-op)."""
        added: dict[ResourcePattern, set[AccessControlEntry]] = defaultdict(set)
        for binding in bindings:
            added[binding.pattern].add(binding.entry)
        for pattern, entries in added.items():
            self._set(pattern, self._acls.get(pattern, frozenset()) | entries)

    def remove(self, acl_filter: AclBindingFilter) -> list[AclBinding]:
        """Remove the ACLs ``acl_filter`` matches; return them, sorted."""
        removed: list[AclBinding] = []
        for pattern, entries in list(self._acls.items()):
            if not acl_filter.pattern_filter.matches(pattern):
                continue
            gone = {entry for entry in entries if acl_filter.entry_filter.matches(entry)}
            if gone:
                self._set(pattern, entries - gone)
                removed.extend(AclBinding(pattern, entry) for entry in gone)
        return sorted(removed)

    def replace_resource(
        self, pattern: ResourcePattern, entries: Iterable[AccessControlEntry]
    ) -> None:
        """Make ``entries`` the whole set of ACLs of ``pattern`` (none removes the pattern):
        what a store delivers when it (re)reads one resource's znode."""
        self._set(pattern, frozenset(entries))

    def bindings(self, acl_filter: AclBindingFilter) -> list[AclBinding]:
        """The ACLs ``acl_filter`` matches, sorted (DescribeAcls)."""
        return sorted(
            AclBinding(pattern, entry)
            for pattern, entries in self._acls.items()
            if acl_filter.pattern_filter.matches(pattern)
            for entry in entries
            if acl_filter.entry_filter.matches(entry)
        )

    def _set(self, pattern: ResourcePattern, entries: _Entries) -> None:
        if pattern.pattern_type not in (PatternType.LITERAL, PatternType.PREFIXED):
            raise ValueError(f"ACLs are bound to LITERAL or PREFIXED patterns, not {pattern}")
        old = self._acls.get(pattern, frozenset())
        for entry in entries - old:
            key = (entry, pattern.resource_type, pattern.pattern_type)
            self._names.setdefault(key, set()).add(pattern.name)
        for entry in old - entries:
            key = (entry, pattern.resource_type, pattern.pattern_type)
            names = self._names[key]
            names.discard(pattern.name)
            if not names:
                del self._names[key]
        if pattern.pattern_type == PatternType.PREFIXED and bool(old) != bool(entries):
            lengths = self._prefix_lengths[pattern.resource_type]
            lengths[len(pattern.name)] += 1 if entries else -1
            if not lengths[len(pattern.name)]:
                del lengths[len(pattern.name)]
        if entries:
            self._acls[pattern] = entries
        else:
            self._acls.pop(pattern, None)

    # --- decisions ---

    def authorize(
        self,
        principal: KafkaPrincipal,
        host: str,
        operation: AclOperation,
        resource_type: ResourceType,
        name: str,
    ) -> bool:
        """Whether ``principal`` connected from ``host`` may do ``operation`` on the resource."""
        who = str(principal)
        if who in self._super_users:
            return True
        acls = self._applicable(resource_type, name)
        if not acls:
            return self._allow_if_no_acl
        if _any_match(acls, who, host, AclPermissionType.DENY, frozenset({operation})):
            return False
        allowing = _ALLOWED_BY.get(operation, frozenset({operation}))
        return _any_match(acls, who, host, AclPermissionType.ALLOW, allowing)

    def authorized_operations(
        self, principal: KafkaPrincipal, host: str, resource_type: ResourceType, name: str
    ) -> int:
        """The bitfield of the resource type's operations ``principal`` may do on the
        resource, bit ``code`` per operation (``topic_authorized_operations`` and the like)."""
        bits = 0
        for operation in supported_operations(resource_type):
            if self.authorize(principal, host, operation, resource_type, name):
                bits |= 1 << operation
        return bits

    def authorize_any(
        self,
        principal: KafkaPrincipal,
        host: str,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> bool:
        """Kafka's ``authorizeByResourceType`` (KIP-679): whether ``principal`` may do
        ``operation`` on at least one resource of the type, e.g. WRITE on some topic standing
        in for IDEMPOTENT_WRITE on the cluster. Only the operation itself and ALL count. A
        DENY on the ``*`` literal refuses; else ``allow_everyone_if_no_acl_found`` allows;
        else some ALLOW pattern must escape every DENY: a literal not denied by name nor by a
        DENY prefix of it, the ``*`` literal, or a prefix no DENY prefix covers."""
        if resource_type in (ResourceType.ANY, ResourceType.UNKNOWN):
            raise ValueError(f"authorize_any needs a concrete resource type, not {resource_type}")
        if operation in (AclOperation.ANY, AclOperation.UNKNOWN):
            raise ValueError(f"authorize_any needs a concrete operation, not {operation}")
        who = str(principal)
        if who in self._super_users:
            return True

        def names(permission: AclPermissionType, pattern_type: PatternType) -> set[str]:
            return self._names_of(who, host, operation, permission, resource_type, pattern_type)

        denied_literals = names(AclPermissionType.DENY, PatternType.LITERAL)
        if WILDCARD_RESOURCE in denied_literals:
            return False
        if self._allow_if_no_acl:
            return True
        denied_prefixes = names(AclPermissionType.DENY, PatternType.PREFIXED)
        allowed_prefixes = names(AclPermissionType.ALLOW, PatternType.PREFIXED)
        if any(not _covered(prefix, denied_prefixes) for prefix in allowed_prefixes):
            return True
        return any(
            literal == WILDCARD_RESOURCE
            or (literal not in denied_literals and not _covered(literal, denied_prefixes))
            for literal in names(AclPermissionType.ALLOW, PatternType.LITERAL)
        )

    def _applicable(self, resource_type: ResourceType, name: str) -> list[_Entries]:
        """The ACL sets of every pattern that applies to the resource, by index look-ups."""
        patterns = [ResourcePattern(resource_type, name, PatternType.LITERAL)]
        if name != WILDCARD_RESOURCE:
            patterns.append(ResourcePattern(resource_type, WILDCARD_RESOURCE, PatternType.LITERAL))
        patterns.extend(
            ResourcePattern(resource_type, name[:length], PatternType.PREFIXED)
            for length in self._prefix_lengths.get(resource_type, ())
            if length <= len(name)
        )
        return [acls for pattern in patterns if (acls := self._acls.get(pattern))]

    def _names_of(
        self,
        who: str,
        host: str,
        operation: AclOperation,
        permission: AclPermissionType,
        resource_type: ResourceType,
        pattern_type: PatternType,
    ) -> set[str]:
        """The names of the patterns of the type carrying an entry that matches the request."""
        names: set[str] = set()
        for principal in {who, WILDCARD_PRINCIPAL}:
            for from_host in {host, WILDCARD_HOST}:
                for op in {operation, AclOperation.ALL}:
                    entry = AccessControlEntry(principal, from_host, op, permission)
                    names |= self._names.get((entry, resource_type, pattern_type), set())
        return names


def _any_match(
    acls: list[_Entries],
    who: str,
    host: str,
    permission: AclPermissionType,
    operations: frozenset[AclOperation],
) -> bool:
    """Whether an entry of ``permission`` matches the principal (or ``User:*``), the host (or
    ``*``) and one of ``operations`` (or ALL)."""
    return any(
        entry.permission_type == permission
        and entry.principal in (who, WILDCARD_PRINCIPAL)
        and entry.host in (host, WILDCARD_HOST)
        and (entry.operation in operations or entry.operation == AclOperation.ALL)
        for entries in acls
        for entry in entries
    )


def _covered(name: str, denied_prefixes: set[str]) -> bool:
    """Whether a DENY prefix covers ``name``."""
    return any(name.startswith(prefix) for prefix in denied_prefixes)
