"""Retention (Kafka's UnifiedLog.deleteOldSegments): by time (retention.ms), by size
(retention.bytes), by log start offset (DeleteRecords); two-step deletion through ``*.deleted``
files removed after file.delete.delay.ms (LogMaintenance)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from odradek.common.clock import FakeClock
from odradek.common.errors import OffsetOutOfRangeError
from odradek.config.broker import build_broker_config
from odradek.config.topic import LogConfig
from odradek.protocol.records.codec import decode_batches, encode_batch
from odradek.server.log_maintenance import LogMaintenance
from odradek.storage.checkpoint import read_offset_checkpoint
from odradek.storage.cleaner.job import clean
from odradek.storage.cleaner.manager import LogCleanerManager
from odradek.storage.files import LOG_START_OFFSET_CHECKPOINT, filename_prefix
from odradek.storage.log import Log
from odradek.storage.log_manager import LogManager
from tests.unit.storage.helpers import T0, TOPIC_ID, TP, append, log_config, open_log

HOUR = 3_600_000


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def config(**overrides: Any) -> LogConfig:
    return log_config(**overrides)


def put(log: Log, key: bytes, ts: int, value: bytes = b"v" * 100) -> int:
    return append(log, encode_batch([(key, value)], timestamp=ts)).first_offset


def fill(log: Log, segments: int, per_segment: int = 3, ts: int = T0) -> None:
    """``segments`` closed segments of ``per_segment`` records, then one record in the active
    segment."""
    for _ in range(segments):
        for _ in range(per_segment):
            put(log, b"k", ts)
        log.roll()
    put(log, b"k", ts)


def bases(log: Log) -> list[int]:
    return [s.base_offset for s in log.segments]


def files(log: Log, suffix: str = ".log") -> list[int]:
    return sorted(int(p.name.split(".")[0]) for p in log.dir.glob("*" + suffix))


def deleted_files(log: Log) -> list[str]:
    return sorted(p.name for p in log.dir.glob("*.deleted"))


def first_offset_read(log: Log) -> int:
    data = log.read(log.log_start_offset, 1 << 20).records
    return next(iter(decode_batches(data))).header.base_offset


# -- retention.ms --------------------------------------------------------------------------------


def test_retention_ms_deletes_expired_segments_only(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, config(retention_ms=HOUR))
    for ts in (T0 - 3 * HOUR, T0 - 2 * HOUR, T0 - HOUR // 2):
        for _ in range(3):
            put(log, b"k", ts)
        log.roll()
    put(log, b"k", T0)
    assert bases(log) == [0, 3, 6, 9]
    assert log.delete_old_segments(clock.now_ms) == 2
    assert bases(log) == [6, 9] and log.log_start_offset == 6
    assert files(log) == [6, 9]
    assert deleted_files(log) == sorted(
        f"{filename_prefix(b)}{s}.deleted" for b in (0, 3) for s in (".log", ".index", ".timeindex")
    )
    assert sorted(p.name for p in log.pending_deletes) == deleted_files(log)
    with pytest.raises(OffsetOutOfRangeError):
        log.read(5, 1000)
    assert first_offset_read(log) == 6
    assert log.delete_old_segments(clock.now_ms) == 0
    log.close()


def test_retention_ms_is_a_strict_bound(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, config(retention_ms=HOUR))
    fill(log, 1, ts=T0 - HOUR)
    assert log.delete_old_segments(clock.now_ms) == 0  # exactly retention.ms old: kept
    clock.advance(1)
    assert log.delete_old_segments(clock.now_ms) == 2  # (the active segment too)
    log.close()


def test_segment_expires_by_its_newest_record(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, config(retention_ms=HOUR))
    put(log, b"k", T0 - 5 * HOUR)
    put(log, b"k", T0 - HOUR // 2)  # one young record keeps the whole segment
    log.roll()
    put(log, b"k", T0)
    assert log.delete_old_segments(clock.now_ms) == 0
    log.close()


def test_all_expired_rolls_and_deletes_the_active_segment(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, config(retention_ms=HOUR))
    fill(log, 2, ts=T0 - 2 * HOUR)
    assert log.log_end_offset == 7
    assert log.delete_old_segments(clock.now_ms) == 3
    assert bases(log) == [7] and log.log_start_offset == 7 == log.log_end_offset
    assert log.active_segment.is_empty
    assert put(log, b"k", T0) == 7  # offsets go on
    assert first_offset_read(log) == 7
    log.close()


def test_segments_without_timestamps_expire_by_file_time(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, config(retention_ms=HOUR))
    put(log, b"k", -1)  # NO_TIMESTAMP
    log.roll()
    put(log, b"k", T0)
    old = (T0 - 2 * HOUR) / 1000
    os.utime(log.segments[0].log_path, (old, old))
    assert log.delete_old_segments(clock.now_ms) == 1
    log.close()


def test_infinite_retention(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, config(retention_ms=-1, retention_bytes=-1))
    fill(log, 3, ts=T0 - 1000 * HOUR)
    assert log.delete_old_segments(clock.now_ms) == 0
    log.close()


# -- retention.bytes -----------------------------------------------------------------------------


def test_retention_bytes_deletes_oldest_segments_while_the_rest_fits(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = open_log(tmp_path, clock, config(retention_bytes=1000))
    fill(log, 5)
    sizes = [s.size for s in log.segments]
    excess, expected = sum(sizes) - 1000, 0
    for size in sizes:  # Kafka's deleteRetentionSizeBreachedSegments
        if excess - size < 0:
            break
        excess -= size
        expected += 1
    assert 0 < expected < 5
    assert log.delete_old_segments(clock.now_ms) == expected
    assert log.size_in_bytes >= 1000 > log.size_in_bytes - log.segments[0].size
    assert log.log_start_offset == log.segments[0].base_offset == 3 * expected
    assert files(log) == bases(log)
    log.close()


def test_retention_bytes_keeps_the_log_at_or_under_the_limit(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = open_log(tmp_path, clock, config(retention_bytes=10**9))
    fill(log, 4)
    assert log.delete_old_segments(clock.now_ms) == 0
    log.update_config(config(retention_bytes=0))
    assert log.delete_old_segments(clock.now_ms) == 5  # everything, active segment included
    assert log.log_start_offset == log.log_end_offset == 13
    log.close()


def test_compact_only_logs_ignore_time_and_size(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(
        tmp_path, clock, config(cleanup_policy=["compact"], retention_ms=1, retention_bytes=0)
    )
    fill(log, 3, ts=T0 - HOUR)
    assert log.delete_old_segments(clock.now_ms) == 0
    log.update_config(config(cleanup_policy=["compact", "delete"], retention_ms=1))
    assert log.delete_old_segments(clock.now_ms) == 4
    log.close()


# -- log start offset (DeleteRecords) ------------------------------------------------------------


def test_delete_records_moves_start_and_drops_whole_segments(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = open_log(tmp_path, clock, config())
    fill(log, 4)
    assert log.delete_records_before(7) == 7
    assert log.log_start_offset == 7
    assert bases(log) == [6, 9, 12]  # 0 and 3 lie wholly below 7; 6 holds 7 and 8
    assert files(log) == [6, 9, 12]
    assert len(deleted_files(log)) == 6
    with pytest.raises(OffsetOutOfRangeError):
        log.read(6, 1000)
    assert first_offset_read(log) == 7
    assert log.delete_records_before(2) == 7  # below the start: no change
    with pytest.raises(OffsetOutOfRangeError):
        log.delete_records_before(log.high_watermark + 1)
    assert log.delete_records_before(9) == 9 and bases(log) == [9, 12]
    assert log.delete_records_before(log.high_watermark) == 13
    assert bases(log) == [12]  # the active segment holds the last record: it stays
    log.close()


def test_retention_deferred_while_cleaning(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, config(cleanup_policy=["compact", "delete"], retention_ms=HOUR))
    fill(log, 2, ts=T0 - 2 * HOUR)
    log.cleaning = True
    assert log.delete_old_segments(clock.now_ms) == 0
    assert log.delete_records_before(4) == 4 and bases(log) == [0, 3, 6]
    log.cleaning = False
    assert log.delete_old_segments(clock.now_ms) == 3
    log.close()


def test_reopen_after_retention(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, config())
    fill(log, 3)
    log.delete_records_before(4)
    leftovers = deleted_files(log)
    assert leftovers
    log.flush()
    log.close()
    again = open_log(tmp_path, clock, config(), log_start_offset=4)
    assert deleted_files(again) == []  # Kafka deletes *.deleted files at load
    assert again.log_start_offset == 4 and bases(again) == [3, 6, 9]
    assert first_offset_read(again) == 4
    again.close()


# -- LogMaintenance: the retention pass and file.delete.delay.ms ---------------------------------


class Harness:
    def __init__(self, tmp_path: Path, clock: FakeClock) -> None:
        data = tmp_path / "data"
        self.config = build_broker_config(
            {"log.dirs": str(data), "log.retention.check.interval.ms": "50"}
        )
        self.clock = clock
        self.log_manager = LogManager([data], clock)
        self.log_manager.startup(0, None)
        self.maintenance = LogMaintenance(self)


@pytest.fixture
def harness(tmp_path: Path, clock: FakeClock) -> Iterator[Harness]:
    h = Harness(tmp_path, clock)
    yield h
    for log in h.log_manager.logs.values():
        log.close()


async def test_deleted_files_removed_after_file_delete_delay(harness: Harness) -> None:
    log = harness.log_manager.get_or_create_log(
        TP, TOPIC_ID, config(retention_ms=HOUR, file_delete_delay_ms=300)
    )
    fill(log, 2, ts=T0 - 2 * HOUR)
    put(log, b"k", T0)
    assert harness.maintenance.run_retention() == 2
    assert log.pending_deletes == []
    assert len(deleted_files(log)) == 6
    start = read_offset_checkpoint(harness.log_manager.log_dirs[0] / LOG_START_OFFSET_CHECKPOINT)
    assert start == {TP: 6}  # the new log start offset is checkpointed at once
    harness.maintenance._delete_files(force=False)
    assert len(deleted_files(log)) == 6  # not before file.delete.delay.ms
    await asyncio.sleep(0.35)
    harness.maintenance._delete_files(force=False)
    assert deleted_files(log) == []
    assert files(log) == [6]


async def test_delete_records_files_go_with_the_next_retention_pass(harness: Harness) -> None:
    log = harness.log_manager.get_or_create_log(TP, TOPIC_ID, config(file_delete_delay_ms=0))
    fill(log, 3)
    log.delete_records_before(6)
    assert len(deleted_files(log)) == 6
    harness.maintenance.run_retention()
    harness.maintenance._delete_files(force=False)
    assert deleted_files(log) == [] and files(log) == [6, 9]


async def test_retention_survives_a_failing_pass(harness: Harness) -> None:
    log = harness.log_manager.get_or_create_log(
        TP, TOPIC_ID, config(retention_ms=HOUR, file_delete_delay_ms=0)
    )
    fill(log, 2, ts=T0 - 2 * HOUR)
    real = log.delete_old_segments
    calls = 0

    def flaky(now_ms: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("a bad segment")
        return real(now_ms)

    log.delete_old_segments = flaky  # type: ignore[method-assign]
    task = asyncio.get_running_loop().create_task(harness.maintenance._retention_loop())
    try:
        await asyncio.sleep(0.5)
        assert not task.done(), "the retention task died"
        assert calls > 1 and log.log_start_offset == 7
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ValueError):
            await task


# -- bugs ----------------------------------------------------------------------------------------


def emptied_segment_log(tmp_path: Path, clock: FakeClock, **overrides: Any) -> Log:
    """A compacted log whose first segment a cleaning emptied: [0: empty] [1: a] [2: active]."""
    log = open_log(
        tmp_path,
        clock,
        config(
            cleanup_policy=["compact", "delete"],
            min_cleanable_dirty_ratio=0.01,
            segment_bytes=200,
            **overrides,
        ),
    )
    put(log, b"a", T0 - 2 * HOUR)
    log.roll()
    put(log, b"a", T0 - 2 * HOUR)
    log.roll()
    put(log, b"z", T0)
    manager = LogCleanerManager([tmp_path])
    candidate = manager.candidate(TP, log, clock.now_ms)
    assert candidate is not None
    log.replace_segments(clean(manager.job_for(candidate, 1000, clock.now_ms)).groups)
    if not (log.segments[0].is_empty and len(log.segments) == 3):
        pytest.fail(f"precondition: first segment emptied ({bases(log)})")
    return log


@pytest.mark.parametrize("how", ["delete-records", "retention-ms"])
def test_emptied_segment_does_not_block_deletion(
    tmp_path: Path, clock: FakeClock, how: str
) -> None:
    log = emptied_segment_log(tmp_path, clock, retention_ms=HOUR)
    if how == "delete-records":
        log.delete_records_before(2)
    else:
        old = (T0 - 2 * HOUR) / 1000  # (Kafka keeps the replaced segment's mtime)
        os.utime(log.segments[0].log_path, (old, old))
        log.delete_old_segments(clock.now_ms)
    assert bases(log) == [2]
    assert files(log) == [2]
    log.close()
