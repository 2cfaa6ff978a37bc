"""The broker's open segment files, at most a fixed number at a time: an LRU of descriptors.

Each segment file (``.log``, ``.index``, ``.timeindex``) is a :class:`CachedFile`, opened on
first use and closed again when the cache needs its descriptor for a file used more
recently, so the partitions a broker holds are not limited by the open-file limit: an
inactive partition keeps no file open. The cap (:func:`capacity_for`) is derived from the
process's soft ``RLIMIT_NOFILE``, leaving the rest for connections and short-lived files.

A file is shared (:class:`~odradek.storage.file_records.SharedFile`): a fetch being sent holds
its own reference, so closing it here never cuts a ``sendfile`` short; the descriptor closes
when the last holder lets go. A file can be pinned open (the cleaner's swap renames new files
to the names of segments still being read: reopening one by name then would read the wrong
file). Not thread-safe: used from the broker's event loop only."""

from __future__ import annotations

import errno
import os
import resource
from collections import OrderedDict
from pathlib import Path

from odradek.storage.file_records import SharedFile

# The share of the open-file limit left for connections, listeners, ZooKeeper, the cleaner's
# workers and short-lived files (checkpoints, snapshots, transaction indexes).
OTHER_FILES_SHARE = 4
MIN_CAPACITY = 96
"""Fewer open segment files than this (an open-file limit below 128) and the broker refuses
to start: it would spend its time reopening files, and have few descriptors for clients."""

FILE_LIMIT_ERRORS = (errno.EMFILE, errno.ENFILE)
"""Too many open files: the process's limit, not a failing disk."""


def capacity_for(limit: int) -> int:
    """Open segment files allowed under an open-file limit of ``limit``: three quarters of it."""
    return limit - limit // OTHER_FILES_SHARE


def default_capacity() -> int:
    """:func:`capacity_for` the process's soft open-file limit (unlimited: a million)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return capacity_for(1_000_000 if soft == resource.RLIM_INFINITY else soft)


class FileCache:
    """At most ``capacity`` open :class:`CachedFile` s, the least recently used closed first."""

    _shared_instance: FileCache | None = None

    @classmethod
    def shared(cls) -> FileCache:
        """The process's cache (the open-file limit is the process's), sized by
        :func:`default_capacity` when first used: after ``odradek serve`` raised the limit."""
        if cls._shared_instance is None:
            cls._shared_instance = cls(default_capacity())
        return cls._shared_instance

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._open: OrderedDict[CachedFile, None] = OrderedDict()
        self.opens = 0  # descriptors opened, reopenings after an eviction included
        self.evictions = 0

    @property
    def open_files(self) -> int:
        return len(self._open)

    def open(self, path: Path, flags: int) -> int:
        """``os.open`` with room made first; on EMFILE/ENFILE (descriptors held elsewhere)
        closes a quarter of the cached files and tries once more."""
        self._make_room(self.capacity - 1)
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            if exc.errno not in FILE_LIMIT_ERRORS or not self._open:
                raise
            self._make_room(len(self._open) - max(1, len(self._open) // 4))
            fd = os.open(path, flags, 0o644)
        self.opens += 1
        return fd

    def _make_room(self, keep: int) -> None:
        """Close the least recently used unpinned files until at most ``keep`` are open."""
        while len(self._open) > keep:
            oldest = next((file for file in self._open if not file.pinned), None)
            if oldest is None:
                return  # all pinned (a few, briefly): over the cap until they are closed
            oldest.evict()
            self.evictions += 1

    def opened(self, file: CachedFile) -> None:
        self._open[file] = None

    def used(self, file: CachedFile) -> None:
        self._open.move_to_end(file)

    def closed(self, file: CachedFile) -> None:
        self._open.pop(file, None)


class CachedFile:
    """One segment file, open while it is in its :class:`FileCache`. ``fd()`` opens it when
    needed (an evicted file is reopened by its path, never created); after :meth:`close` it
    raises EBADF, as a closed descriptor would."""

    __slots__ = ("_shared", "cache", "closed", "path", "pinned")

    def __init__(self, cache: FileCache, path: Path, truncate: bool = False) -> None:
        """Open ``path`` now, creating it if missing (emptying it if ``truncate``)."""
        self.cache = cache
        self.path = path
        self.pinned = False
        self.closed = False
        self._shared: SharedFile | None = None
        flags = os.O_RDWR | os.O_CREAT | (os.O_TRUNC if truncate else 0)
        self._attach(cache.open(path, flags))

    def _attach(self, fd: int) -> SharedFile:
        shared = self._shared = SharedFile(fd)
        self.cache.opened(self)
        return shared

    def shared(self) -> SharedFile:
        """The open file (reopened if it was evicted), marked as used now."""
        shared = self._shared
        if shared is None:
            if self.closed:
                raise OSError(errno.EBADF, f"{self.path} is closed")
            return self._attach(self.cache.open(self.path, os.O_RDWR))
        self.cache.used(self)
        return shared

    def fd(self) -> int:
        return self.shared().fd

    @property
    def is_open(self) -> bool:
        return self._shared is not None

    def evict(self) -> None:
        """Let go of the descriptor (closed once no fetch being sent holds it); the next use
        reopens the file."""
        shared = self._shared
        if shared is not None:
            self._shared = None
            self.cache.closed(self)
            shared.release()

    def close(self) -> None:
        """For good: later uses raise EBADF."""
        self.closed = True
        self.pinned = False
        self.evict()

    def pin(self) -> None:
        """Keep the file open (opening it now) until :meth:`close`."""
        self.shared()
        self.pinned = True
