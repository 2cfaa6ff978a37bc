"""The single-node metadata log: a snapshot of the metadata and the log of changes since.

``odradek-metadata.snapshot`` holds every key of every namespace as JSON, written atomically
(temp file, fsync, rename). ``odradek-metadata.log`` starts with a header (magic, generation)
and holds the records appended since that snapshot (:mod:`metadata_records`), each appended
with one ``pwrite`` and ``fdatasync``: a write costs the same whatever the number of topics.

The log's space is reserved up front (``posix_fallocate``) and records are written into it,
so a change — deleting a topic to free space — can be recorded on a device with no free byte
left. Once the records outgrow the live state (half the reservation), the log is compacted: a
new snapshot of generation g+1 is written, then the log is zeroed in place and its header set
to g+1. A log whose generation is older than the snapshot's (a crash between the two) holds
nothing the snapshot lacks and is reset on recovery. When compaction fails (a full device)
appends go on into the rest of the reservation; one that finds no room and cannot make any
raises the OSError.

Recovery reads the snapshot, replays the log's records and cuts (zeroes) the log after the
last valid one: a torn or corrupt tail is a crash mid-append, and every record before it was
durable before the next was written. Not thread-safe: one writer at a time."""

from __future__ import annotations

import json
import logging
import os
import struct
import weakref
from pathlib import Path
from typing import Any

from odradek.cluster.metadata_records import MetadataRecord, json_text, scan
from odradek.storage.files import atomic_write, fsync_dir

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "odradek-metadata.snapshot"
LOG_FILE = "odradek-metadata.log"
SNAPSHOT_VERSION = 1
HEADER = struct.Struct(">8sQ")  # magic, generation (that of the snapshot the log follows)
MAGIC = b"ODRKMLOG"
MIN_LOG_BYTES = 1024 * 1024  # the least space reserved for the log
LOG_TO_SNAPSHOT = 2  # space reserved: this many times the snapshot (compacted at half of it)
RETRY_FRACTION = 16  # after a failed compaction, retry once this share of the space is used
ZEROS = bytes(1024 * 1024)

State = dict[str, dict[str, Any]]  # namespace -> key -> value (parsed JSON)


class CorruptMetadataError(Exception):
    """A metadata file that no crash can have left: the operator must look at it."""


def _entries(state: State) -> dict[str, dict[str, str]]:
    return {
        ns: {k: f"{json_text(k)}:{json_text(v)}" for k, v in keys.items()}
        for ns, keys in state.items()
    }


def _close(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


class MetadataLog:
    """The snapshot and log of one directory; the state they hold is returned by
    :meth:`create` or :meth:`recover`, and changed by :meth:`append`."""

    def __init__(self, directory: Path, min_log_bytes: int = MIN_LOG_BYTES) -> None:
        self.snapshot_path = directory / SNAPSHOT_FILE
        self.log_path = directory / LOG_FILE
        self.min_log_bytes = max(min_log_bytes, HEADER.size + 4096)
        self._fd = -1
        self._closer = weakref.finalize(self, _close, -1)
        self._generation = 0
        self._end = 0  # where the next record goes
        self._size = 0  # the log file's size: the space reserved
        self._target_size = self.min_log_bytes
        self._retry_at = 0  # after a failed compaction: none attempted before _end is here
        self._reset_pending = False  # the snapshot is ahead of the log's header
        # The next snapshot: each key's '"key":value' JSON text, by namespace and key.
        self._entries: dict[str, dict[str, str]] = {}

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def used(self) -> int:
        """Bytes of the log holding records."""
        return self._end - HEADER.size

    @property
    def reserved(self) -> int:
        """Bytes of the log file, written or reserved."""
        return self._size

    def exists(self) -> bool:
        return self.snapshot_path.exists()

    # -- opening --------------------------------------------------------------------------------

    def create(self, state: State) -> None:
        """Start the snapshot and log of a directory holding ``state`` (empty, or read from an
        earlier format). A log without a snapshot is no crash's doing: refused."""
        if self.log_path.exists():
            raise CorruptMetadataError(f"{self.log_path}: a metadata log without its snapshot")
        self._entries = _entries(state)
        self._generation = 1
        self._target_size = self._reservation(self._write_snapshot(self._generation))
        self._open_new_log()

    def recover(self) -> State:
        """Read the snapshot and replay the log; cut a torn or corrupt tail."""
        for leftover in (self.snapshot_path, self.log_path):
            leftover.with_name(leftover.name + ".tmp").unlink(missing_ok=True)
        raw = self.snapshot_path.read_bytes()
        state = self._read_snapshot(raw)
        self._entries = _entries(state)
        self._target_size = self._reservation(len(raw))
        if not self.log_path.exists():
            self._open_new_log()
            return state
        self._use_fd(os.open(self.log_path, os.O_RDWR))
        self._size = os.fstat(self._fd).st_size
        data = os.pread(self._fd, self._size, 0)
        if len(data) < HEADER.size:
            raise CorruptMetadataError(f"{self.log_path}: shorter than its header")
        magic, generation = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise CorruptMetadataError(f"{self.log_path}: not a metadata log ({magic!r})")
        if generation > self._generation:
            raise CorruptMetadataError(
                f"{self.log_path}: generation {generation} is ahead of the snapshot's "
                f"{self._generation} (a snapshot from elsewhere?)"
            )
        if generation < self._generation:
            log.info("metadata log %s predates its snapshot: reset", self.log_path)
            self._end = self._size
            self._reset()
            return state
        self._replay(data, state)
        return state

    def _replay(self, data: bytes, state: State) -> None:
        result = scan(data, HEADER.size)
        for record in result.records:
            self._apply(record)
            keys = state.setdefault(record.namespace, {})
            if record.value is None:
                keys.pop(record.key, None)
            else:
                keys[record.key] = json.loads(record.value)
        self._end = result.end
        tail = data[result.end :]
        if result.bad is not None or tail.strip(b"\0"):
            log.warning(
                "metadata log %s: cut after %d records at byte %d: %s",
                self.log_path,
                len(result.records),
                result.end,
                result.bad or "bytes after the last record",
            )
            self._zero(result.end, self._size)
            os.fdatasync(self._fd)

    def _read_snapshot(self, raw: bytes) -> State:
        try:
            snapshot = json.loads(raw)
            if snapshot["version"] != SNAPSHOT_VERSION:
                raise ValueError(f"version {snapshot['version']}")
            self._generation = int(snapshot["generation"])
            state: State = snapshot["state"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptMetadataError(f"{self.snapshot_path}: not a snapshot: {exc}") from exc
        return state

    def _use_fd(self, fd: int) -> None:
        self._closer()  # the file used so far, if any
        self._fd = fd
        self._closer = weakref.finalize(self, _close, fd)

    def _open_new_log(self) -> None:
        """Write a log of the current generation with its space reserved, then rename it in."""
        tmp = self.log_path.with_name(self.log_path.name + ".tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.posix_fallocate(fd, 0, self._target_size)
            os.pwrite(fd, HEADER.pack(MAGIC, self._generation), 0)
            os.fsync(fd)
            os.replace(tmp, self.log_path)
            fsync_dir(self.log_path.parent)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        self._use_fd(fd)
        self._size = self._target_size
        self._end = HEADER.size

    # -- appending ------------------------------------------------------------------------------

    def append(self, record: MetadataRecord) -> None:
        """Make ``record`` durable. Raises OSError when it cannot (then nothing changed)."""
        frame = record.frame()
        if self._end + len(frame) > self._size:
            self._make_room(len(frame))
        if self._reset_pending:  # a compaction that failed half-way: finish it first
            self._reset()
        written = 0
        while written < len(frame):
            written += os.pwrite(self._fd, frame[written:], self._end + written)
        os.fdatasync(self._fd)
        self._end += len(frame)
        self._apply(record)

    def _apply(self, record: MetadataRecord) -> None:
        entries = self._entries.setdefault(record.namespace, {})
        if record.value is None:
            entries.pop(record.key, None)
        else:
            entries[record.key] = f"{json_text(record.key)}:{record.value}"

    def _make_room(self, needed: int) -> None:
        """Compact, or failing that grow the reservation, so ``needed`` more bytes fit."""
        try:
            self.compact()
        except OSError as exc:
            log.warning("metadata log %s full and not compacted: %s", self.log_path, exc)
        if self._end + needed <= self._size:
            return
        grown = max(self._end + needed, self._size + self._target_size // 2)
        os.posix_fallocate(self._fd, self._size, grown - self._size)
        self._size = grown

    # -- compaction -----------------------------------------------------------------------------

    def compaction_due(self) -> bool:
        """The records outgrew the live state (half the space reserved for them)."""
        return self._end > self._target_size // 2 and self._end >= self._retry_at

    def compact(self) -> None:
        """Write a snapshot of the state, then restart the log after it. Raises OSError when
        the snapshot cannot be written (the log is unchanged then)."""
        try:
            written = self._write_snapshot(self._generation + 1)
        except OSError:
            self._retry_at = self._end + self._target_size // RETRY_FRACTION
            raise
        self._generation += 1
        self._target_size = self._reservation(written)
        self._reset()
        self._retry_at = 0
        self._resize()

    def _reservation(self, snapshot_bytes: int) -> int:
        return max(self.min_log_bytes, LOG_TO_SNAPSHOT * snapshot_bytes)

    def _write_snapshot(self, generation: int) -> int:
        namespaces = ",".join(
            json_text(ns) + ":{" + ",".join(entries.values()) + "}"
            for ns, entries in sorted(self._entries.items())
        )
        text = (
            f'{{"generation":{generation},"state":{{{namespaces}}},"version":{SNAPSHOT_VERSION}}}'
        )
        data = text.encode()
        try:
            atomic_write(self.snapshot_path, data)
        except OSError:
            self.snapshot_path.with_name(self.snapshot_path.name + ".tmp").unlink(missing_ok=True)
            raise
        return len(data)

    def _reset(self) -> None:
        """Zero the records, then set the header to the snapshot's generation: until both are
        durable the log's older generation marks it as already in the snapshot."""
        self._reset_pending = True
        self._zero(HEADER.size, self._end)
        os.fdatasync(self._fd)
        os.pwrite(self._fd, HEADER.pack(MAGIC, self._generation), 0)
        os.fdatasync(self._fd)
        self._end = HEADER.size
        self._reset_pending = False

    def _resize(self) -> None:
        """Bring the reservation to the target: grow it (if the device has room) or give back
        what an earlier full device made it grow by."""
        if self._size > self._target_size:
            os.ftruncate(self._fd, self._target_size)
            self._size = self._target_size
        elif self._size < self._target_size:
            try:
                os.posix_fallocate(self._fd, self._size, self._target_size - self._size)
            except OSError as exc:
                log.warning("metadata log %s: reservation not grown: %s", self.log_path, exc)
                return
            self._size = self._target_size

    def _zero(self, start: int, end: int) -> None:
        position = start
        while position < end:
            position += os.pwrite(self._fd, ZEROS[: min(len(ZEROS), end - position)], position)

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        self._closer()
        self._fd = -1
