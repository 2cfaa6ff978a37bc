"""OffsetIndex and TimeIndex in Kafka's on-disk format."""

from __future__ import annotations

import struct
from pathlib import Path

from odradek.storage.index import OffsetIndex, TimeIndex


def test_offset_index_append_and_lookup(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "x.index", 100, 1024)
    assert index.lookup(150) == (100, 0)  # empty: the segment start
    index.append(100, 0)
    index.append(110, 4000)
    index.append(120, 8000)
    assert index.entries == 3
    assert index.lookup(99) == (100, 0)
    assert index.lookup(100) == (100, 0)
    assert index.lookup(109) == (100, 0)
    assert index.lookup(110) == (110, 4000)
    assert index.lookup(119) == (110, 4000)
    assert index.lookup(10**9) == (120, 8000)
    index.close()


def test_offset_index_ignores_non_increasing_offsets(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "x.index", 0, 1024)
    index.append(5, 100)
    index.append(5, 200)
    index.append(3, 300)
    assert index.entries == 1
    assert index.lookup(5) == (5, 100)
    index.close()


def test_offset_index_file_format(tmp_path: Path) -> None:
    path = tmp_path / "x.index"
    index = OffsetIndex(path, 1000, 1024)
    index.append(1000, 0)
    index.append(1007, 4242)
    index.flush()
    index.close()
    assert path.read_bytes() == struct.pack(">iiii", 0, 0, 7, 4242)


def test_offset_index_reopen(tmp_path: Path) -> None:
    path = tmp_path / "x.index"
    index = OffsetIndex(path, 50, 1024)
    for n in range(10):
        index.append(50 + n * 3, n * 100)
    index.close()
    reopened = OffsetIndex(path, 50, 1024)
    assert reopened.entries == 10
    assert reopened.lookup(62) == (62, 400)
    assert reopened.lookup(63) == (62, 400)
    reopened.append(90, 5000)
    reopened.close()
    again = OffsetIndex(path, 50, 1024)
    assert again.lookup(95) == (90, 5000)
    again.close()


def test_offset_index_reopen_drops_partial_entry(tmp_path: Path) -> None:
    path = tmp_path / "x.index"
    path.write_bytes(struct.pack(">ii", 0, 0) + struct.pack(">ii", 4, 512) + b"\x00\x00\x01")
    index = OffsetIndex(path, 10, 1024)
    assert index.entries == 2
    assert index.lookup(20) == (14, 512)
    index.close()
    assert path.stat().st_size == 16


def test_offset_index_load_false_ignores_file(tmp_path: Path) -> None:
    path = tmp_path / "x.index"
    path.write_bytes(struct.pack(">ii", 0, 0))
    index = OffsetIndex(path, 0, 1024, load=False)
    assert index.entries == 0
    index.close()


def test_offset_index_truncate(tmp_path: Path) -> None:
    path = tmp_path / "x.index"
    index = OffsetIndex(path, 0, 1024)
    for offset in (0, 10, 20, 30):
        index.append(offset, offset * 10)
    index.truncate_to(20)  # drops entries for offsets >= 20
    assert index.entries == 2
    assert index.lookup(25) == (10, 100)
    assert path.stat().st_size == 16
    index.truncate_to(11)
    assert index.entries == 2
    index.truncate_to(10)
    assert index.entries == 1
    index.append(15, 150)
    index.close()
    reopened = OffsetIndex(path, 0, 1024)
    assert list(reopened.keys) == [0, 15]
    reopened.reset()
    assert reopened.entries == 0
    assert path.stat().st_size == 0
    reopened.close()


def test_offset_index_is_full(tmp_path: Path) -> None:
    index = OffsetIndex(tmp_path / "x.index", 0, 24)  # three 8-byte entries
    assert index.max_entries == 3
    for n in range(3):
        assert not index.is_full
        index.append(n, n * 10)
    assert index.is_full
    index.close()


def test_time_index_append_and_lookup(tmp_path: Path) -> None:
    index = TimeIndex(tmp_path / "x.timeindex", 100, 1200)
    assert index.lookup(5) == 100
    assert index.last_entry is None
    index.maybe_append(1000, 100)
    index.maybe_append(1000, 101)  # same timestamp: ignored
    index.maybe_append(999, 102)  # earlier timestamp: ignored
    index.maybe_append(2000, 105)
    index.maybe_append(2500, 105)  # same offset: ignored
    index.maybe_append(3000, 110)
    assert index.entries == 3
    assert index.lookup(999) == 100
    assert index.lookup(1000) == 100
    assert index.lookup(2999) == 105
    assert index.lookup(10**15) == 110
    assert index.last_entry == (3000, 110)
    index.close()


def test_time_index_file_format_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "x.timeindex"
    index = TimeIndex(path, 1000, 1200)
    index.maybe_append(1_700_000_000_000, 1003)
    index.maybe_append(1_700_000_000_500, 1010)
    index.close()
    assert path.read_bytes() == (
        struct.pack(">qi", 1_700_000_000_000, 3) + struct.pack(">qi", 1_700_000_000_500, 10)
    )
    reopened = TimeIndex(path, 1000, 1200)
    assert reopened.last_entry == (1_700_000_000_500, 1010)
    assert reopened.lookup(1_700_000_000_499) == 1003
    reopened.close()


def test_time_index_truncate(tmp_path: Path) -> None:
    path = tmp_path / "x.timeindex"
    index = TimeIndex(path, 0, 1200)
    for n in range(5):
        index.maybe_append(1000 + n, n * 10)
    index.truncate_to(20)  # drops entries for offsets >= 20
    assert index.last_entry == (1001, 10)
    assert path.stat().st_size == 24
    index.truncate_to(0)
    assert index.entries == 0
    index.close()


def test_time_index_is_full(tmp_path: Path) -> None:
    index = TimeIndex(tmp_path / "x.timeindex", 0, 24)  # two 12-byte entries
    index.maybe_append(1, 1)
    assert not index.is_full
    index.maybe_append(2, 2)
    assert index.is_full
    index.close()
