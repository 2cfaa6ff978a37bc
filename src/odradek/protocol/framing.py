"""Length-prefixed frame splitting: feed bytes in, take whole frames out. No I/O.

Frames come out as memoryviews into the received bytes: a frame that arrived in one read is
never copied, and one that arrived in pieces is joined once, when it is complete."""

from __future__ import annotations

import struct

_SIZE = struct.Struct(">i")


class FrameTooLargeError(Exception):
    """A frame announced more bytes than ``socket.request.max.bytes``: close the connection."""


class InvalidFrameError(Exception):
    """A negative frame length: the peer is not speaking Kafka."""


class FrameDecoder:
    """Splits a byte stream into Kafka request frames (a 4-byte size, then that many bytes).

    The size is checked against ``max_frame_bytes`` as soon as its 4 bytes are in, before
    anything of the frame is kept, so an oversized announcement costs nothing.
    """

    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._head = b""  # bytes being consumed from ``_pos`` on
        self._pos = 0
        self._tail: list[bytes] = []  # later chunks, not yet joined
        self._available = 0  # bytes buffered beyond ``_pos``

    def receive_data(self, data: bytes) -> None:
        if not data:
            return
        if self._pos >= len(self._head) and not self._tail:
            self._head, self._pos = data, 0
        else:
            self._tail.append(data)
        self._available += len(data)

    def _consolidate(self) -> None:
        self._head = b"".join([self._head[self._pos :], *self._tail])
        self._pos = 0
        self._tail = []

    def next_frame(self) -> memoryview | None:
        """The next complete frame's payload, or None when more bytes are needed."""
        if self._available < 4:
            return None
        if len(self._head) - self._pos < 4:
            self._consolidate()
        (size,) = _SIZE.unpack_from(self._head, self._pos)
        if size < 0:
            raise InvalidFrameError(f"negative frame size {size}")
        if size > self.max_frame_bytes:
            raise FrameTooLargeError(
                f"frame of {size} bytes exceeds socket.request.max.bytes ({self.max_frame_bytes})"
            )
        if self._available < 4 + size:
            return None
        if len(self._head) - self._pos < 4 + size:
            self._consolidate()
        start = self._pos + 4
        frame = memoryview(self._head)[start : start + size]
        self._pos = start + size
        self._available -= 4 + size
        if self._pos >= len(self._head) and not self._tail:
            self._head, self._pos = b"", 0
        return frame

    @property
    def buffered(self) -> int:
        return self._available

    @property
    def incomplete_frame_size(self) -> int:
        """The announced size of the frame being received (0 when none has begun, or its
        4-byte size is not in yet)."""
        if self._available < 4:
            return 0
        if len(self._head) - self._pos < 4:
            self._consolidate()
        size: int = _SIZE.unpack_from(self._head, self._pos)[0]
        return max(size, 0)


def frame(payload: bytes) -> bytes:
    return _SIZE.pack(len(payload)) + payload
