"""/live and /ready on the metrics endpoint, across a real broker's lifecycle: the endpoint
is started on its own here so it can be asked before the broker starts and after it stops."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from odradek.config.broker import load_broker_config
from odradek.observability.http import MetricsEndpoint
from odradek.server.broker import BrokerServer
from tests.unit.observability.scrape import http_get


async def get(port: int, path: str) -> tuple[int, bytes]:
    status, headers, body = await asyncio.to_thread(http_get, port, path)
    assert headers["Content-Type"].startswith("text/plain")
    return status, body


def head(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        return answer


async def test_ready_and_live_follow_the_broker_lifecycle(tmp_path: Path) -> None:
    config = load_broker_config(
        None,
        {
            "log.dirs": str(tmp_path / "data"),
            "listeners": "PLAINTEXT://127.0.0.1:0",
            "metrics.port": "-1",
        },
        environ={},
    )
    broker = BrokerServer(config)
    endpoint = MetricsEndpoint(broker)
    await endpoint.start("127.0.0.1", 0)
    port = endpoint.port
    try:
        assert broker.not_ready_reason() == "starting"
        assert await get(port, "/ready") == (503, b"not ready: starting\n")
        assert await get(port, "/live") == (200, b"live\n")

        await broker.start()
        assert broker.not_ready_reason() is None
        assert await get(port, "/ready") == (200, b"ready\n")
        assert await get(port, "/live") == (200, b"live\n")
        answer = await asyncio.to_thread(head, port, "/ready")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\n")

        stopping = asyncio.get_running_loop().create_task(broker.stop())
        await asyncio.sleep(0)  # stop() has begun: no new traffic
        assert broker.not_ready_reason() == "shutting down"
        await stopping
        status, body = await get(port, "/ready")
        assert (status, body) == (503, b"not ready: shutting down\n")
        answer = await asyncio.to_thread(head, port, "/ready")
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert await get(port, "/live") == (200, b"live\n")  # the loop still answers
    finally:
        await endpoint.stop()
        if not broker.shutting_down:
            await broker.stop()


async def test_closed_listener_is_not_ready(tmp_path: Path) -> None:
    config = load_broker_config(
        None,
        {
            "log.dirs": str(tmp_path / "data"),
            "listeners": "PLAINTEXT://127.0.0.1:0",
            "metrics.port": "0",
        },
        environ={},
    )
    broker = BrokerServer(config)
    await broker.start()
    try:
        assert broker.metrics_endpoint is not None
        port = broker.metrics_endpoint.port
        assert await get(port, "/ready") == (200, b"ready\n")
        for server in broker.servers:  # as if the listener socket had been lost
            server.close()
        assert await get(port, "/ready") == (503, b"not ready: listeners not accepting\n")
    finally:
        await broker.stop()
