"""Sparse indexes of a log segment, in Kafka's formats (Kafka's OffsetIndex and TimeIndex).

``.index``: entries of a 4-byte offset relative to the segment's base offset and a 4-byte
position in the ``.log`` file. ``.timeindex``: entries of an 8-byte timestamp and a 4-byte
relative offset. Both big-endian, entries strictly increasing. Unlike Kafka, the files are not
preallocated: they hold exactly their entries, which is what Kafka's trimmed files look like.
The entries are mirrored in memory for binary search; in the event of a crash the files are
rebuilt from the log by recovery. Not thread-safe.
"""

from __future__ import annotations

import os
import struct
from array import array
from bisect import bisect_right
from pathlib import Path

from odradek.storage.file_cache import CachedFile, FileCache

_OFFSET_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")


class _IndexFile:
    entry: struct.Struct

    def __init__(
        self, path: Path, base_offset: int, max_entries: int, cache: FileCache | None
    ) -> None:
        self.path = path
        self.base_offset = base_offset
        self.max_entries = max_entries
        self.keys = array("q")
        self.values = array("q")
        # Open only while written (the entries are in memory): the broker's LRU closes it.
        self._file = CachedFile(FileCache.shared() if cache is None else cache, path)
        self._size = 0

    def _load(self) -> None:
        fd = self._file.fd()
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        usable = len(data) - len(data) % self.entry.size
        for key, value in self.entry.iter_unpack(data[:usable]):
            self._add(key, value)
        self._size = usable
        if usable != len(data):
            os.ftruncate(fd, usable)

    def _add(self, key: int, value: int) -> None:
        raise NotImplementedError

    @property
    def entries(self) -> int:
        return len(self.keys)

    @property
    def is_full(self) -> bool:
        return len(self.keys) >= self.max_entries

    def _write(self, packed: bytes) -> None:
        os.pwrite(self._file.fd(), packed, self._size)
        self._size += len(packed)

    def reset(self) -> None:
        del self.keys[:]
        del self.values[:]
        os.ftruncate(self._file.fd(), 0)
        self._size = 0

    def truncate_to_entries(self, count: int) -> None:
        del self.keys[count:]
        del self.values[count:]
        self._size = count * self.entry.size
        os.ftruncate(self._file.fd(), self._size)

    def flush(self) -> None:
        os.fsync(self._file.fd())

    def close(self) -> None:
        self._file.close()


class OffsetIndex(_IndexFile):
    """keys: absolute offsets; values: file positions."""

    entry = _OFFSET_ENTRY

    def __init__(
        self,
        path: Path,
        base_offset: int,
        max_index_bytes: int,
        load: bool = True,
        cache: FileCache | None = None,
    ) -> None:
        super().__init__(path, base_offset, max(1, max_index_bytes // _OFFSET_ENTRY.size), cache)
        if load:
            self._load()

    def _add(self, key: int, value: int) -> None:
        self.keys.append(self.base_offset + key)
        self.values.append(value)

    def append(self, offset: int, position: int) -> None:
        if self.keys and offset <= self.keys[-1]:
            return
        self.keys.append(offset)
        self.values.append(position)
        self._write(_OFFSET_ENTRY.pack(offset - self.base_offset, position))

    def lookup(self, offset: int) -> tuple[int, int]:
        """(offset, position) of the largest entry <= ``offset``, else (base, 0)."""
        slot = bisect_right(self.keys, offset) - 1
        if slot < 0:
            return self.base_offset, 0
        return self.keys[slot], self.values[slot]

    def truncate_to(self, offset: int) -> None:
        """Drop entries for offsets >= ``offset``."""
        self.truncate_to_entries(bisect_right(self.keys, offset - 1))


class TimeIndex(_IndexFile):
    """keys: timestamps; values: absolute offsets."""

    entry = _TIME_ENTRY

    def __init__(
        self,
        path: Path,
        base_offset: int,
        max_index_bytes: int,
        load: bool = True,
        cache: FileCache | None = None,
    ) -> None:
        super().__init__(path, base_offset, max(1, max_index_bytes // _TIME_ENTRY.size), cache)
        if load:
            self._load()

    def _add(self, key: int, value: int) -> None:
        self.keys.append(key)
        self.values.append(self.base_offset + value)

    def maybe_append(self, timestamp: int, offset: int) -> None:
        if self.keys and (timestamp <= self.keys[-1] or offset <= self.values[-1]):
            return
        self.keys.append(timestamp)
        self.values.append(offset)
        self._write(_TIME_ENTRY.pack(timestamp, offset - self.base_offset))

    def lookup(self, timestamp: int) -> int:
        """The offset of the largest entry with a timestamp <= ``timestamp``, else base."""
        slot = bisect_right(self.keys, timestamp) - 1
        return self.base_offset if slot < 0 else self.values[slot]

    def truncate_to(self, offset: int) -> None:
        count = len(self.values)
        while count and self.values[count - 1] >= offset:
            count -= 1
        self.truncate_to_entries(count)

    @property
    def last_entry(self) -> tuple[int, int] | None:
        return (self.keys[-1], self.values[-1]) if self.keys else None
