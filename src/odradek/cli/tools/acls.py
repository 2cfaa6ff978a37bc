"""``odradek acls``: Kafka's ``bin/kafka-acls.sh`` (AclCommand) on confluent-kafka's
AdminClient: ``--add``, ``--remove`` and ``--list`` of ACL bindings, the ``--producer`` and
``--consumer`` conveniences, Kafka's flag checks and Kafka's output.

The flags become Kafka's ACL model first (``odradek.security.acl``: resource pattern filters,
each with its access control entries), by pure functions testable without a broker
(``acls_args``); only then are they turned into confluent-kafka's ``AclBinding``/
``AclBindingFilter`` (``acls_bindings``), whose enums carry the same wire codes; what is printed
is in ``acls_output``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence

from confluent_kafka import KafkaError, KafkaException
from kio.static.primitive import i8

from odradek.cli.tools.acls_args import (
    Acls,
    Requested,
    acls_to_add,
    check_args,
    list_filters,
    merge_acls,
    requested_acls,
)
from odradek.cli.tools.acls_bindings import as_filter, binding, binding_filter, from_binding
from odradek.cli.tools.acls_output import (
    BROKER_MESSAGES,
    acl_error_message,
    adding_lines,
    current_lines,
    entry_text,
    pattern_text,
    removal_question,
)
from odradek.cli.tools.common import (
    EXIT_FAILED,
    EXIT_OK,
    Admin,
    error_text,
    run_tool,
)
from odradek.common import reachability
from odradek.protocol.client import KioConnection, WireError, pick_version, request_module
from odradek.security.acl import (
    AccessControlEntry,
    ResourcePattern,
    ResourcePatternFilter,
)

DESCRIBE_ACLS = 29  # api key


def main(args: argparse.Namespace) -> int:
    return run_tool("acls", args, _run)


def _print(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


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
        merge_acls(found, describe(admin, resource))
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
