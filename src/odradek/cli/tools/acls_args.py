"""The ``acls`` flags read into Kafka's ACL model (resource pattern filters and their access
control entries), with Kafka's checks: pure functions, testable without a broker."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from odradek.cli.tools.common import (
    UsageError,
    require_bootstrap,
)
from odradek.security.acl import (
    CLUSTER_NAME,
    WILDCARD_HOST,
    AccessControlEntry,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    supported_operations,
)

SPECIFIC_PATTERN_TYPES = (PatternType.LITERAL, PatternType.PREFIXED)
CLUSTER = ResourcePatternFilter(ResourceType.CLUSTER, CLUSTER_NAME, PatternType.LITERAL)
LIST_CONFLICTS = (
    "producer",
    "consumer",
    "allow_host",
    "allow_principal",
    "deny_host",
    "deny_principal",
)
OPERATIONS = [op for op in AclOperation if op not in (AclOperation.UNKNOWN, AclOperation.ANY)]
# The entries per resource pattern filter (--remove) or resource pattern (--add).
Requested = dict[ResourcePatternFilter, frozenset[AccessControlEntry]]
Acls = dict[ResourcePattern, frozenset[AccessControlEntry]]


def check_args(args: argparse.Namespace) -> None:
    """Kafka's checks of the flag combinations (before anything is sent)."""
    require_bootstrap(args)
    if args.action == "list":
        for dest in LIST_CONFLICTS:
            _not_with("--list", args, dest)
    for convenience in ("producer", "consumer"):
        if getattr(args, convenience):
            for dest in ("operation", "deny_principal", "deny_host"):
                _not_with(f"--{convenience}", args, dest)
    if args.principal and args.action != "list":
        raise UsageError("--principal can only be used with --list")
    if args.producer and not args.topic:
        raise UsageError("--producer needs a --topic")
    if args.idempotent and not args.producer:
        raise UsageError("--idempotent can only be used with --producer")
    if args.consumer and (
        not args.topic
        or not args.group
        or (not args.producer and (args.cluster or args.transactional_id))
    ):
        raise UsageError(
            "--consumer needs a --topic and a --group, and takes no --cluster or "
            "--transactional-id (unless with --producer)"
        )


def _not_with(used: str, args: argparse.Namespace, dest: str) -> None:
    if getattr(args, dest):
        flag = "--" + dest.replace("_", "-")
        raise UsageError(f'Option "{used}" can\'t be used with option "{flag}"')


def operation_name(operation: AclOperation) -> str:
    """Kafka's spelling of an operation for ``--operation`` (``ClusterAction``)."""
    return "".join(word.capitalize() for word in operation.name.split("_"))


def parse_operation(text: str) -> AclOperation:
    """An ``--operation`` (``Read``, ``ClusterAction``; any case, ``_`` allowed)."""
    wanted = text.strip().replace("_", "").upper()
    for operation in OPERATIONS:
        if operation.name.replace("_", "") == wanted:
            return operation
    names = ", ".join(operation_name(op) for op in OPERATIONS)
    raise UsageError(f"unknown operation {text!r}: valid operations are {names}")


def parse_principal(text: str) -> str:
    """A principal as ``Type:name`` (``User:alice``, ``User:*``)."""
    kind, sep, name = text.strip().partition(":")
    if not sep or not kind or not name:
        raise UsageError(f"invalid principal {text!r}: expected principalType:name (User:alice)")
    return f"{kind}:{name}"


def resource_filters(args: argparse.Namespace, required: bool) -> list[ResourcePatternFilter]:
    """The resources of ``--topic``, ``--group``, ``--cluster``, ``--transactional-id`` and
    ``--delegation-token`` with ``--resource-pattern-type``. As in Kafka, the cluster is
    included only with the LITERAL pattern type (also when ``--idempotent`` asks for it)."""
    kind = PatternType[args.resource_pattern_type]

    def named(
        resource_type: ResourceType, names: Sequence[str] | None
    ) -> list[ResourcePatternFilter]:
        return [ResourcePatternFilter(resource_type, name, kind) for name in names or ()]

    found = named(ResourceType.TOPIC, [t.strip() for t in args.topic or ()])
    if kind == PatternType.LITERAL and (args.cluster or args.idempotent):
        found.append(CLUSTER)
    found += named(ResourceType.GROUP, [g.strip() for g in args.group or ()])
    found += named(ResourceType.TRANSACTIONAL_ID, args.transactional_id)
    found += named(ResourceType.DELEGATION_TOKEN, [d.strip() for d in args.delegation_token or ()])
    if required and not found:
        raise UsageError(
            "give at least one resource: --topic, --group, --cluster, --transactional-id or "
            "--delegation-token"
        )
    return list(dict.fromkeys(found))


def entries(
    args: argparse.Namespace, operations: Iterable[AclOperation]
) -> frozenset[AccessControlEntry]:
    """The entries of ``--allow-principal``/``--allow-host`` (ALLOW) and
    ``--deny-principal``/``--deny-host`` (DENY) for ``operations``; the host defaults to
    ``*`` for the principals given."""
    result: set[AccessControlEntry] = set()
    sides = (
        (AclPermissionType.ALLOW, args.allow_principal, args.allow_host),
        (AclPermissionType.DENY, args.deny_principal, args.deny_host),
    )
    for permission, principals, hosts in sides:
        if not principals:
            continue
        names = {parse_principal(p) for p in principals}
        addresses = {h.strip() for h in hosts} if hosts else {WILDCARD_HOST}
        result.update(
            AccessControlEntry(p, h, o, permission)
            for p in names
            for h in addresses
            for o in operations
        )
    return frozenset(result)


def requested_acls(args: argparse.Namespace) -> Requested:
    """The entries per resource filter that ``--add`` or ``--remove`` name: from
    ``--operation`` (default All), or from ``--producer`` and ``--consumer``."""
    acls: dict[ResourcePatternFilter, set[AccessControlEntry]] = {}
    if not args.producer and not args.consumer:
        given = entries(args, [parse_operation(o) for o in args.operation or ["All"]])
        for resource in resource_filters(args, required=True):
            acls[resource] = set(given)
    if args.producer:
        merge_acls(acls, producer_acls(args))
    if args.consumer:
        merge_acls(acls, consumer_acls(args))
    result = {resource: frozenset(each) for resource, each in acls.items()}
    check_operations(result)
    return result


def producer_acls(args: argparse.Namespace) -> Requested:
    """``--producer``: WRITE, DESCRIBE and CREATE on the topics, WRITE and DESCRIBE on the
    transactional ids, IDEMPOTENT_WRITE on the cluster with ``--idempotent``."""
    resources = resource_filters(args, required=True)
    topic = entries(args, (AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE))
    transactional = entries(args, (AclOperation.WRITE, AclOperation.DESCRIBE))
    acls = {r: topic for r in resources if r.resource_type == ResourceType.TOPIC}
    acls.update(
        {r: transactional for r in resources if r.resource_type == ResourceType.TRANSACTIONAL_ID}
    )
    if args.idempotent:
        acls[CLUSTER] = entries(args, (AclOperation.IDEMPOTENT_WRITE,))
    return acls


def consumer_acls(args: argparse.Namespace) -> Requested:
    """``--consumer``: READ and DESCRIBE on the topics, READ on the groups."""
    resources = resource_filters(args, required=True)
    topic = entries(args, (AclOperation.READ, AclOperation.DESCRIBE))
    group = entries(args, (AclOperation.READ,))
    acls = {r: topic for r in resources if r.resource_type == ResourceType.TOPIC}
    acls.update({r: group for r in resources if r.resource_type == ResourceType.GROUP})
    return acls


def merge_acls(into: dict[Any, set[AccessControlEntry]], more: Mapping[Any, Iterable[Any]]) -> None:
    for resource, each in more.items():
        into.setdefault(resource, set()).update(each)


def check_operations(acls: Requested) -> None:
    """Each entry's operation must be one its resource type supports, or ALL."""
    for resource, each in acls.items():
        valid = {AclOperation.ALL} | supported_operations(resource.resource_type)
        wrong = {e.operation for e in each} - valid
        if wrong:
            raise UsageError(
                f"ResourceType {resource.resource_type.name} only supports operations "
                f"{', '.join(op.name for op in sorted(valid))} "
                f"(not {', '.join(op.name for op in sorted(wrong))})"
            )


def acls_to_add(args: argparse.Namespace) -> Acls:
    """``--add``: specific resource patterns (LITERAL, PREFIXED), each with an entry or more."""
    kind = PatternType[args.resource_pattern_type]
    if kind not in SPECIFIC_PATTERN_TYPES:
        raise UsageError(
            f"--resource-pattern-type {kind.name} is not valid with --add (use LITERAL or PREFIXED)"
        )
    acls = {
        ResourcePattern(r.resource_type, str(r.name), r.pattern_type): each
        for r, each in requested_acls(args).items()
    }
    if any(not each for each in acls.values()):
        raise UsageError("--add needs --allow-principal or --deny-principal")
    return acls


def list_filters(args: argparse.Namespace) -> tuple[list[ResourcePatternFilter], list[str]]:
    """``--list``: the resource filters (none: every ACL) and the ``--principal``s."""
    principals = [parse_principal(p) for p in args.principal or ()]
    return resource_filters(args, required=False), list(dict.fromkeys(principals))
