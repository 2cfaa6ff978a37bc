"""Length-prefixed frame splitting: bytes are read into the decoder's buffer, whole frames
come out. No I/O.

The decoder serves asyncio's buffered-protocol interface (``get_buffer``/``buffer_updated``):
the transport reads — and, on a TLS listener, decrypts — straight into the decoder's own
``bytearray``, so received bytes are not copied into temporary ``bytes`` objects and then
joined. Frames come out as read-only memoryviews into that buffer. Once a frame's 4-byte size
is in, the buffer is made large enough for the whole frame, so a frame is copied at most once
(when its first bytes arrived in a buffer too small for it) and usually not at all.

Buffers are reused, from the decoder's own and from a pool shared by the decoders of one
thread, but only when nothing points into them any more: CPython refuses to resize a
``bytearray`` while a memoryview of it is alive, which :func:`reusable` asks. A frame a
handler still holds therefore keeps its bytes; the decoder moves on to another buffer.
"""

from __future__ import annotations

import struct
import threading

_SIZE = struct.Struct(">i")

# A fresh buffer when no frame is being received: enough for many small requests per read.
STAGING_BYTES = 64 * 1024
# Read into the current buffer's free tail only while at least this much is left.
MIN_FREE_BYTES = 4 * 1024
# A frame larger than this gets a buffer that grows with what has arrived (to twice the
# received bytes each time it is full), so a peer announcing a huge frame and sending
# nothing holds no more than this; smaller frames get their whole size at once.
WHOLE_FRAME_BYTES = 1024 * 1024
# Buffers up to this size are pooled (sizes are powers of two from STAGING_BYTES), and a
# thread's pool keeps at most POOL_BYTES of them.
POOLED_MAX_BYTES = 2 * 1024 * 1024
POOL_BYTES = 32 * 1024 * 1024


def reusable(buf: bytearray) -> bool:
    """Whether no memoryview of ``buf`` is alive, so its bytes may be overwritten: deleting
    its last byte (put back at once) raises BufferError while any view exists."""
    if not buf:
        return False
    last = buf[-1]
    try:
        del buf[-1]
    except BufferError:
        return False
    buf.append(last)
    return True


class ReceiveBufferPool:
    """Free receive buffers, shared by the frame decoders of one thread (the event loop's):
    a connection between requests gives its buffer back instead of holding it, and the next
    read anywhere takes it, so a busy broker does not allocate and zero a buffer per read."""

    def __init__(self, limit_bytes: int = POOL_BYTES) -> None:
        self.limit_bytes = limit_bytes
        self._free: dict[int, list[bytearray]] = {}
        self._bytes = 0

    @staticmethod
    def size_for(wanted: int) -> int:
        """The pooled size that holds ``wanted`` bytes; beyond the largest, ``wanted``."""
        size = STAGING_BYTES
        while size < wanted:
            size <<= 1
        return size if size <= POOLED_MAX_BYTES else wanted

    def take(self, wanted: int) -> bytearray:
        size = self.size_for(wanted)
        free = self._free.get(size)
        if free:
            self._bytes -= size
            return free.pop()
        return bytearray(size)

    def give(self, buf: bytearray) -> None:
        """Keep ``buf`` for reuse if it has a pooled size, there is room, and nothing points
        into it; otherwise let it go."""
        size = len(buf)
        if size > POOLED_MAX_BYTES or size != self.size_for(size):
            return
        if self._bytes + size > self.limit_bytes or not reusable(buf):
            return
        self._free.setdefault(size, []).append(buf)
        self._bytes += size

    @property
    def pooled_bytes(self) -> int:
        return self._bytes


_THREAD_POOLS = threading.local()


def thread_pool() -> ReceiveBufferPool:
    """This thread's pool (a broker's decoders all run on its event loop's thread)."""
    pool: ReceiveBufferPool | None = getattr(_THREAD_POOLS, "pool", None)
    if pool is None:
        pool = _THREAD_POOLS.pool = ReceiveBufferPool()
    return pool


class FrameTooLargeError(Exception):
    """A frame announced more bytes than ``socket.request.max.bytes``: close the connection."""


class InvalidFrameError(Exception):
    """A negative frame length: the peer is not speaking Kafka."""


class FrameDecoder:
    """Splits a byte stream into Kafka request frames (a 4-byte size, then that many bytes).

    The size is checked against ``max_frame_bytes`` as soon as its 4 bytes are in, before
    the buffer is sized for the frame, so an oversized announcement costs nothing.
    """

    def __init__(self, max_frame_bytes: int, pool: ReceiveBufferPool | None = None) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._pool = pool if pool is not None else thread_pool()
        self._buf = bytearray()  # bytes [_start, _end) are received and not yet framed
        self._start = 0
        self._end = 0

    # -- asyncio.BufferedProtocol's half -------------------------------------------------------

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Where the next read goes: the free tail of the buffer, replaced first when it
        cannot take the rest of the frame being received (or, between frames, is nearly full)."""
        if self._start == self._end and self._start and reusable(self._buf):
            self._start = self._end = 0  # all framed and no frame alive: from the start again
        free = len(self._buf) - self._end
        whole = self._frame_size()
        if whole and self._start + whole > len(self._buf):
            if whole <= WHOLE_FRAME_BYTES:
                self._replace(whole)
            elif free < MIN_FREE_BYTES:  # a huge frame: grow with what has arrived
                self._replace(min(whole, max(WHOLE_FRAME_BYTES, 2 * self.buffered)))
        elif free < MIN_FREE_BYTES and (not whole or not free):
            # Between frames (or a whole frame in and not yet taken out): a fresh buffer.
            self._replace(STAGING_BYTES)
        return memoryview(self._buf)[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` were written at the start of the last :meth:`get_buffer`'s view."""
        self._end += nbytes

    def receive_data(self, data: bytes) -> None:
        """Copy ``data`` in (the non-buffered way in, for tests and tools)."""
        view = memoryview(data)
        while view:
            target = self.get_buffer(len(view))
            count = min(len(target), len(view))
            target[:count] = view[:count]
            self.buffer_updated(count)
            view = view[count:]

    def _frame_size(self) -> int:
        """The whole size (4 + payload) of the frame being received; 0 while its size is
        not in, or is one :meth:`next_frame` refuses."""
        if self._end - self._start < 4:
            return 0
        size: int = _SIZE.unpack_from(self._buf, self._start)[0]
        if size < 0 or size > self.max_frame_bytes:
            return 0
        return 4 + size

    def _replace(self, wanted: int) -> None:
        """A buffer of at least ``wanted`` bytes (and room to read into) holding the unframed
        bytes at its start; the old one goes back to the pool unless a frame still uses it."""
        pending = self._end - self._start
        buf = self._pool.take(max(wanted, pending + MIN_FREE_BYTES))
        if pending:
            buf[:pending] = memoryview(self._buf)[self._start : self._end]
        old, self._buf, self._start, self._end = self._buf, buf, 0, pending
        if old:
            self._pool.give(old)

    # -- frames --------------------------------------------------------------------------------

    def next_frame(self) -> memoryview | None:
        """The next complete frame's payload, or None when more bytes are needed."""
        start = self._start
        available = self._end - start
        if available < 4:
            return None
        (size,) = _SIZE.unpack_from(self._buf, start)
        if size < 0:
            raise InvalidFrameError(f"negative frame size {size}")
        if size > self.max_frame_bytes:
            raise FrameTooLargeError(
                f"frame of {size} bytes exceeds socket.request.max.bytes ({self.max_frame_bytes})"
            )
        if available < 4 + size:
            return None
        self._start = start + 4 + size
        # Read-only, as a frame in ``bytes`` was (the decoders refuse writable buffers).
        return memoryview(self._buf)[start + 4 : self._start].toreadonly()

    def release(self) -> None:
        """Between requests: give the buffer back to the pool (or, while a frame still points
        into it, just let go of it), so an idle connection holds none."""
        if self._start == self._end and self._buf:
            old, self._buf, self._start, self._end = self._buf, bytearray(), 0, 0
            self._pool.give(old)

    @property
    def buffered(self) -> int:
        return self._end - self._start

    @property
    def incomplete_frame_size(self) -> int:
        """The announced size of the frame being received (0 when none has begun, or its
        4-byte size is not in yet)."""
        if self._end - self._start < 4:
            return 0
        size: int = _SIZE.unpack_from(self._buf, self._start)[0]
        return max(size, 0)


def frame(payload: bytes) -> bytes:
    return _SIZE.pack(len(payload)) + payload
