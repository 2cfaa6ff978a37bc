"""``odradek acls``: Kafka's ``bin/kafka-acls.sh`` (AclCommand) on confluent-kafka's
AdminClient: ``--add``, ``--remove`` and ``--list`` of ACL bindings, the ``--producer`` and
``--consumer`` conveniences, Kafka's flag checks and Kafka's output.

The flags become Kafka's ACL model first (``odradek.security.acl``: resource pattern filters,
each with its access control entries), by pure functions testable without a broker
(``requested_acls``, ``acls_to_add``, ``list_filters``); only then are they turned into
confluent-kafka's ``AclBinding``/``AclBindingFilter``, whose enums carry the same wire codes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import IntEnum
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from kio.static.primitive import i8

from odradek.cli.tools.common import (
    EXIT_FAILED,
    EXIT_OK,
    Admin,
    ToolError,
    UsageError,
    error_text,
    kafka_error,
    kafka_message,
    require_bootstrap,
    run_tool,
)
from odradek.common import reachability
from odradek.protocol.client import KioConnection, WireError, pick_version, request_module
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

# confluent-kafka's ACL classes: its type stubs neither re-export them from
# confluent_kafka.admin nor allow the None (any) of a filter, so they are typed loosely.
_admin: Any = importlib.import_module("confluent_kafka.admin")

DESCRIBE_ACLS = 29  # api key
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

# Kafka's exception messages for broker errors librdkafka words generically.
BROKER_MESSAGES: Mapping[int, str] = {
    KafkaError.SECURITY_DISABLED: "No Authorizer is configured on the broker",
    KafkaError.CLUSTER_AUTHORIZATION_FAILED: "Cluster authorization failed.",
}

# The entries per resource pattern filter (--remove) or resource pattern (--add).
Requested = dict[ResourcePatternFilter, frozenset[AccessControlEntry]]
Acls = dict[ResourcePattern, frozenset[AccessControlEntry]]


def main(args: argparse.Namespace) -> int:
    return run_tool("acls", args, _run)


# -- flags -> Kafka's model ----------------------------------------------------------------------


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
        _merge(acls, producer_acls(args))
    if args.consumer:
        _merge(acls, consumer_acls(args))
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


def _merge(into: dict[Any, set[AccessControlEntry]], more: Mapping[Any, Iterable[Any]]) -> None:
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


# -- Kafka's model <-> confluent-kafka -----------------------------------------------------------


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


# -- output --------------------------------------------------------------------------------------


def pattern_text(resource: ResourcePattern | ResourcePatternFilter) -> str:
    """A resource pattern (or filter) as Kafka prints it."""
    name = "<any>" if resource.name is None else resource.name
    return (
        f"ResourcePattern(resourceType={resource.resource_type.name}, name={name}, "
        f"patternType={resource.pattern_type.name})"
    )


def entry_text(entry: AccessControlEntry) -> str:
    """An access control entry as Kafka prints it."""
    return (
        f"(principal={entry.principal}, host={entry.host}, operation={entry.operation.name}, "
        f"permissionType={entry.permission_type.name})"
    )


def _entry_lines(each: Sequence[AccessControlEntry]) -> list[str]:
    """Kafka's list of entries after a ``...: `` line: tab-indented, the first after a space."""
    return [(" \t" if i == 0 else "\t") + entry_text(e) for i, e in enumerate(each)]


def adding_lines(pattern: ResourcePattern, new: Sequence[AccessControlEntry]) -> list[str]:
    """Kafka's ``Adding ACLs for resource ...`` block."""
    return [f"Adding ACLs for resource `{pattern_text(pattern)}`: ", *_entry_lines(new), ""]


def current_lines(acls: Acls) -> list[str]:
    """Kafka's ``Current ACLs for resource ...`` blocks, resources and entries in order."""
    lines = []
    for pattern, each in sorted(acls.items()):
        lines.append(f"Current ACLs for resource `{pattern_text(pattern)}`:")
        lines += [f"\t{entry_text(e)}" for e in sorted(each)]
        lines.append("")
    return lines


def removal_question(resource: ResourcePatternFilter, each: Sequence[AccessControlEntry]) -> str:
    """Kafka's confirmation prompt of ``--remove``."""
    if not each:
        return (
            f"Are you sure you want to delete all ACLs for resource filter "
            f"`{pattern_text(resource)}`? (y/n)"
        )
    listed = "\n".join(_entry_lines(each))
    return (
        f"Are you sure you want to remove ACLs: \n{listed}\n"
        f" from resource filter `{pattern_text(resource)}`? (y/n)"
    )


def acl_error_message(exc: KafkaException) -> str:
    """The broker's message, or Kafka's for the errors librdkafka words generically."""
    error = kafka_error(exc)
    if error is not None and str(error.str()).startswith("Broker: "):
        return BROKER_MESSAGES.get(int(error.code()), kafka_message(exc))
    return kafka_message(exc)


def _print(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


# -- running -------------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    check_args(args)
    action = planned(args)
    admin = Admin.from_args(args)
    try:
        action(admin)
    except KafkaException as exc:
        print(f"Error while executing ACL command: {acl_error_message(exc)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def planned(args: argparse.Namespace) -> Callable[[Admin], None]:
    """The action the flags ask for, every flag checked before anything is sent."""
    if args.action == "list":
        filters, principals = list_filters(args)
        check_expressible({resource: frozenset() for resource in filters})
        return lambda admin: list_acls(admin, filters, principals)
    if args.action == "add":
        acls = acls_to_add(args)
        check_expressible({as_filter(pattern): each for pattern, each in acls.items()})
        return lambda admin: add_acls(admin, acls)
    requested = requested_acls(args)
    check_expressible(requested)
    return lambda admin: remove_acls(admin, requested, args.force)


def check_expressible(requested: Requested) -> None:
    """Fail (before connecting) on what librdkafka cannot express."""
    for resource, each in requested.items():
        for entry in [*each, None]:
            binding_filter(resource, entry)


def describe(admin: Admin, resource: ResourcePatternFilter) -> Acls:
    """The ACLs the filter finds (MATCH: every pattern that applies to the name)."""
    future = admin.client.describe_acls(
        binding_filter(resource, None), request_timeout=admin.timeout
    )
    found = admin.wait(future)
    if not found:
        check_describe_refused(admin)
    grouped: dict[ResourcePattern, set[AccessControlEntry]] = {}
    for pattern, entry in map(from_binding, found):
        grouped.setdefault(pattern, set()).add(entry)
    return {pattern: frozenset(each) for pattern, each in grouped.items()}


def check_describe_refused(admin: Admin) -> None:
    """librdkafka drops DescribeAcls' top-level error (SECURITY_DISABLED when the broker has no
    authorizer, CLUSTER_AUTHORIZATION_FAILED) and returns no ACLs instead. Over PLAINTEXT the
    request goes once more straight to the bootstrap broker that answered, and its error, if
    any, is raised as librdkafka would have. (Over SSL/SASL no ACLs is all there is to say.)"""
    address = reachability.answered()
    if not admin.plaintext or address is None:
        return
    target = reachability.parse_bootstrap(address)[0]
    any_code = i8(1)  # ANY, for each enum of the filter
    try:
        with KioConnection(target.host, target.port, admin.timeout, "odradek-acls") as conn:
            version = pick_version(conn.versions(), DESCRIBE_ACLS, "DescribeAcls", (1, 3))
            response = conn.call(
                request_module(DESCRIBE_ACLS, version).DescribeAclsRequest(
                    resource_type_filter=any_code,
                    resource_name_filter=None,
                    pattern_type_filter=any_code,
                    principal_filter=None,
                    host_filter=None,
                    operation=any_code,
                    permission_type=any_code,
                )
            )
    except (OSError, WireError):
        return  # librdkafka's answer stands
    code = int(response.error_code)
    if code != 0:
        reason = response.error_message or BROKER_MESSAGES.get(code) or error_text(code)
        raise KafkaException(KafkaError(code, reason))


def add_acls(admin: Admin, acls: Acls) -> None:
    """Create the entries each pattern does not have yet, saying which exist already."""
    for pattern, each in sorted(acls.items()):
        existing = describe(admin, as_filter(pattern)).get(pattern, frozenset())
        new = []
        for entry in sorted(each):
            if entry in existing:
                text = f"pattern={pattern_text(pattern)}, entry={entry_text(entry)}"
                print(f"Acl ({text}) already exists.")
            else:
                new.append(entry)
        if not new:
            continue
        _print(adding_lines(pattern, new))
        futures = admin.client.create_acls(
            [binding(pattern, e) for e in new], request_timeout=admin.timeout
        )
        for future in futures.values():
            admin.wait(future)


def remove_acls(admin: Admin, acls: Requested, force: bool) -> None:
    """Delete the entries of each resource filter (every ACL of it when none is named), after
    a confirmation unless ``force``."""
    for resource, each in sorted(acls.items(), key=lambda item: _filter_order(item[0])):
        chosen = sorted(each)
        if not force and not confirm(removal_question(resource, chosen)):
            continue
        filters = [binding_filter(resource, e) for e in chosen] or [binding_filter(resource, None)]
        futures = admin.client.delete_acls(filters, request_timeout=admin.timeout)
        for future in futures.values():
            admin.wait(future)


def _filter_order(resource: ResourcePatternFilter) -> tuple[int, str, int]:
    return (resource.resource_type, resource.name or "", resource.pattern_type)


def confirm(question: str) -> bool:
    """Ask on stdout, read the answer from stdin: ``y`` (any case) is yes, anything else
    (end of input too) no."""
    print(question, flush=True)
    return sys.stdin.readline().strip().lower() == "y"


def list_acls(
    admin: Admin, filters: Sequence[ResourcePatternFilter], principals: Sequence[str]
) -> None:
    """Kafka's ``--list``: every ACL the filters find (all ACLs without one), grouped by
    resource pattern, and per ``--principal`` only that principal's."""
    found: dict[ResourcePattern, set[AccessControlEntry]] = {}
    for resource in filters or [ResourcePatternFilter.ANY]:
        _merge(found, describe(admin, resource))
    acls = {pattern: frozenset(each) for pattern, each in found.items()}
    if not principals:
        _print(current_lines(acls))
        return
    for principal in principals:
        print(f"ACLs for principal `{principal}`")
        own = {
            p: frozenset(e for e in each if e.principal == principal) for p, each in acls.items()
        }
        _print(current_lines({p: each for p, each in own.items() if each}))
