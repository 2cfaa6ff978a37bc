"""Length-prefixed frame splitting: feed bytes in, take whole frames out. No I/O."""

from __future__ import annotations

import struct

_SIZE = struct.Struct(">i")


class FrameTooLargeError(Exception):
    """A frame announced more bytes than ``socket.request.max.bytes``: close the connection."""


class InvalidFrameError(Exception):
    """A negative frame length: the peer is not speaking Kafka."""


class FrameDecoder:
    """Splits a byte stream into Kafka request frames (a 4-byte size, then that many bytes).

    The size is checked against ``max_frame_bytes`` before anything is buffered for the frame,
    so an oversized announcement costs nothing.
    """

    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._need: int | None = None

    def receive_data(self, data: bytes) -> None:
        self._buffer += data

    def next_frame(self) -> bytes | None:
        """The next complete frame's payload, or None when more bytes are needed."""
        buffer = self._buffer
        if self._need is None:
            if len(buffer) < 4:
                return None
            (size,) = _SIZE.unpack_from(buffer, 0)
            if size < 0:
                raise InvalidFrameError(f"negative frame size {size}")
            if size > self.max_frame_bytes:
                raise FrameTooLargeError(
                    f"frame of {size} bytes exceeds socket.request.max.bytes "
                    f"({self.max_frame_bytes})")
            self._need = size
        need = self._need
        if len(buffer) < 4 + need:
            return None
        frame = bytes(buffer[4:4 + need])
        del buffer[:4 + need]
        self._need = None
        return frame

    @property
    def bytes_needed(self) -> int:
        """How many more bytes the current frame needs (at least 1 when unknown)."""
        if self._need is None:
            return max(1, 4 - len(self._buffer))
        return max(1, 4 + self._need - len(self._buffer))


def frame(payload: bytes) -> bytes:
    return _SIZE.pack(len(payload)) + payload
