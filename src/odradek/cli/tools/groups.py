"""Consumer group look-ups shared by ``consumer-groups`` actions."""

from __future__ import annotations

from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from odradek.cli.tools.common import (
    Admin,
    ToolError,
    UsageError,
    error_code,
    kafka_message,
    state_name,
)
from odradek.cli.tools.kafka import OffsetSpec


def listings(admin: Admin) -> list[Any]:
    """Every group; a broker that could not list its groups fails the listing, as Kafka's
    ``listConsumerGroups().all()`` does (the tool used to warn and exit 0 with a partial or
    empty list)."""
    result = admin.wait(admin.client.list_consumer_groups(request_timeout=admin.timeout))
    if result.errors:
        error = result.errors[0]
        failure = error if isinstance(error, KafkaException) else KafkaException(error)
        raise ToolError(f"cannot list the consumer groups: {kafka_message(failure)}")
    return list(result.valid)


def describe_groups(admin: Admin, groups: list[str]) -> dict[str, Any]:
    """Group id -> ConsumerGroupDescription, or None when the group does not exist."""
    futures = admin.client.describe_consumer_groups(groups, request_timeout=admin.timeout)
    described: dict[str, Any] = {}
    for group in groups:
        try:
            description = admin.wait(futures[group])
        except KafkaException as exc:
            if error_code(exc) == KafkaError.GROUP_ID_NOT_FOUND:
                described[group] = None
                continue
            raise ToolError(f"cannot describe group '{group}': {kafka_message(exc)}") from exc
        described[group] = None if state_name(description.state) == "Dead" else description
    return described


def committed_offsets(admin: Admin, group: str) -> dict[tuple[str, int], int]:
    request = [ConsumerGroupTopicPartitions(group)]
    future = admin.client.list_consumer_group_offsets(request, request_timeout=admin.timeout)[group]
    try:
        result = admin.wait(future)
    except KafkaException as exc:
        raise ToolError(
            f"cannot fetch the offsets of group '{group}': {kafka_message(exc)}"
        ) from exc
    return {
        (tp.topic, tp.partition): tp.offset
        for tp in result.topic_partitions or []
        if tp.offset >= 0 and tp.error is None
    }


def log_offsets(
    admin: Admin, partitions: list[tuple[str, int]], spec: Any = None
) -> dict[tuple[str, int], int | None]:
    """Latest (or ``spec``) offsets per partition; None where the lookup failed."""
    if not partitions:
        return {}
    request = {TopicPartition(t, p): spec or OffsetSpec.latest() for t, p in partitions}
    futures = admin.client.list_offsets(request, request_timeout=admin.timeout)
    found: dict[tuple[str, int], int | None] = {}
    for tp, future in futures.items():
        try:
            found[(tp.topic, tp.partition)] = admin.wait(future).offset
        except KafkaException:
            found[(tp.topic, tp.partition)] = None
    return found


def topic_partitions(admin: Admin, topic_args: list[str]) -> dict[str, list[int]]:
    """``t`` (all partitions) or ``t:0,1`` arguments, checked against the cluster."""
    chosen: dict[str, list[int]] = {}
    metadata = admin.metadata()
    for arg in topic_args:
        topic, sep, parts = arg.partition(":")
        described = metadata.topics.get(topic)
        if described is None or described.error is not None:
            raise ToolError(f"Topic '{topic}' does not exist")
        if not sep:
            chosen.setdefault(topic, []).extend(sorted(described.partitions))
            continue
        try:
            numbers = [int(p) for p in parts.split(",")]
        except ValueError as exc:
            raise UsageError(
                f"invalid topic arg '{arg}': expected TOPIC or TOPIC:PARTITION[,PARTITION]"
            ) from exc
        chosen.setdefault(topic, []).extend(numbers)
    return {t: sorted(set(ps)) for t, ps in chosen.items()}
