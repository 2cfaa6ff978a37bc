"""The server-side assignors of KIP-848 consumer groups, as Kafka's UniformAssignor (balanced:
every member within one partition of the others when subscriptions are the same; sticky) and
RangeAssignor (per topic, contiguous ranges over the members sorted by member id) specify."""

from __future__ import annotations

import uuid

from odradek.coordinator.group.consumer.assignors import (
    MemberSubscription,
    range_assign,
    uniform_assign,
)
from odradek.coordinator.group.consumer.model import Assignment, size

ORDERS = uuid.UUID(int=1)
PAYMENTS = uuid.UUID(int=2)


def every_partition_once(result: dict[str, Assignment], topics: dict[uuid.UUID, int]) -> None:
    seen = [(t, p) for a in result.values() for t, parts in a.items() for p in parts]
    assert sorted(seen, key=str) == sorted(
        ((t, p) for t, n in topics.items() for p in range(n)), key=str
    )


def test_uniform_gives_twelve_partitions_to_three_members_four_each() -> None:
    members = {m: MemberSubscription(frozenset({ORDERS})) for m in ("a", "b", "c")}
    result = uniform_assign(members, {ORDERS: 12})
    assert sorted(size(a) for a in result.values()) == [4, 4, 4]
    every_partition_once(result, {ORDERS: 12})


def test_uniform_balances_over_several_topics_within_one_partition() -> None:
    topics = {ORDERS: 7, PAYMENTS: 3}
    members = {m: MemberSubscription(frozenset(topics)) for m in ("a", "b", "c")}
    result = uniform_assign(members, topics)
    assert sorted(size(a) for a in result.values()) == [3, 3, 4]
    every_partition_once(result, topics)


def test_uniform_is_sticky_when_a_member_leaves() -> None:
    """The survivors keep what they had and share only the leaver's partitions."""
    members = {m: MemberSubscription(frozenset({ORDERS})) for m in ("a", "b", "c")}
    before = uniform_assign(members, {ORDERS: 12})
    survivors = {m: MemberSubscription(frozenset({ORDERS}), current=before[m]) for m in ("a", "b")}
    after = uniform_assign(survivors, {ORDERS: 12})
    assert sorted(size(a) for a in after.values()) == [6, 6]
    for member in ("a", "b"):
        assert before[member][ORDERS] <= after[member][ORDERS]
    every_partition_once(after, {ORDERS: 12})


def test_uniform_gives_a_topic_only_to_its_subscribers() -> None:
    members = {
        "a": MemberSubscription(frozenset({ORDERS})),
        "b": MemberSubscription(frozenset({ORDERS, PAYMENTS})),
    }
    result = uniform_assign(members, {ORDERS: 4, PAYMENTS: 4})
    assert PAYMENTS not in result["a"]
    assert result["b"][PAYMENTS] == frozenset(range(4))
    every_partition_once(result, {ORDERS: 4, PAYMENTS: 4})
    assert size(result["a"]) == 4  # all of ORDERS: b already has PAYMENTS' four


def test_range_assigns_contiguous_ranges_per_topic_sorted_by_member_id() -> None:
    members = {m: MemberSubscription(frozenset({ORDERS, PAYMENTS})) for m in ("c", "a", "b")}
    result = range_assign(members, {ORDERS: 7, PAYMENTS: 3})
    assert result["a"] == {ORDERS: frozenset({0, 1, 2}), PAYMENTS: frozenset({0})}
    assert result["b"] == {ORDERS: frozenset({3, 4}), PAYMENTS: frozenset({1})}
    assert result["c"] == {ORDERS: frozenset({5, 6}), PAYMENTS: frozenset({2})}


def test_range_orders_static_members_by_instance_id() -> None:
    members = {
        "m1": MemberSubscription(frozenset({ORDERS}), instance_id="z"),
        "m2": MemberSubscription(frozenset({ORDERS}), instance_id="y"),
    }
    result = range_assign(members, {ORDERS: 4})
    assert result["m2"] == {ORDERS: frozenset({0, 1})}
    assert result["m1"] == {ORDERS: frozenset({2, 3})}


def test_range_leaves_members_without_partitions_when_there_are_more_members() -> None:
    members = {m: MemberSubscription(frozenset({ORDERS})) for m in ("a", "b", "c")}
    result = range_assign(members, {ORDERS: 2})
    assert result == {"a": {ORDERS: frozenset({0})}, "b": {ORDERS: frozenset({1})}, "c": {}}
