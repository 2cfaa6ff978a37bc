"""KIP-848 regex subscriptions under topic ACLs, in the group coordinator without a broker.

The reference is Kafka 4.0 (KAFKA-18813): GroupMetadataManager resolves all of a group's
regexes in the context of the heartbeat that needed the refresh (one bringing a regex the
group has not resolved) and drops the matches that context may not DESCRIBE; it persists the
resolved topics, not the principal. The authorizer here is a table of who may DESCRIBE what,
standing in for the broker's ACL authorizer behind the coordinator's TopicAuthorizer."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from kio.schema.errors import ErrorCode

from odradek.common.principal import KafkaPrincipal
from odradek.coordinator.group.consumer.manager import HeartbeatResult
from odradek.coordinator.group.consumer.model import Requester
from tests.unit.coordinator.test_consumer_group_protocol import (
    GROUP,
    REBALANCE,
    TOPIC,
    TOPIC_ID,
    Harness,
)
from tests.unit.coordinator.test_group_coordinator import FakeOffsetsLog

E = ErrorCode
EU = uuid.UUID(int=8)  # orders-eu
PAY = uuid.UUID(int=9)  # payments


class DescribeTable:
    """Who may DESCRIBE which topics, by principal name (live: a grant counts at once)."""

    def __init__(self, grants: dict[str, set[str]]) -> None:
        self.grants = grants
        self.asked: list[str] = []

    def describable(self, requester: Requester, names: Iterable[str]) -> frozenset[str]:
        self.asked.append(requester.principal.name)
        allowed = self.grants.get(requester.principal.name, set())
        return frozenset(name for name in names if name in allowed)


def user(name: str) -> Requester:
    return Requester(KafkaPrincipal("User", name), "127.0.0.1")


def harness(table: DescribeTable | None) -> Harness:
    h = Harness(partitions=2)
    h.topics.topics["orders-eu"] = (EU, 2)
    h.topics.topics["payments"] = (PAY, 2)
    h.coordinator.context.topic_authorizer = table
    return h


def subscribe(h: Harness, member: str, who: str, regex: str = "ord.*") -> HeartbeatResult:
    joined = h.heartbeat(
        member,
        0,
        owned={},
        subscribed_topic_regex=regex,
        rebalance_timeout_ms=REBALANCE,
        requester=user(who),
    )
    assert joined.error is E.none
    return joined


def beat(h: Harness, member: str, epoch: int, who: str) -> HeartbeatResult:
    return h.heartbeat(member, epoch, requester=user(who))


def subscribed(h: Harness) -> set[str]:
    group = h.coordinator.consumer_group(GROUP)
    assert group is not None
    return set(group.subscription_metadata)


def test_without_an_authorizer_a_regex_matches_every_topic() -> None:
    h = harness(None)
    joined = subscribe(h, "a", "alice")
    later = beat(h, "a", joined.member_epoch, "alice")
    assert later.assignment == {TOPIC_ID: frozenset({0, 1}), EU: frozenset({0, 1})}


def test_a_regex_resolves_only_to_topics_its_member_may_describe() -> None:
    table = DescribeTable({"alice": {TOPIC}})
    h = harness(table)
    joined = subscribe(h, "a", "alice")
    assert joined.assignment == {}
    later = beat(h, "a", joined.member_epoch, "alice")
    assert later.assignment == {TOPIC_ID: frozenset({0, 1})}
    assert subscribed(h) == {TOPIC}
    assert set(table.asked) == {"alice"}
    # Granted later: the regex's matches are authorized again at the next heartbeat.
    table.grants["alice"].add("orders-eu")
    again = beat(h, "a", later.member_epoch, "alice")
    assert again.member_epoch == later.member_epoch + 1
    assert again.assignment == {TOPIC_ID: frozenset({0, 1}), EU: frozenset({0, 1})}
    # Revoked: the topic leaves the group's subscription (and the member's target).
    table.grants["alice"].discard("orders-eu")
    beat(h, "a", again.member_epoch, "alice")
    assert subscribed(h) == {TOPIC}


def test_a_literal_subscription_is_not_filtered_by_the_regex_requester() -> None:
    """Literal names are checked by the broker before the coordinator (TOPIC_AUTHORIZATION
    _FAILED); only what a regex adds is filtered."""
    h = harness(DescribeTable({"alice": set()}))
    joined = h.heartbeat(
        "a",
        0,
        owned={},
        subscribed_topic_names=["payments"],
        subscribed_topic_regex="ord.*",
        rebalance_timeout_ms=REBALANCE,
        requester=user("alice"),
    )
    assert joined.assignment == {PAY: frozenset({0, 1})}
    later = beat(h, "a", joined.member_epoch, "alice")
    assert (later.member_epoch, later.assignment) == (joined.member_epoch, None)  # unchanged
    assert subscribed(h) == {"payments"}


def test_the_group_resolves_its_regexes_as_the_member_that_brought_a_new_one() -> None:
    """Kafka refreshes all of a group's regexes with the request context of the heartbeat
    that needed the refresh; a member subscribing to a regex already resolved changes
    nothing, a member bringing a new regex resolves them all in its name (the limitation
    KAFKA-19147's description names: members with different permissions)."""
    table = DescribeTable({"alice": {TOPIC}, "bob": {TOPIC, "orders-eu", "payments"}})
    h = harness(table)
    a = subscribe(h, "a", "alice")
    a = beat(h, "a", a.member_epoch, "alice")
    b = subscribe(h, "b", "bob")  # the same regex: resolved already, in alice's name
    b = beat(h, "b", b.member_epoch, "bob")
    assert subscribed(h) == {TOPIC}
    b = h.heartbeat(
        "b",
        b.member_epoch,
        subscribed_topic_regex="(ord|pay).*",
        requester=user("bob"),
    )
    assert subscribed(h) == {TOPIC}  # the new regex counts from the next heartbeat
    a = beat(h, "a", a.member_epoch, "alice")
    # Resolved in bob's name now, alice's regex included.
    assert subscribed(h) == {TOPIC, "orders-eu", "payments"}


def test_a_loaded_group_keeps_its_subscribed_topics_until_a_heartbeat_resolves_again() -> None:
    table = DescribeTable({"alice": {TOPIC}, "bob": {TOPIC, "orders-eu"}})
    h = harness(table)
    a = subscribe(h, "a", "alice")
    a = beat(h, "a", a.member_epoch, "alice")
    assert subscribed(h) == {TOPIC}
    # A new coordinator: the principal is not in the log, the subscribed topics are.
    other = harness(table)
    other.log = FakeOffsetsLog()
    for appended in h.log.appended:
        other.coordinator.replay(appended.key, appended.value)
    other.coordinator.finish_loading()
    group = other.coordinator.consumer_group(GROUP)
    assert group is not None
    assert group.regex_requester is None
    assert set(group.subscription_metadata) == {TOPIC}
    # The first heartbeat is answered with what was resolved before, and resolves the
    # group's regexes again in its sender's name for the next one.
    first = beat(other, "a", a.member_epoch, "bob")
    assert first.error is E.none
    assert set(group.subscription_metadata) == {TOPIC}
    assert group.regex_requester == user("bob")
    beat(other, "a", first.member_epoch, "bob")
    assert set(group.subscription_metadata) == {TOPIC, "orders-eu"}
