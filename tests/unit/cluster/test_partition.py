"""Partition (sans-IO): leader epochs, the high watermark over the ISR, acks=all waiters, ISR
shrink and expansion, follower fetch state.

Kafka's Partition and Replica are the spec: the high watermark is the smallest log end offset
across the (maximal) ISR, a follower is caught up when a fetch reached the leader's log end
offset as of that fetch or of the previous one (Replica.updateFetchStateOrThrow), it leaves the
ISR when it has not been caught up for replica.lag.time.max.ms and joins it once it reached the
high watermark and the current epoch's start offset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from odradek.cluster.partition import NO_LEADER, DelayedProduce, Partition
from odradek.common.clock import FakeClock
from odradek.common.errors import (
    KafkaError,
    NotEnoughReplicasAfterAppendError,
    NotLeaderOrFollowerError,
    RequestTimedOutError,
)
from odradek.protocol.records.batch import read_header
from odradek.storage.log import Log
from tests.unit.storage.helpers import T0, TP, append, make_batch, open_log

LOCAL = 1
LAG_MS = 10_000


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def log(tmp_path: Path, clock: FakeClock) -> Iterator[Log]:
    log = open_log(tmp_path, clock)
    yield log
    log.close()


def partition(log: Log, **kwargs: object) -> Partition:
    return Partition(TP, log, LOCAL, **kwargs)  # type: ignore[arg-type]


def leader(
    log: Log,
    clock: FakeClock,
    isr: tuple[int, ...] = (1, 2, 3),
    replicas: tuple[int, ...] = (1, 2, 3),
    epoch: int = 1,
    min_isr: int = 1,
) -> Partition:
    p = partition(log, min_insync_replicas=min_isr)
    p.make_leader(epoch, isr, replicas, 0, clock.now_ms)
    return p


def produce(log: Log, count: int) -> int:
    """Append ``count`` one-record batches as leader; the new log end offset."""
    for _ in range(count):
        append(log, make_batch(1))
    return log.log_end_offset


class Waiter:
    def __init__(self) -> None:
        self.calls: list[KafkaError | None] = []

    def __call__(self, error: KafkaError | None) -> None:
        self.calls.append(error)


# -- becoming leader ---------------------------------------------------------------------------


def test_make_leader_starts_an_epoch_at_the_log_end_offset(log: Log, clock: FakeClock) -> None:
    produce(log, 5)  # written before, in epoch 0
    p = leader(log, clock, epoch=3)
    assert p.is_leader and p.leader == LOCAL and p.leader_epoch == 3
    assert log.replicated
    assert log.leader_epoch == 3
    assert log.epoch_cache.entries == [(0, 0), (3, 5)]
    assert sorted(p.followers) == [2, 3]
    produce(log, 1)
    header = read_header(log.read(5, 10_000, max_offset=log.log_end_offset).records)
    assert (header.base_offset, header.partition_leader_epoch) == (5, 3)


def test_make_leader_again_in_the_same_epoch_keeps_epoch_and_follower_positions(
    log: Log, clock: FakeClock
) -> None:
    p = leader(log, clock, epoch=2, replicas=(1, 2, 3))
    produce(log, 4)
    p.record_follower_fetch(2, 4, clock.now_ms)
    p.make_leader(2, (1, 2), (1, 2, 4), 1, clock.now_ms)  # reassignment: 3 out, 4 in
    assert log.epoch_cache.entries == [(2, 0)]  # epoch 2 superseded the empty epoch 0
    assert p.followers[2].log_end_offset == 4
    assert sorted(p.followers) == [2, 4]
    assert p.zk_version == 1 and p.isr == (1, 2)


def test_new_epoch_resets_follower_state(log: Log, clock: FakeClock) -> None:
    """Kafka's Replica.resetReplicaState for a new leader: positions unknown; in-sync
    followers count as caught up now, the others never."""
    p = leader(log, clock, isr=(1, 2), replicas=(1, 2, 3), epoch=1)
    produce(log, 3)
    p.record_follower_fetch(2, 3, clock.now_ms)
    clock.advance(500)
    p.make_leader(2, (1, 2), (1, 2, 3), 1, clock.now_ms)
    assert p.followers[2].log_end_offset == -1
    assert p.followers[2].last_caught_up_ms == clock.now_ms
    assert p.followers[3].last_caught_up_ms == 0


# -- high watermark --------------------------------------------------------------------------


def test_high_watermark_is_the_smallest_log_end_offset_across_the_isr(
    log: Log, clock: FakeClock
) -> None:
    p = leader(log, clock)
    leo = produce(log, 10)
    assert log.high_watermark == 0  # replicated: the append does not move it
    p.record_follower_fetch(2, 10, clock.now_ms)
    assert p.maybe_increment_high_watermark() is False  # follower 3 unknown
    p.record_follower_fetch(3, 6, clock.now_ms)
    assert p.maybe_increment_high_watermark() is True
    assert log.high_watermark == 6
    assert p.maybe_increment_high_watermark() is False
    p.record_follower_fetch(3, leo, clock.now_ms)
    assert p.maybe_increment_high_watermark() is True
    assert log.high_watermark == leo


def test_high_watermark_never_moves_back(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock, isr=(1, 2), replicas=(1, 2))
    produce(log, 8)
    p.record_follower_fetch(2, 8, clock.now_ms)
    p.maybe_increment_high_watermark()
    p.record_follower_fetch(2, 3, clock.now_ms)  # a stale position must not lower it
    assert p.maybe_increment_high_watermark() is False
    assert log.high_watermark == 8


def test_leader_alone_in_the_isr_has_its_log_end_offset_as_high_watermark(
    log: Log, clock: FakeClock
) -> None:
    p = leader(log, clock, isr=(1,), replicas=(1, 2, 3))
    produce(log, 4)
    assert p.maybe_increment_high_watermark() is True
    assert log.high_watermark == 4


def test_followers_outside_the_isr_do_not_hold_the_high_watermark(
    log: Log, clock: FakeClock
) -> None:
    p = leader(log, clock, isr=(1, 2), replicas=(1, 2, 3))
    produce(log, 5)
    p.record_follower_fetch(3, 0, clock.now_ms)
    p.record_follower_fetch(2, 5, clock.now_ms)
    assert p.maybe_increment_high_watermark()
    assert log.high_watermark == 5


def test_high_watermark_respects_an_isr_expansion_in_flight(log: Log, clock: FakeClock) -> None:
    """Kafka's maximal ISR: a replica being added counts for the high watermark before
    ZooKeeper confirms the new ISR."""
    p = leader(log, clock, isr=(1, 2), replicas=(1, 2, 3))
    produce(log, 10)
    p.record_follower_fetch(2, 10, clock.now_ms)
    p.record_follower_fetch(3, 4, clock.now_ms)
    p.pending_isr = (1, 2, 3)
    p.maybe_increment_high_watermark()
    assert log.high_watermark == 4
    p.update_isr((1, 2, 3), 1)  # confirmed
    assert p.pending_isr is None
    p.record_follower_fetch(3, 10, clock.now_ms)
    p.maybe_increment_high_watermark()
    assert log.high_watermark == 10


def test_update_isr_shrink_lets_the_high_watermark_advance(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock)
    produce(log, 6)
    p.record_follower_fetch(2, 6, clock.now_ms)
    p.record_follower_fetch(3, 1, clock.now_ms)
    p.maybe_increment_high_watermark()
    assert log.high_watermark == 1
    p.update_isr((1, 2), 1)
    assert log.high_watermark == 6


def test_a_follower_does_not_compute_a_high_watermark(log: Log, clock: FakeClock) -> None:
    p = partition(log)
    p.make_follower(2, 1, (2, 1), (2, 1), 0)
    assert not p.is_leader and log.replicated
    append(log, make_batch(3))
    assert p.maybe_increment_high_watermark() is False
    assert log.high_watermark == 0


# -- acks=all ----------------------------------------------------------------------------------


def test_wait_for_isr_completes_when_the_high_watermark_reaches_the_offset(
    log: Log, clock: FakeClock
) -> None:
    p = leader(log, clock, isr=(1, 2), replicas=(1, 2), min_isr=2)
    leo = produce(log, 3)
    waiter = Waiter()
    delayed = p.wait_for_isr(leo, waiter)
    assert waiter.calls == [] and not delayed.done
    p.record_follower_fetch(2, leo - 1, clock.now_ms)
    p.maybe_increment_high_watermark()
    assert waiter.calls == []
    p.record_follower_fetch(2, leo, clock.now_ms)
    p.maybe_increment_high_watermark()
    assert waiter.calls == [None] and delayed.done
    assert p.waiting == []


def test_wait_for_isr_already_replicated_completes_at_once(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock, isr=(1,), replicas=(1,))
    leo = produce(log, 2)
    p.maybe_increment_high_watermark()
    waiter = Waiter()
    assert p.wait_for_isr(leo, waiter).done
    assert waiter.calls == [None]


def test_waiters_complete_in_offset_order_as_the_high_watermark_moves(
    log: Log, clock: FakeClock
) -> None:
    p = leader(log, clock, isr=(1, 2), replicas=(1, 2))
    first, second = Waiter(), Waiter()
    p.wait_for_isr(produce(log, 2), first)
    p.wait_for_isr(produce(log, 2), second)
    p.record_follower_fetch(2, 2, clock.now_ms)
    p.maybe_increment_high_watermark()
    assert (first.calls, second.calls) == ([None], [])
    p.record_follower_fetch(2, 4, clock.now_ms)
    p.maybe_increment_high_watermark()
    assert second.calls == [None]


def test_isr_below_min_insync_at_completion_is_not_enough_replicas_after_append(
    log: Log, clock: FakeClock
) -> None:
    p = leader(log, clock, isr=(1, 2), replicas=(1, 2), min_isr=2)
    waiter = Waiter()
    p.wait_for_isr(produce(log, 1), waiter)
    p.update_isr((1,), 1)  # follower 2 dropped out: the HW moves to the leader's LEO
    assert len(waiter.calls) == 1
    assert isinstance(waiter.calls[0], NotEnoughReplicasAfterAppendError)


def test_expire_times_out_a_waiter_once(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock, isr=(1, 2), replicas=(1, 2))
    waiter = Waiter()
    delayed = p.wait_for_isr(produce(log, 1), waiter)
    p.expire(delayed)
    assert len(waiter.calls) == 1 and isinstance(waiter.calls[0], RequestTimedOutError)
    p.record_follower_fetch(2, 1, clock.now_ms)
    p.maybe_increment_high_watermark()
    p.expire(delayed)
    assert len(waiter.calls) == 1  # completed once only


def test_delayed_produce_completes_once() -> None:
    waiter = Waiter()
    delayed = DelayedProduce(5, waiter)
    delayed.complete(None)
    delayed.complete(RequestTimedOutError("late"))
    assert waiter.calls == [None]


def test_losing_leadership_fails_waiters_with_not_leader(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock, isr=(1, 2), replicas=(1, 2))
    waiter = Waiter()
    p.wait_for_isr(produce(log, 1), waiter)
    p.make_follower(2, 2, (2, 1), (1, 2), 1)
    assert len(waiter.calls) == 1 and isinstance(waiter.calls[0], NotLeaderOrFollowerError)
    assert p.waiting == [] and p.followers == {} and not p.is_leader


def test_going_offline_fails_waiters(log: Log, clock: FakeClock) -> None:
    p = partition(log)
    waiter = Waiter()
    p.waiting.append(DelayedProduce(10, waiter))
    p.make_follower(NO_LEADER, 3, (1,), (1, 2), 2)
    assert len(waiter.calls) == 1 and isinstance(waiter.calls[0], NotLeaderOrFollowerError)


# -- follower fetch state (Replica.updateFetchStateOrThrow) ------------------------------------


def test_fetch_at_the_leader_log_end_is_caught_up_now(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock, isr=(1,), replicas=(1, 2))
    produce(log, 5)
    clock.advance(1000)
    p.record_follower_fetch(2, 5, clock.now_ms)
    state = p.followers[2]
    assert (state.log_end_offset, state.last_caught_up_ms) == (5, clock.now_ms)
    assert (state.last_fetch_leader_leo, state.last_fetch_ms) == (5, clock.now_ms)


def test_fetch_reaching_the_previous_fetch_leader_end_is_caught_up_then(
    log: Log, clock: FakeClock
) -> None:
    """Small produce requests at a high rate: the follower never reaches the current log end
    but is caught up as of its previous fetch."""
    p = leader(log, clock, isr=(1,), replicas=(1, 2))
    produce(log, 10)
    t1 = clock.now_ms + 100
    p.record_follower_fetch(2, 5, t1)
    assert p.followers[2].last_caught_up_ms == 0  # behind the LEO of this fetch (10)
    produce(log, 5)
    t2 = t1 + 100
    p.record_follower_fetch(2, 10, t2)  # reached the LEO as of the previous fetch
    assert p.followers[2].last_caught_up_ms == t1
    produce(log, 5)
    p.record_follower_fetch(2, 12, t2 + 100)  # behind the LEO of the previous fetch (15)
    assert p.followers[2].last_caught_up_ms == t1
    assert p.followers[2].log_end_offset == 12


def test_last_caught_up_time_never_goes_back(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock, isr=(1,), replicas=(1, 2))
    produce(log, 3)
    p.record_follower_fetch(2, 3, T0 + 5000)
    p.record_follower_fetch(2, 3, T0 + 4000)  # a delayed, older fetch
    assert p.followers[2].last_caught_up_ms == T0 + 5000


def test_fetch_from_an_unknown_replica_is_ignored(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock, isr=(1, 2), replicas=(1, 2))
    p.record_follower_fetch(9, 0, clock.now_ms)
    assert 9 not in p.followers


# -- ISR shrink ----------------------------------------------------------------------------


def test_isr_shrink_drops_followers_not_caught_up_within_the_lag_time(
    log: Log, clock: FakeClock
) -> None:
    p = leader(log, clock)  # everyone in the ISR counts as caught up at T0
    produce(log, 4)
    assert p.isr_shrink(T0 + LAG_MS, LAG_MS) is None
    p.record_follower_fetch(2, 4, T0 + 3000)
    assert p.isr_shrink(T0 + LAG_MS + 1, LAG_MS) == (1, 2)
    produce(log, 1)  # follower 2 is no longer at the leader's log end
    assert p.isr_shrink(T0 + 3000 + LAG_MS + 1, LAG_MS) == (1,)  # never the leader


def test_isr_shrink_drops_isr_members_outside_the_replica_set(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock, isr=(1, 2, 3), replicas=(1, 2, 3))
    p.make_leader(1, (1, 2, 3), (1, 2), 1, clock.now_ms)  # reassignment removed 3
    assert p.isr_shrink(clock.now_ms, LAG_MS) == (1, 2)


def test_isr_shrink_waits_for_a_pending_change_and_only_runs_on_the_leader(
    log: Log, clock: FakeClock
) -> None:
    p = leader(log, clock)
    p.pending_isr = (1, 2)
    assert p.isr_shrink(T0 + 10 * LAG_MS, LAG_MS) is None
    follower = partition(log)
    follower.make_follower(2, 1, (2, 1), (1, 2), 0)
    assert follower.isr_shrink(T0 + 10 * LAG_MS, LAG_MS) is None


def test_a_leader_alone_in_the_isr_is_never_shrunk(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock, isr=(1,), replicas=(1, 2))
    assert p.isr_shrink(T0 + 10 * LAG_MS, LAG_MS) is None


def test_a_follower_at_the_leader_log_end_stays_in_the_isr(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock, isr=(1, 2), replicas=(1, 2))
    leo = produce(log, 3)
    p.record_follower_fetch(2, leo, T0)
    # no append and no fetch for longer than the lag time (idle partition, slow fetcher)
    assert p.isr_shrink(T0 + LAG_MS + 1, LAG_MS) is None


# -- ISR expansion -------------------------------------------------------------------------


def expansion_setup(log: Log, clock: FakeClock) -> Partition:
    """10 records from epoch 0, high watermark 4; leader of epoch 2 (starting at 10) with
    ISR (1, 2) and follower 3 out of it."""
    produce(log, 10)
    log.update_high_watermark(4)
    return leader(log, clock, isr=(1, 2), replicas=(1, 2, 3), epoch=2)


def test_isr_expansion_needs_the_high_watermark_and_the_epoch_start(
    log: Log, clock: FakeClock
) -> None:
    p = expansion_setup(log, clock)
    assert log.epoch_cache.entries[-1] == (2, 10)
    p.record_follower_fetch(3, 3, clock.now_ms)
    assert p.isr_expansion(clock.now_ms, LAG_MS) is None  # below the high watermark (4)
    p.record_follower_fetch(3, 6, clock.now_ms)
    assert p.isr_expansion(clock.now_ms, LAG_MS) is None  # below the epoch start (10)
    p.record_follower_fetch(3, 10, clock.now_ms)
    assert p.isr_expansion(clock.now_ms, LAG_MS) == (1, 2, 3)


def test_isr_expansion_keeps_replica_order(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock, isr=(1, 3), replicas=(3, 2, 1), epoch=1)
    p.record_follower_fetch(2, 0, clock.now_ms)
    assert p.isr_expansion(clock.now_ms, LAG_MS) == (3, 2, 1)


def test_isr_expansion_needs_a_recent_catch_up(log: Log, clock: FakeClock) -> None:
    p = expansion_setup(log, clock)
    p.record_follower_fetch(3, 10, T0)
    assert p.isr_expansion(T0 + LAG_MS + 1, LAG_MS) is None
    assert p.isr_expansion(T0 + LAG_MS, LAG_MS) == (1, 2, 3)


def test_isr_expansion_needs_leadership_and_no_pending_change(log: Log, clock: FakeClock) -> None:
    p = expansion_setup(log, clock)
    p.record_follower_fetch(3, 10, clock.now_ms)
    p.pending_isr = (1,)
    assert p.isr_expansion(clock.now_ms, LAG_MS) is None
    p.pending_isr = None
    p.make_follower(2, 3, (2, 1), (1, 2, 3), 1)
    assert p.isr_expansion(clock.now_ms, LAG_MS) is None


def test_no_expansion_when_everyone_is_in(log: Log, clock: FakeClock) -> None:
    p = leader(log, clock)
    p.record_follower_fetch(2, 0, clock.now_ms)
    p.record_follower_fetch(3, 0, clock.now_ms)
    assert p.isr_expansion(clock.now_ms, LAG_MS) is None
