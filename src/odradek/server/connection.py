"""One client connection: frames in, responses out in request order (clients pipeline).

A thin asyncio adapter (a buffered protocol: the transport reads into the sans-IO frame
decoder's buffer) around that decoder and the dispatcher. Responses go out
through a SendQueue (a fetch's records from the segment files, zero-copy). Reading pauses while
too many responses are pending, the transport's write buffer is full or a response is still
being sent (Kafka mutes the channel): what one connection holds does not grow with its
responses' size."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from dataclasses import replace
from time import perf_counter
from typing import TYPE_CHECKING, cast

from odradek.common.principal import ANONYMOUS, USER_TYPE, KafkaPrincipal
from odradek.observability import metrics
from odradek.protocol.codec import RequestParseError
from odradek.protocol.framing import FrameDecoder, FrameTooLargeError, InvalidFrameError
from odradek.security.ssl_factory import peer_certificate_subject
from odradek.server.connection_chunks import coalesced
from odradek.server.connection_quotas import Admission
from odradek.server.dispatcher import METADATA_CHANGING_APIS, Chunks, dispatch
from odradek.server.errors import CloseConnectionError
from odradek.server.request_context import ConnectionInfo
from odradek.server.sasl_authenticator import SaslAuthenticator, SaslReply
from odradek.server.send_queue import SendQueue

if TYPE_CHECKING:
    from odradek.security.listener_security import ListenerSecurity
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


class KafkaConnection(asyncio.BufferedProtocol):
    def __init__(self, broker: BrokerServer, security: ListenerSecurity) -> None:
        self.broker = broker
        self.security = security
        self.listener_name = security.name
        self.info = ConnectionInfo(security.name)
        # SASL listeners: requests other than the exchange wait for it to complete.
        self.sasl: SaslAuthenticator | None = None
        if security.protocol.uses_sasl:
            self.sasl = SaslAuthenticator(security, broker.scram_credential)
        self.decoder = FrameDecoder(int(broker.config.get("socket.request.max.bytes")))
        self.transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop  # set with the transport
        self._sends: SendQueue | None = None  # set with the transport
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
        self._muted_until = 0.0  # a client quota's throttle: not read until then (KIP-219)
        self.admitted = False  # counted by the connection quotas and served
        self._reserved = 0  # queued.max.request.bytes held for the request being received
        self._waiting_memory = False
        self.last_active = time.monotonic()
        self.received_at = 0.0  # when the last bytes arrived (request metrics: queue time)

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self._loop = asyncio.get_running_loop()
        self._sends = SendQueue(
            cast("asyncio.Transport", transport), self._update_reading, self.close
        )
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
        try:
            principal = self._tls_principal(transport)
        except CloseConnectionError as exc:
            self.transport, self.closed = None, True
            log.info("closing connection from %s: %s", self.peer, exc)
            transport.close()
            return
        self.info = ConnectionInfo(self.listener_name, self.peer_host, peer_port, principal)
        if not self.retry():
            self._update_reading()  # not admitted: not read
            if not self.closed:
                self.broker.waiting_connections.append(self)

    def retry(self) -> bool:
        """Admit this connection under the connection limits, or give it the request memory
        it waits for: True once nothing is left to wait for (or it was closed)."""
        if self.closed:
            return True
        if not self.admitted:
            quotas = self.broker.connection_quotas
            now = time.monotonic()
            decision = quotas.admit(self.peer_host, self.listener_name, now)
            if decision.admission is Admission.REFUSE:
                self.close(f"too many connections: {decision.reason}")
                return True
            if decision.admission is Admission.WAIT:
                if decision.retry_after_s:
                    asyncio.get_running_loop().call_later(
                        decision.retry_after_s, self.broker.retry_waiting_connections
                    )
                return False
            quotas.opened(self.peer_host, now)
            self.admitted = True
            self.last_active = now
            self.broker.connections.add(self)
        if self._waiting_memory and not self._reserve_request_memory():
            return False
        self._update_reading()
        if self.decoder.buffered and self.transport is not None:
            self._process_frames()  # what arrived while it waited
        return True

    def _reserve_request_memory(self) -> bool:
        """``queued.max.request.bytes`` for the request whose size has arrived but whose
        bytes have not all: reading waits while the broker has no room for it."""
        size = self.decoder.incomplete_frame_size
        if not size or self._reserved:
            self._waiting_memory = False
            return True
        if self.broker.connection_quotas.reserve_request_bytes(size + 4):
            self._reserved = size + 4
            self._waiting_memory = False
            return True
        self._waiting_memory = True
        return False

    def _wait_for_request_memory(self) -> None:
        if not self._reserve_request_memory():
            if self not in self.broker.waiting_connections:
                self.broker.waiting_connections.append(self)
            self._update_reading()

    def _release_request_memory(self) -> None:
        if self._reserved:
            self.broker.connection_quotas.release_request_bytes(self._reserved)
            self._reserved = 0
            self.broker.retry_waiting_connections()

    def _tls_principal(self, transport: asyncio.BaseTransport) -> KafkaPrincipal:
        """On an SSL listener, the client certificate's subject (mapped by
        ``ssl.principal.mapping.rules``); ANONYMOUS without one. SASL_SSL: SASL decides."""
        mapper = self.security.principal_mapper
        if mapper is None or self.sasl is not None:
            return ANONYMOUS
        subject = peer_certificate_subject(transport.get_extra_info("ssl_object"))
        if subject is None:
            return ANONYMOUS
        try:
            return KafkaPrincipal(USER_TYPE, mapper.name(subject))
        except ValueError as exc:  # no ssl.principal.mapping.rules rule matches: refused
            raise CloseConnectionError(f"SSL authentication failed: {exc}") from exc

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._sends is not None:
            self._sends.close()
        self.broker.connections.discard(self)
        if self.admitted:
            self.admitted = False
            self.broker.connection_quotas.closed(self.peer_host)
            self._release_request_memory()
            self.broker.retry_waiting_connections()
        for task in self._tasks:
            task.cancel()

    def get_buffer(self, sizehint: int) -> memoryview:
        # The transport reads (and TLS decrypts) straight into the frame decoder's buffer.
        return self.decoder.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self.received_at = perf_counter()
        self.last_active = time.monotonic()
        self.decoder.buffer_updated(nbytes)
        if not self.admitted or self._waiting_memory:
            self._update_reading()  # kept, read once admitted / given memory
            return
        self._process_frames()
        if not self.decoder.buffered:
            # Between requests the receive buffer goes back to the pool; after this callback
            # returns, as the transport may still hold a view of it until then.
            self._loop.call_soon(self.decoder.release)

    def _process_frames(self) -> None:
        decoder = self.decoder
        try:
            while not self.closed:
                frame = decoder.next_frame()
                if frame is None:
                    if decoder.buffered and not self._reserved:
                        self._wait_for_request_memory()
                    break
                if self._reserved:
                    self._release_request_memory()
                if self._waiting_for_ordered or self._muted():
                    self._held.append(bytes(frame))
                    self._update_reading()
                    continue
                self._on_frame(frame)
        except (FrameTooLargeError, InvalidFrameError) as exc:
            self.close(f"{exc}")

    def pause_writing(self) -> None:
        self._writing_paused = True
        if self._sends is not None:
            self._sends.pause()
        self._update_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._sends is not None:
            self._sends.resume()
        self._update_reading()

    # -- requests and responses ----------------------------------------------------------------

    def _on_frame(self, frame: memoryview) -> None:
        if self.sasl is not None:
            try:
                if self.sasl.owns(frame):
                    self._on_sasl_frame(frame)
                    return
            except (CloseConnectionError, RequestParseError) as exc:
                self.close(str(exc))
                return
        started = perf_counter()
        try:
            outcome = dispatch(self.broker, frame, self.info, self._throttle)
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

    def _on_sasl_frame(self, frame: memoryview) -> None:
        assert self.sasl is not None
        reply = self.sasl.receive(frame)
        if reply.failed is not None:
            self._fail_authentication(reply)
            return
        principal = self.sasl.principal
        if principal is not None and principal != self.info.principal:
            self.info = replace(self.info, principal=principal)
        slot = _Slot()
        slot.ready, slot.chunks = True, reply.chunks
        self._pending.append(slot)
        self._drain()

    def _fail_authentication(self, reply: SaslReply) -> None:
        """Kafka delays the answer to a failed authentication
        (``connection.failed.authentication.delay.ms``), then closes the connection."""
        log.info("authentication failed for %s: %s", self.peer, reply.failed)
        self._waiting_for_ordered = True  # hold whatever else the client sends
        delay = self.security.failed_authentication_delay_ms / 1000

        def answer_and_close() -> None:
            self._write(reply.chunks)
            if self._sends is not None and not self.closed:
                self.closed = True
                self.broker.connections.discard(self)
                self._sends.close_transport_when_sent()  # after the answer is flushed

        asyncio.get_running_loop().call_later(delay, answer_and_close)

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
        while held and not self._waiting_for_ordered and not self._muted() and not self.closed:
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
        if self._sends is not None and not self.closed:
            self.last_active = time.monotonic()
            self._sends.send(coalesced(chunks))
            if self._sends.sending:
                self._update_reading()  # not read further until it is sent

    def _throttle(self, throttle_ms: int) -> None:
        """A client quota throttled a request: handle nothing more from this client for
        ``throttle_ms`` (its response is sent at once and tells it so), as Kafka mutes the
        channel; requests it already sent wait, unread or held."""
        loop = asyncio.get_running_loop()
        until = loop.time() + throttle_ms / 1000
        if until <= self._muted_until:
            return
        self._muted_until = until
        loop.call_at(until, self._unmute)
        self._update_reading()

    def _muted(self) -> bool:
        return self._muted_until > 0 and asyncio.get_running_loop().time() < self._muted_until

    def _unmute(self) -> None:
        if not self._muted():
            self._handle_held()

    def _update_reading(self) -> None:
        if self.transport is None or self.closed:
            return
        should_pause = (
            not self.admitted
            or self._waiting_memory
            or self._writing_paused
            or (self._sends is not None and self._sends.sending)
            or len(self._pending) + len(self._held) >= MAX_PENDING_RESPONSES
            or self._muted()
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
        if self._sends is not None:
            self._sends.close()
        if self.transport is not None:
            self.transport.abort()
