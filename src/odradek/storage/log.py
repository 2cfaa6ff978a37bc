"""A partition's log: an ordered list of segments, the log start/end offsets, high watermark,
appends as leader and follower, truncation, reads for fetch, rolling, time lookups (Kafka's
UnifiedLog and LocalLog). Loading and crash recovery are in :mod:`odradek.storage.log_loader`,
segment deletion in :mod:`odradek.storage.retention`, the cleaner's swap in
:mod:`odradek.storage.swap`. Not thread-safe: the broker calls it from its event loop only.

An ``OSError`` in a method that touches the files (appending, rolling, flushing, reading,
truncating, deleting, snapshots) takes the log's dir offline through its
:class:`~odradek.storage.log_dir_failure.LogDirFailureChannel` and is raised as a
``KafkaStorageError`` (Kafka's maybeHandleIOException).
"""

from __future__ import annotations

import functools
import logging
import shutil
import uuid
from bisect import bisect_right, insort
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Concatenate, Generic, ParamSpec, TypeAlias, TypeVar

from odradek.common.clock import Clock
from odradek.common.errors import KafkaStorageError, OffsetOutOfRangeError
from odradek.common.ids import TopicPartition
from odradek.config.topic import LogConfig
from odradek.protocol.records.batch import (
    HEADER_SIZE,
    BatchHeader,
    ValidatedBatches,
    stamp_batch,
)
from odradek.protocol.records.codec import decode_records
from odradek.protocol.records.control import decode_marker
from odradek.storage import retention, swap, txn_index
from odradek.storage.file_cache import FileCache
from odradek.storage.file_records import FileRecords
from odradek.storage.log_dir_failure import LogDirFailureChannel
from odradek.storage.log_loader import LogLoader, rebuild_producer_state
from odradek.storage.producer_state import ProducerStateManager
from odradek.storage.segment import LogSegment
from odradek.storage.txn_index import AbortedTxn

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LogAppendInfo:
    first_offset: int
    last_offset: int
    log_append_time: int  # -1 unless LogAppendTime
    log_start_offset: int


RecordsT = TypeVar("RecordsT", covariant=True)
_Records = TypeVar("_Records")


@dataclass(frozen=True, slots=True)
class FetchInfo(Generic[RecordsT]):
    """What a read of the log found: its records (in memory, or left in the segment file)
    and the partition's offsets at the time (Kafka's FetchDataInfo)."""

    records: RecordsT
    high_watermark: int
    log_start_offset: int
    last_stable_offset: int
    aborted: tuple[AbortedTxn, ...] | None = None  # read_committed only


FetchDataInfo: TypeAlias = FetchInfo[bytes]  # records read into memory (Log.read)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _handles_io_errors(
    action: str,
) -> Callable[[Callable[Concatenate[Log, _P], _R]], Callable[Concatenate[Log, _P], _R]]:
    """A :class:`Log` method whose ``OSError`` takes the log's dir offline and is raised as
    ``KafkaStorageError``; ``action`` says what failed ("appending to", "rolling")."""

    def wrap(method: Callable[Concatenate[Log, _P], _R]) -> Callable[Concatenate[Log, _P], _R]:
        @functools.wraps(method)
        def run(self: Log, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return method(self, *args, **kwargs)
            except OSError as exc:
                raise self.storage_error(action, exc) from exc

        return run

    return wrap


class Log:
    def __init__(
        self,
        directory: Path,
        tp: TopicPartition,
        topic_id: uuid.UUID,
        config: LogConfig,
        clock: Clock,
        *,
        recovery_point: int = 0,
        log_start_offset: int = 0,
        clean_shutdown: bool = True,
        failure_channel: LogDirFailureChannel | None = None,
        file_cache: FileCache | None = None,
    ) -> None:
        self.dir = directory
        self.failure_channel = failure_channel or LogDirFailureChannel()
        self.file_cache = FileCache.shared() if file_cache is None else file_cache
        self.tp = tp
        self.topic_id = topic_id
        self.config = config
        self.clock = clock
        self.recovery_point = recovery_point
        # In cluster mode the partition (not the append) advances the high watermark,
        # once the in-sync replicas have the records.
        self.replicated = False
        self.append_listeners: list[Callable[[TopicPartition, int], None]] = []
        self.dir.mkdir(parents=True, exist_ok=True)
        self.producer_state = ProducerStateManager(self.dir)
        self.pending_deletes: list[Path] = []  # *.deleted files awaiting file.delete.delay.ms
        self.cleaning = False  # the log cleaner is working on this log's segments
        self._unflushed_messages = 0
        self.last_flush_ms = clock.milliseconds()
        loaded = LogLoader(self.dir, tp, topic_id, self._open_segment).load(
            log_start_offset=log_start_offset,
            recovery_point=recovery_point,
            clean_shutdown=clean_shutdown,
        )
        self.segments: list[LogSegment] = loaded.segments
        self._bases = [segment.base_offset for segment in self.segments]
        self.log_start_offset = loaded.log_start_offset
        self.epoch_cache = loaded.epoch_cache
        self.leader_epoch = self.epoch_cache.latest_epoch
        self._high_watermark = self.log_end_offset
        self.aborted_txns: list[AbortedTxn] = loaded.aborted_txns
        self._rebuild_producer_state()

    # -- segments ------------------------------------------------------------------------------

    def _open_segment(self, base_offset: int, fresh: bool) -> LogSegment:
        return LogSegment(
            self.dir,
            base_offset,
            index_interval_bytes=self.config.index_interval_bytes,
            max_index_bytes=self.config.segment_index_bytes,
            created_ms=self.clock.milliseconds(),
            fresh=fresh,
            cache=self.file_cache,
        )

    def _add_segment(self, segment: LogSegment) -> None:
        self.segments.append(segment)
        self._bases.append(segment.base_offset)

    def _splice_segments(self, start: int, stop: int, replacement: list[LogSegment]) -> None:
        """Replace ``segments[start:stop]`` (retention, the cleaner swap), keeping the base
        offsets in step."""
        self.segments[start:stop] = replacement
        self._bases[start:stop] = [segment.base_offset for segment in replacement]

    # -- state ---------------------------------------------------------------------------------

    @property
    def active_segment(self) -> LogSegment:
        return self.segments[-1]

    @property
    def log_end_offset(self) -> int:
        return self.segments[-1].next_offset

    @property
    def size_in_bytes(self) -> int:
        return sum(segment.size for segment in self.segments)

    def update_config(self, config: LogConfig) -> None:
        self.config = config

    def storage_error(self, action: str, error: OSError) -> KafkaStorageError:
        """Report an I/O error in this log's files (its dir goes offline); the error to
        raise instead."""
        parent = self.dir.parent
        return self.failure_channel.storage_error(
            parent, f"Error while {action} {self.tp} in dir {parent}", error
        )

    # -- appending -----------------------------------------------------------------------------

    @_handles_io_errors("appending to")
    def append_as_leader(
        self, records: bytes, batches: ValidatedBatches, internal: bool = False
    ) -> LogAppendInfo:
        """Assign offsets to one validated batch and append it; the caller checked sizes.
        ``internal`` batches (the broker's own: markers, transactional offsets) skip the
        producer sequence checks."""
        (header,) = batches.headers
        if header.producer_id >= 0 and not internal:
            duplicate = self.producer_state.check(header)
            if duplicate is not None:
                return LogAppendInfo(
                    duplicate.first_offset, duplicate.last_offset, -1, self.log_start_offset
                )
        now = self.clock.milliseconds()
        append_time = now if self.config.log_append_time else None
        self._maybe_roll(header.size, batches.record_count, batches.max_timestamp, now)
        first = self.log_end_offset
        buffers = stamp_batch(records, header, first, self.leader_epoch, append_time)
        next_offset = first + batches.record_count
        max_ts = append_time if append_time is not None else batches.max_timestamp
        ts_offset = (
            (next_offset - 1)
            if append_time is not None
            else (first + batches.offset_of_max_timestamp_delta)
        )
        self.active_segment.append(buffers, header.size, first, next_offset, max_ts, ts_offset)
        if not self.replicated:
            self._high_watermark = next_offset
        self._unflushed_messages += batches.record_count
        if self._unflushed_messages >= int(self.config["flush.messages"]):
            self.flush()
        if header.is_control and header.producer_id >= 0:
            marker = replace(header, base_offset=first)
            self._complete_txn(marker, records, self.active_segment, persist=True)
        elif header.producer_id >= 0:
            self.producer_state.update(header, first)
        for listener in self.append_listeners:
            listener(self.tp, header.size)
        return LogAppendInfo(
            first, next_offset - 1, append_time if append_time else -1, self.log_start_offset
        )

    @_handles_io_errors("appending to")
    def append_as_follower(self, records: bytes, batches: ValidatedBatches) -> int:
        """Append batches fetched from the leader as they are: offsets, epochs and timestamps
        were assigned by the leader. Batches at or below the log end offset are skipped (a
        re-sent response). Returns the number of bytes appended."""
        position = 0
        appended = 0
        view = memoryview(records)
        for header in batches.headers:
            start, position = position, position + header.size
            if header.base_offset < self.log_end_offset:
                if header.last_offset < self.log_end_offset:
                    continue  # already here (a re-sent response)
                if (
                    self.active_segment.is_empty
                    and len(self.segments) == 1
                    and header.base_offset >= 0
                ):
                    # The leader's log start is inside this batch (DeleteRecords): restart
                    # our empty log at the batch's base offset, as Kafka does.
                    self.truncate_fully_and_start_at(header.base_offset)
                else:
                    raise OffsetOutOfRangeError(
                        f"{self.tp}: fetched batch {header.base_offset}-{header.last_offset} "
                        f"overlaps the log end offset {self.log_end_offset}"
                    )
            # Offsets may jump forward (a compacted leader log has gaps); never backward.
            now = self.clock.milliseconds()
            self._maybe_roll(
                header.size, header.next_offset - self.log_end_offset, header.max_timestamp, now
            )
            if header.partition_leader_epoch > self.epoch_cache.latest_epoch:
                self.epoch_cache.assign(header.partition_leader_epoch, header.base_offset)
            raw = view[start:position]
            self.active_segment.append(
                (raw,),
                header.size,
                header.base_offset,
                header.next_offset,
                header.max_timestamp,
                header.last_offset,
            )
            appended += header.size
            self._unflushed_messages += header.last_offset_delta + 1
            if header.is_control and header.producer_id >= 0:
                self._complete_txn(header, bytes(raw), self.active_segment, persist=True)
            elif header.producer_id >= 0:
                self.producer_state.update(header, header.base_offset)
        if self._unflushed_messages >= int(self.config["flush.messages"]):
            self.flush()
        if appended:
            for listener in self.append_listeners:
                listener(self.tp, appended)
        return appended

    @_handles_io_errors("truncating")
    def truncate_to(self, offset: int) -> None:
        """Drop everything at and above ``offset`` (a follower diverged from its leader):
        segments, index entries, leader epochs, aborted transactions and producer state."""
        if offset >= self.log_end_offset:
            return
        if offset <= self.log_start_offset:
            self.truncate_fully_and_start_at(offset)
            return
        while len(self.segments) > 1 and self.segments[-1].base_offset >= offset:
            self.segments.pop().delete()
            self._bases.pop()
        self.active_segment.truncate_to(offset)
        self._after_truncation(offset)
        log.info("%s: truncated to offset %d", self.tp, offset)

    @_handles_io_errors("truncating")
    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Empty the log and restart it at ``offset`` (the follower is below the leader's
        log start offset, or ahead of an empty leader)."""
        for segment in self.segments:
            segment.delete()
        self.segments.clear()
        self._bases.clear()
        self._add_segment(self._open_segment(offset, fresh=True))
        self.log_start_offset = offset
        self.epoch_cache.truncate_from_end(-1)
        self.epoch_cache.truncate_from_end(offset)
        self.leader_epoch = max(self.epoch_cache.latest_epoch, 0)
        self._high_watermark = offset
        self.recovery_point = offset
        self.aborted_txns = []
        # Producers of the deleted data are forgotten, snapshots included (Kafka's
        # ProducerStateManager.truncateFullyAndStartAt).
        self.producer_state.truncate()
        for snapshot in self.producer_state.snapshot_offsets():
            self.producer_state.snapshot_path(snapshot).unlink(missing_ok=True)
        log.info("%s: truncated fully; log restarts at offset %d", self.tp, offset)

    def _after_truncation(self, offset: int) -> None:
        self.epoch_cache.truncate_from_end(offset)
        self.leader_epoch = max(self.epoch_cache.latest_epoch, 0)
        self._high_watermark = min(self._high_watermark, offset)
        self.recovery_point = min(self.recovery_point, offset)
        kept = [t for t in self.aborted_txns if t.last_offset < offset]
        if len(kept) != len(self.aborted_txns):
            self.aborted_txns = kept
            base = self.active_segment.base_offset
            txn_index.write_index(
                txn_index.txn_index_path(self.dir, base), [t for t in kept if t.last_offset >= base]
            )
        self.producer_state.truncate()
        self._rebuild_producer_state()

    def _rebuild_producer_state(self) -> None:
        """Load the newest producer snapshot and replay the batch headers after it."""
        rebuild_producer_state(
            self.producer_state,
            self.segments,
            self._bases,
            self.log_start_offset,
            lambda header, data, segment: self._complete_txn(header, data, segment, persist=False),
        )

    def _complete_txn(
        self, header: BatchHeader, raw: bytes, segment: LogSegment, persist: bool
    ) -> None:
        """A COMMIT or ABORT marker at ``header.base_offset`` ends its producer's transaction;
        an aborted one is recorded in the transaction index."""
        records = decode_records(header, bytes(raw[HEADER_SIZE : header.size]))
        marker = decode_marker(records[0].key, records[0].value) if records else None
        first = self.producer_state.complete_txn(
            header.producer_id,
            header.producer_epoch,
            marker.coordinator_epoch if marker is not None else -1,
        )
        if marker is None or marker.commit or first < 0:
            return
        entry = AbortedTxn(first, header.producer_id, header.base_offset, self.last_stable_offset)
        if any(
            (t.producer_id, t.first_offset, t.last_offset)
            == (entry.producer_id, entry.first_offset, entry.last_offset)
            for t in self.aborted_txns
        ):
            return  # already known (loaded from .txnindex, replayed after a crash)
        insort(self.aborted_txns, entry)
        if persist or not txn_index.txn_index_path(self.dir, segment.base_offset).exists():
            txn_index.append_aborted(self.dir, segment.base_offset, entry)

    # -- high watermark: written here only -----------------------------------------------------

    @property
    def high_watermark(self) -> int:
        """Offsets below it are on every in-sync replica (single node: the log end)."""
        return self._high_watermark

    def update_high_watermark(self, offset: int) -> int:
        """Set the high watermark (Kafka's UnifiedLog.updateHighWatermark): clamped to
        [log start offset, log end offset]; returns the value set."""
        self._high_watermark = min(max(offset, self.log_start_offset), self.log_end_offset)
        return self._high_watermark

    def maybe_increment_high_watermark(self, offset: int) -> bool:
        """Move the high watermark forward to ``offset`` (at most the log end offset), never
        back: the leader when the ISR has more, a follower from its leader's fetch response.
        True when it moved."""
        offset = min(offset, self.log_end_offset)
        if offset <= self._high_watermark:
            return False
        self._high_watermark = offset
        return True

    @property
    def last_stable_offset(self) -> int:
        """Offsets below it are decided: no open transaction starts before it."""
        unstable = self.producer_state.first_unstable_offset()
        return self.high_watermark if unstable is None else min(unstable, self.high_watermark)

    def aborted_in_range(self, start: int, end: int) -> list[AbortedTxn]:
        """Aborted transactions overlapping [start, end) — for read_committed fetches."""
        return [t for t in self.aborted_txns if t.last_offset >= start and t.first_offset < end]

    def _maybe_roll(self, size: int, record_count: int, max_timestamp: int, now: int) -> None:
        if self.active_segment.should_roll(self.config, size, record_count, max_timestamp, now):
            self.roll()

    @_handles_io_errors("rolling a segment of")
    def roll(self) -> LogSegment:
        """Start a new active segment at the log end offset; flush the previous one."""
        previous = self.active_segment
        if previous.is_empty:
            return previous
        previous.flush()
        self.recovery_point = max(self.recovery_point, previous.next_offset)
        segment = self._open_segment(self.log_end_offset, fresh=True)
        self._add_segment(segment)
        self.producer_state.write_snapshot(segment.base_offset)
        log.debug("%s: rolled new segment at %d", self.tp, segment.base_offset)
        return segment

    def maybe_roll_or_flush_for_time(self, now_ms: int) -> None:
        """Roll a non-empty active segment older than ``segment.ms``; flush messages unflushed
        for ``flush.ms``. Next to nothing for an idle log (the broker checks them all)."""
        segment = self.segments[-1]
        if segment.size and now_ms - segment.created_ms > self.config.segment_ms:
            self.roll()
        if self._unflushed_messages and now_ms - self.last_flush_ms >= int(self.config["flush.ms"]):
            self.flush()

    # -- reading -------------------------------------------------------------------------------

    @_handles_io_errors("reading from")
    def read(
        self,
        offset: int,
        max_bytes: int,
        min_one_batch: bool = True,
        max_offset: int | None = None,
        committed: bool = False,
    ) -> FetchDataInfo:
        """Whole batches from the batch containing ``offset``, up to ``max_bytes`` (but at least
        one batch when ``min_one_batch``), never past ``max_offset`` (default: high watermark).
        Served from one segment: the bytes as they are in the file, read with one pread."""
        limit = self._read_limit(offset, max_offset, committed)
        found = self._find_slice(offset, max_bytes, min_one_batch, limit)
        data = b"" if found is None else found[0].read(found[1], found[2])
        return self._fetch_info(data, offset, limit, committed)

    @_handles_io_errors("reading from")
    def read_file_records(
        self,
        offset: int,
        max_bytes: int,
        min_one_batch: bool = True,
        max_offset: int | None = None,
        committed: bool = False,
    ) -> FetchInfo[bytes | FileRecords]:
        """:meth:`read`, with the batches left in the segment file (a zero-copy fetch sends
        them from there): nothing is read however large ``max_bytes`` is."""
        limit = self._read_limit(offset, max_offset, committed)
        found = self._find_slice(offset, max_bytes, min_one_batch, limit)
        records: bytes | FileRecords = b""
        if found is not None:
            records = found[0].file_records(found[1], found[2])
        return self._fetch_info(records, offset, limit, committed)

    def _read_limit(self, offset: int, max_offset: int | None, committed: bool) -> int:
        """The offset a read stops before; raises OffsetOutOfRangeError for ``offset``
        outside the log."""
        limit = self.high_watermark if max_offset is None else max_offset
        if committed:
            limit = min(limit, self.last_stable_offset)
        if offset < self.log_start_offset or offset > self.log_end_offset:
            raise OffsetOutOfRangeError(
                f"offset {offset} is out of range [{self.log_start_offset}, "
                f"{self.log_end_offset}] for {self.tp}"
            )
        return limit

    def _fetch_info(
        self, records: _Records, offset: int, limit: int, committed: bool
    ) -> FetchInfo[_Records]:
        aborted = tuple(self.aborted_in_range(offset, limit)) if committed else None
        return FetchInfo(
            records, self.high_watermark, self.log_start_offset, self.last_stable_offset, aborted
        )

    def _find_slice(
        self, offset: int, max_bytes: int, min_one_batch: bool, limit: int
    ) -> tuple[LogSegment, int, int] | None:
        """(segment, position, size) of the whole batches a read returns; None for none."""
        if offset >= limit:
            return None
        index = bisect_right(self._bases, offset) - 1
        while 0 <= index < len(self.segments):
            segment = self.segments[index]
            location = segment.find_batch(offset)
            if location is None:
                index += 1
                continue
            end = location.position
            for batch in segment.batches(location.position):
                if batch.base_offset >= limit:
                    break
                if end + batch.size - location.position > max_bytes and (
                    end > location.position or not min_one_batch
                ):
                    break
                end = batch.position + batch.size
            size = end - location.position
            return (segment, location.position, size) if size else None
        return None

    @_handles_io_errors("deleting records of")
    def delete_records_before(self, offset: int) -> int:
        """DeleteRecords: advance the log start offset to ``offset`` (at most the high
        watermark) and drop the segments wholly below it; returns the new log start offset."""
        if offset < 0 or offset > self.high_watermark:
            raise OffsetOutOfRangeError(
                f"Cannot increment the log start offset to {offset} of partition {self.tp} "
                f"since it is larger than the high watermark {self.high_watermark}"
            )
        if offset > self.log_start_offset:
            self.log_start_offset = offset
            retention.delete_segments_below_start(self)
        return self.log_start_offset

    # -- retention -----------------------------------------------------------------------------

    @_handles_io_errors("deleting segments of")
    def delete_old_segments(self, now_ms: int) -> int:
        """Delete whole segments past ``retention.ms``, beyond ``retention.bytes`` (for the
        delete policy) and below the log start offset (always). Files are renamed to
        ``*.deleted``; their paths are queued in :attr:`pending_deletes`. Returns how many
        segments went. See :mod:`odradek.storage.retention`."""
        return retention.delete_old_segments(self, now_ms)

    # -- the cleaner swap (see odradek.storage.swap) ------------------------------------------

    def installable_groups(
        self, groups: list[tuple[int, list[int]]]
    ) -> list[tuple[int, list[int]]]:
        """The cleaned groups whose segments are all still here, consecutive and inactive;
        the ``.cleaned`` files of the others are removed."""
        return swap.installable_groups(self, groups)

    @_handles_io_errors("swapping cleaned segments into")
    def swap_in(self, groups: list[tuple[int, list[int]]]) -> None:
        """After :func:`odradek.storage.swap.install` put the cleaned files in place (off the
        loop: the old segments' open descriptors keep serving reads meanwhile), replace the
        segment objects. Cheap: no file I/O beyond opening the new segments."""
        swap.swap_in(self, groups)

    def replace_segments(self, groups: list[tuple[int, list[int]]]) -> bool:
        """Install and swap in cleaned segments in one step (tests and tools); the broker
        does the file part off its loop. False when a group could not be swapped in."""
        valid = self.installable_groups(groups)
        for base, replaced in valid:
            swap.install(self.dir, base, replaced)
        self.swap_in(valid)
        return len(valid) == len(groups)

    @_handles_io_errors("reading from")
    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        for segment in self.segments:
            if segment.max_timestamp >= timestamp:
                found = segment.find_offset_by_timestamp(timestamp)
                if found is not None and found[0] >= self.log_start_offset:
                    return found
        return None

    def max_timestamp_and_offset(self) -> tuple[int, int]:
        best = (-1, -1)
        for segment in self.segments:
            if segment.max_timestamp > best[0]:
                best = (segment.max_timestamp, segment.offset_of_max_timestamp)
        return best

    # -- lifecycle -----------------------------------------------------------------------------

    @_handles_io_errors("flushing")
    def flush(self) -> None:
        """fsync what is past the recovery point (flush.messages / flush.ms / shutdown);
        nothing when nothing was appended since the last flush (an idle log costs no fsync
        at shutdown)."""
        if not self._unflushed_messages and self.log_end_offset <= self.recovery_point:
            self.last_flush_ms = self.clock.milliseconds()
            return
        for segment in self.segments:
            if segment.next_offset > self.recovery_point or segment is self.active_segment:
                segment.flush()
        self.recovery_point = self.log_end_offset
        self._unflushed_messages = 0
        self.last_flush_ms = self.clock.milliseconds()

    @_handles_io_errors("writing a producer snapshot of")
    def write_producer_snapshot(self) -> None:
        """Snapshot the producer state at the log end offset (shutdown), unless there is one
        there already (nothing appended since) or the log is empty, as Kafka skips it."""
        offset = self.log_end_offset
        if offset == self.log_start_offset and not self.producer_state.entries:
            return
        if self.producer_state.snapshot_path(offset).exists():
            return
        self.producer_state.write_snapshot(offset)

    def close(self) -> None:
        for segment in self.segments:
            segment.close()

    def delete(self) -> None:
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)
