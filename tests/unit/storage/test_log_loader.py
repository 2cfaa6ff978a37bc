"""LogLoader: opening a partition directory after a crash (torn or corrupt tail batches are cut,
indexes rebuilt, recovery starts at the recovery point) and after a clean shutdown (the files
are trusted, nothing is rescanned). Real segment files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from odradek.common.clock import FakeClock
from odradek.protocol.records.batch import HEADER_SIZE, read_header
from odradek.storage.files import PARTITION_METADATA
from odradek.storage.log import Log
from odradek.storage.log_loader import LoadedLog, LogLoader
from odradek.storage.segment import LogSegment
from odradek.storage.topic_id import decode_topic_id
from tests.unit.storage.helpers import (
    T0,
    TOPIC_ID,
    TP,
    append,
    log_config,
    make_batch,
    open_log,
    read_all,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def write_log(tmp_path: Path, clock: FakeClock, batches: int, segment_bytes: int = 10**6) -> Log:
    """A closed log of ``batches`` one-record batches; returns it for its paths and offsets."""
    log = open_log(tmp_path, clock, log_config(segment_bytes=segment_bytes))
    for n in range(batches):
        append(log, make_batch(1, tag=f"n{n}"))
    log.flush()
    log.close()
    return log


def load(directory: Path, *, clean_shutdown: bool, recovery_point: int = 0) -> LoadedLog:
    config = log_config()

    def open_segment(base_offset: int, fresh: bool) -> LogSegment:
        return LogSegment(
            directory,
            base_offset,
            index_interval_bytes=config.index_interval_bytes,
            max_index_bytes=config.segment_index_bytes,
            created_ms=T0,
            fresh=fresh,
        )

    return LogLoader(directory, TP, TOPIC_ID, open_segment).load(
        log_start_offset=0, recovery_point=recovery_point, clean_shutdown=clean_shutdown
    )


def close(loaded: LoadedLog) -> None:
    for segment in loaded.segments:
        segment.close()


def batch_positions(segment_path: Path) -> list[int]:
    """The file position of every batch in a ``.log`` file."""
    data = segment_path.read_bytes()
    positions, position = [], 0
    while position < len(data):
        positions.append(position)
        position += read_header(data, position).size
    return positions


def flip_byte(path: Path, position: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[position] ^= 0x01
    path.write_bytes(bytes(raw))


def test_recovery_truncates_a_torn_tail_batch(tmp_path: Path, clock: FakeClock) -> None:
    log = write_log(tmp_path, clock, batches=5)
    path = log.active_segment.log_path
    last = batch_positions(path)[-1]
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size - 7)  # the crash tore the last batch's write
    loaded = load(log.dir, clean_shutdown=False)
    assert [s.base_offset for s in loaded.segments] == [0]
    assert loaded.segments[-1].next_offset == 4
    assert loaded.segments[-1].size == last == path.stat().st_size
    close(loaded)
    reopened = open_log(tmp_path, clock, clean_shutdown=False)
    assert [r.offset for r in read_all(reopened)] == [0, 1, 2, 3]
    assert append(reopened, make_batch(1)).first_offset == 4
    reopened.close()


def test_recovery_truncates_a_tail_batch_with_a_bad_crc(tmp_path: Path, clock: FakeClock) -> None:
    log = write_log(tmp_path, clock, batches=5)
    path = log.active_segment.log_path
    positions = batch_positions(path)
    flip_byte(path, positions[3] + HEADER_SIZE + 2)  # record data of the fourth batch
    size_before = path.stat().st_size
    loaded = load(log.dir, clean_shutdown=False)
    segment = loaded.segments[-1]
    assert segment.next_offset == 3  # the bad batch and everything after it are gone
    assert segment.size == positions[3] == path.stat().st_size < size_before
    assert segment.find_batch(2) is not None and segment.find_batch(3) is None
    close(loaded)


def test_a_corrupt_batch_drops_the_later_segments(tmp_path: Path, clock: FakeClock) -> None:
    log = write_log(tmp_path, clock, batches=9, segment_bytes=300)  # three batches a segment
    bases = [s.base_offset for s in log.segments]
    assert len(bases) == 3
    victim = log.segments[1].log_path
    flip_byte(victim, batch_positions(victim)[1] + HEADER_SIZE + 2)
    loaded = load(log.dir, clean_shutdown=False)
    assert [s.base_offset for s in loaded.segments] == bases[:2]
    assert loaded.segments[-1].next_offset == bases[1] + 1
    assert not log.segments[2].log_path.exists()
    close(loaded)


def test_segments_below_the_recovery_point_are_not_rescanned(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = write_log(tmp_path, clock, batches=9, segment_bytes=300)
    first = log.segments[0].log_path
    flip_byte(first, batch_positions(first)[1] + HEADER_SIZE + 2)
    # The recovery point is in the last segment: the first one was flushed and is trusted.
    loaded = load(log.dir, clean_shutdown=False, recovery_point=log.segments[2].base_offset)
    assert loaded.segments[-1].next_offset == 9
    close(loaded)
    loaded = load(log.dir, clean_shutdown=False, recovery_point=0)
    assert [s.base_offset for s in loaded.segments] == [0]
    assert loaded.segments[-1].next_offset == 1
    close(loaded)


def test_clean_shutdown_skips_recovery(tmp_path: Path, clock: FakeClock) -> None:
    log = write_log(tmp_path, clock, batches=5)
    path = log.active_segment.log_path
    flip_byte(path, batch_positions(path)[3] + HEADER_SIZE + 2)
    size = path.stat().st_size
    loaded = load(log.dir, clean_shutdown=True)
    # No CRC is checked: the indexes and files are trusted as they are.
    assert loaded.segments[-1].next_offset == 5
    assert path.stat().st_size == size
    close(loaded)
    loaded = load(log.dir, clean_shutdown=False)
    assert loaded.segments[-1].next_offset == 3
    close(loaded)


def test_clean_shutdown_recovers_anyway_when_the_tail_is_torn(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = write_log(tmp_path, clock, batches=5)
    path = log.active_segment.log_path
    size = path.stat().st_size
    with path.open("ab") as handle:
        handle.write(make_batch(1)[:40])
    # The marker says clean, but the files contradict it: the log recovers anyway.
    loaded = load(log.dir, clean_shutdown=True)
    assert loaded.segments[-1].next_offset == 5
    assert loaded.segments[-1].size == size == path.stat().st_size
    close(loaded)


def test_leftovers_go_and_an_empty_directory_gets_one_segment(tmp_path: Path) -> None:
    directory = tmp_path / "events-0"
    directory.mkdir()
    leftovers = ["x.tmp", "00000000000000000000.log.deleted", "00000000000000000000.log.cleaned"]
    for name in leftovers:
        (directory / name).write_bytes(b"junk")
    loaded = load(directory, clean_shutdown=False)
    assert not any((directory / name).exists() for name in leftovers)
    assert [s.base_offset for s in loaded.segments] == [0] and loaded.segments[0].is_empty
    assert loaded.log_start_offset == 0 and loaded.aborted_txns == []
    assert loaded.epoch_cache.latest_epoch == 0
    assert decode_topic_id((directory / PARTITION_METADATA).read_text()) == TOPIC_ID
    close(loaded)
