"""A partition's segments on local disk (Kafka's LocalLog): the ordered list of segments with
their base offsets, opening and adding segments, the log end offset, cutting the list at an
offset or restarting it empty, finding the slice of whole batches a read returns, flushing
up to the recovery point, closing and deleting. :class:`~odradek.storage.log.Log` (Kafka's
UnifiedLog) builds on it with appends, offsets, the high watermark and producer state; this
layer knows nothing of those.

An ``OSError`` in a method marked :func:`handles_io_errors` takes the log's dir offline
through its :class:`~odradek.storage.log_dir_failure.LogDirFailureChannel` and is raised as a
``KafkaStorageError`` (Kafka's maybeHandleIOException)."""

from __future__ import annotations

import functools
import shutil
import uuid
from bisect import bisect_right
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from odradek.common.clock import Clock
from odradek.common.errors import KafkaStorageError
from odradek.common.ids import TopicPartition
from odradek.config.topic import LogConfig
from odradek.storage.file_cache import FileCache
from odradek.storage.log_dir_failure import LogDirFailureChannel
from odradek.storage.segment import LogSegment

_P = ParamSpec("_P")
_R = TypeVar("_R")
_L = TypeVar("_L", bound="LocalLog")


def handles_io_errors(
    action: str,
) -> Callable[[Callable[Concatenate[_L, _P], _R]], Callable[Concatenate[_L, _P], _R]]:
    """A log method whose ``OSError`` takes the log's dir offline and is raised as
    ``KafkaStorageError``; ``action`` says what failed ("appending to", "rolling")."""

    def wrap(method: Callable[Concatenate[_L, _P], _R]) -> Callable[Concatenate[_L, _P], _R]:
        @functools.wraps(method)
        def run(self: _L, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return method(self, *args, **kwargs)
            except OSError as exc:
                raise self.storage_error(action, exc) from exc

        return run

    return wrap


class LocalLog:
    def __init__(
        self,
        directory: Path,
        tp: TopicPartition,
        topic_id: uuid.UUID,
        config: LogConfig,
        clock: Clock,
        *,
        recovery_point: int,
        failure_channel: LogDirFailureChannel | None,
        file_cache: FileCache | None,
    ) -> None:
        self.dir = directory
        self.failure_channel = failure_channel or LogDirFailureChannel()
        self.file_cache = FileCache.shared() if file_cache is None else file_cache
        self.tp = tp
        self.topic_id = topic_id
        self.config = config
        self.clock = clock
        self.recovery_point = recovery_point
        self.dir.mkdir(parents=True, exist_ok=True)
        self._unflushed_messages = 0
        self.last_flush_ms = clock.milliseconds()
        self.segments: list[LogSegment] = []  # filled by the loader
        self._bases: list[int] = []

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

    def _truncate_segments_to(self, offset: int) -> None:
        """Delete the segments at and above ``offset`` (all but the first) and cut the new
        active segment there."""
        while len(self.segments) > 1 and self.segments[-1].base_offset >= offset:
            self.segments.pop().delete()
            self._bases.pop()
        self.active_segment.truncate_to(offset)

    def _restart_segments_at(self, offset: int) -> None:
        """Delete every segment; one empty segment at ``offset`` is left."""
        for segment in self.segments:
            segment.delete()
        self.segments.clear()
        self._bases.clear()
        self._add_segment(self._open_segment(offset, fresh=True))

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

    # -- reading -------------------------------------------------------------------------------

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

    def max_timestamp_and_offset(self) -> tuple[int, int]:
        best = (-1, -1)
        for segment in self.segments:
            if segment.max_timestamp > best[0]:
                best = (segment.max_timestamp, segment.offset_of_max_timestamp)
        return best

    # -- lifecycle -----------------------------------------------------------------------------

    @handles_io_errors("flushing")
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

    def close(self) -> None:
        for segment in self.segments:
            segment.close()

    def delete(self) -> None:
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)
