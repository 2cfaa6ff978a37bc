"""A partition's log (Kafka's UnifiedLog): the log start offset, appends as leader and
follower, truncation, the high watermark (written here only) and the last stable offset,
producer state and aborted transactions, rolling, reads for fetch with their limits, and time
lookups. It builds on :class:`~odradek.storage.local_log.LocalLog` (the segment list on disk,
Kafka's LocalLog); what appends and reads return is in :mod:`odradek.storage.log_results`.
Loading and crash recovery are in :mod:`odradek.storage.log_loader`, segment deletion in
:mod:`odradek.storage.retention`, the cleaner's swap in :mod:`odradek.storage.swap`. Not
thread-safe: the broker calls it from its event loop only.

An ``OSError`` in a method that touches the files (appending, rolling, flushing, reading,
truncating, deleting, snapshots) takes the log's dir offline through its
:class:`~odradek.storage.log_dir_failure.LogDirFailureChannel` and is raised as a
``KafkaStorageError`` (Kafka's maybeHandleIOException).
"""

from __future__ import annotations

import logging
import uuid
from bisect import insort
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from odradek.common.clock import Clock
from odradek.common.errors import OffsetOutOfRangeError
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
from odradek.storage.local_log import LocalLog, handles_io_errors
from odradek.storage.log_dir_failure import LogDirFailureChannel
from odradek.storage.log_loader import LogLoader, rebuild_producer_state
from odradek.storage.log_results import FetchDataInfo, FetchInfo, LogAppendInfo
from odradek.storage.producer_state import ProducerStateManager
from odradek.storage.segment import LogSegment
from odradek.storage.txn_index import AbortedTxn

log = logging.getLogger(__name__)

_Records = TypeVar("_Records")


class Log(LocalLog):
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
        super().__init__(
            directory,
            tp,
            topic_id,
            config,
            clock,
            recovery_point=recovery_point,
            failure_channel=failure_channel,
            file_cache=file_cache,
        )
        # In cluster mode the partition (not the append) advances the high watermark,
        # once the in-sync replicas have the records.
        self.replicated = False
        self.append_listeners: list[Callable[[TopicPartition, int], None]] = []
        self.producer_state = ProducerStateManager(self.dir)
        self.pending_deletes: list[Path] = []  # *.deleted files awaiting file.delete.delay.ms
        self.cleaning = False  # the log cleaner is working on this log's segments
        loaded = LogLoader(self.dir, tp, topic_id, self._open_segment).load(
            log_start_offset=log_start_offset,
            recovery_point=recovery_point,
            clean_shutdown=clean_shutdown,
        )
        self.segments = loaded.segments
        self._bases = [segment.base_offset for segment in self.segments]
        self.log_start_offset = loaded.log_start_offset
        self.epoch_cache = loaded.epoch_cache
        self.leader_epoch = self.epoch_cache.latest_epoch
        self._high_watermark = self.log_end_offset
        self.aborted_txns: list[AbortedTxn] = loaded.aborted_txns
        self._rebuild_producer_state()

    # -- appending -----------------------------------------------------------------------------

    @handles_io_errors("appending to")
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

    @handles_io_errors("appending to")
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

    @handles_io_errors("truncating")
    def truncate_to(self, offset: int) -> None:
        """Drop everything at and above ``offset`` (a follower diverged from its leader):
        segments, index entries, leader epochs, aborted transactions and producer state."""
        if offset >= self.log_end_offset:
            return
        if offset <= self.log_start_offset:
            self.truncate_fully_and_start_at(offset)
            return
        self._truncate_segments_to(offset)
        self._after_truncation(offset)
        log.info("%s: truncated to offset %d", self.tp, offset)

    @handles_io_errors("truncating")
    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Empty the log and restart it at ``offset`` (the follower is below the leader's
        log start offset, or ahead of an empty leader)."""
        self._restart_segments_at(offset)
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

    @handles_io_errors("rolling a segment of")
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

    @handles_io_errors("reading from")
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

    @handles_io_errors("reading from")
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

    @handles_io_errors("deleting records of")
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

    @handles_io_errors("deleting segments of")
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

    @handles_io_errors("swapping cleaned segments into")
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

    @handles_io_errors("reading from")
    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        for segment in self.segments:
            if segment.max_timestamp >= timestamp:
                found = segment.find_offset_by_timestamp(timestamp)
                if found is not None and found[0] >= self.log_start_offset:
                    return found
        return None

    # -- lifecycle -----------------------------------------------------------------------------

    @handles_io_errors("writing a producer snapshot of")
    def write_producer_snapshot(self) -> None:
        """Snapshot the producer state at the log end offset (shutdown), unless there is one
        there already (nothing appended since) or the log is empty, as Kafka skips it."""
        offset = self.log_end_offset
        if offset == self.log_start_offset and not self.producer_state.entries:
            return
        if self.producer_state.snapshot_path(offset).exists():
            return
        self.producer_state.write_snapshot(offset)
