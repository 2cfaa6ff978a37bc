"""FileRecords: a fetch's read left in the segment file — the same batches as Log.read, the
same limits, and readable until closed even when the segment goes first."""

from __future__ import annotations

import gc
import os
import socket
from pathlib import Path

import pytest

from odradek.common.clock import FakeClock
from odradek.storage.file_records import FileRecords, SharedFile
from odradek.storage.log import Log
from tests.unit.storage.helpers import T0, append, make_batch, open_log


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def whole(records: bytes | FileRecords) -> bytes:
    if isinstance(records, bytes):
        return records
    return records.read(0, records.size)


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def three_batches(log: Log) -> None:
    """Batches of 1, 3 and 2 records (offsets 0, 1-3, 4-5) of about 100 bytes each."""
    append(log, make_batch(1, value_size=100))
    append(log, make_batch(3, value_size=100))
    append(log, make_batch(2, value_size=100))


@pytest.mark.parametrize(
    ("offset", "max_bytes", "min_one_batch"),
    [
        (0, 2**31 - 1, True),  # everything
        (2, 2**31 - 1, True),  # from inside the second batch
        (0, 10, True),  # the first batch, larger than max_bytes
        (0, 10, False),  # nothing
        (1, 500, False),  # what fits
        (6, 1000, True),  # at the log end
    ],
)
def test_same_batches_as_read(
    tmp_path: Path, clock: FakeClock, offset: int, max_bytes: int, min_one_batch: bool
) -> None:
    log = open_log(tmp_path, clock)
    three_batches(log)
    in_memory = log.read(offset, max_bytes, min_one_batch)
    left = log.read_file_records(offset, max_bytes, min_one_batch)
    assert len(left.records) == len(in_memory.records)
    assert whole(left.records) == in_memory.records
    assert (left.high_watermark, left.log_start_offset, left.last_stable_offset) == (
        in_memory.high_watermark,
        in_memory.log_start_offset,
        in_memory.last_stable_offset,
    )
    assert isinstance(left.records, FileRecords) == bool(in_memory.records)
    log.close()


def test_stops_at_max_offset(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock)
    three_batches(log)
    left = log.read_file_records(0, 2**31 - 1, max_offset=4)
    assert whole(left.records) == log.read(0, 2**31 - 1, max_offset=4).records
    log.close()


def test_readable_after_the_segment_is_deleted(tmp_path: Path, clock: FakeClock) -> None:
    """Kafka's FileRecords keep their channel: the bytes survive the segment's deletion and
    the descriptor closes with the last holder."""
    log = open_log(tmp_path, clock)
    three_batches(log)
    expected = log.read(0, 2**31 - 1).records
    records = log.read_file_records(0, 2**31 - 1).records
    assert isinstance(records, FileRecords)
    fd = records._fd()
    log.truncate_fully_and_start_at(6)  # deletes the segment's files
    assert not (log.dir / "00000000000000000000.log").exists()
    assert is_open(fd)
    assert records.read(0, records.size) == expected
    records.close()
    assert not is_open(fd)
    records.close()  # twice is harmless
    log.close()


def test_a_dropped_region_lets_go_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "segment.log"
    path.write_bytes(b"0123456789")
    shared = SharedFile(os.open(path, os.O_RDONLY))
    fd = shared.fd
    region = FileRecords(shared, 2, 5)
    assert region.read(0, 100) == b"23456"
    assert region.read(3, 100) == b"56"
    shared.release()  # the segment closed first
    assert is_open(fd)
    del region
    gc.collect()
    assert not is_open(fd)
    assert shared.fd == -1


def test_send_to_a_socket(tmp_path: Path) -> None:
    path = tmp_path / "segment.log"
    path.write_bytes(b"0123456789")
    shared = SharedFile(os.open(path, os.O_RDONLY))
    region = FileRecords(shared, 2, 5)
    left, right = socket.socketpair()
    with left, right:
        assert region.send_to(left.fileno(), 1, 100) == 4
        assert right.recv(100) == b"3456"
    region.close()
    shared.release()
    assert shared.fd == -1


def test_a_truncated_file_reads_short(tmp_path: Path) -> None:
    path = tmp_path / "segment.log"
    path.write_bytes(b"0123456789")
    shared = SharedFile(os.open(path, os.O_RDWR))
    region = FileRecords(shared, 2, 5)
    os.ftruncate(shared.fd, 4)  # a follower truncated its log under the region
    assert region.read(0, 5) == b"23"
    assert region.read(2, 5) == b""
    region.close()
    shared.release()
