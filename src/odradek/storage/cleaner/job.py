"""One cleaning of one log, as a pure function over its segment files — run in a worker
process so the event loop never waits for it. It writes ``.cleaned`` segments and reports
what to swap in; it never touches the live segments."""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from odradek.protocol.records.batch import HEADER_SIZE, BatchHeader, read_header
from odradek.protocol.records.codec import Record, decode_records, rebuild_batch
from odradek.storage.cleaner.offset_map import OffsetMap
from odradek.storage.files import filename_prefix
from odradek.storage.swap import cleaned_paths

DELETE_HORIZON_FLAG = 0x40
INT32_MAX = 2**31 - 1
_INDEX_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")


def exit_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Worker-process initializer: end this worker when the broker that started it is gone.

    A broker killed with SIGKILL cannot stop its pool, and a spawn worker blocked on its call
    queue would otherwise live on as an orphan (keeping multiprocessing's resource tracker
    alive with it). The worker is re-parented when its parent dies, so polling the parent pid
    is enough, portable, and costs nothing while the broker lives."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    base_offset: int
    next_offset: int
    size: int


@dataclass(frozen=True, slots=True)
class CleanJob:
    directory: str
    segments: tuple[SegmentInfo, ...]  # from the log start up to the first uncleanable offset
    first_dirty_offset: int
    first_uncleanable_offset: int
    map_capacity: int
    segment_bytes: int
    max_index_bytes: int
    index_interval_bytes: int
    delete_retention_ms: int
    now_ms: int
    aborted: tuple[tuple[int, int, int], ...] = ()  # (producer id, first offset, last offset)

    def is_aborted(self, header: BatchHeader) -> bool:
        """Data of an aborted transaction: never kept, never mapped (Kafka's cleaner)."""
        if not header.is_transactional or header.is_control:
            return False
        return any(
            pid == header.producer_id and first <= header.base_offset <= last
            for pid, first, last in self.aborted
        )


@dataclass(slots=True)
class CleanResult:
    groups: list[tuple[int, list[int]]] = field(default_factory=list)  # (base, replaced)
    end_offset: int = 0  # the new first dirty offset
    bytes_read: int = 0
    bytes_written: int = 0
    records_removed: int = 0
    # producer id -> whether its transaction being scanned still has data (markers of
    # transactions without data are obsolete)
    txn_has_data: dict[int, bool] = field(default_factory=dict)


def _batches(path: Path) -> Iterator[tuple[BatchHeader, bytes]]:
    """Whole batches, read one at a time: memory bounded by the largest batch."""
    with open(path, "rb") as handle:
        while True:
            head = handle.read(HEADER_SIZE)
            if len(head) < HEADER_SIZE:
                return
            header = read_header(head)
            rest = handle.read(header.size - HEADER_SIZE)
            if len(rest) < header.size - HEADER_SIZE:
                return
            yield header, head + rest


def _log_path(directory: Path, base: int) -> Path:
    return directory / (filename_prefix(base) + ".log")


def build_offset_map(job: CleanJob, offset_map: OffsetMap) -> int:
    """Map keys of the dirty range; returns the offset the map reaches (exclusive)."""
    directory = Path(job.directory)
    end = job.first_dirty_offset
    for segment in job.segments:
        if segment.next_offset <= job.first_dirty_offset:
            continue
        for header, raw in _batches(_log_path(directory, segment.base_offset)):
            if header.next_offset <= job.first_dirty_offset:
                continue
            if header.base_offset >= job.first_uncleanable_offset:
                return end
            if offset_map.full:
                return end
            if not header.is_control and not job.is_aborted(header):
                for record in decode_records(header, raw[HEADER_SIZE:]):
                    if record.key is not None:
                        offset_map.put(record.key, record.offset)
            end = header.next_offset
    return end


def clean(job: CleanJob) -> CleanResult:
    result = CleanResult()
    offset_map = OffsetMap(job.map_capacity)
    result.end_offset = build_offset_map(job, offset_map)
    if result.end_offset <= job.first_dirty_offset:
        return result
    directory = Path(job.directory)
    for group in _group_segments(job, result.end_offset):
        result.groups.append((group[0].base_offset, [s.base_offset for s in group]))
        _clean_group(job, directory, group, offset_map, result)
    return result


def _group_segments(job: CleanJob, end_offset: int) -> list[list[SegmentInfo]]:
    """Consecutive segments below ``end_offset``, regrouped so each group fits one segment
    (segment.bytes, offset range of an int32, index entries)."""
    groups: list[list[SegmentInfo]] = []
    current: list[SegmentInfo] = []
    size = 0
    max_index_entries = max(1, job.max_index_bytes // 8)
    for segment in job.segments:
        if segment.base_offset >= end_offset:
            break
        fits = (
            current
            and size + segment.size <= job.segment_bytes
            and segment.next_offset - current[0].base_offset <= INT32_MAX
            and (size + segment.size) // max(job.index_interval_bytes, 1) < max_index_entries
        )
        if current and not fits:
            groups.append(current)
            current, size = [], 0
        current.append(segment)
        size += segment.size
    if current:
        groups.append(current)
    return groups


def _clean_group(
    job: CleanJob,
    directory: Path,
    group: list[SegmentInfo],
    offset_map: OffsetMap,
    result: CleanResult,
) -> None:
    paths = cleaned_paths(directory, group[0].base_offset)
    writer = _SegmentWriter(
        paths.log, paths.index, paths.time_index, group[0].base_offset, job.index_interval_bytes
    )
    try:
        for segment in group:
            for header, raw in _batches(_log_path(directory, segment.base_offset)):
                result.bytes_read += len(raw)
                kept = _filter_batch(job, header, raw, offset_map, result)
                if kept is not None:
                    writer.append(kept, read_header(kept) if kept is not raw else header)
        result.bytes_written += writer.size
    finally:
        writer.close()


def _filter_batch(
    job: CleanJob, header: BatchHeader, raw: bytes, offset_map: OffsetMap, result: CleanResult
) -> bytes | None:
    if header.is_control:
        return _filter_marker(job, header, raw, result)
    if job.is_aborted(header) and header.last_offset < result.end_offset:
        result.records_removed += header.records_count
        result.txn_has_data.setdefault(header.producer_id, False)
        return None
    kept_batch = _filter_records(job, header, raw, offset_map, result)
    if header.is_transactional:
        has_data = result.txn_has_data.get(header.producer_id, False)
        result.txn_has_data[header.producer_id] = has_data or kept_batch is not None
    return kept_batch


def _filter_marker(
    job: CleanJob, header: BatchHeader, raw: bytes, result: CleanResult
) -> bytes | None:
    """A transaction marker is obsolete once its transaction has no data left in the log; it
    is then kept for delete.retention.ms more (like a tombstone) and dropped after that."""
    has_data = result.txn_has_data.pop(header.producer_id, False)
    if has_data or header.last_offset >= result.end_offset:
        return raw
    if header.attributes & DELETE_HORIZON_FLAG:
        if job.now_ms > header.base_timestamp:
            result.records_removed += header.records_count
            return None
        return raw
    records = decode_records(header, raw[HEADER_SIZE:])
    return _rebuild_batch(header, list(records), job.now_ms + job.delete_retention_ms)


def _filter_records(
    job: CleanJob, header: BatchHeader, raw: bytes, offset_map: OffsetMap, result: CleanResult
) -> bytes | None:
    records = decode_records(header, raw[HEADER_SIZE:])
    has_horizon = bool(header.attributes & DELETE_HORIZON_FLAG)
    kept: list[Record] = []
    needs_horizon = False
    for record in records:
        if record.offset >= result.end_offset:
            kept.append(record)
            continue
        if record.key is None:
            continue
        if offset_map.get(record.key) > record.offset:
            continue  # a later record has this key
        if record.value is None:
            if has_horizon and job.now_ms > header.base_timestamp:
                continue  # a tombstone past delete.retention.ms
            needs_horizon = needs_horizon or not has_horizon
        kept.append(record)
    result.records_removed += len(records) - len(kept)
    if not kept:
        return None
    if len(kept) == len(records) and not needs_horizon:
        return raw
    horizon = (
        job.now_ms + job.delete_retention_ms
        if needs_horizon
        else (header.base_timestamp if has_horizon else None)
    )
    return _rebuild_batch(header, kept, horizon)


def _rebuild_batch(header: BatchHeader, records: list[Record], horizon: int | None) -> bytes:
    """Keeps the original base offset, offset range and producer fields (so sequence numbers
    stay valid); with a delete horizon, the base timestamp carries it (Kafka's KIP-534 batch
    format) and record timestamps stay exact through their deltas."""
    attributes = header.attributes & ~DELETE_HORIZON_FLAG
    if horizon is not None:
        attributes |= DELETE_HORIZON_FLAG
    return rebuild_batch(
        header,
        records,
        compression=header.compression,
        base_timestamp=horizon,
        attributes=attributes,
    )


class _SegmentWriter:
    def __init__(
        self,
        log_path: Path,
        index_path: Path,
        time_path: Path,
        base_offset: int,
        index_interval_bytes: int,
    ) -> None:
        self.base_offset = base_offset
        self.index_interval_bytes = index_interval_bytes
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        self._index = open(index_path, "wb")  # noqa: SIM115
        self._time = open(time_path, "wb")  # noqa: SIM115
        self.size = 0
        self._since_index = 0
        self._max_ts = -1
        self._last_index_offset = -1

    def append(self, raw: bytes, header: BatchHeader) -> None:
        if (
            self.size == 0 or self._since_index >= self.index_interval_bytes
        ) and header.base_offset > self._last_index_offset:
            self._index.write(_INDEX_ENTRY.pack(header.base_offset - self.base_offset, self.size))
            self._last_index_offset = header.base_offset
            self._since_index = 0
        if header.max_timestamp > self._max_ts:
            self._max_ts = header.max_timestamp
            self._time.write(
                _TIME_ENTRY.pack(header.max_timestamp, header.last_offset - self.base_offset)
            )
        self._log.write(raw)
        self.size += len(raw)
        self._since_index += len(raw)

    def close(self) -> None:
        for handle in (self._log, self._index, self._time):
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
