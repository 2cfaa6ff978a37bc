"""Connection limits against a real broker process: max.connections.per.ip (and serving
another address), slowloris connections closed by connections.max.idle.ms while a normal
client keeps its round trips, max.connections making a connection wait its turn, and
queued.max.request.bytes holding back a request that does not fit."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient, frame, request_bytes, request_module

pytestmark = pytest.mark.integration

API_VERSIONS = 18


def api_versions_frame(correlation_id: int = 1) -> bytes:
    module = request_module(API_VERSIONS, 3)
    request = module.ApiVersionsRequest(client_software_name="t", client_software_version="1")
    return frame(request_bytes(request, correlation_id))


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def answers(sock: socket.socket, timeout: float = 5.0) -> bool:
    """Whether the broker answers an ApiVersions request on ``sock`` within ``timeout``."""
    sock.settimeout(timeout)
    try:
        sock.sendall(api_versions_frame())
        head = sock.recv(4)
        if len(head) < 4:
            return False
        (size,) = struct.unpack(">i", head)
        received = 0
        while received < size:
            chunk = sock.recv(size - received)
            if not chunk:
                return False
            received += len(chunk)
        return True
    except (TimeoutError, ConnectionError, OSError):
        return False


def handled(sock: socket.socket, timeout: float) -> bool:
    """Whether the broker answered or closed ``sock`` (it read the request) in ``timeout``."""
    sock.settimeout(timeout)
    try:
        sock.recv(1)
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def closed_by_broker(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@contextmanager
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        yield opened
    finally:
        for sock in opened:
            sock.close()


def test_max_connections_per_ip(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory(
        {"max.connections.per.ip": "100", "max.connections.per.ip.overrides": "127.0.0.2:200"}
    )
    with sockets() as opened:
        for _ in range(100):
            opened.append(connect(broker.port))
        assert answers(opened[-1])
        extra = connect(broker.port)
        opened.append(extra)
        assert closed_by_broker(extra, 5.0), "the 101st connection from 127.0.0.1 was served"
        other = connect(broker.port, source="127.0.0.2")
        opened.append(other)
        assert answers(other), "another address was refused"
        opened[0].close()
        time.sleep(0.3)
        again = connect(broker.port)
        opened.append(again)
        assert answers(again), "a freed slot was not reused"


def test_slowloris_connections_are_closed_when_idle(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory({"connections.max.idle.ms": "2000"})
    half = struct.pack(">i", 1000) + b"\x00" * 100  # a frame announced, a tenth of it sent
    with sockets() as opened:
        for _ in range(500):
            sock = connect(broker.port)
            sock.sendall(half)
            opened.append(sock)
        with RawClient.to(broker.bootstrap) as client:
            slowest = 0.0
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                started = time.monotonic()
                client.api_versions()
                slowest = max(slowest, time.monotonic() - started)
                time.sleep(0.2)  # active: never idle for 2 s
            # Served all along: far below the 2 s idle timeout even on a loaded machine.
            assert slowest < 1.5, f"a round trip took {slowest:.3f} s beside 500 slowloris"
        still_open = [s for s in opened if not closed_by_broker(s, 0.01)]
        assert not still_open, f"{len(still_open)} idle half-sent connections stayed open"


def test_max_connections_makes_new_ones_wait(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory({"max.connections": "3"})
    with sockets() as opened:
        for _ in range(3):
            opened.append(connect(broker.port))
            assert answers(opened[-1])
        waiting = connect(broker.port)
        opened.append(waiting)
        assert not answers(waiting, timeout=1.0), "a 4th connection was served"
        opened[0].close()
        # the waiting connection's request is read once a slot frees
        waiting.settimeout(5)
        head = waiting.recv(4)
        assert len(head) == 4, "the waiting connection was not served after a slot freed"


def test_queued_max_request_bytes_holds_back_what_does_not_fit(broker_factory) -> None:  # type: ignore[no-untyped-def]
    broker: BrokerProcess = broker_factory({"queued.max.request.bytes": "1000000"})
    big = api_versions_frame()
    # An ApiVersions request padded past its end: the broker answers or closes the
    # connection once it has read it whole, which is all this test needs to see.
    body = big[4:] + b"\x00" * (700_000 - len(big) + 4)
    padded = struct.pack(">i", len(body)) + body
    with sockets() as opened:
        first, second = connect(broker.port), connect(broker.port)
        opened += [first, second]
        first.sendall(padded[:400_000])  # holds 700 kB of the pool
        time.sleep(0.3)
        second.sendall(padded[:400_000])  # does not fit: not read further
        time.sleep(0.3)
        with RawClient.to(broker.bootstrap) as client:
            client.api_versions()  # small whole requests still flow
        second.sendall(padded[400_000:600_000])
        assert not handled(second, 1.0), "a request that does not fit was read"
        first.sendall(padded[400_000:])
        assert handled(first, 5.0)
        second.sendall(padded[600_000:])
        assert handled(second, 5.0), "the held-back request was never read"
