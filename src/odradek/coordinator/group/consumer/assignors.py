"""The server-side assignors of consumer-protocol groups (``group.consumer.assignors``).

An assignor maps the group's members (their subscribed topic ids, instance id and current
target) and the subscribed topics' partition counts to a new target assignment:

* ``uniform`` (Kafka's UniformAssignor, the default) — every partition of the subscribed
  topics to one subscribed member, sticky (a member keeps its target partitions while it
  stays subscribed), then balanced: partitions move from the most to the least loaded
  member able to take them until no two members that could trade differ by more than one.
  With identical subscriptions every member gets ⌊P/N⌋ or ⌈P/N⌉ partitions.
* ``range`` (Kafka's RangeAssignor) — per topic, the subscribed members sorted by instance
  id (static members) or member id each take a contiguous range: ⌊P/N⌋ partitions, the first
  P mod N one more, so co-partitioned topics line up.

Pure functions: the same input gives the same target.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from odradek.coordinator.group.consumer.model import Assignment

TopicPartitionId = tuple[uuid.UUID, int]


@dataclass(frozen=True, slots=True)
class MemberSubscription:
    """What an assignor knows of a member."""

    topics: frozenset[uuid.UUID]
    instance_id: str | None = None
    current: Assignment = field(default_factory=dict)


Assignor = Callable[
    [Mapping[str, MemberSubscription], Mapping[uuid.UUID, int]], dict[str, Assignment]
]


def _to_assignment(partitions: set[TopicPartitionId]) -> Assignment:
    result: dict[uuid.UUID, set[int]] = {}
    for topic_id, partition in partitions:
        result.setdefault(topic_id, set()).add(partition)
    return {t: frozenset(p) for t, p in result.items()}


def uniform_assign(
    members: Mapping[str, MemberSubscription], topics: Mapping[uuid.UUID, int]
) -> dict[str, Assignment]:
    owned: dict[str, set[TopicPartitionId]] = {m: set() for m in members}
    taken: set[TopicPartitionId] = set()
    for member_id in sorted(members):
        spec = members[member_id]
        for topic_id, partitions in spec.current.items():
            if topic_id not in spec.topics or topic_id not in topics:
                continue
            for partition in partitions:
                key = (topic_id, partition)
                if partition < topics[topic_id] and key not in taken:
                    owned[member_id].add(key)
                    taken.add(key)
    eligible = {
        topic_id: sorted(m for m, spec in members.items() if topic_id in spec.topics)
        for topic_id in topics
    }
    free = [
        (topic_id, p)
        for topic_id in sorted(topics, key=str)
        if eligible[topic_id]
        for p in range(topics[topic_id])
        if (topic_id, p) not in taken
    ]
    free.sort(key=lambda tp: (len(eligible[tp[0]]), str(tp[0]), tp[1]))
    for key in free:
        target = min(eligible[key[0]], key=lambda m: (len(owned[m]), m))
        owned[target].add(key)
    _balance(members, owned)
    return {m: _to_assignment(parts) for m, parts in owned.items()}


def _balance(
    members: Mapping[str, MemberSubscription], owned: dict[str, set[TopicPartitionId]]
) -> None:
    """Move partitions from the most to the least loaded members that can take them."""
    moved = True
    while moved:
        moved = False
        by_load = sorted(owned, key=lambda m: (len(owned[m]), m))
        for giver in reversed(by_load):
            for taker in by_load:
                if len(owned[giver]) - len(owned[taker]) <= 1:
                    break
                movable = sorted(
                    (tp for tp in owned[giver] if tp[0] in members[taker].topics),
                    key=lambda tp: (str(tp[0]), tp[1]),
                )
                if movable:
                    owned[giver].remove(movable[-1])
                    owned[taker].add(movable[-1])
                    moved = True
                    break
            if moved:
                break


def range_assign(
    members: Mapping[str, MemberSubscription], topics: Mapping[uuid.UUID, int]
) -> dict[str, Assignment]:
    result: dict[str, dict[uuid.UUID, frozenset[int]]] = {m: {} for m in members}
    for topic_id, partitions in topics.items():
        subscribed = sorted(
            (m for m, spec in members.items() if topic_id in spec.topics),
            key=lambda m: (members[m].instance_id is None, members[m].instance_id or m),
        )
        if not subscribed:
            continue
        quota, extra = divmod(partitions, len(subscribed))
        start = 0
        for index, member_id in enumerate(subscribed):
            count = quota + (1 if index < extra else 0)
            if count:
                result[member_id][topic_id] = frozenset(range(start, start + count))
            start += count
    return result


ASSIGNORS: Mapping[str, Assignor] = {"uniform": uniform_assign, "range": range_assign}
