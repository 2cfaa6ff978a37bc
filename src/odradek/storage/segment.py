"""One segment of a partition's log: a ``.log`` file of record batches exactly as on the wire,
plus its sparse ``.index`` and ``.timeindex`` (Kafka's LogSegment). Not thread-safe.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from odradek.config.topic import LogConfig
from odradek.protocol.records.batch import (
    ATTRIBUTES_OFFSET,
    HEADER_SIZE,
    LOG_OVERHEAD,
    MAGIC_OFFSET,
    BatchHeader,
    compute_crc,
    read_header,
)
from odradek.storage.file_cache import CachedFile, FileCache
from odradek.storage.file_records import FileRecords
from odradek.storage.files import (
    DELETED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    TXN_INDEX_SUFFIX,
    filename_prefix,
)
from odradek.storage.index import OffsetIndex, TimeIndex

INT32_MAX = 2**31 - 1
_SCAN_CHUNK = 16 * 1024
_BASE_AND_LENGTH = struct.Struct(">qi")  # the LOG_OVERHEAD bytes: baseOffset, batchLength
_LAST_DELTA = struct.Struct(">i")
# lastOffsetDelta (int32) follows the attributes (int16); batch.py does not name its offset.
LAST_OFFSET_DELTA_OFFSET = ATTRIBUTES_OFFSET + 2
# A batch's offsets are known from its first LOCATE_SIZE bytes (through lastOffsetDelta).
LOCATE_SIZE = LAST_OFFSET_DELTA_OFFSET + _LAST_DELTA.size
_RECENT_POSITIONS = 64


@dataclass(frozen=True, slots=True)
class BatchLocation:
    position: int
    base_offset: int
    last_offset: int
    size: int


class LogSegment:
    def __init__(
        self,
        directory: Path,
        base_offset: int,
        *,
        index_interval_bytes: int,
        max_index_bytes: int,
        created_ms: int,
        fresh: bool = False,
        cache: FileCache | None = None,
    ) -> None:
        prefix = directory / filename_prefix(base_offset)
        self.directory = directory
        self.base_offset = base_offset
        self.index_interval_bytes = index_interval_bytes
        self.log_path = prefix.with_name(prefix.name + LOG_SUFFIX)
        cache = FileCache.shared() if cache is None else cache
        # Open while used (the broker's LRU closes it otherwise), and shared with the
        # FileRecords fetches read: open until the last of them is sent.
        self._log = CachedFile(cache, self.log_path, truncate=fresh)
        self.size = os.fstat(self._log.fd()).st_size
        self.offset_index = OffsetIndex(
            prefix.with_name(prefix.name + INDEX_SUFFIX),
            base_offset,
            max_index_bytes,
            load=not fresh,
            cache=cache,
        )
        self.time_index = TimeIndex(
            prefix.with_name(prefix.name + TIME_INDEX_SUFFIX),
            base_offset,
            max_index_bytes,
            load=not fresh,
            cache=cache,
        )
        if fresh:
            self.offset_index.reset()
            self.time_index.reset()
        self.next_offset = base_offset
        self.max_timestamp = -1
        self.offset_of_max_timestamp = -1
        self.rolling_base_timestamp: int | None = None
        self.created_ms = created_ms
        self._bytes_since_index_entry = 0
        self._recent: dict[int, int] = {}

    # -- writing -----------------------------------------------------------------------------

    def append(
        self,
        buffers: Sequence[bytes | memoryview],
        size: int,
        first_offset: int,
        next_offset: int,
        max_timestamp: int,
        offset_of_max_timestamp: int,
    ) -> int:
        """Append already-validated batches given as buffers (one vectored write) of ``size``
        bytes in all; returns the file position they start at.

        All or nothing: on an ``OSError`` (a full disk) the bytes and index entries written
        are cut off again before it is raised, so no part of the batches stays in the files
        to be served or recovered later."""
        position = self.size
        index_entries = self.offset_index.entries
        time_entries = self.time_index.entries
        index_due = self._bytes_since_index_entry >= self.index_interval_bytes or position == 0
        try:
            written = os.pwritev(self._log.fd(), buffers, position)
            if written != size:
                self._write_remainder(buffers, written, position)
            if index_due:
                self.offset_index.append(first_offset, position)
            if max_timestamp > self.max_timestamp:
                self.time_index.maybe_append(max_timestamp, offset_of_max_timestamp)
        except OSError:
            self._undo_append(position, index_entries, time_entries)
            raise
        self.size += size
        if index_due:
            self._bytes_since_index_entry = 0
        self._bytes_since_index_entry += size
        if max_timestamp > self.max_timestamp:
            self.max_timestamp = max_timestamp
            self.offset_of_max_timestamp = offset_of_max_timestamp
        if self.rolling_base_timestamp is None:
            self.rolling_base_timestamp = max_timestamp if max_timestamp >= 0 else None
        self.next_offset = next_offset
        recent = self._recent
        recent[first_offset] = position
        if len(recent) > _RECENT_POSITIONS:
            del recent[next(iter(recent))]
        return position

    def _undo_append(self, position: int, index_entries: int, time_entries: int) -> None:
        """Cut a failed append's bytes and index entries (freeing space needs none)."""
        with contextlib.suppress(OSError):
            os.ftruncate(self._log.fd(), position)
        with contextlib.suppress(OSError):
            self.offset_index.truncate_to_entries(index_entries)
        with contextlib.suppress(OSError):
            self.time_index.truncate_to_entries(time_entries)

    def _write_remainder(
        self, buffers: Sequence[bytes | memoryview], written: int, position: int
    ) -> None:
        data = b"".join(bytes(b) for b in buffers)[written:]
        while data:
            count = os.pwrite(self._log.fd(), data, position + written)
            written += count
            data = data[count:]

    def should_roll(
        self, config: LogConfig, size: int, record_count: int, max_timestamp: int, now_ms: int
    ) -> bool:
        """Kafka's LogSegment.shouldRoll: whether ``size`` bytes of ``record_count`` records
        (newest timestamp ``max_timestamp``) must go to a new segment — past ``segment.bytes``
        or ``segment.ms``, an index full, or offsets too far from the base offset for the
        index's 32-bit relative offsets. An empty segment always takes them."""
        if self.is_empty:
            return False
        return (
            self.size + size > config.segment_bytes
            or self._time_waited_for_roll(now_ms, max_timestamp, config.log_append_time)
            > config.segment_ms
            or self.offset_index.is_full
            or self.time_index.is_full
            or self.next_offset + record_count - self.base_offset > INT32_MAX
        )

    def _time_waited_for_roll(
        self, now_ms: int, largest_timestamp: int, log_append_time: bool
    ) -> int:
        """Kafka's LogSegment.timeWaitedForRoll: by record timestamps when the segment has
        them (CreateTime), else by the segment's creation time."""
        base = self.rolling_base_timestamp
        if base is not None and base >= 0 and not log_append_time:
            return largest_timestamp - base
        return now_ms - self.created_ms

    # -- reading -----------------------------------------------------------------------------

    def read(self, position: int, size: int) -> bytes:
        return os.pread(self._log.fd(), size, position)

    def file_records(self, position: int, size: int) -> FileRecords:
        """``size`` bytes at ``position`` left in the file, readable until closed even if
        this segment is deleted or closed first."""
        return FileRecords(self._log.shared(), position, size)

    def batches(self, position: int = 0, end: int | None = None) -> Iterator[BatchLocation]:
        """Locations of whole batches from ``position`` on, reading headers in chunks.

        Stops at the first torn or implausible header; a batch larger than a chunk is skipped
        over without reading its body."""
        limit = self.size if end is None else end
        while limit - position >= LOG_OVERHEAD:
            chunk = os.pread(self._log.fd(), min(_SCAN_CHUNK, limit - position), position)
            cursor = 0
            while len(chunk) - cursor >= LOCATE_SIZE:
                base, length = _BASE_AND_LENGTH.unpack_from(chunk, cursor)
                size = LOG_OVERHEAD + length
                if length < HEADER_SIZE - LOG_OVERHEAD or position + cursor + size > limit:
                    return
                (delta,) = _LAST_DELTA.unpack_from(chunk, cursor + LAST_OFFSET_DELTA_OFFSET)
                yield BatchLocation(position + cursor, base, base + delta, size)
                cursor += size
            if cursor == 0:
                return  # fewer than LOCATE_SIZE bytes left: a torn header
            position += cursor

    def find_batch(self, offset: int) -> BatchLocation | None:
        """The first batch whose last offset is >= ``offset``, or None past the end."""
        if offset >= self.next_offset:
            return None
        position = self._recent.get(offset)
        if position is None:
            _, position = self.offset_index.lookup(offset)
        for location in self.batches(position):
            if location.last_offset >= offset:
                return location
        return None

    def find_offset_by_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record with a timestamp >= ``timestamp``."""
        from odradek.protocol.records.codec import decode_records

        if self.max_timestamp < timestamp:
            return None
        start_offset = self.time_index.lookup(timestamp)
        _, position = self.offset_index.lookup(start_offset)
        for location in self.batches(position):
            header = read_header(self.read(location.position, HEADER_SIZE))
            if header.max_timestamp >= timestamp:
                data = self.read(location.position + HEADER_SIZE, location.size - HEADER_SIZE)
                for record in decode_records(header, data):
                    if record.timestamp >= timestamp:
                        return record.offset, record.timestamp
        return None

    # -- recovery and truncation ---------------------------------------------------------------

    def recover(self) -> int:
        """Validate every batch, rebuild both indexes, cut a torn or corrupt tail.

        Returns the number of bytes truncated."""
        self.offset_index.reset()
        self.time_index.reset()
        self.max_timestamp = -1
        self.offset_of_max_timestamp = -1
        self.rolling_base_timestamp = None
        self.next_offset = self.base_offset
        self._bytes_since_index_entry = 0
        self._recent.clear()
        valid_end = 0
        for location in self.batches(0):
            data = self.read(location.position, location.size)
            header = _valid_header(data)
            if header is None or header.base_offset < self.next_offset:
                break
            self._index_batch(location, header)
            valid_end = location.position + location.size
        truncated = self.size - valid_end
        if truncated:
            os.ftruncate(self._log.fd(), valid_end)
            self.size = valid_end
        return truncated

    def _index_batch(self, location: BatchLocation, header: BatchHeader) -> None:
        if self._bytes_since_index_entry >= self.index_interval_bytes or location.position == 0:
            self.offset_index.append(header.base_offset, location.position)
            self._bytes_since_index_entry = 0
        self._bytes_since_index_entry += location.size
        if header.max_timestamp > self.max_timestamp:
            self.max_timestamp = header.max_timestamp
            self.offset_of_max_timestamp = header.last_offset
            self.time_index.maybe_append(header.max_timestamp, header.last_offset)
        if self.rolling_base_timestamp is None and header.max_timestamp >= 0:
            self.rolling_base_timestamp = header.max_timestamp
        self.next_offset = header.next_offset

    def load_trusted(self) -> None:
        """After a clean shutdown: trust the indexes; find the end offset and max timestamp
        from the last batches instead of scanning the whole file."""
        _, position = self.offset_index.lookup(2**62)
        last = None
        for location in self.batches(position):
            last = location
        if last is not None:
            self.next_offset = last.last_offset + 1
            self._bytes_since_index_entry = self.size - position
        entry = self.time_index.last_entry
        if entry is not None:
            self.max_timestamp, self.offset_of_max_timestamp = entry
        first = next(self.batches(0), None)
        if first is not None:
            header = read_header(self.read(0, HEADER_SIZE))
            self.rolling_base_timestamp = (
                header.max_timestamp if header.max_timestamp >= 0 else None
            )
        if last is not None and last.position + last.size != self.size:
            raise ValueError("segment has a torn tail")

    def truncate_to(self, offset: int) -> None:
        """Drop every batch with a base offset >= ``offset`` (batches are never split)."""
        keep = 0
        for location in self.batches(
            self.offset_index.lookup(offset - 1)[1] if offset > self.base_offset else 0
        ):
            if location.base_offset >= offset:
                break
            keep = location.position + location.size
        else:
            keep = self.size if offset > self.base_offset else 0
        os.ftruncate(self._log.fd(), keep)
        self.size = keep
        self._recent.clear()
        self.recover()

    # -- lifecycle -------------------------------------------------------------------------------

    def flush(self) -> None:
        os.fsync(self._log.fd())
        self.offset_index.flush()
        self.time_index.flush()

    def close(self) -> None:
        self._log.close()
        self.offset_index.close()
        self.time_index.close()

    def pin(self) -> None:
        """Keep the ``.log`` file open, as it is now, until :meth:`close` (see swap)."""
        self._log.pin()

    def delete(self) -> None:
        self.close()
        for path in self.files:
            path.unlink(missing_ok=True)

    @property
    def files(self) -> tuple[Path, Path, Path, Path]:
        txn_index = self.log_path.with_name(filename_prefix(self.base_offset) + TXN_INDEX_SUFFIX)
        return self.log_path, self.offset_index.path, self.time_index.path, txn_index

    def rename_for_delete(self) -> list[Path]:
        """First step of Kafka's two-step deletion: close and rename to ``*.deleted``; the
        files are removed after ``file.delete.delay.ms``."""
        self.close()
        renamed = []
        for path in self.files:
            target = path.with_name(path.name + DELETED_SUFFIX)
            try:
                path.rename(target)
                renamed.append(target)
            except FileNotFoundError:
                pass
        return renamed

    def largest_timestamp(self) -> int:
        """The newest record timestamp, or the file's modification time when it has none."""
        if self.max_timestamp >= 0:
            return self.max_timestamp
        try:
            return int(self.log_path.stat().st_mtime * 1000)
        except FileNotFoundError:
            return 0

    @property
    def is_empty(self) -> bool:
        return self.size == 0


def _valid_header(data: bytes) -> BatchHeader | None:
    if len(data) < HEADER_SIZE or data[MAGIC_OFFSET] != 2:
        return None
    header = read_header(data)
    if header.size != len(data) or header.last_offset_delta < 0:
        return None
    if compute_crc(data, 0, len(data)) != header.crc:
        return None
    return header
