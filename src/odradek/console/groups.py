"""Consumer groups through the AdminClient: listing, describing with committed offsets and
lag, resetting offsets of an inactive group, deleting a group. Blocking calls, as in
``gateway``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

from odradek.console.gateway import KafkaError, KafkaGateway, wait
from odradek.console.models import GroupDetail, GroupListing, Member, PartitionLag

RESET_TARGETS = ("earliest", "latest", "timestamp", "offset")


@dataclass(frozen=True)
class ResetPlan:
    """New offsets for a group: partition -> offset, before and after."""

    group_id: str
    moves: tuple[tuple[tuple[str, int], int | None, int], ...]


def list_groups(gateway: KafkaGateway) -> list[GroupListing]:
    result = wait(
        gateway.admin.list_consumer_groups(request_timeout=gateway.timeout), gateway.timeout
    )
    return sorted(
        (
            GroupListing(
                g.group_id,
                _name(g.state),
                _name(getattr(g, "type", "UNKNOWN")),
                bool(g.is_simple_consumer_group),
            )
            for g in result.valid
        ),
        key=lambda g: g.group_id,
    )


def committed_offsets(
    gateway: KafkaGateway, group_ids: Iterable[str]
) -> dict[str, dict[tuple[str, int], int]]:
    """Each group's committed offsets (OffsetFetch per group, sent together; groups whose
    fetch fails are left out)."""
    futures = {}
    for group_id in group_ids:
        request = [ConsumerGroupTopicPartitions(group_id)]
        futures.update(
            gateway.admin.list_consumer_group_offsets(request, request_timeout=gateway.timeout)
        )
    result: dict[str, dict[tuple[str, int], int]] = {}
    for group_id, future in futures.items():
        try:
            answer = future.result(gateway.timeout)
        except KafkaException:
            continue
        result[group_id] = {
            (tp.topic, tp.partition): int(tp.offset)
            for tp in answer.topic_partitions
            if tp.error is None and tp.offset >= 0
        }
    return result


def describe_group(gateway: KafkaGateway, group_id: str) -> GroupDetail:
    """State, protocol, members with assignments and, per committed partition and assigned
    one, the committed offset, end offset and lag."""
    futures = gateway.admin.describe_consumer_groups([group_id], request_timeout=gateway.timeout)
    description = wait(futures[group_id], gateway.timeout)
    members = tuple(
        Member(
            m.member_id,
            m.client_id,
            m.host,
            m.group_instance_id,
            tuple(sorted((tp.topic, tp.partition) for tp in m.assignment.topic_partitions)),
        )
        for m in description.members
    )
    owners = {tp: m.client_id or m.member_id for m in members for tp in m.assignment}
    committed = committed_offsets(gateway, [group_id]).get(group_id, {})
    partitions = sorted(set(committed) | set(owners))
    ends = gateway.end_offsets(partitions)
    offsets = tuple(
        PartitionLag(t, p, committed.get((t, p)), ends.get((t, p)), owners.get((t, p)))
        for t, p in partitions
    )
    coordinator = description.coordinator.id if description.coordinator is not None else None
    return GroupDetail(
        group_id,
        _name(description.state),
        _name(getattr(description, "type", "UNKNOWN")),
        description.partition_assignor or "",
        coordinator,
        members,
        offsets,
    )


def plan_reset(
    gateway: KafkaGateway,
    detail: GroupDetail,
    target: str,
    value: int | None,
    topic: str | None,
) -> ResetPlan:
    """New offsets for an inactive group's committed partitions (or those of ``topic``):
    ``earliest``/``latest``, the first offset at a ``timestamp`` (the end where there is
    none, as Kafka's tool does) or an ``offset`` clamped to each partition's range."""
    if not detail.inactive:
        raise KafkaError(
            f"group {detail.group_id} is {detail.state}: offsets can be reset only when it has "
            "no members (stop its consumers first)"
        )
    partitions = [
        (p.topic, p.partition) for p in detail.offsets if topic is None or p.topic == topic
    ]
    if not partitions:
        raise KafkaError(
            "the group has no committed offsets to reset" + (f" on {topic}" if topic else "")
        )
    targets = _targets(gateway, partitions, target, value)
    before = {(p.topic, p.partition): p.committed for p in detail.offsets}
    return ResetPlan(
        detail.group_id,
        tuple((tp, before.get(tp), targets[tp]) for tp in partitions if tp in targets),
    )


def _targets(
    gateway: KafkaGateway,
    partitions: list[tuple[str, int]],
    target: str,
    value: int | None,
) -> dict[tuple[str, int], int]:
    bounds = {tp: (r.start, r.end) for tp, r in gateway.offsets(partitions).items()}
    if target == "earliest":
        return {tp: start for tp, (start, _) in bounds.items()}
    if target == "latest":
        return {tp: end for tp, (_, end) in bounds.items()}
    if value is None:
        raise KafkaError(f"resetting to a {target} needs a value")
    if target == "offset":
        return {tp: min(max(value, start), end) for tp, (start, end) in bounds.items()}
    if target == "timestamp":
        found = gateway.offsets_for_time(partitions, value)
        return {tp: found[tp] if found.get(tp, -1) >= 0 else end for tp, (_, end) in bounds.items()}
    raise KafkaError(f"unknown reset target {target}")


def apply_reset(gateway: KafkaGateway, plan: ResetPlan) -> None:
    request = [
        ConsumerGroupTopicPartitions(
            plan.group_id, [TopicPartition(t, p, offset) for (t, p), _, offset in plan.moves]
        )
    ]
    futures = gateway.admin.alter_consumer_group_offsets(request, request_timeout=gateway.timeout)
    for future in futures.values():
        answer = wait(future, gateway.timeout)
        failed = [tp for tp in answer.topic_partitions if tp.error is not None]
        if failed:
            raise KafkaError(f"{failed[0].topic}-{failed[0].partition}: {failed[0].error.str()}")


def delete_group(gateway: KafkaGateway, group_id: str) -> None:
    futures = gateway.admin.delete_consumer_groups([group_id], request_timeout=gateway.timeout)
    wait(futures[group_id], gateway.timeout)


def _name(value: object) -> str:
    return str(getattr(value, "name", value))
