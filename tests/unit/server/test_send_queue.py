"""SendQueue over real sockets, on asyncio's loop and on uvloop (the broker's): responses go
out whole and in order; FileRecords go with sendfile on plain TCP (never read into memory)
and in READ_STEP steps under TLS (the next only once the transport drained); a client that
stops reading makes the queue wait, not grow; regions are closed once sent or dropped."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
import uvloop

from odradek.server.send_queue import INLINE_BYTES, READ_STEP, SendQueue
from odradek.storage.file_records import FileRecords, SharedFile

Runner = Callable[[Coroutine[Any, Any, None]], None]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Runner:
    return asyncio.run if request.param == "asyncio" else uvloop.run


@dataclass
class Segment:
    """A file of random bytes, shared as a segment shares its log file."""

    data: bytes
    shared: SharedFile

    def records(self, position: int, size: int) -> FileRecords:
        return FileRecords(self.shared, position, size)


@pytest.fixture
def segment(tmp_path: Path) -> Iterator[Segment]:
    path = tmp_path / "00000000000000000000.log"
    data = os.urandom(6 * 1024 * 1024 + 123)
    path.write_bytes(data)
    shared = SharedFile(os.open(path, os.O_RDWR))
    yield Segment(data, shared)
    shared.release()
    assert shared.fd == -1, "a FileRecords was left open"


@dataclass
class Sender(asyncio.Protocol):
    """The broker's side: a connection that only sends."""

    queue: SendQueue | None = None
    transport: asyncio.Transport | None = None
    idle: int = 0
    errors: list[str] = field(default_factory=list)
    made: asyncio.Event = field(default_factory=asyncio.Event)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.queue = SendQueue(self.transport, self.on_idle, self.errors.append)  # type: ignore[arg-type]
        self.made.set()

    def on_idle(self) -> None:
        self.idle += 1

    def pause_writing(self) -> None:
        assert self.queue is not None
        self.queue.pause()

    def resume_writing(self) -> None:
        assert self.queue is not None
        self.queue.resume()

    def connection_lost(self, exc: Exception | None) -> None:
        assert self.queue is not None
        self.queue.close()


async def connect(
    tls: tuple[ssl.SSLContext, ssl.SSLContext] | None = None,
) -> tuple[Sender, asyncio.StreamReader, asyncio.StreamWriter]:
    """A sender and a client with a small receive buffer (so a client that does not read
    stalls the sender early)."""
    loop = asyncio.get_running_loop()
    sender = Sender()
    server = await loop.create_server(lambda: sender, "127.0.0.1", 0, ssl=tls and tls[0])
    port = server.sockets[0].getsockname()[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(
        sock=sock, ssl=tls and tls[1], server_hostname="127.0.0.1" if tls else None
    )
    await sender.made.wait()
    server.close()
    return sender, reader, writer


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def never(*_: object) -> bytes:
    raise AssertionError("not the path this transport takes")


def test_plain_tcp_sends_regions_from_the_file_in_order(
    run: Runner, segment: Segment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FileRecords, "read", never)  # zero-copy: never read into memory
    data = segment.data

    async def scenario() -> None:
        sender, reader, writer = await connect()
        assert sender.queue is not None
        first, second = segment.records(0, 4_000_000), segment.records(5_000_000, 1_200_123)
        sender.queue.send([b"head", first, b"mid", memoryview(b"dle"), second])
        sender.queue.send([b"next response"])  # behind the regions
        assert sender.queue.sending
        got = await reader.readexactly(4 + 4_000_000 + 6 + 1_200_123 + 13)
        assert (
            got
            == b"head" + data[:4_000_000] + b"middle" + data[5_000_000:6_200_123] + b"next response"
        )
        await until(lambda: not sender.queue.sending)  # type: ignore[union-attr]
        assert sender.idle == 1
        assert sender.errors == []
        sender.queue.send([b"in memory, nothing queued"])  # straight to the transport
        assert not sender.queue.sending
        assert await reader.readexactly(25) == b"in memory, nothing queued"
        writer.close()

    run(scenario())


def test_small_records_are_written_with_the_bytes_around_them(
    run: Runner, segment: Segment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to INLINE_BYTES of records a turn are read and go in the same write as the
    response's other bytes; past that, sendfile takes over."""
    sendfile = FileRecords.send_to
    sent_from_file: list[int] = []

    def counted(records: FileRecords, socket_fd: int, offset: int, count: int) -> int:
        sent_from_file.append(records.position)
        return sendfile(records, socket_fd, offset, count)

    monkeypatch.setattr(FileRecords, "send_to", counted)
    data, small = segment.data, INLINE_BYTES // 2

    async def scenario() -> None:
        sender, reader, writer = await connect()
        assert sender.queue is not None
        parts = [segment.records(i * small, small) for i in range(3)]
        sender.queue.send([b"<", parts[0], b"|", parts[1], b"|", parts[2], b">"])
        got = await reader.readexactly(3 * small + 4)
        pieces = (data[i * small : (i + 1) * small] for i in range(3))
        assert got == b"<" + b"|".join(pieces) + b">"
        assert set(sent_from_file) == {2 * small}  # the third is past INLINE_BYTES
        writer.close()

    run(scenario())


def test_a_client_that_does_not_read_makes_the_queue_wait(run: Runner, segment: Segment) -> None:
    async def scenario() -> None:
        sender, reader, writer = await connect()
        assert sender.queue is not None and sender.transport is not None
        sender.queue.send([segment.records(0, len(segment.data))])
        await asyncio.sleep(0.3)
        assert sender.queue.sending and sender.idle == 0
        assert sender.transport.get_write_buffer_size() == 0  # nothing copied into memory
        assert await reader.readexactly(len(segment.data)) == segment.data
        await until(lambda: sender.idle == 1)
        writer.close()

    run(scenario())


def test_tls_sends_regions_in_bounded_steps(
    run: Runner, segment: Segment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FileRecords, "send_to", never)  # TLS: bytes must be encrypted
    contexts = tls_contexts()

    async def scenario() -> None:
        sender, reader, writer = await connect(contexts)
        assert sender.queue is not None and sender.transport is not None
        sender.queue.send([b"head", segment.records(0, len(segment.data)), b"tail"])
        await asyncio.sleep(0.3)
        assert sender.queue.sending
        high = sender.transport.get_write_buffer_limits()[1]
        assert sender.transport.get_write_buffer_size() <= high + READ_STEP + 4
        got = await reader.readexactly(len(segment.data) + 8)
        assert got == b"head" + segment.data + b"tail"
        await until(lambda: sender.idle == 1)
        writer.close()

    run(scenario())


def test_closing_drops_unsent_regions(run: Runner, segment: Segment) -> None:
    async def scenario() -> None:
        sender, reader, writer = await connect()
        assert sender.queue is not None
        fds = len(os.listdir("/proc/self/fd"))
        sender.queue.send([segment.records(0, len(segment.data)), segment.records(0, 10)])
        await asyncio.sleep(0.2)  # the socket is full: the queue watches it
        sender.queue.close()
        assert not sender.queue.sending
        assert len(os.listdir("/proc/self/fd")) == fds  # its watched duplicate is closed
        await reader.read(1 << 20)  # the socket becomes writable: nothing may happen
        await asyncio.sleep(0.05)
        sender.queue.send([segment.records(0, 10)])  # after close: closed at once
        writer.close()

    run(scenario())


def test_records_truncated_while_sent_fail_the_connection(run: Runner, segment: Segment) -> None:
    async def scenario() -> None:
        sender, reader, writer = await connect()
        assert sender.queue is not None
        sender.queue.send([segment.records(0, len(segment.data))])
        await asyncio.sleep(0.1)
        os.ftruncate(segment.shared.fd, 2_000_000)  # a follower truncated its log
        received = 0
        while not sender.errors:
            received += len(await reader.read(1 << 20))
        assert "truncated" in sender.errors[0]
        assert received <= 2_000_000
        assert not sender.queue.sending
        writer.close()

    run(scenario())


def test_the_transport_closes_once_all_is_sent(run: Runner, segment: Segment) -> None:
    async def scenario() -> None:
        sender, reader, _ = await connect()
        assert sender.queue is not None and sender.transport is not None
        sender.queue.send([segment.records(0, len(segment.data)), b"last words"])
        sender.queue.close_transport_when_sent()
        await asyncio.sleep(0.1)
        assert not sender.transport.is_closing()
        assert await reader.read() == segment.data + b"last words"  # then EOF

    run(scenario())
