"""Log compaction: candidate selection (LogCleanerManager), the cleaning job run as a plain
function, swapping the result in (Log.replace_segments), crash leftovers (swap.complete_swaps)
and the asyncio driver (LogMaintenance.clean_once, with a thread pool instead of processes).

Kafka's documented behaviour is the spec: the latest record of each key survives at its original
offset, order and offsets never change, tombstones stay for delete.retention.ms after the
cleaning that first sees them, nothing at or past the first uncleanable offset is touched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from odradek.common.clock import FakeClock
from odradek.common.ids import TopicPartition
from odradek.config.broker import build_broker_config
from odradek.config.topic import LogConfig
from odradek.protocol.records.batch import TRANSACTIONAL_FLAG, BatchHeader, read_header
from odradek.protocol.records.codec import Record, decode_batches, encode_batch
from odradek.protocol.records.compression import CompressionType
from odradek.server.log_maintenance import LogMaintenance
from odradek.storage.checkpoint import read_offset_checkpoint
from odradek.storage.cleaner.job import DELETE_HORIZON_FLAG, CleanResult, clean
from odradek.storage.cleaner.manager import LogCleanerManager
from odradek.storage.cleaner.offset_map import OffsetMap, capacity_for
from odradek.storage.dump import dump_log_file
from odradek.storage.files import CLEANER_OFFSET_CHECKPOINT, filename_prefix
from odradek.storage.log import Log
from odradek.storage.log_manager import LogManager
from odradek.storage.swap import cleaned_paths
from tests.unit.storage.helpers import T0, TOPIC_ID, TP, append, log_config, open_log

HOUR = 3_600_000
RETENTION = 10_000  # delete.retention.ms of the tests' compacted logs


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


# -- helpers ---------------------------------------------------------------------------------


def compact_config(**overrides: Any) -> LogConfig:
    settings: dict[str, Any] = {
        "cleanup_policy": ["compact"],
        "min_cleanable_dirty_ratio": 0.01,
        "delete_retention_ms": RETENTION,
    }
    settings.update(overrides)
    return log_config(**settings)


def compacted_log(tmp_path: Path, clock: FakeClock, **overrides: Any) -> Log:
    return open_log(tmp_path, clock, compact_config(**overrides))


def put(
    log: Log, *records: tuple[bytes | None, bytes | None], ts: int | None = None, **batch_args: Any
) -> int:
    """Append one batch of ``records`` (all with timestamp ``ts``); its first offset."""
    stamp = log.clock.milliseconds() if ts is None else ts
    return append(log, encode_batch(list(records), timestamp=stamp, **batch_args)).first_offset


def read_log(log: Log) -> list[Record]:
    """Every record from the log start offset to the end, in order (tolerates gaps)."""
    result: list[Record] = []
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        data = log.read(offset, 2**31 - 1).records
        if not data:
            break
        records = [r for b in decode_batches(data) for r in b.records]
        result += [r for r in records if r.offset >= offset]
        offset = max(offset, records[-1].offset + 1) if records else offset + 1
    return result


def kv(log: Log) -> list[tuple[int, bytes | None, bytes | None]]:
    return [(r.offset, r.key, r.value) for r in read_log(log)]


def headers_of(log: Log) -> list[BatchHeader]:
    return [
        read_header(segment.read(location.position, location.size))
        for segment in log.segments
        for location in segment.batches()
    ]


def clean_now(log: Log, manager: LogCleanerManager, capacity: int = 100_000) -> CleanResult | None:
    """One cleaning as LogMaintenance.clean_once does it, synchronously."""
    now = log.clock.milliseconds()
    candidate = manager.candidate(log.tp, log, now)
    if candidate is None:
        return None
    result = clean(manager.job_for(candidate, capacity, now))
    assert result.end_offset <= candidate.first_uncleanable
    log.replace_segments(result.groups)
    manager.checkpoints[log.tp] = result.end_offset
    return result


def assert_files_consistent(log: Log) -> None:
    for path in sorted(log.dir.glob("*.log")):
        report = dump_log_file(path, lambda _: None, print_records=True)
        assert report.ok, (path.name, report.problems)


def require(condition: bool, message: str) -> None:
    """A precondition of a test: failing it is never an expected failure."""
    if not condition:
        pytest.fail(f"precondition: {message}")


# -- the cleaning itself ---------------------------------------------------------------------


def test_keeps_latest_value_of_each_key_at_its_original_offset(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = compacted_log(tmp_path, clock)
    manager = LogCleanerManager([tmp_path])
    written = []
    for i in range(30):
        key, value = f"k{i % 4}".encode(), f"v{i}".encode()
        offset = put(log, (key, value), ts=T0 + i, headers=[("h", str(i).encode())])
        written.append(Record(offset, T0 + i, key, value, (("h", str(i).encode()),)))
        if i % 5 == 4:
            log.roll()
    before = log.size_in_bytes
    result = clean_now(log, manager)
    assert result is not None and result.records_removed > 0
    survivors = read_log(log)
    by_offset = {r.offset: r for r in written}
    assert all(by_offset[r.offset] == r for r in survivors)  # key, value, timestamp, headers
    assert [r.offset for r in survivors] == sorted({r.offset for r in survivors})
    latest = {r.key: r.offset for r in written if r.offset < result.end_offset}
    cleaned = [r for r in survivors if r.offset < result.end_offset]
    assert sorted(r.offset for r in cleaned) == sorted(latest.values())
    assert all(r in survivors for r in written if r.offset >= result.end_offset)
    assert log.size_in_bytes < before
    assert log.log_end_offset == 30 and log.high_watermark == 30
    assert_files_consistent(log)
    log.close()


def test_active_segment_and_beyond_first_uncleanable_untouched(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = compacted_log(tmp_path, clock)
    manager = LogCleanerManager([tmp_path])
    for i in range(6):
        put(log, (b"k", f"old{i}".encode()))
    log.roll()
    for i in range(6):
        put(log, (b"k", f"new{i}".encode()))  # the active segment: never cleaned
    result = clean_now(log, manager)
    assert result is not None and result.end_offset == 6 == log.active_segment.base_offset
    assert kv(log) == [(5, b"k", b"old5")] + [(6 + i, b"k", f"new{i}".encode()) for i in range(6)]
    assert clean_now(log, manager) is None  # nothing cleanable left
    log.close()


def test_partially_kept_batch_keeps_offsets_and_producer_fields(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = compacted_log(tmp_path, clock)
    manager = LogCleanerManager([tmp_path])
    put(
        log,
        (b"a", b"1"),
        (b"b", b"1"),
        (b"c", b"1"),
        (b"d", b"1"),
        producer_id=42,
        producer_epoch=3,
        base_sequence=0,
        headers=[("trace", b"x")],
    )
    put(log, (b"a", b"2"), (b"d", b"2"))
    log.roll()
    put(log, (b"z", b"z"))
    original = headers_of(log)[0]
    clean_now(log, manager)
    first = headers_of(log)[0]
    assert (first.base_offset, first.last_offset_delta) == (0, 3)  # offset range unchanged
    assert (first.producer_id, first.producer_epoch, first.base_sequence) == (42, 3, 0)
    assert first.records_count == 2
    assert (
        first.max_timestamp >= T0
        and first.partition_leader_epoch == original.partition_leader_epoch
    )
    assert kv(log) == [
        (1, b"b", b"1"),
        (2, b"c", b"1"),
        (4, b"a", b"2"),
        (5, b"d", b"2"),
        (6, b"z", b"z"),
    ]
    assert all(r.headers == (("trace", b"x"),) for r in read_log(log) if r.offset < 4)
    assert_files_consistent(log)  # CRCs of the rebuilt batches hold
    log.close()


@pytest.mark.parametrize("codec", [c for c in CompressionType if c != CompressionType.NONE])
def test_rebuilt_batches_keep_their_codec(
    tmp_path: Path, clock: FakeClock, codec: CompressionType
) -> None:
    log = compacted_log(tmp_path, clock)
    manager = LogCleanerManager([tmp_path])
    put(log, *[(f"k{i}".encode(), b"v" * 50) for i in range(10)], compression=int(codec))
    put(log, *[(f"k{i}".encode(), b"w" * 50) for i in range(0, 10, 2)], compression=int(codec))
    log.roll()
    put(log, (b"z", b"z"))
    clean_now(log, manager)
    headers = headers_of(log)
    assert headers[0].compression == codec and headers[0].records_count == 5
    assert [(o, k) for o, k, _ in kv(log)][:5] == [(i, f"k{i}".encode()) for i in range(1, 10, 2)]
    assert_files_consistent(log)
    log.close()


def test_keyless_records_are_removed(tmp_path: Path, clock: FakeClock) -> None:
    """Kafka's cleaner drops records without a key (e.g. written before the policy changed)."""
    log = open_log(tmp_path, clock, log_config())
    put(log, (None, b"no key"), (b"k", b"1"))
    log.update_config(compact_config())
    log.roll()
    put(log, (b"z", b"z"))
    clean_now(log, LogCleanerManager([tmp_path]))
    assert kv(log) == [(1, b"k", b"1"), (2, b"z", b"z")]
    log.close()


def test_small_cleaned_segments_are_merged_within_segment_bytes(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = compacted_log(tmp_path, clock, segment_bytes=1024)
    manager = LogCleanerManager([tmp_path])
    for i in range(200):  # every segment keeps a few unique keys: none is emptied
        key = f"u{i}" if i % 4 == 0 else f"k{i % 5}"
        put(log, (key.encode(), f"v{i}".encode().ljust(40, b".")))
    segments_before = len(log.segments)
    require(segments_before > 10, f"only {segments_before} segments")
    clean_now(log, manager)  # groups by the sizes before cleaning, as Kafka does
    put(log, (b"k0", b"again"))
    log.roll()
    put(log, (b"z", b"z"))
    clean_now(log, manager)  # now the small cleaned segments go together
    assert len(log.segments) < segments_before / 2
    assert all(s.size <= 1024 for s in log.segments)
    assert [s.base_offset for s in log.segments] == sorted({s.base_offset for s in log.segments})
    assert {k for _, k, _ in kv(log)} >= {f"k{i}".encode() for i in range(5)}
    assert_files_consistent(log)
    log.close()


@pytest.mark.parametrize("clean_shutdown", [True, False])
def test_cleaned_log_reopens_identically(
    tmp_path: Path, clock: FakeClock, clean_shutdown: bool
) -> None:
    log = compacted_log(tmp_path, clock, segment_bytes=2048)
    manager = LogCleanerManager([tmp_path])
    for i in range(120):
        put(log, (f"k{i % 7}".encode(), f"v{i}".encode() * 5))
    put(log, (b"k1", None))
    for i in range(20):
        put(log, (f"x{i}".encode(), b"x"))
    clean_now(log, manager)
    expected, end, start = kv(log), log.log_end_offset, log.log_start_offset
    log.flush()
    log.close()
    reopened = open_log(
        tmp_path,
        clock,
        compact_config(segment_bytes=2048),
        clean_shutdown=clean_shutdown,
        recovery_point=0 if not clean_shutdown else end,
    )
    assert (reopened.log_start_offset, reopened.log_end_offset) == (start, end)
    assert kv(reopened) == expected
    assert_files_consistent(reopened)
    reopened.close()


def test_full_offset_map_cleans_in_rounds(tmp_path: Path, clock: FakeClock) -> None:
    log = compacted_log(tmp_path, clock, segment_bytes=512)
    manager = LogCleanerManager([tmp_path])
    for i in range(60):
        put(log, (f"k{i % 6}".encode(), f"v{i}".encode()))
    first_uncleanable = log.active_segment.base_offset
    ends = []
    for _ in range(30):
        result = clean_now(log, manager, capacity=2)
        if result is None:
            break
        ends.append(result.end_offset)
        survivors = kv(log)
        assert [o for o, _, _ in survivors] == sorted({o for o, _, _ in survivors})
    assert len(ends) > 1 and ends == sorted(ends) and ends[0] < first_uncleanable
    assert ends[-1] == first_uncleanable
    latest = {f"k{i % 6}".encode(): i for i in range(60)}
    survivors = kv(log)
    assert all((offset, key, f"v{offset}".encode()) in survivors for key, offset in latest.items())
    log.close()


def test_offset_map_capacity_follows_dedupe_buffer() -> None:
    assert capacity_for(134_217_728, 1) == int(134_217_728 * 0.9) // 24
    assert capacity_for(1000, 2) == int(500 * 0.9) // 24
    offset_map = OffsetMap(2)
    offset_map.put(b"a", 1)
    offset_map.put(b"a", 5)
    assert (offset_map.get(b"a"), offset_map.get(b"b"), offset_map.full) == (5, -1, False)
    offset_map.put(b"b", 6)
    assert offset_map.full and offset_map.latest_offset == 6


# -- tombstones --------------------------------------------------------------------------------


def test_tombstone_kept_until_delete_horizon_then_removed(tmp_path: Path, clock: FakeClock) -> None:
    log = compacted_log(tmp_path, clock)
    manager = LogCleanerManager([tmp_path])
    put(log, (b"gone", b"v1"), (b"stay", b"s1"))
    put(log, (b"gone", b"v2"))
    tombstone_ts = T0 - 5 * HOUR  # the record's own timestamp plays no part in the horizon
    tombstone = put(log, (b"gone", None), ts=tombstone_ts)
    log.roll()
    put(log, (b"filler", b"0"))

    clock.advance(HOUR)  # the horizon counts from the first cleaning, not from the append
    clean_now(log, manager)
    assert (tombstone, b"gone", None) in kv(log)
    assert [k for _, k, _ in kv(log)].count(b"gone") == 1  # the older values went at once
    (batch,) = [h for h in headers_of(log) if h.base_offset == tombstone]
    assert batch.attributes & DELETE_HORIZON_FLAG
    assert batch.base_timestamp == clock.now_ms + RETENTION  # Kafka's deleteHorizonMs
    assert [r.timestamp for r in read_log(log) if r.offset == tombstone] == [tombstone_ts]
    horizon = clock.now_ms + RETENTION

    clock.advance(RETENTION - 1)  # a later cleaning before the horizon keeps it
    log.roll()
    put(log, (b"filler", b"1"))
    require(clean_now(log, manager) is not None, "no second cleaning")
    assert (tombstone, b"gone", None) in kv(log)

    clock.now_ms = horizon + 1  # past the horizon: the next cleaning removes it
    log.roll()
    put(log, (b"filler", b"2"))
    require(clean_now(log, manager) is not None, "no third cleaning")
    assert b"gone" not in [k for _, k, _ in kv(log)]
    assert (1, b"stay", b"s1") in kv(log)
    assert_files_consistent(log)
    log.close()


def test_tombstone_in_dirty_tail_beyond_offset_map_is_kept(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = compacted_log(tmp_path, clock, segment_bytes=200)
    manager = LogCleanerManager([tmp_path])
    for i in range(8):
        put(log, (f"k{i}".encode(), b"v"))
    put(log, (b"k0", None))
    log.roll()
    put(log, (b"z", b"z"))
    clock.advance(10 * RETENTION)
    result = clean_now(log, manager, capacity=2)
    require(result is not None and result.end_offset < 8, "the map should fill before 8")
    assert (8, b"k0", None) in kv(log) and (0, b"k0", b"v") in kv(log)
    log.close()


# -- candidate selection (LogCleanerManager) -------------------------------------------------


def test_non_compacted_or_busy_logs_are_not_candidates(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, log_config())
    manager = LogCleanerManager([tmp_path])
    for _ in range(3):
        put(log, (b"k", b"v"))
        log.roll()
    assert manager.candidate(TP, log, clock.now_ms) is None
    log.update_config(compact_config())
    assert manager.candidate(TP, log, clock.now_ms) is not None
    log.cleaning = True
    assert manager.candidate(TP, log, clock.now_ms) is None
    log.cleaning = False
    manager.mark_uncleanable(TP, RuntimeError("boom"))
    assert manager.candidate(TP, log, clock.now_ms) is None
    log.close()


def test_dirty_ratio_threshold(tmp_path: Path, clock: FakeClock) -> None:
    log = compacted_log(tmp_path, clock, min_cleanable_dirty_ratio=0.5)
    manager = LogCleanerManager([tmp_path])
    for i in range(40):
        put(log, (f"k{i}".encode(), b"v" * 20))
    log.roll()
    put(log, (b"z", b"z"))
    candidate = manager.candidate(TP, log, clock.now_ms)
    assert candidate is not None and candidate.dirty_ratio == 1.0
    clean_now(log, manager)
    put(log, (b"k0", b"v" * 20))  # a little dirt: ratio well below 0.5
    log.roll()
    put(log, (b"z", b"z"))
    assert manager.candidate(TP, log, clock.now_ms) is None
    log.update_config(compact_config(min_cleanable_dirty_ratio=0.01))
    candidate = manager.candidate(TP, log, clock.now_ms)
    assert candidate is not None and 0 < candidate.dirty_ratio < 0.5
    log.close()


def test_min_compaction_lag_bounds_first_uncleanable(tmp_path: Path, clock: FakeClock) -> None:
    log = compacted_log(tmp_path, clock, min_compaction_lag_ms=60_000)
    manager = LogCleanerManager([tmp_path])
    put(log, (b"k", b"1"), ts=T0 - HOUR)
    log.roll()
    put(log, (b"k", b"2"), ts=T0 - HOUR)
    log.roll()
    young = put(log, (b"k", b"3"), ts=T0 - 1000)
    log.roll()
    put(log, (b"z", b"z"))
    candidate = manager.candidate(TP, log, clock.now_ms)
    assert candidate is not None and candidate.first_uncleanable == young
    clean_now(log, manager)
    assert kv(log) == [(1, b"k", b"2"), (2, b"k", b"3"), (3, b"z", b"z")]
    clock.advance(60_000)
    clean_now(log, manager)
    assert kv(log) == [(2, b"k", b"3"), (3, b"z", b"z")]
    log.close()


def test_max_compaction_lag_makes_a_log_overdue(tmp_path: Path, clock: FakeClock) -> None:
    log = compacted_log(tmp_path, clock, min_cleanable_dirty_ratio=0.9, max_compaction_lag_ms=HOUR)
    manager = LogCleanerManager([tmp_path])
    for i in range(20):
        put(log, (f"k{i}".encode(), b"v"))
    log.roll()
    put(log, (b"z", b"z"))
    clean_now(log, manager)
    put(log, (b"k1", b"again"))
    log.roll()
    put(log, (b"z", b"z"))
    assert manager.candidate(TP, log, clock.now_ms) is None
    clock.advance(HOUR + 1)
    candidate = manager.candidate(TP, log, clock.now_ms)
    assert candidate is not None and candidate.overdue
    log.close()


def test_grab_filthiest_picks_the_dirtiest_log(tmp_path: Path, clock: FakeClock) -> None:
    manager = LogCleanerManager([tmp_path])
    logs = {}
    for name, dirty in (("low", 2), ("high", 20)):
        tp = TopicPartition(name, 0)
        log = Log(tmp_path / f"{name}-0", tp, TOPIC_ID, compact_config(), clock)
        for i in range(20):
            put(log, (f"k{i}".encode(), b"v"))
        log.roll()
        put(log, (b"z", b"z"))
        clean_now(log, manager)
        for i in range(dirty):
            put(log, (f"k{i}".encode(), b"w"))
        log.roll()
        put(log, (b"z", b"z"))
        logs[tp] = log
    best = manager.grab_filthiest(logs, clock.now_ms)
    assert best is not None and best.tp.topic == "high"
    for log in logs.values():
        log.close()


def test_checkpoints_survive_a_new_manager(tmp_path: Path, clock: FakeClock) -> None:
    log = compacted_log(tmp_path, clock)
    manager = LogCleanerManager([tmp_path])
    for i in range(5):
        put(log, (b"k", str(i).encode()))
    log.roll()
    put(log, (b"z", b"z"))
    clean_now(log, manager)
    manager.write_checkpoints({TP: log})
    assert read_offset_checkpoint(tmp_path / CLEANER_OFFSET_CHECKPOINT) == {TP: 5}
    again = LogCleanerManager([tmp_path])
    assert again.checkpoints == {TP: 5}
    assert again.candidate(TP, log, clock.now_ms) is None
    log.close()


# -- crash leftovers: .cleaned and .swap files (swap.complete_swaps at load) ----------------


KV = list[tuple[int, bytes | None, bytes | None]]
SWAP_SEGMENT_BYTES = 1500


def prepared_cleaning(tmp_path: Path, clock: FakeClock) -> tuple[Log, CleanResult, KV, KV]:
    """A closed log whose cleaning has run (its .cleaned files written) but was not swapped
    in; the records a completed swap must leave, and the records as they were."""
    log = compacted_log(tmp_path, clock, segment_bytes=SWAP_SEGMENT_BYTES)
    manager = LogCleanerManager([tmp_path])
    for i in range(40):
        put(log, (f"k{i % 3}".encode(), f"v{i}".encode().ljust(30, b".")))
        if i % 5 == 4:
            log.roll()  # small segments: the cleaning groups several of them
    put(log, (b"last", b"x"))
    candidate = manager.candidate(TP, log, clock.now_ms)
    assert candidate is not None
    result = clean(manager.job_for(candidate, 1000, clock.now_ms))
    require(any(len(replaced) > 1 for _, replaced in result.groups), "no multi-segment group")
    everything = kv(log)
    latest = {}
    for offset, key, value in everything:
        if offset < result.end_offset:
            latest[key] = (offset, key, value)
    expected = sorted(latest.values()) + [r for r in everything if r[0] >= result.end_offset]
    log.flush()
    log.close()
    return log, result, expected, everything


def reopen(tmp_path: Path, clock: FakeClock, clean_shutdown: bool) -> Log:
    return open_log(
        tmp_path,
        clock,
        compact_config(segment_bytes=SWAP_SEGMENT_BYTES),
        clean_shutdown=clean_shutdown,
    )


def rename(path: Path, suffix_from: str, suffix_to: str) -> None:
    os.replace(path, path.with_name(path.name.removesuffix(suffix_from) + suffix_to))


def group_files(directory: Path, base: int, suffix: str = "") -> list[Path]:
    prefix = filename_prefix(base)
    return [directory / f"{prefix}{ext}{suffix}" for ext in (".index", ".timeindex", ".log")]


def assert_recovered(log: Log, cleaned: KV, original: KV) -> None:
    """No leftovers, consistent files, and every record as it was written: at least what the
    cleaning kept, at most what was there before (like Kafka's LogLoader, a swap replaces the
    segments overlapping its own offsets, so an old segment that the cleaning emptied at the
    tail of a group may come back — with the same records at the same offsets)."""
    names = {p.name for p in log.dir.iterdir()}
    assert not [n for n in names if n.endswith((".cleaned", ".swap"))], names
    records = kv(log)
    assert [o for o, _, _ in records] == sorted({o for o, _, _ in records})
    assert set(cleaned) <= set(records) <= set(original)
    assert_files_consistent(log)


@pytest.mark.parametrize("clean_shutdown", [True, False])
def test_leftover_cleaned_files_are_discarded(
    tmp_path: Path, clock: FakeClock, clean_shutdown: bool
) -> None:
    log, _, _, original = prepared_cleaning(tmp_path, clock)
    require(bool(list(log.dir.glob("*.cleaned"))), "no .cleaned files")
    log = reopen(tmp_path, clock, clean_shutdown)
    assert_recovered(log, original, original)
    log.close()


@pytest.mark.parametrize("clean_shutdown", [True, False])
def test_crash_between_index_and_log_renames_keeps_old_segments(
    tmp_path: Path, clock: FakeClock, clean_shutdown: bool
) -> None:
    log, result, _, original = prepared_cleaning(tmp_path, clock)
    base, _ = next(g for g in result.groups if len(g[1]) > 1)
    index, time_index, _ = group_files(log.dir, base, ".cleaned")
    rename(index, ".cleaned", ".swap")
    rename(time_index, ".cleaned", ".swap")  # .log.cleaned not renamed: no commit
    log = reopen(tmp_path, clock, clean_shutdown)
    assert_recovered(log, original, original)
    log.close()


@pytest.mark.parametrize("clean_shutdown", [True, False])
@pytest.mark.parametrize("stage", ["committed", "old-segments-half-deleted", "half-renamed"])
def test_committed_swap_is_completed_at_load(
    tmp_path: Path, clock: FakeClock, clean_shutdown: bool, stage: str
) -> None:
    log, result, cleaned, original = prepared_cleaning(tmp_path, clock)
    for base, replaced in result.groups:  # every group reaches its commit point
        for path in group_files(log.dir, base, ".cleaned"):
            rename(path, ".cleaned", ".swap")
        if stage in ("old-segments-half-deleted", "half-renamed"):
            for old in replaced[1:]:  # _finish removed some of the replaced files
                (log.dir / f"{filename_prefix(old)}.index").unlink()
                if old != replaced[-1]:
                    (log.dir / f"{filename_prefix(old)}.log").unlink()
        if stage == "half-renamed":
            index, time_index, _ = group_files(log.dir, base, ".swap")
            rename(index, ".swap", "")
            rename(time_index, ".swap", "")
    log = reopen(tmp_path, clock, clean_shutdown)
    assert_recovered(log, cleaned, original)
    for base, replaced in result.groups:  # what the swap covers is replaced
        swapped = [s for s in log.segments if s.base_offset == base]
        assert len(swapped) == 1
        covered = [b for b in replaced if b != base and b < swapped[0].next_offset]
        assert not [b for b in covered if (log.dir / f"{filename_prefix(b)}.log").exists()]
    log.close()


def test_committed_swap_of_a_group_whose_tail_was_emptied(tmp_path: Path, clock: FakeClock) -> None:
    """The last segment of a group lost all its records: after a crash at the commit point the
    log is still consistent and keeps the latest value of every key."""
    log = compacted_log(tmp_path, clock, segment_bytes=400)
    manager = LogCleanerManager([tmp_path])
    put(log, (b"a", b"1".ljust(60, b".")))
    put(log, (b"b", b"1".ljust(60, b".")))
    log.roll()
    put(log, (b"c", b"1"))
    log.roll()
    put(log, (b"c", b"2"))
    put(log, (b"a", b"2"))
    log.roll()
    put(log, (b"z", b"z"))
    candidate = manager.candidate(TP, log, clock.now_ms)
    assert candidate is not None
    result = clean(manager.job_for(candidate, 1000, clock.now_ms))
    require(result.groups[0][1] == [0, 2], f"unexpected groups {result.groups}")
    original = kv(log)
    log.close()
    for path in group_files(log.dir, 0, ".cleaned"):
        rename(path, ".cleaned", ".swap")
    log = open_log(tmp_path, clock, compact_config(segment_bytes=400), clean_shutdown=False)
    assert_recovered(log, [], original)
    latest = {k: (o, v) for o, k, v in kv(log)}
    assert latest == {
        b"b": (1, b"1".ljust(60, b".")),
        b"c": (3, b"2"),
        b"a": (4, b"2"),
        b"z": (5, b"z"),
    }
    log.close()


def test_cleaned_paths_names() -> None:
    paths = cleaned_paths(Path("/d"), 42)
    assert [p.name for p in paths.all()] == [
        f"{filename_prefix(42)}{s}.cleaned" for s in (".log", ".index", ".timeindex")
    ]


# -- transactions -------------------------------------------------------------------------


def test_cleaning_stops_at_the_last_stable_offset(tmp_path: Path, clock: FakeClock) -> None:
    """Seed 004: firstUncleanableDirtyOffset = min(LSO, active segment base, min.compaction.lag):
    a record of an open transaction must not supersede the committed value of its key."""
    log = compacted_log(tmp_path, clock)
    manager = LogCleanerManager([tmp_path])
    put(log, (b"k", b"committed"))
    put(
        log,
        (b"k", b"in-flight"),
        producer_id=7,
        producer_epoch=0,
        base_sequence=0,
        attributes=TRANSACTIONAL_FLAG,
    )
    log.roll()
    put(log, (b"z", b"z"))
    require(log.last_stable_offset == 1, f"LSO {log.last_stable_offset}")
    clean_now(log, manager)
    assert (0, b"k", b"committed") in data_kv(log)


def test_aborted_records_do_not_supersede(tmp_path: Path, clock: FakeClock) -> None:
    """Kafka's cleaner leaves aborted transactional records out of the offset map and removes
    them: an aborted write never deletes the committed value of its key."""
    from odradek.protocol.records.control import encode_marker

    log = compacted_log(tmp_path, clock)
    manager = LogCleanerManager([tmp_path])
    put(log, (b"k", b"committed"))
    put(
        log,
        (b"k", b"aborted"),
        producer_id=7,
        producer_epoch=0,
        base_sequence=0,
        attributes=TRANSACTIONAL_FLAG,
    )
    append(log, encode_marker(7, 0, False, 0, clock.now_ms))
    log.roll()
    put(log, (b"z", b"z"))
    require(log.last_stable_offset == log.log_end_offset, "transaction still open")
    clean_now(log, manager)
    assert (0, b"k", b"committed") in data_kv(log)
    assert (1, b"k", b"aborted") not in kv(log)


# -- the asyncio driver, with a thread pool --------------------------------------------------


class HookedExecutor(ThreadPoolExecutor):
    """Runs ``hook`` on the loop thread just before handing each job to a worker."""

    def __init__(self, hook: Callable[[], None] | None = None) -> None:
        super().__init__(max_workers=1)
        self.hook = hook

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        return super().submit(fn, *args, **kwargs)


class Harness:
    """Just enough of a BrokerServer for LogMaintenance: config, clock, a real LogManager."""

    def __init__(
        self, tmp_path: Path, clock: FakeClock, executor: HookedExecutor | None = None
    ) -> None:
        data = tmp_path / "data"
        self.config = build_broker_config({"log.dirs": str(data)})
        self.clock = clock
        self.log_manager = LogManager([data], clock)
        self.log_manager.startup(0, None)
        self.maintenance = LogMaintenance(self)
        self.executor = executor or HookedExecutor()
        self.maintenance._pool = self.executor  # type: ignore[assignment]

    def create_log(self, **overrides: Any) -> Log:
        return self.log_manager.get_or_create_log(TP, TOPIC_ID, compact_config(**overrides))

    async def clean_once(self) -> bool:
        return await self.maintenance.clean_once(asyncio.get_running_loop())

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        for log in self.log_manager.logs.values():
            log.close()


@pytest.fixture
def harness(tmp_path: Path, clock: FakeClock) -> Iterator[Harness]:
    h = Harness(tmp_path, clock)
    yield h
    h.close()


async def test_clean_once_swaps_in_and_checkpoints(harness: Harness) -> None:
    log = harness.create_log()
    for i in range(10):
        put(log, (b"k", str(i).encode()))
    log.roll()
    put(log, (b"z", b"z"))
    assert await harness.clean_once()
    assert not log.cleaning
    assert kv(log) == [(9, b"k", b"9"), (10, b"z", b"z")]
    checkpoint = harness.log_manager.log_dirs[0] / CLEANER_OFFSET_CHECKPOINT
    assert read_offset_checkpoint(checkpoint) == {TP: 10}
    assert harness.maintenance.cleanings == 1
    assert not await harness.clean_once()  # nothing left to do


async def test_clean_once_failure_marks_the_log_uncleanable(harness: Harness) -> None:
    log = harness.create_log()
    for i in range(3):
        put(log, (b"k", str(i).encode()))
        log.roll()
    put(log, (b"z", b"z"))
    damaged = bytearray(log.segments[1].log_path.read_bytes())
    damaged[61:] = b"\xff" * (len(damaged) - 61)  # records that cannot be decoded
    log.segments[1].log_path.write_bytes(bytes(damaged))
    harness.executor.hook = None
    assert await harness.clean_once()
    assert TP in harness.maintenance.cleaner.uncleanable
    assert harness.maintenance.cleaner.candidate(TP, log, harness.clock.now_ms) is None


# -- bugs ---------------------------------------------------------------------------------------


async def test_cleaning_across_an_emptied_segment(harness: Harness) -> None:
    log = harness.create_log(segment_bytes=250)
    put(log, (b"x", b"1"))
    log.roll()
    put(log, (b"a", b"A" * 150))
    log.roll()
    put(log, (b"a", b"2"))  # empties the segment before it at the first cleaning
    log.roll()
    put(log, (b"y", b"1"))
    log.roll()
    put(log, (b"z", b"1"))
    assert await harness.clean_once()
    put(log, (b"x", b"2"))  # supersedes x@0
    log.roll()
    put(log, (b"z", b"2"))
    assert await harness.clean_once()
    while await harness.clean_once():
        pass
    keys = [k for o, k, _ in kv(log) if o < log.active_segment.base_offset]
    assert keys.count(b"x") == 1, kv(log)


def test_emptied_segments_are_merged_away(tmp_path: Path, clock: FakeClock) -> None:
    log = compacted_log(tmp_path, clock, segment_bytes=1024)
    manager = LogCleanerManager([tmp_path])
    for i in range(200):
        put(log, (f"k{i % 5}".encode(), f"v{i}".encode().ljust(40, b".")))
    clean_now(log, manager)
    require(sum(s.is_empty for s in log.segments) > 10, "the first cleaning empties segments")
    put(log, (b"k0", b"again"))
    log.roll()
    put(log, (b"z", b"z"))
    clean_now(log, manager)
    assert [s.base_offset for s in log.segments if s.is_empty and s is not log.active_segment] == []


MEMORY_PROBE = """
import json, sys
from odradek.storage.cleaner.job import CleanJob, SegmentInfo, clean

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

spec = json.loads(sys.argv[1])
spec["segments"] = tuple(SegmentInfo(**s) for s in spec["segments"])
spec["aborted"] = tuple(tuple(t) for t in spec.get("aborted", ()))
job = CleanJob(**spec)
before = peak()
result = clean(job)
print(peak() - before, result.records_removed)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (VmHWM)")
def test_cleaner_io_memory_is_bounded_by_batch_size(tmp_path: Path, clock: FakeClock) -> None:
    log = compacted_log(tmp_path, clock, segment_bytes=2**30)
    value = b"v" * 10_000
    for _ in range(40):  # 40 batches of ~1 MB: a 40 MB segment, all but the last superseded
        put(log, *[(f"k{i}".encode(), value) for i in range(100)])
    log.roll()
    put(log, (b"z", b"z"))
    manager = LogCleanerManager([tmp_path])
    candidate = manager.candidate(TP, log, clock.now_ms)
    require(candidate is not None and log.segments[0].size > 40_000_000, "a 40 MB segment")
    assert candidate is not None
    job = manager.job_for(candidate, 1_000, clock.now_ms)
    log.close()
    probe = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, json.dumps(dataclasses.asdict(job))],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    growth, removed = (int(x) for x in probe.stdout.split())
    require(removed == 3900, f"removed {removed}")
    assert growth < 16 * 2**20, f"the worker grew by {growth / 2**20:.0f} MiB"


def test_min_compaction_lag_only_looks_at_dirty_segments(tmp_path: Path, clock: FakeClock) -> None:
    log = compacted_log(tmp_path, clock)
    manager = LogCleanerManager([tmp_path])
    put(log, (b"skewed", b"1"), ts=T0 + HOUR)  # a producer with a clock an hour ahead
    log.roll()
    put(log, (b"z", b"z"), ts=T0 - HOUR)
    require(clean_now(log, manager) is not None, "first cleaning")
    put(log, (b"k", b"1"), ts=T0 - HOUR)  # every dirty record is an hour old
    log.roll()
    put(log, (b"k", b"2"), ts=T0 - HOUR)
    log.roll()
    put(log, (b"z", b"z"))
    log.update_config(compact_config(min_compaction_lag_ms=60_000))
    candidate = manager.candidate(TP, log, clock.now_ms)
    assert candidate is not None
    assert candidate.first_uncleanable == log.active_segment.base_offset


def test_max_timestamp_after_compaction_is_a_survivors(tmp_path: Path, clock: FakeClock) -> None:
    log = compacted_log(tmp_path, clock)
    manager = LogCleanerManager([tmp_path])
    append(log, encode_batch([(b"a", b"1"), (b"b", b"1")], timestamps=[T0 + 5000, T0]))
    log.roll()
    put(log, (b"a", b"2"), ts=T0 + 10)
    log.roll()
    put(log, (b"z", b"z"), ts=T0)
    clean_now(log, manager)
    require([k for _, k, _ in kv(log)] == [b"b", b"a", b"z"], f"{kv(log)}")
    assert log.max_timestamp_and_offset() == (T0 + 10, 2)


async def test_topic_deleted_mid_cleaning_does_not_poison_its_successor(harness: Harness) -> None:
    log = harness.create_log()
    for i in range(5):
        put(log, (b"k", str(i).encode()))
    log.roll()
    put(log, (b"z", b"z"))
    harness.executor.hook = lambda: harness.log_manager.delete_log(TP)
    await harness.clean_once()
    log = harness.create_log()
    for i in range(5):
        put(log, (b"k", str(i).encode()))
    log.roll()
    put(log, (b"z", b"z"))
    assert await harness.clean_once()
    assert kv(log) == [(4, b"k", b"4"), (5, b"z", b"z")]


async def test_recreated_topic_starts_fully_dirty(harness: Harness) -> None:
    log = harness.create_log()
    for i in range(30):
        put(log, (f"old{i}".encode(), b"v"))
    log.roll()
    put(log, (b"z", b"z"))
    assert await harness.clean_once()
    harness.log_manager.delete_log(TP)
    log = harness.create_log()
    for i in range(20):
        put(log, (b"a", str(i).encode()))
    for i in range(20):
        put(log, (f"b{i}".encode(), b"v"))
    log.roll()
    put(log, (b"z", b"z"))
    assert await harness.clean_once()
    assert [k for _, k, _ in kv(log)].count(b"a") == 1


# -- obsolete transaction markers -------------------------------------------------------------


def data_kv(log: Log) -> list[tuple[int, bytes | None, bytes | None]]:
    control_offsets = {h.base_offset for h in headers_of(log) if h.is_control}
    return [entry for entry in kv(log) if entry[0] not in control_offsets]


def _marker(log: Log, producer_id: int, commit: bool) -> None:
    from odradek.protocol.records.batch import validate_batches
    from odradek.protocol.records.control import encode_marker

    batch = encode_marker(producer_id, 0, commit, 0, log.clock.milliseconds())
    log.append_as_leader(batch, validate_batches(batch, 2**31 - 1), internal=True)


def test_marker_of_a_transaction_without_data_goes_after_delete_retention(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = compacted_log(tmp_path, clock)
    manager = LogCleanerManager([tmp_path])
    put(
        log,
        (b"k", b"in-txn"),
        producer_id=7,
        producer_epoch=0,
        base_sequence=0,
        attributes=TRANSACTIONAL_FLAG,
    )
    _marker(log, 7, commit=True)
    put(log, (b"k", b"later"))  # supersedes the transaction's only record
    log.roll()
    assert clean_now(log, manager) is not None
    controls = [h for h in headers_of(log) if h.is_control]
    assert len(controls) == 1 and controls[0].attributes & DELETE_HORIZON_FLAG  # kept, stamped
    assert data_kv(log) == [(2, b"k", b"later")]
    clock.advance(RETENTION + 1)
    put(log, (b"x", b"y"))
    log.roll()
    manager.checkpoints.pop(log.tp, None)  # everything dirty again: clean the whole log
    assert clean_now(log, manager) is not None
    assert not [h for h in headers_of(log) if h.is_control]  # obsolete marker removed
    assert data_kv(log) == [(2, b"k", b"later"), (3, b"x", b"y")]


def test_marker_of_a_transaction_with_data_stays(tmp_path: Path, clock: FakeClock) -> None:
    log = compacted_log(tmp_path, clock)
    manager = LogCleanerManager([tmp_path])
    put(
        log,
        (b"k", b"committed"),
        producer_id=7,
        producer_epoch=0,
        base_sequence=0,
        attributes=TRANSACTIONAL_FLAG,
    )
    _marker(log, 7, commit=True)
    put(log, (b"other", b"v"))
    log.roll()
    clean_now(log, manager)
    clock.advance(RETENTION + 1)
    put(log, (b"x", b"y"))
    log.roll()
    manager.checkpoints.pop(log.tp, None)
    clean_now(log, manager)
    controls = [h for h in headers_of(log) if h.is_control]
    assert len(controls) == 1 and not controls[0].attributes & DELETE_HORIZON_FLAG
    assert (0, b"k", b"committed") in data_kv(log)
