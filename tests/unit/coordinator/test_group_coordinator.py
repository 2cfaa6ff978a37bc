"""GroupCoordinator without a broker: a fake clock, a scheduler advanced with that clock, and
an in-memory ``__consumer_offsets`` writer that keeps what was appended.

The reference for every expectation is Kafka's classic group protocol (GroupCoordinator and
GroupMetadataManager; ClassicGroup.validateOffsetCommit and OffsetMetadataManager in the
new group coordinator): generations start at 0 and each completed rebalance bumps them, the
leader alone receives the member list, KIP-345 static members rejoin without a rebalance and
fence their former member id, a group's offsets expire ``offsets.retention.minutes`` after it
became empty, and the log read back rebuilds the same groups and offsets."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
from kio.schema.errors import ErrorCode

from odradek.common.clock import FakeClock
from odradek.common.errors import KafkaError, NotEnoughReplicasError
from odradek.common.ids import TopicPartition
from odradek.common.writes import InternalWrite, PendingWrites
from odradek.coordinator.group import records as rec
from odradek.coordinator.group.coordinator import (
    GroupConfig,
    GroupCoordinator,
    JoinResult,
    OffsetCommit,
    SyncResult,
)
from odradek.coordinator.group.state import GroupState

E = ErrorCode
GROUP = "payments"
SESSION = 10_000
REBALANCE = 30_000
PROTOCOLS = [("range", b"range-subscription"), ("roundrobin", b"rr-subscription")]
T0 = ("orders", 0)
T1 = ("orders", 1)
R = TypeVar("R")


# -- fakes ------------------------------------------------------------------------------------


class FakeTimer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeScheduler:
    """Timers due on the fake clock; :meth:`advance` fires them in order of their due time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._timers: list[tuple[int, int, Callable[[], None], FakeTimer]] = []
        self._seq = itertools.count()

    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer()
        due = self.clock.milliseconds() + max(delay_ms, 0)
        heapq.heappush(self._timers, (due, next(self._seq), callback, timer))
        return timer

    def advance(self, ms: int) -> None:
        target = self.clock.milliseconds() + ms
        while self._timers and self._timers[0][0] <= target:
            due, _, callback, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self.clock.now_ms = due
            callback()
        self.clock.now_ms = target

    def pending(self) -> int:
        return sum(1 for *_, timer in self._timers if not timer.cancelled)


@dataclass
class Appended:
    partition: int
    key: bytes
    value: bytes | None
    producer_id: int
    producer_epoch: int


@dataclass
class FakeOffsetsLog:
    """The ``__consumer_offsets`` partitions in memory; each append returns the write a
    response would wait for. ``fail`` makes the next appends raise."""

    appended: list[Appended] = field(default_factory=list)
    markers: list[tuple[int, int, int, bool]] = field(default_factory=list)  # (index, p, pid, c)
    fail: KafkaError | None = None

    def append_group_records(
        self,
        partition: int,
        records: Sequence[tuple[bytes, bytes | None]],
        producer_id: int = -1,
        producer_epoch: int = -1,
    ) -> InternalWrite | None:
        if self.fail is not None:
            raise self.fail
        for key, value in records:
            self.appended.append(Appended(partition, key, value, producer_id, producer_epoch))
        end = sum(1 for a in self.appended if a.partition == partition)
        return InternalWrite(TopicPartition("__consumer_offsets", partition), end)

    def marker(self, partition: int, producer_id: int, commit: bool) -> None:
        self.markers.append((len(self.appended), partition, producer_id, commit))

    def group_values(self, group_id: str) -> list[rec.GroupValue | None]:
        key = rec.group_key(group_id)
        return [
            None if a.value is None else rec.decode_group_value(a.value)
            for a in self.appended
            if a.key == key
        ]

    def offset_values(self, group_id: str, tp: tuple[str, int]) -> list[rec.OffsetValue | None]:
        key = rec.offset_key(group_id, *tp)
        return [
            None if a.value is None else rec.decode_offset_value(a.value)
            for a in self.appended
            if a.key == key
        ]


class Harness:
    def __init__(self, config: GroupConfig | None = None) -> None:
        self.clock = FakeClock()
        self.scheduler = FakeScheduler(self.clock)
        self.log = FakeOffsetsLog()
        self.config = config or GroupConfig()
        self.coordinator = GroupCoordinator(self.config, self.clock, self.scheduler, self.log)

    def join(
        self,
        member_id: str = "",
        *,
        group_id: str = GROUP,
        instance_id: str | None = None,
        client_id: str = "client",
        protocols: list[tuple[str, bytes]] | None = None,
        session_ms: int = SESSION,
        rebalance_ms: int = REBALANCE,
        require_known_member_id: bool = False,
    ) -> list[JoinResult]:
        results: list[JoinResult] = []
        self.coordinator.join_group(
            group_id,
            member_id,
            instance_id,
            client_id,
            "/10.0.0.1",
            session_ms,
            rebalance_ms,
            "consumer",
            PROTOCOLS if protocols is None else protocols,
            require_known_member_id=require_known_member_id,
            callback=results.append,
        )
        return results

    def settle(self) -> None:
        """Let the initial rebalance delay run out (it restarts once if members arrived)."""
        self.scheduler.advance(2 * self.config.initial_rebalance_delay_ms)

    def sync(
        self,
        member_id: str,
        generation_id: int,
        assignments: dict[str, bytes] | None = None,
        *,
        instance_id: str | None = None,
    ) -> list[SyncResult]:
        results: list[SyncResult] = []
        self.coordinator.sync_group(
            GROUP,
            generation_id,
            member_id,
            instance_id,
            None,
            None,
            assignments or {},
            results.append,
        )
        return results

    def stable_group(
        self, *instance_ids: str | None, count: int = 2
    ) -> tuple[list[JoinResult], list[SyncResult]]:
        """``count`` members join and sync; returns their join and sync results."""
        ids = list(instance_ids) or [None] * count
        pending = [self.join(instance_id=i, client_id=f"c{n}") for n, i in enumerate(ids)]
        self.settle()
        joins = [one(p) for p in pending]
        leader = next(j for j in joins if j.member_id == j.leader_id)
        followers = [self.sync(j.member_id, j.generation_id) for j in joins if j is not leader]
        assignments = {j.member_id: f"assignment-{j.member_id}".encode() for j in joins}
        led = self.sync(leader.member_id, leader.generation_id, assignments)
        syncs = [one(s) for s in followers] + [one(led)]
        return joins, syncs

    def commit(
        self,
        member_id: str = "",
        generation_id: int = -1,
        offsets: dict[tuple[str, int], OffsetCommit] | None = None,
        *,
        group_id: str = GROUP,
        instance_id: str | None = None,
        writes: PendingWrites | None = None,
    ) -> dict[tuple[str, int], ErrorCode]:
        return self.coordinator.commit_offsets(
            group_id,
            member_id,
            instance_id,
            generation_id,
            offsets if offsets is not None else {T0: OffsetCommit(42)},
            writes,
        )

    def complete_txn(self, group_id: str, producer_id: int, commit: bool) -> None:
        partition = self.coordinator.partition_for(group_id)
        self.log.marker(partition, producer_id, commit)
        self.coordinator.complete_txn(partition, producer_id, commit)

    def reloaded(self) -> GroupCoordinator:
        """A fresh coordinator that replays what this one wrote, markers included (a restart
        or a leadership move of the offsets partitions)."""
        other = GroupCoordinator(self.config, self.clock, self.scheduler, FakeOffsetsLog())
        markers = list(self.log.markers)
        for index, appended in enumerate(self.log.appended):
            while markers and markers[0][0] == index:
                _, partition, pid, commit = markers.pop(0)
                other.complete_txn(partition, pid, commit)
            other.replay(appended.key, appended.value, appended.producer_id)
        for _, partition, pid, commit in markers:
            other.complete_txn(partition, pid, commit)
        other.finish_loading()
        return other


def one(results: list[R]) -> R:
    assert len(results) == 1, f"expected exactly one response, got {results}"
    return results[0]


def offset_of(h: Harness, tp: tuple[str, int], group_id: str = GROUP) -> int | None:
    value = h.coordinator.fetch_offsets(group_id, [tp])[tp]
    return None if value is None else value.offset


def state(h: Harness, group_id: str = GROUP) -> GroupState:
    return h.coordinator.groups[group_id].state


@pytest.fixture
def h() -> Harness:
    return Harness()


# -- JoinGroup and SyncGroup ------------------------------------------------------------------


def test_two_members_join_one_generation_leader_gets_member_list(h: Harness) -> None:
    first, second = h.join(client_id="a"), h.join(client_id="b")
    assert first == [] and second == []  # the join waits for the rebalance to complete
    assert state(h) is GroupState.PREPARING_REBALANCE
    h.scheduler.advance(h.config.initial_rebalance_delay_ms)
    assert first == [] and second == []  # a member arrived during the initial delay
    h.settle()
    a, b = one(first), one(second)
    assert isinstance(a, JoinResult) and isinstance(b, JoinResult)
    assert a.error is E.none and b.error is E.none
    assert a.generation_id == b.generation_id == 1
    assert a.protocol_name == b.protocol_name == "range"  # first protocol both support
    assert a.leader_id == b.leader_id == a.member_id  # first to join leads
    assert a.member_id.startswith("a-") and b.member_id.startswith("b-")
    assert {m for m, _, _ in a.members} == {a.member_id, b.member_id}
    assert all(meta == b"range-subscription" for _, _, meta in a.members)
    assert b.members == ()  # followers do not get the member list
    assert state(h) is GroupState.COMPLETING_REBALANCE


def test_sync_distributes_the_leaders_assignments_and_waits_for_the_write(h: Harness) -> None:
    joins, _ = (h.join(client_id="a"), h.join(client_id="b")), None
    h.settle()
    leader, follower = one(joins[0]), one(joins[1])
    assert isinstance(leader, JoinResult) and isinstance(follower, JoinResult)
    waiting = h.sync(follower.member_id, 1)
    assert waiting == []  # the follower waits for the leader's SyncGroup
    assignments = {leader.member_id: b"p0", follower.member_id: b"p1"}
    led = one(h.sync(leader.member_id, 1, assignments))
    got = one(waiting)
    assert isinstance(led, SyncResult) and isinstance(got, SyncResult)
    assert (led.error, led.assignment, got.error, got.assignment) == (E.none, b"p0", E.none, b"p1")
    assert led.protocol_name == got.protocol_name == "range"
    assert state(h) is GroupState.STABLE
    # Both responses wait for the one group-metadata write that holds the assignment.
    stored = h.log.group_values(GROUP)[-1]
    assert stored is not None and stored.generation == 1
    assert {m.member_id: m.assignment for m in stored.members} == assignments
    assert led.write is not None and led.write == got.write
    assert led.write.tp.partition == h.coordinator.partition_for(GROUP)
    assert led.write.end_offset == len(h.log.appended)


def test_sync_with_stale_generation_is_illegal_generation(h: Harness) -> None:
    joins, _ = h.stable_group()
    assert one(h.sync(joins[0].member_id, 0)).error is E.illegal_generation
    assert one(h.sync("nobody", 1)).error is E.unknown_member_id


def test_rejoin_during_completing_rebalance_returns_the_same_generation(h: Harness) -> None:
    """A member that joins again with the same protocols while the group awaits the leader's
    SyncGroup gets the current generation back; only the leader gets the member list."""
    pending = h.join(client_id="a"), h.join(client_id="b")
    h.settle()
    leader, follower = one(pending[0]), one(pending[1])
    again = one(h.join(follower.member_id))
    assert (again.error, again.generation_id, again.members) == (E.none, 1, ())
    led = one(h.join(leader.member_id))
    assert led.generation_id == 1 and len(led.members) == 2
    assert state(h) is GroupState.COMPLETING_REBALANCE


def test_join_with_member_id_required_hands_out_an_id_first(h: Harness) -> None:
    """KIP-394: JoinGroup v4+ without a member id gets MEMBER_ID_REQUIRED and an id."""
    first = one(h.join(require_known_member_id=True))
    assert isinstance(first, JoinResult)
    assert first.error is E.member_id_required and first.member_id
    assert GROUP not in h.coordinator.groups or not h.coordinator.groups[GROUP].members
    again = h.join(first.member_id, require_known_member_id=True)
    h.settle()
    joined = one(again)
    assert isinstance(joined, JoinResult)
    assert (joined.error, joined.member_id, joined.generation_id) == (
        E.none,
        first.member_id,
        1,
    )


def test_initial_rebalance_delay_waits_while_members_keep_arriving() -> None:
    """group.initial.rebalance.delay.ms: the first rebalance of an empty group waits, and
    waits again (up to the rebalance timeout) while new members join."""
    h = Harness(GroupConfig(initial_rebalance_delay_ms=3000))
    first = h.join(client_id="a")
    h.scheduler.advance(2000)
    second = h.join(client_id="b")
    h.scheduler.advance(1000)  # first delay over, but a member arrived meanwhile
    assert first == [] and second == []
    h.scheduler.advance(2999)
    assert first == []
    h.scheduler.advance(1)
    assert one(first).generation_id == one(second).generation_id == 1


def test_invalid_session_timeout_and_inconsistent_protocol(h: Harness) -> None:
    low = one(h.join(session_ms=h.config.min_session_timeout_ms - 1))
    assert low.error is E.invalid_session_timeout
    h.stable_group()
    other = one(h.join(protocols=[("sticky", b"")]))
    assert other.error is E.inconsistent_group_protocol


# -- Heartbeat, session expiry and the rebalance timeout --------------------------------------


def test_session_expiry_of_a_member_triggers_a_rebalance(h: Harness) -> None:
    joins, _ = h.stable_group()
    survivor, silent = joins[0].member_id, joins[1].member_id
    h.scheduler.advance(SESSION // 2)
    assert h.coordinator.heartbeat(GROUP, 1, survivor, None) is E.none
    h.scheduler.advance(SESSION // 2 - 1)
    assert h.coordinator.heartbeat(GROUP, 1, survivor, None) is E.none
    assert silent in h.coordinator.groups[GROUP].members
    h.scheduler.advance(1)
    # ``silent`` has not heartbeated for a session timeout: it is gone, the others rebalance.
    assert silent not in h.coordinator.groups[GROUP].members
    assert state(h) is GroupState.PREPARING_REBALANCE
    assert h.coordinator.heartbeat(GROUP, 1, survivor, None) is E.rebalance_in_progress
    assert h.coordinator.heartbeat(GROUP, 1, silent, None) is E.unknown_member_id
    rejoined = h.join(survivor)
    h.scheduler.advance(0)
    result = one(rejoined)
    assert isinstance(result, JoinResult)
    assert result.generation_id == 2 and [m for m, _, _ in result.members] == [survivor]


def test_heartbeats_keep_a_member_alive_past_its_session_timeout(h: Harness) -> None:
    joins, _ = h.stable_group()
    for _ in range(5):
        h.scheduler.advance(SESSION - 1)
        for j in joins:
            assert h.coordinator.heartbeat(GROUP, 1, j.member_id, None) is E.none
    assert state(h) is GroupState.STABLE


def test_rebalance_timeout_removes_members_that_did_not_rejoin(h: Harness) -> None:
    joins, _ = h.stable_group()
    rejoining, stuck = joins[0].member_id, joins[1].member_id
    pending = h.join(rejoining)
    assert pending == [] and state(h) is GroupState.PREPARING_REBALANCE
    # ``stuck`` keeps heartbeating (so its session never expires) but never rejoins.
    for _ in range(REBALANCE // 5000 - 1):
        h.scheduler.advance(5000)
        assert h.coordinator.heartbeat(GROUP, 1, stuck, None) is E.rebalance_in_progress
    assert pending == []
    h.scheduler.advance(5000)  # the rebalance timeout (max over the members) has passed
    result = one(pending)
    assert isinstance(result, JoinResult)
    assert result.error is E.none and result.generation_id == 2
    assert [m for m, _, _ in result.members] == [rejoining]
    assert stuck not in h.coordinator.groups[GROUP].members
    assert h.coordinator.heartbeat(GROUP, 2, stuck, None) is E.unknown_member_id


def test_leave_group_rebalances_the_rest(h: Harness) -> None:
    joins, _ = h.stable_group()
    error, results = h.coordinator.leave_group(GROUP, [(joins[1].member_id, None), ("x", None)])
    assert error is E.none
    assert results == [(joins[1].member_id, None, E.none), ("x", None, E.unknown_member_id)]
    assert state(h) is GroupState.PREPARING_REBALANCE


# -- static membership (KIP-345) --------------------------------------------------------------


def test_static_member_rejoin_with_same_protocols_does_not_rebalance(h: Harness) -> None:
    joins, syncs = h.stable_group("instance-a", "instance-b")
    old = joins[1]
    writes_before = len(h.log.appended)
    rejoined = one(h.join(instance_id="instance-b", client_id="c1"))
    assert isinstance(rejoined, JoinResult)
    assert rejoined.error is E.none
    assert rejoined.member_id != old.member_id  # a new member id ...
    assert rejoined.generation_id == 1  # ... in the same generation: no rebalance
    assert state(h) is GroupState.STABLE
    assert rejoined.write is not None  # the group's new member id is stored first
    assert len(h.log.appended) == writes_before + 1
    stored = h.log.group_values(GROUP)[-1]
    assert stored is not None
    assert rejoined.member_id in {m.member_id for m in stored.members}
    # It keeps its assignment; the former member id is fenced.
    synced = one(h.sync(rejoined.member_id, 1, instance_id="instance-b"))
    assert isinstance(synced, SyncResult) and synced.assignment == syncs[0].assignment
    assert h.coordinator.heartbeat(GROUP, 1, old.member_id, "instance-b") is E.fenced_instance_id
    assert h.coordinator.heartbeat(GROUP, 1, rejoined.member_id, "instance-b") is E.none
    fenced = h.commit(old.member_id, 1, instance_id="instance-b")
    assert fenced == {T0: E.fenced_instance_id}


def test_static_member_rejoin_with_other_protocols_rebalances(h: Harness) -> None:
    h.stable_group("instance-a", "instance-b")
    changed = [("roundrobin", b"rr-subscription"), ("range", b"range-subscription")]
    pending = h.join(instance_id="instance-b", protocols=changed)
    assert pending == [] and state(h) is GroupState.PREPARING_REBALANCE


def test_static_member_is_not_removed_by_the_rebalance_timeout(h: Harness) -> None:
    """Kafka keeps static members that did not rejoin (they come back with their instance
    id); only their session timeout removes them."""
    joins, _ = h.stable_group("instance-a", "instance-b")
    pending = h.join(joins[0].member_id, instance_id="instance-a")
    for _ in range(REBALANCE // 5000):
        assert pending == []
        heartbeat = h.coordinator.heartbeat(GROUP, 1, joins[1].member_id, "instance-b")
        assert heartbeat is E.rebalance_in_progress
        h.scheduler.advance(5000)
    result = one(pending)
    assert isinstance(result, JoinResult) and result.generation_id == 2
    assert {m for m, _, _ in result.members} == {joins[0].member_id, joins[1].member_id}


# -- OffsetCommit -----------------------------------------------------------------------------


def test_commit_from_a_stable_member_is_stored_and_its_write_awaited(h: Harness) -> None:
    joins, _ = h.stable_group()
    writes = PendingWrites()
    h.clock.advance(5)
    results = h.commit(joins[0].member_id, 1, {T0: OffsetCommit(7, 3, "meta")}, writes=writes)
    assert results == {T0: E.none}
    value = h.coordinator.fetch_offsets(GROUP, [T0, T1])
    assert value[T1] is None
    stored = value[T0]
    assert stored is not None
    assert (stored.offset, stored.leader_epoch, stored.metadata) == (7, 3, "meta")
    assert stored.commit_timestamp == h.clock.milliseconds()
    assert h.log.offset_values(GROUP, T0) == [stored]
    partition = h.coordinator.partition_for(GROUP)
    assert writes.offsets() == {
        TopicPartition("__consumer_offsets", partition): len(h.log.appended)
    }


def test_commit_with_wrong_generation_is_illegal_generation(h: Harness) -> None:
    joins, _ = h.stable_group()
    assert h.commit(joins[0].member_id, 2) == {T0: E.illegal_generation}
    assert h.commit(joins[0].member_id, 0) == {T0: E.illegal_generation}
    assert h.coordinator.fetch_offsets(GROUP, [T0]) == {T0: None}


def test_commit_from_an_unknown_member_is_unknown_member_id(h: Harness) -> None:
    h.stable_group()
    assert h.commit("stranger", 1) == {T0: E.unknown_member_id}
    # A non-empty group does not take commits without a member (simple-consumer style).
    assert h.commit("", -1) == {T0: E.unknown_member_id}
    assert h.log.offset_values(GROUP, T0) == []


def test_commit_during_completing_rebalance_is_rebalance_in_progress(h: Harness) -> None:
    pending = h.join(client_id="a"), h.join(client_id="b")
    h.settle()
    member = one(pending[0])
    assert state(h) is GroupState.COMPLETING_REBALANCE
    assert h.commit(member.member_id, 1) == {T0: E.rebalance_in_progress}


def test_commit_to_an_unknown_group_with_a_generation_is_illegal_generation(h: Harness) -> None:
    assert h.commit("m", 3, group_id="nowhere") == {T0: E.illegal_generation}
    assert "nowhere" not in h.coordinator.groups


def test_simple_commit_to_an_empty_group(h: Harness) -> None:
    """generation -1 and no member id: the group is only an offset store (Kafka's
    'simple' consumers, e.g. assign() and commitSync())."""
    assert h.commit() == {T0: E.none}
    assert state(h) is GroupState.EMPTY
    assert set(h.coordinator.fetch_offsets(GROUP, None)) == {T0}
    assert offset_of(h, T0) == 42


def test_offset_metadata_too_large(h: Harness) -> None:
    limit = h.config.offset_metadata_max_bytes
    results = h.commit(
        offsets={
            T0: OffsetCommit(1, metadata="x" * (limit + 1)),
            T1: OffsetCommit(2, metadata="y" * limit),
        }
    )
    assert results == {T0: E.offset_metadata_too_large, T1: E.none}
    assert h.coordinator.fetch_offsets(GROUP, [T0])[T0] is None
    assert h.log.offset_values(GROUP, T0) == []


def test_commit_whose_append_fails_maps_to_a_retriable_coordinator_error(h: Harness) -> None:
    h.log.fail = NotEnoughReplicasError("isr too small")
    assert h.commit() == {T0: E.coordinator_not_available}
    assert h.coordinator.fetch_offsets(GROUP, [T0]) == {T0: None}


# -- TxnOffsetCommit --------------------------------------------------------------------------


@pytest.mark.parametrize("commit", [True, False])
def test_txn_offsets_are_invisible_until_the_transaction_completes(
    h: Harness, commit: bool
) -> None:
    h.commit(offsets={T0: OffsetCommit(10)})
    writes = PendingWrites()
    results = h.coordinator.txn_commit_offsets(
        GROUP, 5000, 2, "", None, -1, {T0: OffsetCommit(20), T1: OffsetCommit(30)}, writes
    )
    assert results == {T0: E.none, T1: E.none}
    assert writes  # the TxnOffsetCommit response waits for the transactional records
    txn = [a for a in h.log.appended if a.producer_id == 5000]
    assert len(txn) == 2 and all(a.producer_epoch == 2 for a in txn)
    assert (offset_of(h, T0), offset_of(h, T1)) == (10, None)
    assert h.coordinator.has_pending_offsets(GROUP, T0)
    # A marker for another offsets partition does not complete it.
    other = (h.coordinator.partition_for(GROUP) + 1) % h.config.offsets_partitions
    h.coordinator.complete_txn(other, 5000, True)
    assert h.coordinator.has_pending_offsets(GROUP, T1)
    h.complete_txn(GROUP, 5000, commit)
    assert not h.coordinator.has_pending_offsets(GROUP, T0)
    expected = (20, 30) if commit else (10, None)
    assert (offset_of(h, T0), offset_of(h, T1)) == expected


def test_txn_commit_from_a_member_checks_its_generation(h: Harness) -> None:
    joins, _ = h.stable_group()
    member = joins[0].member_id
    bad = h.coordinator.txn_commit_offsets(GROUP, 1, 0, member, None, 7, {T0: OffsetCommit(1)})
    assert bad == {T0: E.illegal_generation}
    good = h.coordinator.txn_commit_offsets(GROUP, 1, 0, member, None, 1, {T0: OffsetCommit(1)})
    assert good == {T0: E.none}


# -- OffsetDelete, offset expiry, DeleteGroups ------------------------------------------------


def test_expire_offsets_of_an_empty_group_after_retention() -> None:
    h = Harness(GroupConfig(offsets_retention_ms=60_000))
    h.commit(offsets={T0: OffsetCommit(1)})
    h.clock.advance(30_000)
    h.commit(offsets={T1: OffsetCommit(2)})
    h.clock.advance(29_999)
    assert h.coordinator.expire_offsets() == 0
    h.clock.advance(1)
    assert h.coordinator.expire_offsets() == 1  # T0 is 60 s old, T1 only 30 s
    assert h.log.offset_values(GROUP, T0)[-1] is None  # tombstone
    assert set(h.coordinator.fetch_offsets(GROUP, None)) == {T1}
    h.clock.advance(30_000)
    assert h.coordinator.expire_offsets() == 1
    # No offsets left and no members: the group itself is deleted.
    assert GROUP not in h.coordinator.groups
    assert h.log.group_values(GROUP)[-1:] == [None]


def test_offsets_of_a_group_with_members_do_not_expire() -> None:
    h = Harness(GroupConfig(offsets_retention_ms=60_000))
    joins, _ = h.stable_group()
    h.commit(joins[0].member_id, 1)
    for _ in range(4):
        h.scheduler.advance(SESSION // 2)
        for j in joins:
            h.coordinator.heartbeat(GROUP, 1, j.member_id, None)
    h.clock.advance(120_000)
    assert h.coordinator.expire_offsets() == 0
    assert h.coordinator.fetch_offsets(GROUP, [T0])[T0] is not None


def test_retention_counts_from_when_the_group_became_empty() -> None:
    """KIP-211: offsets of a group that had members expire retention after it emptied."""
    h = Harness(GroupConfig(offsets_retention_ms=60_000))
    joins, _ = h.stable_group(count=1)
    h.commit(joins[0].member_id, 1)
    h.clock.advance(100_000)
    h.coordinator.heartbeat(GROUP, 1, joins[0].member_id, None)
    h.coordinator.leave_group(GROUP, [(joins[0].member_id, None)])
    assert state(h) is GroupState.EMPTY
    h.clock.advance(59_999)
    assert h.coordinator.expire_offsets() == 0
    h.clock.advance(1)
    assert h.coordinator.expire_offsets() == 1


def test_delete_groups_only_for_empty_groups(h: Harness) -> None:
    h.stable_group()
    h.commit(group_id="idle")
    writes = PendingWrites()
    results = h.coordinator.delete_groups([GROUP, "idle", "never"], writes)
    assert results == {GROUP: E.non_empty_group, "idle": E.none, "never": E.group_id_not_found}
    assert "idle" not in h.coordinator.groups and GROUP in h.coordinator.groups
    assert h.log.offset_values("idle", T0)[-1] is None
    assert h.log.group_values("idle") == [None]
    partition = h.coordinator.partition_for("idle")
    assert TopicPartition("__consumer_offsets", partition) in writes.offsets()
    assert h.coordinator.fetch_offsets("idle", None) == {}
    assert h.coordinator.describe_group("idle").state == "Dead"


def test_delete_offsets_of_an_empty_group(h: Harness) -> None:
    h.commit(offsets={T0: OffsetCommit(1), T1: OffsetCommit(2)})
    writes = PendingWrites()
    error, results = h.coordinator.delete_offsets(GROUP, [T0], writes)
    assert (error, results) == (E.none, {T0: E.none})
    assert writes and set(h.coordinator.fetch_offsets(GROUP, None)) == {T1}
    assert h.coordinator.delete_offsets("nowhere", [T0]) == (E.group_id_not_found, {})


def test_list_and_describe_groups(h: Harness) -> None:
    joins, _ = h.stable_group()
    h.commit(group_id="idle")
    assert sorted(h.coordinator.list_groups()) == [
        ("idle", "", "Empty"),
        (GROUP, "consumer", "Stable"),
    ]
    assert h.coordinator.list_groups(["stable"]) == [(GROUP, "consumer", "Stable")]
    described = h.coordinator.describe_group(GROUP)
    assert (described.state, described.protocol_type, described.protocol) == (
        "Stable",
        "consumer",
        "range",
    )
    assert [m.member_id for m in described.members] == [j.member_id for j in joins]


# -- replay of __consumer_offsets -------------------------------------------------------------


def snapshot(coordinator: GroupCoordinator) -> dict[str, object]:
    """What replay must reproduce: the stored part of every group (not timers/callbacks)."""
    return {
        group_id: (
            g.state,
            g.generation_id,
            g.protocol_type,
            g.protocol_name,
            g.leader_id,
            dict(g.static_members),
            {
                m.member_id: (
                    m.group_instance_id,
                    m.client_id,
                    m.client_host,
                    m.session_timeout_ms,
                    m.rebalance_timeout_ms,
                    m.assignment,
                    m.metadata_for(g.protocol_name),
                )
                for m in g.members.values()
                if g.protocol_name is not None
            },
            dict(g.offsets),
            {pid: dict(p) for pid, p in g.pending_txn_offsets.items() if p},
        )
        for group_id, g in coordinator.groups.items()
    }


def test_replay_of_the_written_records_reproduces_groups_and_offsets(h: Harness) -> None:
    joins, _ = h.stable_group("instance-a", None)
    h.commit(joins[0].member_id, 1, {T0: OffsetCommit(5, 1, "m"), T1: OffsetCommit(6)})
    h.clock.advance(10)
    h.commit(joins[1].member_id, 1, {T0: OffsetCommit(9, 2)})  # latest record wins
    h.commit(group_id="simple", offsets={T0: OffsetCommit(1), T1: OffsetCommit(2)})
    h.coordinator.delete_offsets("simple", [T1])
    h.commit(group_id="doomed")
    h.coordinator.delete_groups(["doomed"])
    h.coordinator.txn_commit_offsets("simple", 77, 0, "", None, -1, {T0: OffsetCommit(100)})
    h.complete_txn("simple", 77, True)
    h.coordinator.txn_commit_offsets("simple", 78, 0, "", None, -1, {T1: OffsetCommit(200)})
    h.complete_txn("simple", 78, False)
    h.coordinator.txn_commit_offsets(GROUP, 79, 0, "", None, -1, {T1: OffsetCommit(300)})
    # The static member rejoins under a new member id (a group record with no rebalance).
    one(h.join(instance_id="instance-a", client_id="c0"))

    reloaded = h.reloaded()
    assert snapshot(reloaded) == snapshot(h.coordinator)
    assert set(reloaded.groups) == {GROUP, "simple"}
    assert reloaded.groups[GROUP].state is GroupState.STABLE
    assert reloaded.has_pending_offsets(GROUP, T1)  # its marker has not been written yet
    simple = reloaded.fetch_offsets("simple", None)
    assert {k: v.offset for k, v in simple.items() if v is not None} == {T0: 100}
    # Loaded members must heartbeat within their session timeout, like any other.
    member = next(iter(reloaded.groups[GROUP].members))
    h.scheduler.advance(SESSION)
    assert member not in reloaded.groups[GROUP].members


def test_replay_of_an_emptied_group_loads_it_empty(h: Harness) -> None:
    joins, _ = h.stable_group(count=1)
    h.commit(joins[0].member_id, 1)
    h.coordinator.leave_group(GROUP, [(joins[0].member_id, None)])
    assert state(h) is GroupState.EMPTY
    reloaded = h.reloaded()
    assert snapshot(reloaded) == snapshot(h.coordinator)
    group = reloaded.groups[GROUP]
    assert (group.state, group.generation_id, group.protocol_type) == (
        GroupState.EMPTY,
        2,
        "consumer",
    )
    assert group.state_timestamp == h.coordinator.groups[GROUP].state_timestamp


def test_unload_partition_tells_waiting_members_not_coordinator(h: Harness) -> None:
    pending = h.join(client_id="a")
    assert pending == []  # waiting out group.initial.rebalance.delay.ms
    partition = h.coordinator.partition_for(GROUP)
    assert h.coordinator.unload_partition(partition) == 1
    assert one(pending).error is E.not_coordinator
    assert GROUP not in h.coordinator.groups
