"""``odradek.Broker``: a real broker in this process, on an ephemeral loopback port with a
temporary data dir. ``async with Broker() as b`` runs it on the current event loop;
``with Broker() as b`` runs it on a background thread with its own loop."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from odradek.config.broker import load_broker_config
from odradek.server.broker import BrokerServer

STARTUP_TIMEOUT_SECONDS = 60.0


class Broker:
    def __init__(
        self,
        *,
        data_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self._own_dir = data_dir is None
        self.data_dir = (
            Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="odradek-"))
        )
        settings = {
            "log.dirs": str(self.data_dir),
            "listeners": f"PLAINTEXT://{host}:{port}",
            "metrics.port": "-1",
        }  # no fixed port for test brokers; override to enable
        settings.update(overrides or {})
        self.config = load_broker_config(None, settings, environ={})
        self.server: BrokerServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def bootstrap_servers(self) -> str:
        if self.server is None:
            raise RuntimeError("broker is not running")
        host, port = self.server.advertised_endpoint
        return f"{host}:{port}"

    @property
    def port(self) -> int:
        if self.server is None:
            raise RuntimeError("broker is not running")
        return self.server.advertised_endpoint[1]

    # -- asyncio -------------------------------------------------------------------------------

    async def start(self) -> Broker:
        self.server = BrokerServer(self.config)
        await self.server.start()
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        self._cleanup()

    async def __aenter__(self) -> Broker:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- background thread ---------------------------------------------------------------------

    def __enter__(self) -> Broker:
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                self.server = BrokerServer(self.config)
                await self.server.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            await self._stop.wait()
            await self.server.stop()

        self._thread = threading.Thread(
            target=asyncio.run, args=(main(),), name="odradek-broker", daemon=True
        )
        self._thread.start()
        if not ready.wait(STARTUP_TIMEOUT_SECONDS):
            raise TimeoutError(f"the broker did not start within {STARTUP_TIMEOUT_SECONDS}s")
        if failure:
            self._thread.join(5)
            raise failure[0]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
