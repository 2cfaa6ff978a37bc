"""One client connection: frames in, responses out in request order (clients pipeline).

A thin asyncio adapter around the sans-IO frame decoder and the dispatcher. Reading pauses
while too many responses are pending or the transport's write buffer is full."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from time import perf_counter
from typing import TYPE_CHECKING

from odradek.observability import metrics
from odradek.protocol.codec import RequestParseError
from odradek.protocol.framing import FrameDecoder, FrameTooLargeError, InvalidFrameError
from odradek.server.dispatcher import METADATA_CHANGING_APIS, Chunks, dispatch
from odradek.server.errors import CloseConnectionError
from odradek.server.request_context import ConnectionInfo

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer

log = logging.getLogger(__name__)

MAX_PENDING_RESPONSES = 256


class _Slot:
    __slots__ = (
        "chunks",
        "completed",
        "header",
        "local_done",
        "ordered",
        "ready",
        "received",
        "started",
    )

    def __init__(self) -> None:
        self.ready = False
        self.ordered = False  # later requests wait for this one (METADATA_CHANGING_APIS)
        self.chunks: Chunks | None = None
        self.header: bytes | None = None  # set when timed for metrics

    def time(self, frame: memoryview, received: float, started: float) -> None:
        """Keep what the request metrics need (api key and version, times so far)."""
        self.header = bytes(frame[:4])
        self.received, self.started = received, started
        self.local_done = self.completed = perf_counter()


class KafkaConnection(asyncio.Protocol):
    def __init__(self, broker: BrokerServer, listener_name: str = "PLAINTEXT") -> None:
        self.broker = broker
        self.listener_name = listener_name
        self.info = ConnectionInfo(listener_name)
        self.decoder = FrameDecoder(int(broker.config.get("socket.request.max.bytes")))
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self._pending: deque[_Slot] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self.peer_host = ""
        self._reading_paused = False
        self._writing_paused = False
        # Frames received while a metadata-changing request is in progress, handled after it.
        self._waiting_for_ordered = False
        self._held: deque[bytes] = deque()
        self.closed = False
        self.received_at = 0.0  # when the last bytes arrived (request metrics: queue time)

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        peername = transport.get_extra_info("peername")
        self.peer = str(peername)
        self.peer_host = str(peername[0]) if isinstance(peername, tuple) else ""
        peer_port = int(peername[1]) if isinstance(peername, tuple) else -1
        self.info = ConnectionInfo(self.listener_name, self.peer_host, peer_port)

        self.broker.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.broker.connections.discard(self)
        for task in self._tasks:
            task.cancel()

    def data_received(self, data: bytes) -> None:
        self.received_at = perf_counter()
        decoder = self.decoder
        decoder.receive_data(data)
        try:
            while not self.closed:
                frame = decoder.next_frame()
                if frame is None:
                    break
                if self._waiting_for_ordered:
                    self._held.append(bytes(frame))
                    self._update_reading()
                    continue
                self._on_frame(frame)
        except (FrameTooLargeError, InvalidFrameError) as exc:
            self.close(f"{exc}")

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._update_reading()

    # -- requests and responses ----------------------------------------------------------------

    def _on_frame(self, frame: memoryview) -> None:
        started = perf_counter()
        try:
            outcome = dispatch(self.broker, frame, self.info)
        except RequestParseError as exc:
            self.close(f"invalid request: {exc}")
            return
        except CloseConnectionError as exc:
            self.close(str(exc))
            return
        except Exception:
            log.exception("unexpected error handling a request from %s", self.peer)
            self.close("internal error")
            return
        if outcome is None:
            if metrics.ENABLED:
                done = perf_counter()
                metrics.record_immediate(frame, self.received_at, started, done, done)
            return
        if isinstance(outcome, list):
            if not self._pending:
                local_done = perf_counter()
                self._write(outcome)
                if metrics.ENABLED:
                    metrics.record_immediate(
                        frame, self.received_at, started, local_done, perf_counter()
                    )
                return
            slot = _Slot()
            slot.ready, slot.chunks = True, outcome
            if metrics.ENABLED:
                slot.time(frame, self.received_at, started)
            self._pending.append(slot)
            return
        slot = _Slot()
        if metrics.ENABLED:
            slot.time(frame, self.received_at, started)
        if int.from_bytes(frame[:2], "big", signed=True) in METADATA_CHANGING_APIS:
            slot.ordered = self._waiting_for_ordered = True
        self._pending.append(slot)
        task = asyncio.ensure_future(self._complete(slot, outcome))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._update_reading()

    async def _complete(self, slot: _Slot, outcome: object) -> None:
        try:
            slot.chunks = await outcome  # type: ignore[misc]
        except asyncio.CancelledError:
            raise
        except CloseConnectionError as exc:
            self.close(str(exc))
            return
        except Exception:
            log.exception("unexpected error completing a request from %s", self.peer)
            self.close("internal error")
            return
        slot.ready = True
        if slot.header is not None:
            slot.completed = perf_counter()
        self._drain()
        if slot.ordered:
            self._waiting_for_ordered = False
            self._handle_held()

    def _handle_held(self) -> None:
        """Handle the frames that waited for a metadata-changing request, in order, until
        the next such request."""
        held = self._held
        while held and not self._waiting_for_ordered and not self.closed:
            self._on_frame(memoryview(held.popleft()))
        self._update_reading()

    def _drain(self) -> None:
        pending = self._pending
        while pending and pending[0].ready:
            slot = pending.popleft()
            send_start = perf_counter()
            if slot.chunks is not None:
                self._write(slot.chunks)
            if slot.header is not None:
                metrics.record_request(
                    slot.header,
                    slot.received,
                    slot.started,
                    slot.local_done,
                    slot.completed,
                    send_start,
                    perf_counter(),
                )
        self._update_reading()

    def _write(self, chunks: Chunks) -> None:
        if self.transport is not None and not self.closed:
            self.transport.writelines(chunks)

    def _update_reading(self) -> None:
        if self.transport is None or self.closed:
            return
        should_pause = (
            self._writing_paused or len(self._pending) + len(self._held) >= MAX_PENDING_RESPONSES
        )
        if should_pause and not self._reading_paused:
            self.transport.pause_reading()
            self._reading_paused = True
        elif not should_pause and self._reading_paused:
            self.transport.resume_reading()
            self._reading_paused = False

    @property
    def idle(self) -> bool:
        return not self._pending

    def queue_sizes(self) -> tuple[int, int]:
        """(requests being handled, responses ready but queued behind one): for metrics."""
        ready = sum(1 for slot in self._pending if slot.ready)
        return len(self._pending) - ready, ready

    def close(self, reason: str) -> None:
        if self.closed:
            return
        log.info("closing connection from %s: %s", self.peer, reason)
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
