"""Which log to clean next and what to clean of it (Kafka's LogCleanerManager): first dirty
offsets from ``cleaner-offset-checkpoint``, the first uncleanable offset (min of the high
watermark, the active segment, and segments younger than ``min.compaction.lag.ms``), the
dirty ratio against ``min.cleanable.dirty.ratio`` or ``max.compaction.lag.ms`` overdue, and
partitions marked uncleanable after an unexpected failure."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from odradek.common.ids import TopicPartition
from odradek.storage.checkpoint import read_offset_checkpoint, write_offset_checkpoint
from odradek.storage.cleaner.job import CleanJob, SegmentInfo
from odradek.storage.files import CLEANER_OFFSET_CHECKPOINT
from odradek.storage.log import Log

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Candidate:
    tp: TopicPartition
    log: Log
    first_dirty: int
    first_uncleanable: int
    dirty_ratio: float
    overdue: bool


class LogCleanerManager:
    def __init__(self, log_dirs: list[Path]) -> None:
        self.log_dirs = log_dirs
        self.checkpoints: dict[TopicPartition, int] = {}
        self.uncleanable: set[TopicPartition] = set()
        for directory in log_dirs:
            self.checkpoints.update(read_offset_checkpoint(directory / CLEANER_OFFSET_CHECKPOINT))

    def write_checkpoints(
        self, logs: Mapping[TopicPartition, Log], dirs: list[Path] | None = None
    ) -> None:
        """``cleaner-offset-checkpoint`` of ``dirs`` (default: every log dir)."""
        for directory in self.log_dirs if dirs is None else dirs:
            entries = {
                tp: offset
                for tp, offset in self.checkpoints.items()
                if tp in logs and logs[tp].dir.parent == directory
            }
            write_offset_checkpoint(directory / CLEANER_OFFSET_CHECKPOINT, entries)

    def candidate(self, tp: TopicPartition, log_obj: Log, now_ms: int) -> Candidate | None:
        config = log_obj.config
        if not config.compact or tp in self.uncleanable or log_obj.cleaning:
            return None
        start = log_obj.log_start_offset
        first_dirty = max(start, self.checkpoints.get(tp, start))
        if first_dirty > log_obj.log_end_offset:
            first_dirty = start  # the log was truncated below the checkpoint
        first_uncleanable = min(
            log_obj.active_segment.base_offset, log_obj.high_watermark, log_obj.last_stable_offset
        )
        min_lag = int(config["min.compaction.lag.ms"])
        if min_lag > 0:
            for segment in log_obj.segments:
                if segment.base_offset >= first_uncleanable:
                    break
                if segment.next_offset <= first_dirty:
                    continue  # clean: Kafka looks at the dirty segments only
                if segment.largest_timestamp() > now_ms - min_lag:
                    first_uncleanable = segment.base_offset
                    break
        if first_uncleanable <= first_dirty:
            return None
        clean_bytes = dirty_bytes = 0
        oldest_dirty_ts: int | None = None
        for segment in log_obj.segments:
            if segment.base_offset >= first_uncleanable:
                break
            if segment.next_offset <= first_dirty:
                clean_bytes += segment.size
            else:
                dirty_bytes += segment.size
                if oldest_dirty_ts is None and segment.rolling_base_timestamp is not None:
                    oldest_dirty_ts = segment.rolling_base_timestamp
        if dirty_bytes == 0:
            return None
        ratio = dirty_bytes / (clean_bytes + dirty_bytes)
        max_lag = int(config["max.compaction.lag.ms"])
        overdue = oldest_dirty_ts is not None and now_ms - oldest_dirty_ts > max_lag
        if ratio < float(config["min.cleanable.dirty.ratio"]) and not overdue:
            return None
        return Candidate(tp, log_obj, first_dirty, first_uncleanable, ratio, overdue)

    def grab_filthiest(self, logs: Mapping[TopicPartition, Log], now_ms: int) -> Candidate | None:
        best: Candidate | None = None
        for tp, log_obj in logs.items():
            found = self.candidate(tp, log_obj, now_ms)
            if found is None:
                continue
            if best is None or (found.overdue, found.dirty_ratio) > (
                best.overdue,
                best.dirty_ratio,
            ):
                best = found
        return best

    def job_for(self, candidate: Candidate, map_capacity: int, now_ms: int) -> CleanJob:
        log_obj = candidate.log
        segments = tuple(
            SegmentInfo(s.base_offset, s.next_offset, s.size)
            for s in log_obj.segments
            if s.base_offset < candidate.first_uncleanable
        )
        config = log_obj.config
        aborted = tuple(
            (t.producer_id, t.first_offset, t.last_offset)
            for t in log_obj.aborted_txns
            if t.first_offset < candidate.first_uncleanable
        )
        return CleanJob(
            str(log_obj.dir),
            segments,
            candidate.first_dirty,
            candidate.first_uncleanable,
            map_capacity,
            config.segment_bytes,
            config.segment_index_bytes,
            config.index_interval_bytes,
            int(config["delete.retention.ms"]),
            now_ms,
            aborted,
        )

    def mark_uncleanable(self, tp: TopicPartition, reason: BaseException) -> None:
        log.error("marking %s uncleanable after a cleaning failure: %r", tp, reason)
        self.uncleanable.add(tp)
