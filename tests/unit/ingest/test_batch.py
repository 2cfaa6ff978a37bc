from __future__ import annotations

import pytest

from odradek.ingest.batch import Batch, Positions, TopicPartition, WriteJob
from odradek.ingest.columns import parse_columns
from odradek.ingest.errors import TooManyBrokenMessages
from odradek.ingest.formats import JSONEachRow
from odradek.ingest.rows import RowBuilder
from tests.unit.ingest.records import FakeRecord

BUILDER = RowBuilder(parse_columns("id Int64, _offset UInt64"), JSONEachRow())


def good(offset: int, partition: int = 0) -> FakeRecord:
    return FakeRecord(b'{"id": %d}' % offset, offset_=offset, partition_=partition)


def bad(offset: int, partition: int = 0) -> FakeRecord:
    return FakeRecord(b"{broken", offset_=offset, partition_=partition)


def batch(
    stored: dict[TopicPartition, int | None],
    replays: dict[TopicPartition, int] | None = None,
    **kwargs: object,
) -> Batch:
    positions = Positions()
    positions.assign(stored, replays or {})
    return Batch(BUILDER, positions, **kwargs)  # type: ignore[arg-type]


def moves(b: Batch) -> dict[TopicPartition, tuple[int | None, int, int]]:
    """expected, next and records of each partition's block pending in ``b``."""
    return moves_of(b.job)


def moves_of(job: WriteJob) -> dict[TopicPartition, tuple[int | None, int, int]]:
    return {tp: (p.expected, p.next, p.records) for tp, p in job.partitions.items()}


def test_offsets_move_from_the_stored_position_past_the_last_record() -> None:
    b = batch({("t", 0): 10, ("t", 1): None})
    for record in (good(10), good(11), good(15, 1), good(14)):  # gaps: control records
        assert b.add(record, now=0.0)
    assert moves(b) == {("t", 0): (10, 15, 3), ("t", 1): (None, 16, 1)}
    job = b.take()
    assert job.rows == [(10, 10), (11, 11), (14, 14), (15, 15)]  # partition by partition
    assert b.job.records == 0 and not b.job.partitions


def test_records_of_unassigned_partitions_or_below_the_position_are_left_out() -> None:
    b = batch({("t", 0): 10})
    assert not b.add(good(9), 0.0)  # from before a seek back to 10
    assert not b.add(good(3, partition=7), 0.0)  # not ours
    assert b.add(good(10), 0.0)
    assert not b.add(good(10), 0.0)  # delivered twice
    assert b.job.records == 1


def test_written_job_advances_positions() -> None:
    b = batch({("t", 0): None})
    b.add(good(0), 0.0)
    b.add(good(1), 0.0)
    b.positions.written(b.take())
    assert b.positions.stored == {("t", 0): 2}
    b.add(good(2), 0.0)
    assert moves(b) == {("t", 0): (2, 3, 1)}


def test_skip_broken_messages_is_a_limit_per_block() -> None:
    b = batch({("t", 0): 0}, skip_broken=2)
    for offset, record in enumerate([good(0), bad(1), good(2), bad(3)]):
        assert record.offset() == offset
        b.add(record, 0.0)
    job = b.take()
    assert (job.records, job.broken, len(job.rows)) == (4, 2, 2)
    assert job.partitions[("t", 0)].next == 4  # broken records are consumed too
    assert job.partitions[("t", 0)].broken == 2
    b.add(bad(4), 0.0)
    b.add(bad(5), 0.0)
    with pytest.raises(TooManyBrokenMessages, match=r"t\[0\]@4.*t\[0\]@6"):
        b.add(bad(6), 0.0)


def test_stream_mode_turns_broken_records_into_error_rows() -> None:
    b = batch({("t", 0): 0}, stream_errors=True)
    for offset in range(10):
        b.add(bad(offset), 0.0)
    job = b.take()
    assert job.broken == 10 and not job.rows
    assert [row[2] for row in job.error_rows] == list(range(10))
    assert job.error_rows[0][5] == b"{broken"


def test_block_is_due_when_full_or_old() -> None:
    b = batch({("t", 0): 0})
    assert not b.due(100.0, max_records=2, interval_s=1.0)  # empty: never
    b.add(good(0), now=10.0)
    assert not b.due(10.5, max_records=2, interval_s=1.0)
    assert b.due(11.0, max_records=2, interval_s=1.0)
    b.add(good(1), now=10.6)
    assert b.due(10.6, max_records=2, interval_s=1.0)


def test_a_replayed_block_is_written_at_its_end_and_never_in_part() -> None:
    b = batch({("t", 0): 10, ("t", 1): 0}, replays={("t", 0): 13})
    b.add(good(10), now=0.0)
    b.add(good(0, partition=1), now=0.0)
    b.add(good(11), now=0.0)
    assert not b.replay_complete
    assert not b.due(100.0, max_records=1, interval_s=1.0)  # full and old, but short of 13
    held = b.take()  # as at a pause: only what is not a replay short of its end
    assert list(held.partitions) == [("t", 1)] and held.records == 1
    assert moves(b) == {("t", 0): (10, 12, 2)}
    b.add(good(12), now=0.0)
    assert b.replay_complete and b.due(0.0, max_records=100, interval_s=100.0)
    job = b.take()
    assert moves_of(job) == {("t", 0): (10, 13, 3)}
    b.positions.written(job)
    assert b.positions.replays == {} and not b.replay_complete
    b.add(good(13), now=0.0)
    assert b.due(0.0, max_records=1, interval_s=100.0)  # an ordinary block again
