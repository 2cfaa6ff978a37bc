"""The console's ASGI application: its settings, its state (the Kafka clients, the samples,
the templates) and the background sampling, with the pages' routes from ``pages``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from odradek.common.version import __version__
from odradek.console import formatting, metrics
from odradek.console.auth import BasicAuthMiddleware
from odradek.console.forms import FormError
from odradek.console.gateway import KafkaError, KafkaGateway
from odradek.console.htpasswd import Htpasswd
from odradek.console.messages import ConsumerPool, MessageProducer
from odradek.console.models import ClusterView, Topic
from odradek.console.probe import PROBE_TOPIC, ProbeRun, run_probe
from odradek.console.sampler import ConsoleSamples, sample_lag
from odradek.console.snapshot import MetadataSnapshot

log = logging.getLogger(__name__)
T = TypeVar("T")
HERE = Path(__file__).parent
WORKER_THREADS = 16


@dataclass(frozen=True)
class ConsoleSettings:
    """What ``odradek console``'s flags configure."""

    client: dict[str, str]
    metrics_urls: tuple[str, ...] = ()
    users: Htpasswd | None = None
    sample_interval: float = 10.0
    probe_interval: float = 0.0
    probe_topic: str = PROBE_TOPIC
    timeout: float = 15.0


@dataclass
class Console:
    """The console's state for the app's life."""

    settings: ConsoleSettings
    gateway: KafkaGateway
    templates: Jinja2Templates
    samples: ConsoleSamples = field(default_factory=ConsoleSamples)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(WORKER_THREADS, "odradek-console")
    )
    snapshot: MetadataSnapshot = field(init=False)
    _pool: ConsumerPool | None = None
    _producer: MessageProducer | None = None
    probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.snapshot = MetadataSnapshot(lambda: self.call(self.gateway.cluster))

    async def cluster(self) -> ClusterView:
        """The cluster's metadata as of a few seconds at most (see ``snapshot``)."""
        return await self.snapshot.get()

    async def topic(self, name: str) -> Topic | None:
        """A topic from the snapshot or, if the snapshot predates it, from the cluster."""
        view = await self.cluster()
        found = view.topics.get(name)
        if found is None:
            found = await self.call(self.gateway.topic, name)
        return found

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on a worker thread (Kafka client calls block)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(function, *args))

    @property
    def pool(self) -> ConsumerPool:
        if self._pool is None:
            self._pool = ConsumerPool(self.settings.client)
        return self._pool

    @property
    def producer(self) -> MessageProducer:
        if self._producer is None:
            self._producer = MessageProducer(self.settings.client, self.settings.timeout)
        return self._producer

    def render(
        self, request: Request, name: str, status_code: int = 200, **context: Any
    ) -> Response:
        context.setdefault("notice", request.query_params.get("notice", ""))
        return self.templates.TemplateResponse(
            request,
            name,
            {"token": self.token, "version": __version__, **context},
            status_code=status_code,
        )

    async def run_probe(self) -> ProbeRun:
        """One latency probe run, recorded for the chart."""
        async with self.probe_lock:
            run = await self.call(
                run_probe, self.gateway, self.settings.client, self.settings.probe_topic
            )
        self.samples.latency.add("p50", run.at, run.p50)
        self.samples.latency.add("p99", run.at, run.p99)
        return run

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._producer is not None:
            self._producer.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def redirect(path: str, notice: str = "") -> RedirectResponse:
    """303 to ``path`` (after a post), with a notice for the page to show."""
    joiner = "&" if "?" in path else "?"
    suffix = joiner + urlencode({"notice": notice}) if notice else ""
    return RedirectResponse(path + suffix, status_code=303)


def make_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        bytes=formatting.human_bytes,
        num=formatting.human_count,
        ts=formatting.format_timestamp_ms,
        show=formatting.show_bytes,
        rate=formatting.human_rate,
    )
    return Jinja2Templates(env=env)


async def _sample_forever(console: Console) -> None:
    """Sample lag (and the metrics endpoints) every interval; a failed lag sampling is logged,
    not fatal, and does not hold up the scrape (endpoints that fail are named in its errors)."""
    interval = console.settings.sample_interval
    while True:
        started = time.monotonic()
        try:
            console.samples.record_lag(await console.call(sample_lag, console.gateway))
        except KafkaError as exc:
            log.warning("sampling failed: %s", exc)
        if console.settings.metrics_urls:
            scraped = await console.call(
                metrics.scrape, console.settings.metrics_urls, console.settings.timeout
            )
            console.samples.record_throughput(time.time(), scraped)
        await asyncio.sleep(max(interval - (time.monotonic() - started), 0.1))


async def _probe_forever(console: Console) -> None:
    while True:
        try:
            await console.run_probe()
        except KafkaError as exc:
            log.warning("latency probe failed: %s", exc)
        await asyncio.sleep(console.settings.probe_interval)


async def kafka_error(request: Request, exc: Exception) -> Response:
    return console_of(request).render(request, "error.html", 502, title="Kafka", error=str(exc))


async def form_error(request: Request, exc: Exception) -> Response:
    return console_of(request).render(request, "error.html", 400, title="Form", error=str(exc))


def create_app(settings: ConsoleSettings, gateway: KafkaGateway | None = None) -> Starlette:
    """The console application for ``settings`` (the gateway is made from them if not given)."""
    from odradek.console.pages import routes

    console = Console(
        settings, gateway or KafkaGateway(settings.client, settings.timeout), make_templates()
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_sample_forever(console))]
        if settings.probe_interval > 0:
            tasks.append(asyncio.create_task(_probe_forever(console)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            console.close()

    middleware = (
        [] if settings.users is None else [Middleware(BasicAuthMiddleware, users=settings.users)]
    )
    app = Starlette(
        routes=[*routes(), Mount("/static", StaticFiles(directory=HERE / "static"), name="static")],
        middleware=middleware,
        exception_handlers={KafkaError: kafka_error, FormError: form_error},
        lifespan=lifespan,
    )
    app.state.console = console
    return app
