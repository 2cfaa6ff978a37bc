"""The exclusive lock a broker holds on each log dir, ``<log dir>/.lock`` (Kafka's FileLock):
a second broker pointed at the same dir refuses to start instead of recovering, rewriting
or marking as cleanly shut down the logs of the broker already running there."""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import weakref
from pathlib import Path

from odradek.common.errors import KafkaStorageError

LOCK_FILE = ".lock"

# Linux's open-file-description locks: an fcntl record lock, so it conflicts with the one
# Kafka's JVM takes on the same file, but owned by the open file rather than by the process,
# so two brokers in one process exclude each other too. Elsewhere: flock, which has the
# second property only.
_OFD_SETLK: int | None = getattr(fcntl, "F_OFD_SETLK", None)
_HELD_ERRNOS = (errno.EACCES, errno.EAGAIN)
# struct flock: l_type, l_whence, l_start, l_len (0: to the end of the file, however far it
# grows), l_pid (0, as open-file-description locks require), padded to the C struct's size.
_WHOLE_FILE_WRITE_LOCK = struct.pack("hhqqi0q", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)


class LogDirLockedError(KafkaStorageError):
    """Another broker, in another process or in this one, holds a log dir's lock."""


class FileLock:
    """An exclusive lock on ``<directory>/.lock``, held from :meth:`acquire` until
    :meth:`release`, until the object is garbage-collected, or until the process ends
    (a crash included). The file carries the holder's pid, for the refusal message only."""

    def __init__(self, fd: int) -> None:
        self._release = weakref.finalize(self, _unlock, fd)

    @classmethod
    def acquire(cls, directory: Path) -> FileLock:
        """Lock ``directory`` (which must exist) without waiting.

        Raises LogDirLockedError when another holder has it; nothing else in the directory
        is read or written."""
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if not _try_lock(fd):
                raise LogDirLockedError(_refusal(directory, _holder(fd)))
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd)

    def release(self) -> None:
        """Let go of the lock (a no-op once released)."""
        self._release()


def _try_lock(fd: int) -> bool:
    """Lock the whole file exclusively; False if another holder has it."""
    try:
        if _OFD_SETLK is not None:
            fcntl.fcntl(fd, _OFD_SETLK, _WHOLE_FILE_WRITE_LOCK)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _HELD_ERRNOS:
            return False
        raise
    return True


def _holder(fd: int) -> int | None:
    """The pid the holder wrote into the lock file, if any (Kafka itself writes none)."""
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip())
    except (OSError, ValueError):
        return None


def _refusal(directory: Path, holder: int | None) -> str:
    message = (
        f"Failed to acquire lock on file {LOCK_FILE} in {directory}: another broker "
        "(in this or another process) is using this log directory."
    )
    if holder is not None:
        message += f" The lock file names pid {holder}."
    return message


def _unlock(fd: int) -> None:
    """Empty the lock file of its pid and close it, which releases the lock."""
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)
