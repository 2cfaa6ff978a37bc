"""A connection's responses on their way out, in order (Kafka's channel send): bytes go to the
transport; records a fetch left in a segment file (FileRecords) are sent from the file, so a
connection's memory grows neither with its responses' size nor when its client stops reading.

- Plain TCP: ``sendfile`` from the segment file straight to the socket (zero-copy, as Kafka),
  once the transport has handed all it holds to the kernel. When the socket is full, a
  duplicate of its descriptor is watched until it is writable again (the loop does not watch
  a transport's own descriptor). uvloop, which the broker runs on, does not implement
  ``loop.sendfile``, hence the direct call.
- TLS: the bytes must go through the transport to be encrypted: READ_STEP bytes are read at
  a time, and the next step waits while the transport's write buffer is full
  (pause_writing / resume_writing).

Records up to INLINE_BYTES a turn are read and written together with the bytes around them
instead: one write rather than three. INLINE_BYTES is a consumer's usual response (librdkafka's
and Java's ``max.partition.fetch.bytes``, 1 MiB). Measured over loopback on a 2-core VM, a
librdkafka consumer of 1 KB records cost the broker 0.59 ms of CPU per MB this way, and 0.78
when only responses up to 64 KiB were inlined and the rest went by sendfile
(benchmarks/compare.py, issue #13): sendfile's 64 KiB splices were dearer here than one copy.
What a connection holds stays bounded: one turn's inlined bytes, after which the connection is
not read until the transport has drained. A turn sends at most TURN_BYTES of records, then lets
the event loop serve others."""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeGuard

from odradek.storage.file_records import FileRecords

READ_STEP = 256 * 1024
TURN_BYTES = 1024 * 1024
INLINE_BYTES = 1024 * 1024

InMemory = bytes | bytearray | memoryview
Chunk = InMemory | FileRecords


def _in_memory(chunks: Sequence[Chunk]) -> TypeGuard[Sequence[InMemory]]:
    # A plain loop: every response passes here, and a generator costs more than the check.
    for chunk in chunks:  # noqa: SIM110 (all() over a generator is the slower form here)
        if isinstance(chunk, FileRecords):
            return False
    return True


class TruncatedRecordsError(OSError):
    """The segment file was truncated under records being sent (a follower's log truncated)."""


class SendQueue:
    """What one connection still has to send. ``on_idle`` is called when all of it has gone
    to the kernel; ``on_error(reason)`` when it cannot be sent (the connection should
    close)."""

    def __init__(
        self,
        transport: asyncio.Transport,
        on_idle: Callable[[], None],
        on_error: Callable[[str], None],
    ) -> None:
        self._transport = transport
        self._on_idle = on_idle
        self._on_error = on_error
        self._loop = asyncio.get_running_loop()
        self._items: deque[Chunk] = deque()
        self._sent = 0  # bytes of the FileRecords at the head already sent
        self._paused = False  # the transport's write buffer is full
        self._socket_fd = _plain_socket_fd(transport)  # -1: not zero-copy (TLS)
        self._watched = -1  # the socket's duplicate, watched until it is writable
        self._turn: asyncio.Handle | None = None
        self._close_transport = False
        self._closed = False

    @property
    def sending(self) -> bool:
        """Whether a response is not yet all handed to the transport or the socket."""
        return bool(self._items)

    def send(self, chunks: Sequence[Chunk]) -> None:
        """Queue one response's chunks behind what is still being sent, and send what can
        go now. In-memory chunks with nothing queued go straight to the transport."""
        if self._closed:
            _close_records(chunks)
            return
        if not self._items and _in_memory(chunks):
            self._transport.writelines(chunks)
            return
        idle = not self._items
        self._items.extend(chunks)
        if idle:
            self._send()

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        if self._socket_fd < 0 and self._items and self._turn is None and not self._closed:
            self._send()

    def close_transport_when_sent(self) -> None:
        """Close the transport (gracefully: it flushes what it holds) once all is sent."""
        if self._items:
            self._close_transport = True
        else:
            self._transport.close()

    def close(self) -> None:
        """The connection is gone: drop what is unsent, closing its FileRecords."""
        if self._closed:
            return
        self._closed = True
        if self._turn is not None:
            self._turn.cancel()
            self._turn = None
        self._unwatch()
        _close_records(self._items)
        self._items.clear()

    # -- sending ---------------------------------------------------------------------------------

    def _send(self) -> None:
        """Send what the transport and socket take now, in order; stop when a FileRecords
        has to wait, or after TURN_BYTES of them (the next turn is scheduled)."""
        self._turn = None
        if self._closed:
            return
        if self._transport.is_closing():
            self.close()
            return
        try:
            done = self._send_items()
        except OSError as exc:
            self.close()
            self._on_error(f"sending fetched records failed: {exc}")
            self._transport.abort()  # even if the connection was already closing
            return
        if done:
            self._unwatch()
            if self._close_transport:
                self._transport.close()
            self._on_idle()

    def _send_items(self) -> bool:
        """True when all was sent; False when waiting (writable, resumed or next turn)."""
        items = self._items
        budget, inline = TURN_BYTES, INLINE_BYTES
        run: list[InMemory] = []  # in-memory chunks in a row, written together
        while items:
            head = items[0]
            if not isinstance(head, FileRecords):
                run.append(head)
                items.popleft()
                continue
            if head.size <= inline and not self._sent and not self._paused:
                run.append(_read_whole(head))
                inline -= head.size
                items.popleft()
                continue
            if run:
                self._transport.writelines(run)
                run = []
            if budget <= 0:
                self._turn = self._loop.call_soon(self._send)
                return False
            sent = self._send_records(head, budget)
            if sent is None:
                return False
            budget -= sent
            if self._sent == head.size:
                items.popleft()
                head.close()
                self._sent = 0
        if run:
            self._transport.writelines(run)
        return True

    def _send_records(self, records: FileRecords, budget: int) -> int | None:
        if self._socket_fd >= 0:
            return self._send_file(records, budget)
        return self._step(records, budget)

    def _send_file(self, records: FileRecords, budget: int) -> int | None:
        """sendfile up to ``budget`` bytes of ``records``: the number sent, or None when
        waiting for the socket (or for the transport to flush first)."""
        if self._transport.get_write_buffer_size():
            self._watch()  # what the transport holds goes first
            return None
        sent = 0
        while sent < budget and self._sent < records.size:
            try:
                count = records.send_to(self._socket_fd, self._sent, budget - sent)
            except BlockingIOError:
                self._watch()
                return None
            if count == 0:
                raise TruncatedRecordsError(f"{records} were truncated while being sent")
            self._sent += count
            sent += count
        return sent

    def _step(self, records: FileRecords, budget: int) -> int | None:
        """Read and write READ_STEP bytes at a time, while the transport takes them: the
        number written, or None when waiting for resume_writing."""
        sent = 0
        while sent < budget and self._sent < records.size:
            if self._paused:
                return None
            data = records.read(self._sent, READ_STEP)
            if not data:
                raise TruncatedRecordsError(f"{records} were truncated while being sent")
            self._transport.write(data)
            self._sent += len(data)
            sent += len(data)
        return sent

    # -- waiting for the socket ------------------------------------------------------------------

    def _watch(self) -> None:
        if self._watched < 0:
            self._watched = os.dup(self._socket_fd)
        self._loop.add_writer(self._watched, self._on_writable)

    def _on_writable(self) -> None:
        if not self._closed:
            self._loop.remove_writer(self._watched)
            self._send()

    def _unwatch(self) -> None:
        """Stop watching the duplicate and close it (the watch goes first: a descriptor
        closed while watched could stay registered with the poller)."""
        if self._watched >= 0:
            self._loop.remove_writer(self._watched)
            os.close(self._watched)
            self._watched = -1


def _plain_socket_fd(transport: asyncio.Transport) -> int:
    """The descriptor of a plain TCP transport's socket; -1 for TLS (or no socket)."""
    if transport.get_extra_info("ssl_object") is not None:
        return -1
    sock = transport.get_extra_info("socket")
    return int(sock.fileno()) if sock is not None else -1


def _read_whole(records: FileRecords) -> bytes:
    data = records.read(0, records.size)
    records.close()
    if len(data) < records.size:
        raise TruncatedRecordsError(f"{records} were truncated before being sent")
    return data


def _close_records(chunks: Sequence[Chunk] | deque[Chunk]) -> None:
    for chunk in chunks:
        if isinstance(chunk, FileRecords):
            chunk.close()
