"""What ``acls`` prints, in Kafka's words: bindings, current ACLs, questions and errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from confluent_kafka import KafkaError, KafkaException

from odradek.cli.tools.acls_args import (
    Acls,
)
from odradek.cli.tools.common import (
    kafka_error,
    kafka_message,
)
from odradek.security.acl import (
    AccessControlEntry,
    ResourcePattern,
    ResourcePatternFilter,
)

# Kafka's exception messages for broker errors librdkafka words generically.
BROKER_MESSAGES: Mapping[int, str] = {
    KafkaError.SECURITY_DISABLED: "No Authorizer is configured on the broker",
    KafkaError.CLUSTER_AUTHORIZATION_FAILED: "Cluster authorization failed.",
}


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
