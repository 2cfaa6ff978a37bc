"""The metrics endpoint: a small HTTP/1.1 server on the broker's own event loop.

- ``GET /live``: 200 whenever the broker's event loop answers (liveness: the process is not
  wedged). It is served on that loop, so an answer is the proof;
- ``GET /ready``: 200 once the broker has recovered its logs, its listeners accept and, in a
  cluster, it is registered in ZooKeeper; 503 with the reason otherwise (shutting down,
  controlled shutdown, ZooKeeper session lost, ...). See ``BrokerView.not_ready_reason``;
- ``GET /metrics``: Prometheus text (OpenMetrics when asked for), via prometheus_client;
  the broker's state read on the loop, the families built, formatted (and gzipped) on a
  worker thread;
- ``GET /jolokia/read/<mbean>[/<attribute>]``, ``/jolokia/search/<pattern>``,
  ``/jolokia/list``, ``/jolokia/version`` and ``POST /jolokia`` (one request or a list):
  Jolokia's JSON.

Serving on the broker's loop (not on a thread) means a scrape reads the broker's structures
between two requests, never in the middle of one. The endpoint also runs the loop-lag monitor
(``loop_lag``) on that loop while it runs. It starts only when ``metrics.port`` is
set (``odradek serve`` sets it to 9404 unless told otherwise; a negative port turns it off,
0 picks a free one), at the end of startup: before that, probes are refused, which both
readiness and liveness probes count as a failure, so give liveness probes a start period
(Docker's HEALTHCHECK --start-period, a Kubernetes startupProbe) as long as log recovery
after a crash can take."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gzip
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

from odradek.observability import metrics
from odradek.observability.collectors import BrokerCollector, Snapshot, process_registry
from odradek.observability.gauge_text import Families, GaugeText, encode
from odradek.observability.jolokia import TICK_SECONDS, Jolokia, Meters, read_request_from_path
from odradek.observability.loop_lag import LoopLag
from odradek.observability.view import BrokerView

log = logging.getLogger(__name__)

DEFAULT_PORT = 9404  # the Prometheus JMX exporter's customary port for Kafka
MAX_HEADER_BYTES = 65536
MAX_BODY_BYTES = 1 << 20
IDLE_TIMEOUT_SECONDS = 60.0
GZIP_MIN_BYTES = 1024

_active_endpoints = 0

INDEX = b"""odradek metrics
  /live                         200 while the broker's event loop answers
  /ready                        200 when the broker takes traffic, else 503 and why
  /metrics                      Prometheus exposition
  /jolokia/read/<mbean>[/attr]  Jolokia read, e.g.
      /jolokia/read/kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec
  /jolokia/search/<pattern>     Jolokia search, e.g. /jolokia/search/kafka.log:*
  /jolokia/list                 every MBean and its attributes
"""


class MetricsEndpoint:
    def __init__(self, broker: BrokerView) -> None:
        self.broker = broker
        self.loop_lag = LoopLag()
        self.collector = BrokerCollector(broker, self.loop_lag)
        self.gauge_text = GaugeText()  # the gauges' lines, kept from one scrape to the next
        # Other collectors of the broker's state (e.g. pushed client telemetry): collected
        # on the loop at each scrape, beside the broker's own.
        self.registry = CollectorRegistry(auto_describe=False)
        self.process = process_registry()
        self.meters = Meters()
        self.jolokia = Jolokia(broker, self.meters, self.loop_lag)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []  # the meters' ticker, the loop-lag monitor
        self._clients: set[asyncio.StreamWriter] = set()

    async def start(self, host: str | None, port: int) -> None:
        global _active_endpoints
        self._server = await asyncio.start_server(
            self._serve, host, port, reuse_address=True, limit=MAX_HEADER_BYTES
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._tick_loop()),
            loop.create_task(self.loop_lag.monitor()),
        ]
        _active_endpoints += 1
        metrics.enable()

    async def stop(self) -> None:
        global _active_endpoints
        if self._server is None:
            return
        self._server.close()
        self._server = None
        for writer in list(self._clients):
            writer.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        _active_endpoints -= 1
        if _active_endpoints <= 0:
            metrics.disable()

    async def _tick_loop(self) -> None:
        while True:
            wait = self.meters.last_tick + TICK_SECONDS - self.meters.clock()
            await asyncio.sleep(max(wait, 0.05))
            try:
                self.meters.tick_if_necessary()
            except Exception:  # a metrics bug must not end the ticks
                log.exception("ticking the meters failed")

    # -- HTTP --------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
        ):
            pass
        finally:
            self._clients.discard(writer)
            writer.close()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_SECONDS)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._respond(writer, 400, "text/plain", b"bad request\n", {}, False)
            return False
        method, target, http_version = parts
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        body = b""
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self._respond(writer, 413, "text/plain", b"bad or too large body\n", headers, False)
            return False
        if length:
            body = await reader.readexactly(length)
        keep_alive = http_version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        try:
            if unquote(target.split("?", 1)[0]) == "/metrics" and method in ("GET", "HEAD"):
                status, content_type, payload = await self.scrape(headers)
            else:
                status, content_type, payload = self.route(method, target, headers, body)
        except Exception:
            log.exception("metrics endpoint failed on %s %s", method, target)
            status, content_type, payload = 500, "text/plain", b"internal error\n"
        self._respond(
            writer, status, content_type, b"" if method == "HEAD" else payload, headers, keep_alive
        )
        await writer.drain()
        return keep_alive

    def _respond(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        content_type: str,
        payload: bytes,
        headers: dict[str, str],
        keep_alive: bool,
    ) -> None:
        extra = ""
        if isinstance(payload, Gzipped):
            extra = "Content-Encoding: gzip\r\n"
        elif len(payload) >= GZIP_MIN_BYTES and "gzip" in headers.get("accept-encoding", ""):
            payload = gzip.compress(payload, compresslevel=5)
            extra = "Content-Encoding: gzip\r\n"
        reason = {
            200: "OK",
            400: "Bad Request",
            404: "Not Found",
            405: "Method Not Allowed",
            413: "Payload Too Large",
            500: "Internal Server Error",
            503: "Service Unavailable",
        }.get(status, "")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(payload)}\r\n{extra}"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + payload)

    async def scrape(self, headers: dict[str, str]) -> tuple[int, str, bytes]:
        """``GET /metrics``: the families are collected on the loop (the per-partition
        gauges a slice at a time when the broker reads them so, the rest between two
        requests, as the module says); formatting them, and gzip, run on a worker thread,
        since with 100,000 partitions they take seconds."""
        encoder, content_type = choose_encoder(headers.get("accept", ""))
        snapshot = await self.collector.snapshot_in_slices()
        others = list(self.registry.collect())
        gzipped = "gzip" in headers.get("accept-encoding", "")
        payload = await asyncio.to_thread(
            format_scrape,
            Scrape(encoder, content_type, snapshot, others, self.process),
            self.gauge_text,
            gzipped,
        )
        return 200, content_type, payload

    def route(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        """(status, content type, body) for one request."""
        path = unquote(target.split("?", 1)[0])
        if method not in ("GET", "HEAD", "POST"):
            return 405, "text/plain", b"method not allowed\n"
        if path == "/live" and method != "POST":
            return 200, "text/plain; charset=utf-8", b"live\n"
        if path == "/ready" and method != "POST":
            reason = self.broker.not_ready_reason()
            if reason is None:
                return 200, "text/plain; charset=utf-8", b"ready\n"
            return 503, "text/plain; charset=utf-8", f"not ready: {reason}\n".encode()
        if path in ("/jolokia", "/jolokia/") and method == "POST":
            return self._jolokia_post(body)
        if path.startswith("/jolokia"):
            rest = path.removeprefix("/jolokia").strip("/") or "version"
            return _json(self.jolokia.handle(read_request_from_path(rest)))
        if path == "/":
            return 200, "text/plain; charset=utf-8", INDEX
        return 404, "text/plain", b"not found\n"

    def _jolokia_post(self, body: bytes) -> tuple[int, str, bytes]:
        try:
            request = json.loads(body or b"{}")
        except ValueError as exc:
            return _json(
                {
                    "error_type": "java.lang.IllegalArgumentException",
                    "error": f"Invalid JSON request: {exc}",
                    "status": 400,
                }
            )
        if isinstance(request, list):
            return _json(
                [
                    self.jolokia.handle(r)
                    if isinstance(r, dict)
                    else {"error": "request must be an object", "status": 400}
                    for r in request
                ]
            )
        if not isinstance(request, dict):
            return _json({"error": "request must be an object or a list", "status": 400})
        return _json(self.jolokia.handle(request))


class Gzipped(bytes):
    """A payload already gzip-compressed (sent with ``Content-Encoding: gzip``)."""


@dataclass(frozen=True, slots=True)
class Scrape:
    """One scrape to format: the encoder asked for (and its content type), what was read on
    the loop (the broker's snapshot and the other collectors' families) and the process
    collectors (any thread may collect them)."""

    encoder: Callable[[CollectorRegistry], bytes]
    content_type: str
    snapshot: Snapshot
    others: list[Metric]
    process: CollectorRegistry

    def registry(self) -> CollectorRegistry:
        """Every family of the scrape, as one registry (what the text is the encoding of)."""
        return Families([*self.snapshot.families(), *self.others, *self.process.collect()])


def format_scrape(scrape: Scrape, gauge_text: GaugeText, gzipped: bool) -> bytes:
    """The exposition of ``scrape.registry()``, byte for byte what its encoder writes for it,
    with the gauges' lines reused from ``gauge_text`` (the previous scrape's) where their
    gauges are unchanged. Runs on a worker thread."""
    encoder, snapshot = scrape.encoder, scrape.snapshot
    payload = b"".join(
        (
            encode(encoder, snapshot.recorded),
            gauge_text.render(snapshot.gauges, encoder, scrape.content_type),
            encoder(Families([*snapshot.read, *scrape.others, *scrape.process.collect()])),
        )
    )
    if gzipped and len(payload) >= GZIP_MIN_BYTES:
        return Gzipped(gzip.compress(payload, compresslevel=5))
    return payload


def _json(value: Any) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(value).encode()


async def start_metrics_endpoint(broker: BrokerView) -> MetricsEndpoint | None:
    """Start the endpoint if ``metrics.port`` is set (>= 0); None otherwise.

    The embedded default port (9404) being taken is not fatal: the broker starts without the
    endpoint and says so (several test brokers on one machine all default to it). A port
    that was asked for explicitly and cannot be bound stops startup."""
    port = broker.config.get("metrics.port")
    if port is None or int(port) < 0:
        return None
    host = broker.config.get("metrics.host")
    if host is None:
        listeners = broker.config.listeners
        host = listeners[0].host if listeners else ""
    endpoint = MetricsEndpoint(broker)
    try:
        await endpoint.start(host or None, int(port))
    except OSError as exc:
        if int(port) == DEFAULT_PORT and exc.errno == errno.EADDRINUSE:
            log.warning(
                "metrics endpoint not started: port %d is in use (set metrics.port "
                "to another port, or to -1 to turn the endpoint off)",
                port,
            )
            return None
        raise
    log.info(
        "broker %d metrics on http://%s:%d/metrics (Prometheus) and /jolokia (Jolokia JSON)",
        broker.node_id,
        host or "0.0.0.0",
        endpoint.port,
    )
    return endpoint
