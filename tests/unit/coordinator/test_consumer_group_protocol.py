"""KIP-848 consumer groups in the group coordinator, without a broker: the fake clock,
scheduler and in-memory ``__consumer_offsets`` of the classic group tests.

The reference is Kafka 4.0's GroupMetadataManager.consumerGroupHeartbeat and
CurrentAssignmentBuilder: a joining member gets epoch and assignment from the server-side
assignor; a partition moves to another member only after its owner's heartbeat shows it
revoked; stale epochs are fenced; a silent member is removed after the session timeout and
one that does not revoke after its rebalance timeout; the log read back rebuilds the group."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from kio.schema.errors import ErrorCode

from odradek.common.clock import FakeClock
from odradek.common.errors import NotCoordinatorError
from odradek.coordinator.group.consumer.manager import HeartbeatRequest, HeartbeatResult
from odradek.coordinator.group.consumer.model import (
    Assignment,
    ConsumerGroupState,
    MemberState,
    size,
)
from odradek.coordinator.group.coordinator import GroupConfig, GroupCoordinator, OffsetCommit
from tests.unit.coordinator.test_group_coordinator import FakeOffsetsLog, FakeScheduler

E = ErrorCode
GROUP = "orders-app"
TOPIC = "orders"
TOPIC_ID = uuid.UUID(int=42)
SESSION = 45_000
REBALANCE = 30_000


class FakeTopics:
    def __init__(self, topics: dict[str, tuple[uuid.UUID, int]]) -> None:
        self.topics = topics

    def topic(self, name: str) -> tuple[uuid.UUID, int] | None:
        return self.topics.get(name)

    def topic_name(self, topic_id: uuid.UUID) -> str | None:
        return next((n for n, (t, _) in self.topics.items() if t == topic_id), None)

    def topic_names(self) -> Iterable[str]:
        return list(self.topics)


class Harness:
    def __init__(self, partitions: int = 12, log: FakeOffsetsLog | None = None) -> None:
        self.clock = FakeClock()
        self.scheduler = FakeScheduler(self.clock)
        self.log = log or FakeOffsetsLog()
        self.topics = FakeTopics({TOPIC: (TOPIC_ID, partitions)})
        self.coordinator = GroupCoordinator(
            GroupConfig(offsets_partitions=4, consumer_session_timeout_ms=SESSION),
            self.clock,
            self.scheduler,
            self.log,
            self.topics,
        )

    def heartbeat(
        self,
        member_id: str,
        epoch: int,
        owned: Assignment | None = None,
        **fields: Any,
    ) -> HeartbeatResult:
        request = HeartbeatRequest(
            group_id=GROUP, member_id=member_id, member_epoch=epoch, owned=owned, **fields
        )
        return self.coordinator.consumer_group_heartbeat(request)

    def join(self, member_id: str = "", **fields: Any) -> HeartbeatResult:
        fields.setdefault("subscribed_topic_names", (TOPIC,))
        fields.setdefault("rebalance_timeout_ms", REBALANCE)
        return self.heartbeat(member_id, 0, owned={}, **fields)

    def replayed(self) -> GroupCoordinator:
        """A fresh coordinator that loaded this one's log."""
        other = Harness(log=FakeOffsetsLog())
        for appended in self.log.appended:
            other.coordinator.replay(appended.key, appended.value)
        other.coordinator.finish_loading()
        return other.coordinator


def state_of(h: Harness, member_id: str) -> MemberState:
    group = h.coordinator.consumer_group(GROUP)
    assert group is not None
    return group.members[member_id].state


def partitions(result: HeartbeatResult) -> frozenset[int]:
    assert result.assignment is not None
    return result.assignment.get(TOPIC_ID, frozenset())


def test_a_joining_member_gets_an_id_epoch_and_every_partition() -> None:
    h = Harness()
    joined = h.join()
    assert joined.error is E.none
    assert joined.member_id
    assert joined.member_epoch == 1
    assert joined.heartbeat_interval_ms == 5000
    assert partitions(joined) == frozenset(range(12))
    group = h.coordinator.consumer_group(GROUP)
    assert group is not None
    assert (group.group_epoch, group.assignment_epoch) == (1, 1)
    assert group.state is ConsumerGroupState.STABLE


def test_a_partition_moves_only_after_its_owner_revoked_it() -> None:
    h = Harness()
    a = h.join("a")
    b = h.join("b")
    assert b.member_epoch == 2
    assert partitions(b) == frozenset()  # a still owns everything: nothing is free yet
    group = h.coordinator.consumer_group(GROUP)
    assert group is not None and group.members["b"].state is MemberState.UNRELEASED_PARTITIONS
    # a's next heartbeat asks it to revoke half; it stays at its epoch until it has.
    revoke = h.heartbeat("a", a.member_epoch)
    assert revoke.member_epoch == 1
    kept = partitions(revoke)
    assert len(kept) == 6
    assert state_of(h, "a") is MemberState.UNREVOKED_PARTITIONS
    still = h.heartbeat("b", 2)
    assert still.assignment is None or partitions(still) == frozenset()
    # a still claims the revoked partitions: nothing moves.
    h.heartbeat("a", 1, owned={TOPIC_ID: frozenset(range(12))})
    assert h.heartbeat("b", 2).assignment is None
    done = h.heartbeat("a", 1, owned={TOPIC_ID: kept})
    assert done.member_epoch == 2
    assert state_of(h, "a") is MemberState.STABLE
    given = h.heartbeat("b", 2)
    assert partitions(given) == frozenset(range(12)) - kept
    assert group.state is ConsumerGroupState.STABLE


def test_stale_unknown_and_future_epochs_are_fenced() -> None:
    h = Harness()
    h.join("a")
    h.join("b")
    h.heartbeat("a", 1)
    h.heartbeat("a", 1, owned={TOPIC_ID: frozenset(range(6))})  # a is at epoch 2 now
    assert h.heartbeat("a", 3).error is E.fenced_member_epoch
    assert h.heartbeat("nobody", 1).error is E.unknown_member_id
    # epoch 1 is a's previous epoch: accepted while it claims nothing beyond its assignment
    assert h.heartbeat("a", 1).error is E.none
    beyond = h.heartbeat("a", 1, owned={TOPIC_ID: frozenset(range(12))})
    assert beyond.error is E.fenced_member_epoch


def test_a_silent_member_is_removed_after_the_session_timeout() -> None:
    h = Harness()
    h.join("a")
    h.join("b")
    for _ in range(3):  # b keeps heartbeating, a goes silent
        h.scheduler.advance(SESSION // 4)
        h.heartbeat("b", 2)
    group = h.coordinator.consumer_group(GROUP)
    assert group is not None and set(group.members) == {"a", "b"}
    h.scheduler.advance(SESSION // 4)
    assert set(group.members) == {"b"}
    assert group.group_epoch == 3
    taken = h.heartbeat("b", 2)
    assert taken.member_epoch == 3
    assert partitions(taken) == frozenset(range(12))


def test_a_member_that_does_not_revoke_is_fenced_after_its_rebalance_timeout() -> None:
    h = Harness()
    h.join("a")
    h.join("b")
    h.heartbeat("a", 1)  # asked to revoke six partitions
    group = h.coordinator.consumer_group(GROUP)
    assert group is not None
    for _ in range(2):  # a heartbeats but keeps claiming everything
        h.scheduler.advance(REBALANCE // 3)
        h.heartbeat("b", 2)
        h.heartbeat("a", 1, owned={TOPIC_ID: frozenset(range(12))})
    assert set(group.members) == {"a", "b"}
    h.scheduler.advance(REBALANCE // 3)
    assert set(group.members) == {"b"}
    taken = h.heartbeat("b", 2)
    assert taken.member_epoch == 3
    assert partitions(taken) == frozenset(range(12))


def test_leaving_removes_the_member_and_its_records() -> None:
    h = Harness()
    h.join("a")
    h.join("b")
    left = h.heartbeat("b", -1)
    assert (left.error, left.member_epoch) == (E.none, -1)
    group = h.coordinator.consumer_group(GROUP)
    assert group is not None and set(group.members) == {"a"}
    tombstones = [a.key for a in h.log.appended if a.value is None]
    assert len(tombstones) == 3  # current assignment, target assignment, member metadata
    assert h.heartbeat("b", 2).error is E.unknown_member_id


def test_a_static_member_rejoins_under_a_new_id_with_its_assignment() -> None:
    h = Harness()
    first = h.join("a1", instance_id="host-1")
    assert h.join("a2", instance_id="host-1").error is E.unreleased_instance_id
    left = h.heartbeat("a1", -2, instance_id="host-1")
    assert left.member_epoch == -2
    back = h.join("a2", instance_id="host-1")
    assert back.error is E.none
    assert partitions(back) == partitions(first)
    group = h.coordinator.consumer_group(GROUP)
    assert group is not None and set(group.members) == {"a2"}
    assert group.group_epoch == 1  # no rebalance


def test_requests_kafka_refuses() -> None:
    h = Harness()
    assert h.join("a", server_assignor="sticky").error is E.unsupported_assignor
    assert h.heartbeat("a", 0, owned={}).error is E.invalid_request  # no subscription
    assert h.join("a", rebalance_timeout_ms=-1).error is E.invalid_request
    assert h.heartbeat("a", -2).error is E.invalid_request  # -2 needs an instance id
    assert h.join("a", subscribed_topic_regex="(").error is E.invalid_regular_expression


def test_the_range_assignor_is_used_when_members_name_it() -> None:
    h = Harness(partitions=4)
    h.join("a", server_assignor="range")
    h.join("b", server_assignor="range")
    group = h.coordinator.consumer_group(GROUP)
    assert group is not None
    assert group.target == {
        "a": {TOPIC_ID: frozenset({0, 1})},
        "b": {TOPIC_ID: frozenset({2, 3})},
    }


def test_offset_commits_need_the_current_member_epoch() -> None:
    h = Harness()
    h.join("a")
    commit = {(TOPIC, 0): OffsetCommit(10)}
    assert h.coordinator.commit_offsets(GROUP, "a", None, 0, commit)[(TOPIC, 0)] is (
        E.stale_member_epoch
    )
    assert h.coordinator.commit_offsets(GROUP, "x", None, 1, commit)[(TOPIC, 0)] is (
        E.unknown_member_id
    )
    assert h.coordinator.commit_offsets(GROUP, "a", None, 1, commit)[(TOPIC, 0)] is E.none
    fetched = h.coordinator.fetch_offsets(GROUP, [(TOPIC, 0)])[(TOPIC, 0)]
    assert fetched is not None and fetched.offset == 10


def test_the_log_read_back_rebuilds_the_group_and_its_offsets() -> None:
    h = Harness()
    h.join("a")
    h.join("b", instance_id="host-b")
    h.heartbeat("a", 1)
    h.coordinator.commit_offsets(GROUP, "a", None, 1, {(TOPIC, 3): OffsetCommit(7)})
    loaded = h.replayed()
    before = h.coordinator.consumer_group(GROUP)
    after = loaded.consumer_group(GROUP)
    assert before is not None and after is not None
    assert (after.group_epoch, after.assignment_epoch) == (2, 2)
    assert after.target == before.target
    for member_id in ("a", "b"):
        want, got = before.members[member_id], after.members[member_id]
        assert (got.member_epoch, got.state, got.assigned, got.pending_revocation) == (
            want.member_epoch,
            want.state,
            want.assigned,
            want.pending_revocation,
        )
        assert got.subscribed_topic_names == (TOPIC,)
    assert after.static_members == {"host-b": "b"}
    stored = loaded.fetch_offsets(GROUP, [(TOPIC, 3)])[(TOPIC, 3)]
    assert stored is not None and stored.offset == 7
    assert size(after.members["a"].assigned) == 6


def test_listing_shows_consumer_groups_with_their_type_and_state() -> None:
    h = Harness()
    h.join("a")
    assert h.coordinator.list_typed_groups() == [(GROUP, "consumer", "Stable", "consumer")]
    assert h.coordinator.list_typed_groups(types=["classic"]) == []
    assert h.coordinator.list_typed_groups(states=["empty"]) == []


def test_a_regex_subscription_follows_the_topics_it_matches() -> None:
    h = Harness(partitions=2)
    h.topics.topics["payments"] = (uuid.UUID(int=7), 3)
    joined = h.heartbeat(
        "a", 0, owned={}, subscribed_topic_regex="ord.*", rebalance_timeout_ms=REBALANCE
    )
    # As in Kafka, a new regex is resolved after the heartbeat that brings it: its topics
    # come in the next answer (librdkafka's 0045_resubscribe_with_regex counts on it).
    assert joined.assignment == {}
    joined = h.heartbeat("a", joined.member_epoch)
    assert joined.assignment == {TOPIC_ID: frozenset({0, 1})}
    eu = uuid.UUID(int=8)
    h.topics.topics["orders-eu"] = (eu, 2)  # created later: matched at the next heartbeat
    h.topics.topics["__orders"] = (uuid.UUID(int=9), 1)  # internal topics never match
    later = h.heartbeat("a", joined.member_epoch)
    assert later.member_epoch == joined.member_epoch + 1
    assert later.assignment == {TOPIC_ID: frozenset({0, 1}), eu: frozenset({0, 1})}


def test_a_resubscription_with_a_new_regex_gets_its_literal_topics_first() -> None:
    """subscribe([regex, literal]): the first answer has the literal topic, the next adds
    the regex's matches; a coordinator that loads the group resolves its regexes at once."""
    h = Harness(partitions=2)
    other = uuid.UUID(int=7)
    h.topics.topics["payments"] = (other, 2)
    joined = h.heartbeat(
        "a",
        0,
        owned={},
        subscribed_topic_names=["payments"],
        subscribed_topic_regex="ord.*",
        rebalance_timeout_ms=REBALANCE,
    )
    assert joined.assignment == {other: frozenset({0, 1})}
    later = h.heartbeat("a", joined.member_epoch, owned=joined.assignment)
    assert later.assignment == {other: frozenset({0, 1}), TOPIC_ID: frozenset({0, 1})}
    # Left and subscribed again (librdkafka's unsubscribe + subscribe): no member kept the
    # regex, so it is new again and its topics come a heartbeat after the literal one.
    assert h.heartbeat("a", -1).member_epoch == -1
    again = h.heartbeat(
        "a",
        0,
        owned={},
        subscribed_topic_names=["payments"],
        subscribed_topic_regex="ord.*",
        rebalance_timeout_ms=REBALANCE,
    )
    assert again.assignment == {other: frozenset({0, 1})}
    group = h.coordinator.consumer_group(GROUP)
    assert group is not None
    group.resolved_regexes.clear()
    h.coordinator.consumer.finish_loading(group)
    assert group.resolved_regexes == {"ord.*"}


def test_an_empty_classic_group_becomes_a_consumer_group_and_keeps_its_offsets() -> None:
    h = Harness()
    assert h.coordinator.commit_offsets(GROUP, "", None, -1, {(TOPIC, 0): OffsetCommit(5)}) == {
        (TOPIC, 0): E.none
    }
    assert h.join("a").error is E.none
    stored = h.coordinator.fetch_offsets(GROUP, [(TOPIC, 0)])[(TOPIC, 0)]
    assert stored is not None and stored.offset == 5
    assert h.coordinator.list_typed_groups() == [(GROUP, "consumer", "Stable", "consumer")]


def test_transactional_commits_check_the_epoch_of_a_member_that_names_itself() -> None:
    h = Harness()
    h.join("a")
    offsets = {(TOPIC, 1): OffsetCommit(3)}
    stale = h.coordinator.txn_commit_offsets(GROUP, 9, 0, "a", None, 0, offsets)
    assert stale == {(TOPIC, 1): E.stale_member_epoch}
    assert h.coordinator.txn_commit_offsets(GROUP, 9, 0, "a", None, 1, offsets) == {
        (TOPIC, 1): E.none
    }
    # a producer that sends no group metadata (generation -1, no member id) commits too
    assert h.coordinator.txn_commit_offsets(GROUP, 9, 0, "", None, -1, offsets) == {
        (TOPIC, 1): E.none
    }


def test_a_heartbeat_whose_write_fails_leaves_the_group_as_it_was() -> None:
    h = Harness()
    h.join("a")
    group = h.coordinator.consumer_group(GROUP)
    assert group is not None
    h.log.fail = NotCoordinatorError("moved")
    failed = h.join("b")
    assert failed.error is E.not_coordinator
    group = h.coordinator.consumer_group(GROUP)
    assert group is not None
    assert set(group.members) == {"a"}
    assert (group.group_epoch, group.assignment_epoch) == (1, 1)
    h.log.fail = None
    assert h.join("b").member_epoch == 2


def test_the_assignment_is_sent_on_join_full_request_or_change_only() -> None:
    h = Harness()
    joined = h.join()
    member, epoch = joined.member_id or "", joined.member_epoch
    owned = {TOPIC_ID: frozenset(range(12))}
    # Reporting what it owns, nothing else changed: no assignment in the answer (Kafka's
    # consumerGroupHeartbeat sends it only to a joining member, a full request or on change).
    assert h.heartbeat(member, epoch, owned=owned).assignment is None
    assert h.heartbeat(member, epoch).assignment is None
    full = h.heartbeat(
        member,
        epoch,
        owned=owned,
        subscribed_topic_names=(TOPIC,),
        rebalance_timeout_ms=REBALANCE,
    )
    assert partitions(full) == frozenset(range(12))
    second = h.join()  # takes half: the first member's next heartbeat carries its new target
    assert second.error is E.none
    changed = h.heartbeat(member, epoch, owned=owned)
    assert changed.assignment is not None and partitions(changed) < frozenset(range(12))
