"""LogSegment: appends, lookups, recovery of torn and corrupt tails, time lookups."""

from __future__ import annotations

from pathlib import Path

from odradek.protocol.records.batch import read_header
from odradek.protocol.records.codec import encode_batch
from odradek.storage.segment import LogSegment
from tests.unit.storage.helpers import T0, records_of


def new_segment(
    directory: Path, base_offset: int = 0, *, fresh: bool = True, index_interval_bytes: int = 4096
) -> LogSegment:
    return LogSegment(
        directory,
        base_offset,
        index_interval_bytes=index_interval_bytes,
        max_index_bytes=10 * 1024 * 1024,
        created_ms=T0,
        fresh=fresh,
    )


def fill(
    segment: LogSegment,
    counts: list[int],
    *,
    timestamps: list[int] | None = None,
    value_size: int = 20,
) -> list[bytes]:
    """Append one batch per entry of ``counts`` (that many records each)."""
    written = []
    offset = segment.next_offset
    for n, count in enumerate(counts):
        ts = timestamps[n] if timestamps else T0 + n
        data = encode_batch(
            [(b"k", bytes([n % 256]) * value_size)] * count,
            base_offset=offset,
            timestamps=[ts] * count,
        )
        segment.append([data], len(data), offset, offset + count, ts, offset + count - 1)
        written.append(data)
        offset += count
    return written


def test_file_names_follow_kafka(tmp_path: Path) -> None:
    segment = new_segment(tmp_path, 1234)
    assert segment.log_path.name == "00000000000000001234.log"
    assert segment.offset_index.path.name == "00000000000000001234.index"
    assert segment.time_index.path.name == "00000000000000001234.timeindex"
    assert segment.is_empty
    segment.close()


def test_append_and_read_back(tmp_path: Path) -> None:
    segment = new_segment(tmp_path, 100)
    batches = fill(segment, [1, 3, 2])
    assert segment.next_offset == 106
    assert segment.size == sum(len(b) for b in batches)
    assert segment.log_path.read_bytes() == b"".join(batches)
    assert segment.read(0, segment.size) == b"".join(batches)
    assert segment.max_timestamp == T0 + 2
    assert segment.offset_of_max_timestamp == 105
    assert segment.offset_index.lookup(100) == (100, 0)  # first batch always indexed
    segment.close()


def test_append_vectored_buffers(tmp_path: Path) -> None:
    segment = new_segment(tmp_path)
    data = encode_batch([(b"k", b"v" * 100)], timestamp=T0)
    segment.append([data[:16], memoryview(data)[16:]], len(data), 0, 1, T0, 0)
    assert segment.log_path.read_bytes() == data
    segment.close()


def test_find_batch(tmp_path: Path) -> None:
    segment = new_segment(tmp_path, 10)
    batches = fill(segment, [2, 3, 1])
    positions = [0, len(batches[0]), len(batches[0]) + len(batches[1])]
    expected = {10: 0, 11: 0, 12: 1, 13: 1, 14: 1, 15: 2}
    for offset, slot in expected.items():
        location = segment.find_batch(offset)
        assert location is not None, offset
        assert location.position == positions[slot]
        assert location.size == len(batches[slot])
    located = segment.find_batch(13)
    assert located is not None
    assert (located.base_offset, located.last_offset) == (12, 14)
    assert segment.find_batch(16) is None
    assert segment.find_batch(5) is not None  # before the segment: its first batch
    segment.close()


def test_find_batch_through_sparse_index(tmp_path: Path) -> None:
    segment = new_segment(tmp_path, index_interval_bytes=300)
    fill(segment, [1] * 100, value_size=50)
    assert 1 < segment.offset_index.entries < 100
    fresh = new_segment(tmp_path, fresh=False, index_interval_bytes=300)  # no recent cache
    fresh.recover()
    for offset in range(100):
        location = fresh.find_batch(offset)
        assert location is not None
        assert location.base_offset == offset
        assert records_of(fresh.read(location.position, location.size))[0].offset == offset
    fresh.close()
    segment.close()


def test_batches_iterates_large_batches(tmp_path: Path) -> None:
    segment = new_segment(tmp_path)
    fill(segment, [1, 1, 1], value_size=40_000)  # each larger than the scan chunk
    assert [loc.base_offset for loc in segment.batches()] == [0, 1, 2]
    segment.close()


def test_recover_rebuilds_indexes_of_a_good_segment(tmp_path: Path) -> None:
    segment = new_segment(tmp_path, 0, index_interval_bytes=100)
    fill(segment, [2, 2, 2, 2], timestamps=[T0, T0 + 5, T0 + 3, T0 + 9])
    entries = list(segment.offset_index.keys)
    segment.close()
    reopened = new_segment(tmp_path, 0, fresh=False, index_interval_bytes=100)
    assert reopened.recover() == 0
    assert reopened.next_offset == 8
    assert list(reopened.offset_index.keys) == entries
    assert reopened.max_timestamp == T0 + 9
    assert reopened.offset_of_max_timestamp == 7
    assert reopened.time_index.last_entry == (T0 + 9, 7)
    reopened.close()


def test_recover_truncates_a_torn_tail(tmp_path: Path) -> None:
    segment = new_segment(tmp_path)
    batches = fill(segment, [1, 2, 3])
    good_size = segment.size
    segment.close()
    extra = encode_batch([(b"k", b"torn" * 50)], base_offset=6)
    for torn in (extra[:5], extra[:30], extra[:-1], b"\x00" * 100, b"\xff" * 64):
        with segment.log_path.open("ab") as handle:
            handle.write(torn)
        reopened = new_segment(tmp_path, fresh=False)
        assert reopened.recover() == len(torn)
        assert reopened.size == good_size
        assert reopened.log_path.stat().st_size == good_size
        assert reopened.next_offset == 6
        assert reopened.read(0, reopened.size) == b"".join(batches)
        reopened.close()


def test_recover_stops_at_a_crc_corrupted_batch(tmp_path: Path) -> None:
    segment = new_segment(tmp_path, 50)
    batches = fill(segment, [1, 2, 3, 4])
    segment.close()
    corrupt_at = len(batches[0]) + len(batches[1]) + 70  # inside the third batch's records
    raw = bytearray(segment.log_path.read_bytes())
    raw[corrupt_at] ^= 0xFF
    segment.log_path.write_bytes(bytes(raw))
    reopened = new_segment(tmp_path, 50, fresh=False)
    truncated = reopened.recover()
    assert truncated == len(batches[2]) + len(batches[3])
    assert reopened.next_offset == 53
    assert reopened.read(0, reopened.size) == batches[0] + batches[1]
    assert reopened.find_batch(53) is None
    reopened.close()


def test_recover_stops_at_offsets_going_backwards(tmp_path: Path) -> None:
    segment = new_segment(tmp_path)
    fill(segment, [2])
    stale = encode_batch([(b"k", b"v")], base_offset=0, timestamp=T0)  # offset 0 again
    segment.append([stale], len(stale), 0, 1, T0, 0)
    segment.close()
    reopened = new_segment(tmp_path, fresh=False)
    assert reopened.recover() == len(stale)
    assert reopened.next_offset == 2
    reopened.close()


def test_load_trusted_after_clean_close(tmp_path: Path) -> None:
    segment = new_segment(tmp_path, 7, index_interval_bytes=200)
    fill(segment, [1, 2, 3, 1, 1, 1], timestamps=[T0 + 10, T0 + 1, T0 + 30, T0 + 2, T0 + 3, T0 + 4])
    segment.flush()
    segment.close()
    reopened = new_segment(tmp_path, 7, fresh=False, index_interval_bytes=200)
    reopened.load_trusted()
    assert reopened.next_offset == 16
    assert reopened.max_timestamp == T0 + 30
    assert reopened.offset_of_max_timestamp == 12
    assert reopened.rolling_base_timestamp == T0 + 10
    reopened.close()


def test_find_offset_by_timestamp(tmp_path: Path) -> None:
    segment = new_segment(tmp_path, 0, index_interval_bytes=1)
    offset = 0
    for n in range(5):  # batch n: 3 records stamped T0 + 100n, +1, +2
        stamps = [T0 + 100 * n + i for i in range(3)]
        data = encode_batch([(None, b"x")] * 3, base_offset=offset, timestamps=stamps)
        segment.append([data], len(data), offset, offset + 3, max(stamps), offset + 2)
        offset += 3
    assert segment.find_offset_by_timestamp(0) == (0, T0)
    assert segment.find_offset_by_timestamp(T0) == (0, T0)
    assert segment.find_offset_by_timestamp(T0 + 1) == (1, T0 + 1)
    assert segment.find_offset_by_timestamp(T0 + 3) == (3, T0 + 100)
    assert segment.find_offset_by_timestamp(T0 + 201) == (7, T0 + 201)
    assert segment.find_offset_by_timestamp(T0 + 402) == (14, T0 + 402)
    assert segment.find_offset_by_timestamp(T0 + 403) is None
    segment.close()


def test_find_offset_by_timestamp_with_out_of_order_timestamps(tmp_path: Path) -> None:
    segment = new_segment(tmp_path, 0, index_interval_bytes=1)
    stamps = [T0 + 50, T0 + 10, T0 + 80, T0 + 20]
    for offset, ts in enumerate(stamps):
        data = encode_batch([(None, b"x")], base_offset=offset, timestamp=ts)
        segment.append([data], len(data), offset, offset + 1, ts, offset)
    # the first offset (in log order) whose timestamp is >= the target
    assert segment.find_offset_by_timestamp(T0 + 15) == (0, T0 + 50)
    assert segment.find_offset_by_timestamp(T0 + 60) == (2, T0 + 80)
    segment.close()


def test_truncate_to(tmp_path: Path) -> None:
    segment = new_segment(tmp_path, 0, index_interval_bytes=1)
    batches = fill(segment, [2, 2, 2])
    segment.truncate_to(4)
    assert segment.next_offset == 4
    assert segment.size == len(batches[0]) + len(batches[1])
    assert read_header(segment.read(len(batches[0]), 61)).base_offset == 2
    segment.truncate_to(0)
    assert segment.is_empty
    assert segment.next_offset == 0
    segment.close()


def test_delete_removes_files(tmp_path: Path) -> None:
    segment = new_segment(tmp_path, 3)
    fill(segment, [1])
    segment.delete()
    assert list(tmp_path.iterdir()) == []
