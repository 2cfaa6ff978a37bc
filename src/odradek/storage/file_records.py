"""Record batches left in a segment file until they are sent: what a fetch answers with, so
that the connection can send them with ``sendfile`` (zero-copy) instead of reading them into
memory (Kafka's FileRecords slice).

The segment's file descriptor is shared by the segment and every FileRecords read from it and
is closed when the last of them lets go: bytes being sent stay readable even if the segment is
deleted, replaced by the cleaner or closed meanwhile (a deleted file lives on while open)."""

from __future__ import annotations

import os


class SharedFile:
    """An open file descriptor and how many hold it; closed when the last one releases it."""

    __slots__ = ("_holders", "fd")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._holders = 1

    def retain(self) -> SharedFile:
        self._holders += 1
        return self

    def release(self) -> None:
        self._holders -= 1
        if self._holders == 0:
            os.close(self.fd)
            self.fd = -1


class FileRecords:
    """``size`` bytes of whole record batches at ``position`` of a segment file; ``len()`` is
    their size. Sent with :meth:`send_to` or read in steps with :meth:`read`, then closed
    with :meth:`close`; one dropped unsent (a fetch answered otherwise) is closed when it is
    collected."""

    __slots__ = ("_file", "position", "size")

    def __init__(self, file: SharedFile, position: int, size: int) -> None:
        self._file: SharedFile | None = file.retain()
        self.position = position
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"FileRecords(position={self.position}, size={self.size})"

    def _fd(self) -> int:
        if self._file is None:
            raise ValueError("FileRecords used after close()")
        return self._file.fd

    def read(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes from ``offset`` into the region; fewer only at its end or
        if the file was truncated under it."""
        size = min(size, self.size - offset)
        return os.pread(self._fd(), size, self.position + offset) if size > 0 else b""

    def send_to(self, socket_fd: int, offset: int, count: int) -> int:
        """``sendfile`` up to ``count`` bytes from ``offset`` into the region to a
        non-blocking socket: the number sent (0 if the file was truncated under the region).
        Raises BlockingIOError when the socket takes nothing now, OSError when it failed."""
        count = min(count, self.size - offset)
        return os.sendfile(socket_fd, self._fd(), self.position + offset, count)

    def close(self) -> None:
        if self._file is not None:
            self._file.release()
            self._file = None

    def __del__(self) -> None:
        self.close()
