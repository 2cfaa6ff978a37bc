"""Log methods for replication: appends as follower, truncation, restarting the log at an
offset, and the high watermark of a replicated log.

Kafka's UnifiedLog is the spec: a follower appends the leader's batches as they are (offsets,
partition leader epochs, producer ids and sequences) and learns leader epochs and producer state
from them, so that it can become leader and dedupe a retried idempotent batch; truncation drops
everything at and after the offset, including leader epochs, producer state and aborted
transactions, and leaves the high watermark at most at the new log end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odradek.common.clock import FakeClock
from odradek.common.errors import OutOfOrderSequenceError
from odradek.protocol.records.batch import TRANSACTIONAL_FLAG, read_header, validate_batches
from odradek.protocol.records.codec import decode_batches, encode_batch
from odradek.protocol.records.control import encode_marker
from odradek.storage.cleaner.job import clean
from odradek.storage.cleaner.manager import LogCleanerManager
from odradek.storage.files import TXN_INDEX_SUFFIX, filename_prefix
from odradek.storage.log import Log
from odradek.storage.txn_index import AbortedTxn
from tests.unit.storage.helpers import T0, append, log_config, make_batch, open_log, read_all

BIG = 2**31 - 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def new_log(tmp_path: Path, clock: FakeClock, name: str, **config: Any) -> Log:
    return open_log(tmp_path / name, clock, log_config(**config) if config else None)


def lead(log: Log, epoch: int) -> None:
    """Become leader of ``epoch`` as Partition.make_leader does it."""
    log.leader_epoch = epoch
    log.epoch_cache.assign(epoch, log.log_end_offset)


def follow(log: Log, data: bytes) -> int:
    return log.append_as_follower(data, validate_batches(data, BIG))


def fetch_from(leader: Log, offset: int) -> bytes:
    """What a Fetch at ``offset`` returns to a follower (one segment's worth, up to the LEO)."""
    return leader.read(offset, BIG, max_offset=leader.log_end_offset).records


def replicate(leader: Log, follower: Log) -> None:
    """Fetch until the follower has the leader's log end offset."""
    while follower.log_end_offset < leader.log_end_offset:
        before = follower.log_end_offset
        follow(follower, fetch_from(leader, before))
        assert follower.log_end_offset > before, "no progress"


def idempotent(
    seq: int, count: int = 1, pid: int = 7, epoch: int = 0, attributes: int = 0
) -> bytes:
    return encode_batch(
        [(b"k", f"s{seq + i}".encode()) for i in range(count)],
        timestamp=T0,
        producer_id=pid,
        producer_epoch=epoch,
        base_sequence=seq,
        attributes=attributes,
    )


def epochs_of(log: Log) -> list[tuple[int, int]]:
    """(base offset, partition leader epoch) of every batch."""
    return [
        (h.base_offset, h.partition_leader_epoch)
        for segment in log.segments
        for h in (read_header(segment.read(loc.position, loc.size)) for loc in segment.batches())
    ]


def leader_with_epochs(tmp_path: Path, clock: FakeClock, **config: Any) -> Log:
    """Epoch 0: offsets 0-3 (two batches); epoch 2: 4-8; epoch 5: 9-10."""
    leader = new_log(tmp_path, clock, "leader", **config)
    append(leader, make_batch(2))
    append(leader, make_batch(2))
    lead(leader, 2)
    append(leader, make_batch(3))
    append(leader, make_batch(2))
    lead(leader, 5)
    append(leader, make_batch(2))
    return leader


def segment_files(log: Log, suffix: str) -> list[int]:
    return sorted(int(p.name.split(".")[0]) for p in log.dir.glob("*" + suffix))


# -- append_as_follower ------------------------------------------------------------------------


def test_follower_keeps_the_leader_offsets_and_epochs(tmp_path: Path, clock: FakeClock) -> None:
    leader = leader_with_epochs(tmp_path, clock)
    follower = new_log(tmp_path, clock, "follower")
    data = fetch_from(leader, 0)
    assert follow(follower, data) == len(data)
    assert follower.log_end_offset == leader.log_end_offset == 11
    assert fetch_from(follower, 0) == data  # byte for byte
    assert epochs_of(follower) == epochs_of(leader) == [(0, 0), (2, 0), (4, 2), (7, 2), (9, 5)]
    assert follower.epoch_cache.entries == leader.epoch_cache.entries == [(0, 0), (2, 4), (5, 9)]
    assert follower.high_watermark == 0  # the fetcher, not the append, moves it


def test_follower_append_in_several_fetches_across_segments(
    tmp_path: Path, clock: FakeClock
) -> None:
    leader = leader_with_epochs(tmp_path, clock, segment_bytes=200)
    follower = new_log(tmp_path, clock, "follower", segment_bytes=200)
    assert len(leader.segments) > 2
    replicate(leader, follower)
    assert len(follower.segments) > 2
    follower.update_high_watermark(follower.log_end_offset)
    assert [r.offset for r in read_all(follower)] == list(range(11))
    assert read_all(follower) == read_all(leader)
    assert epochs_of(follower) == epochs_of(leader)
    assert follower.epoch_cache.entries == leader.epoch_cache.entries


def test_follower_skips_batches_it_already_has(tmp_path: Path, clock: FakeClock) -> None:
    leader = leader_with_epochs(tmp_path, clock)
    follower = new_log(tmp_path, clock, "follower")
    first_two = fetch_from(leader, 0)[: 2 * len(make_batch(2))]
    assert follow(follower, first_two) == len(first_two)
    assert follower.log_end_offset == 4
    assert follow(follower, first_two) == 0  # a re-sent response
    whole = fetch_from(leader, 0)
    assert follow(follower, whole) == len(whole) - len(first_two)
    assert follower.log_end_offset == 11
    assert fetch_from(follower, 0) == whole


def test_follower_append_notifies_listeners_with_the_bytes(
    tmp_path: Path, clock: FakeClock
) -> None:
    leader = leader_with_epochs(tmp_path, clock)
    follower = new_log(tmp_path, clock, "follower")
    seen: list[int] = []
    follower.append_listeners.append(lambda tp, size: seen.append(size))
    data = fetch_from(leader, 0)
    follow(follower, data)
    follow(follower, data)
    assert seen == [len(data)]


def test_follower_replicates_a_compacted_log_with_offset_gaps(
    tmp_path: Path, clock: FakeClock
) -> None:
    config: dict[str, Any] = {"cleanup_policy": ["compact"], "min_cleanable_dirty_ratio": 0.01}
    leader = new_log(tmp_path, clock, "leader", **config)
    for i in range(6):
        append(leader, encode_batch([(b"k", f"old{i}".encode())], timestamp=T0))
    leader.roll()
    append(leader, encode_batch([(b"z", b"z")], timestamp=T0))
    manager = LogCleanerManager([tmp_path / "leader"])
    candidate = manager.candidate(leader.tp, leader, clock.now_ms)
    assert candidate is not None
    result = clean(manager.job_for(candidate, 100_000, clock.now_ms))
    leader.replace_segments(result.groups)
    # offsets 0-4 are gone; the first batch the leader serves from 0 is at 5
    assert [b.header.base_offset for b in decode_batches(fetch_from(leader, 0))] == [5]
    follower = new_log(tmp_path, clock, "follower", **config)
    replicate(leader, follower)
    assert follower.log_end_offset == leader.log_end_offset == 7
    assert epochs_of(follower) == epochs_of(leader)


def test_follower_starting_inside_a_batch_restarts_at_its_base(
    tmp_path: Path, clock: FakeClock
) -> None:
    leader = new_log(tmp_path, clock, "leader")
    append(leader, make_batch(5))
    append(leader, make_batch(5))
    assert leader.delete_records_before(2) == 2
    follower = new_log(tmp_path, clock, "follower")
    follower.truncate_fully_and_start_at(leader.log_start_offset)
    replicate(leader, follower)
    assert follower.log_end_offset == 10
    follower.update_high_watermark(10)
    assert [r.offset for r in read_all(follower, 2)] == list(range(2, 10))


def test_follower_producer_state_lets_a_new_leader_dedupe_a_retry(
    tmp_path: Path, clock: FakeClock
) -> None:
    leader = new_log(tmp_path, clock, "leader")
    append(leader, idempotent(0, 3))
    append(leader, make_batch(1))
    retried = idempotent(3, 2)
    append(leader, retried)  # offsets 4-5; the ack was lost
    follower = new_log(tmp_path, clock, "follower")
    replicate(leader, follower)
    lead(follower, 1)  # the follower takes over
    follower.replicated = True
    info = append(follower, retried)  # the producer retries at the new leader
    assert (info.first_offset, info.last_offset) == (4, 5)
    assert follower.log_end_offset == 6
    with pytest.raises(OutOfOrderSequenceError):
        append(follower, idempotent(9))
    assert append(follower, idempotent(5)).first_offset == 6


def test_follower_records_transactions_and_aborts(tmp_path: Path, clock: FakeClock) -> None:
    leader = new_log(tmp_path, clock, "leader")
    append(leader, idempotent(0, 2, pid=9, attributes=TRANSACTIONAL_FLAG))  # 0-1
    append(leader, make_batch(1))  # 2
    append(leader, encode_marker(9, 0, False, 4, T0))  # 3: ABORT
    append(leader, idempotent(0, 1, pid=11, attributes=TRANSACTIONAL_FLAG))  # 4
    append(leader, encode_marker(11, 0, True, 4, T0))  # 5: COMMIT
    append(leader, idempotent(0, 2, pid=12, attributes=TRANSACTIONAL_FLAG))  # 6-7: open
    follower = new_log(tmp_path, clock, "follower")
    follow(
        follower,
        fetch_from(leader, 0)[: len(idempotent(0, 2, pid=9, attributes=TRANSACTIONAL_FLAG))],
    )
    follower.update_high_watermark(follower.log_end_offset)
    assert follower.last_stable_offset == 0  # pid 9's transaction is open
    replicate(leader, follower)
    follower.update_high_watermark(follower.log_end_offset)
    assert [(t.first_offset, t.producer_id, t.last_offset) for t in follower.aborted_txns] == [
        (0, 9, 3)
    ]
    assert follower.last_stable_offset == 6  # pid 12's transaction is still open
    assert follower.aborted_in_range(0, 8) == follower.aborted_txns
    assert segment_files(follower, TXN_INDEX_SUFFIX) == [0]
    follower.close()
    reopened = new_log(tmp_path, clock, "follower")
    assert [(t.first_offset, t.producer_id, t.last_offset) for t in reopened.aborted_txns] == [
        (0, 9, 3)
    ]
    assert reopened.last_stable_offset == 6
    reopened.close()


def test_follower_sees_a_marker_close_the_transaction(tmp_path: Path, clock: FakeClock) -> None:
    leader = new_log(tmp_path, clock, "leader")
    append(leader, idempotent(0, 2, pid=9, attributes=TRANSACTIONAL_FLAG))
    follower = new_log(tmp_path, clock, "follower")
    replicate(leader, follower)
    follower.update_high_watermark(2)
    assert follower.last_stable_offset == 0
    append(leader, encode_marker(9, 0, True, 1, T0))
    replicate(leader, follower)
    follower.update_high_watermark(3)
    assert follower.last_stable_offset == 3
    assert follower.aborted_txns == []


def test_reopened_follower_has_the_same_end_and_epochs(tmp_path: Path, clock: FakeClock) -> None:
    leader = leader_with_epochs(tmp_path, clock, segment_bytes=200)
    follower = new_log(tmp_path, clock, "follower", segment_bytes=200)
    replicate(leader, follower)
    follower.truncate_to(7)
    expected = (follower.log_end_offset, follower.epoch_cache.entries, epochs_of(follower))
    follower.close()
    for clean_shutdown in (True, False):
        reopened = open_log(
            tmp_path / "follower",
            clock,
            log_config(segment_bytes=200),
            clean_shutdown=clean_shutdown,
        )
        assert (
            (reopened.log_end_offset, reopened.epoch_cache.entries, epochs_of(reopened))
            == expected
            == (7, [(0, 0), (2, 4)], [(0, 0), (2, 0), (4, 2)])
        )
        assert reopened.leader_epoch == 2
        reopened.close()


# -- replicated logs ---------------------------------------------------------------------------


def test_replicated_leader_append_leaves_the_high_watermark(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = new_log(tmp_path, clock, "log")
    append(log, make_batch(2))
    assert log.high_watermark == 2
    log.replicated = True
    append(log, make_batch(3))
    assert (log.log_end_offset, log.high_watermark) == (5, 2)
    assert log.read(0, BIG).records == log.read(0, BIG, max_offset=2).records  # reads stop at HW
    log.replicated = False
    append(log, make_batch(1))
    assert log.high_watermark == 6
    log.close()


# -- truncate_to -----------------------------------------------------------------------------


def test_truncate_to_drops_batches_across_segments(tmp_path: Path, clock: FakeClock) -> None:
    log = leader_with_epochs(tmp_path, clock, segment_bytes=200)
    log.update_high_watermark(log.log_end_offset)
    assert [s.base_offset for s in log.segments] == [0, 2, 4, 7, 9]  # one batch each
    log.truncate_to(4)
    assert log.log_end_offset == 4
    assert [s.base_offset for s in log.segments] == [0, 2]
    assert segment_files(log, ".log") == [0, 2]
    assert not [o for o in log.producer_state.snapshot_offsets() if o > 4]
    assert [r.offset for r in read_all(log)] == [0, 1, 2, 3]
    assert log.epoch_cache.entries == [(0, 0)]
    assert log.leader_epoch == 0
    assert log.high_watermark == 4
    assert append(log, make_batch(1)).first_offset == 4
    log.close()


def test_truncate_to_inside_a_segment_and_at_or_past_the_end(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = leader_with_epochs(tmp_path, clock)
    log.update_high_watermark(3)
    log.truncate_to(11)  # at the end: nothing to do
    log.truncate_to(50)
    assert log.log_end_offset == 11 and log.epoch_cache.entries[-1] == (5, 9)
    log.truncate_to(7)
    assert log.log_end_offset == 7
    assert log.epoch_cache.entries == [(0, 0), (2, 4)]
    assert log.high_watermark == 3  # below the cut: unchanged
    log.update_high_watermark(7)
    assert [r.offset for r in read_all(log)] == list(range(7))
    log.close()


def test_truncate_to_rebuilds_producer_state(tmp_path: Path, clock: FakeClock) -> None:
    log = new_log(tmp_path, clock, "log", segment_bytes=120)
    for seq in range(6):
        append(log, idempotent(seq))
    assert len(log.segments) == 6  # one batch per segment, a producer snapshot at each roll
    log.truncate_to(3)
    assert not [o for o in log.producer_state.snapshot_offsets() if o > 3]
    # sequences before the cut are known: a retry is a duplicate with its original offset
    info = append(log, idempotent(2))
    assert (info.first_offset, log.log_end_offset) == (2, 3)
    with pytest.raises(OutOfOrderSequenceError):
        append(log, idempotent(4))  # the log lost seq 3: 4 is a gap
    assert append(log, idempotent(3)).first_offset == 3  # after the cut: not a duplicate
    log.close()
    reopened = new_log(tmp_path, clock, "log", segment_bytes=120)
    assert append(reopened, idempotent(3)).first_offset == 3  # a duplicate after reopening
    assert reopened.log_end_offset == 4
    reopened.close()


def test_truncate_to_drops_aborted_transactions_past_the_cut(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = new_log(tmp_path, clock, "log")
    append(log, idempotent(0, 1, pid=8, attributes=TRANSACTIONAL_FLAG))  # 0
    append(log, encode_marker(8, 0, False, 1, T0))  # 1: ABORT
    append(log, idempotent(0, 2, pid=9, attributes=TRANSACTIONAL_FLAG))  # 2-3
    append(log, make_batch(1))  # 4
    append(log, encode_marker(9, 0, False, 1, T0))  # 5: ABORT
    assert [(t.producer_id, t.last_offset) for t in log.aborted_txns] == [(8, 1), (9, 5)]
    assert log.last_stable_offset == 6
    log.truncate_to(5)
    assert [(t.producer_id, t.last_offset) for t in log.aborted_txns] == [(8, 1)]
    assert log.high_watermark == 5
    assert log.last_stable_offset == 2  # pid 9's transaction is open again
    log.close()
    reopened = new_log(tmp_path, clock, "log")
    assert [(t.producer_id, t.last_offset) for t in reopened.aborted_txns] == [(8, 1)]
    assert reopened.aborted_txns[0] == AbortedTxn(
        0, 8, 1, reopened.aborted_txns[0].last_stable_offset
    )
    reopened.update_high_watermark(5)
    assert reopened.last_stable_offset == 2
    reopened.close()


def test_truncate_to_the_log_start_empties_the_log(tmp_path: Path, clock: FakeClock) -> None:
    log = leader_with_epochs(tmp_path, clock)
    log.truncate_to(0)
    assert (log.log_start_offset, log.log_end_offset, log.high_watermark) == (0, 0, 0)
    assert [s.base_offset for s in log.segments] == [0]
    assert log.producer_state.entries == {}
    log.close()


# -- truncate_fully_and_start_at -----------------------------------------------------------


def test_truncate_fully_below_the_end(tmp_path: Path, clock: FakeClock) -> None:
    """The follower is ahead of an empty leader that starts at 3."""
    log = leader_with_epochs(tmp_path, clock, segment_bytes=200)
    log.update_high_watermark(9)
    log.truncate_fully_and_start_at(3)
    assert (log.log_start_offset, log.log_end_offset, log.high_watermark) == (3, 3, 3)
    assert [s.base_offset for s in log.segments] == [3]
    assert segment_files(log, ".log") == [3]
    assert log.epoch_cache.entries == []
    assert log.aborted_txns == []
    leader = new_log(tmp_path, clock, "new-leader")
    leader.truncate_fully_and_start_at(3)
    lead(leader, 7)
    append(leader, make_batch(2))
    replicate(leader, log)
    assert log.epoch_cache.entries == [(7, 3)]
    log.close()
    reopened = open_log(tmp_path / "leader", clock, log_config(segment_bytes=200))  # ``log``
    assert (reopened.log_start_offset, reopened.log_end_offset) == (3, 5)
    assert reopened.epoch_cache.entries == [(7, 3)]
    reopened.close()


def test_truncate_fully_above_the_end(tmp_path: Path, clock: FakeClock) -> None:
    """The follower is below the leader's log start offset: it starts over there."""
    log = new_log(tmp_path, clock, "log")
    append(log, make_batch(4))
    log.truncate_fully_and_start_at(100)
    assert (log.log_start_offset, log.log_end_offset) == (100, 100)
    assert (log.dir / (filename_prefix(100) + ".log")).exists()
    assert not (log.dir / (filename_prefix(0) + ".log")).exists()
    assert append(log, make_batch(1)).first_offset == 100
    log.close()


def test_truncate_fully_above_the_end_moves_the_high_watermark(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = new_log(tmp_path, clock, "log")
    append(log, make_batch(4))
    log.truncate_fully_and_start_at(100)
    assert log.high_watermark == 100
    log.close()


def test_truncate_fully_forgets_producers_of_the_deleted_data(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = new_log(tmp_path, clock, "log")
    append(log, idempotent(0, 2, pid=9, attributes=TRANSACTIONAL_FLAG))  # open transaction
    log.roll()  # writes a producer snapshot at 2 holding it
    append(log, make_batch(1))
    log.truncate_fully_and_start_at(100)
    assert log.producer_state.entries == {}
    log.update_high_watermark(100)
    assert log.last_stable_offset == 100
    log.close()
