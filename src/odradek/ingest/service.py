"""An ingest run: the consumers on their threads, the status file, the pause flag, the
progress line, and a clean stop on SIGTERM/SIGINT (each consumer writes its current block)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TextIO

from odradek.ingest.consumer import IngestConsumer
from odradek.ingest.errors import IngestError
from odradek.ingest.formats import make_format
from odradek.ingest.metrics import MetricsEndpoint, StatusCollector
from odradek.ingest.rows import RowBuilder
from odradek.ingest.settings import IngestSettings
from odradek.ingest.status import ConsumerStatus, pause_path, status_path, write_status
from odradek.ingest.tables import prepare
from odradek.ingest.targets import open_target

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 1.0


@dataclass
class Worker:
    """One consumer, its figures, and how it ended."""

    consumer: IngestConsumer
    status: ConsumerStatus
    failure: BaseException | None = None
    thread: threading.Thread | None = None


@dataclass
class IngestService:
    """Runs ``settings.consumers`` consumers until stopped."""

    settings: IngestSettings
    progress: TextIO | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    paused: threading.Event = field(default_factory=threading.Event)
    workers: list[Worker] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    metrics: MetricsEndpoint | None = None

    def run(self) -> int:
        self.metrics = self._serve_metrics()
        try:
            return self._run()
        finally:
            if self.metrics is not None:
                self.metrics.close()

    def _serve_metrics(self) -> MetricsEndpoint | None:
        settings = self.settings
        if settings.metrics_port is None:
            return None
        collector = StatusCollector(
            settings.group, settings.table, lambda: [w.status.snapshot() for w in self.workers]
        )
        try:
            endpoint = MetricsEndpoint(settings.metrics_host, settings.metrics_port, collector)
        except OSError as exc:
            raise IngestError(
                f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port}: "
                f"{exc.strerror or exc}"
            ) from None
        log.info("metrics on %s", endpoint.url)
        return endpoint

    def _run(self) -> int:
        settings = self.settings
        target = open_target(settings)
        try:
            fmt = make_format(settings.format, settings.schema)
            destination = prepare(target, settings, fmt)
            for index in range(settings.consumers):
                status = ConsumerStatus(f"{settings.group}-{os.getpid()}-{index}")
                consumer = IngestConsumer(
                    settings,
                    index,
                    destination,
                    target.session,
                    RowBuilder(destination.columns, fmt),
                    status,
                    self.stop,
                    self.paused,
                )
                self.workers.append(Worker(consumer, status))
            for index, worker in enumerate(self.workers):
                worker.thread = threading.Thread(
                    target=self._run_worker, args=(worker,), name=f"ingest-{index}", daemon=True
                )
                worker.thread.start()
            self._supervise()
        finally:
            self.stop.set()
            for worker in self.workers:
                if worker.thread is not None:
                    worker.thread.join()
            self._write_status(stopped=True)
            target.close()
        return self._exit_code()

    def _run_worker(self, worker: Worker) -> None:
        try:
            worker.consumer.run()
        except BaseException as exc:  # reported by _exit_code; the other consumers stop too
            worker.failure = exc
            worker.status.exception(f"{type(exc).__name__}: {exc}")
            self.stop.set()

    def _supervise(self) -> None:
        pause_file = pause_path(self.settings.state_dir, self.settings.group, self.settings.table)
        while not self.stop.is_set():
            if pause_file.exists() != self.paused.is_set():
                (self.paused.set if pause_file.exists() else self.paused.clear)()
                log.info("%s", "paused" if self.paused.is_set() else "resumed")
            self._write_status()
            self._show_progress()
            self.stop.wait(STATUS_INTERVAL_S)
        if self.progress is not None:
            self._show_progress()
            self.progress.write("\n")

    def _exit_code(self) -> int:
        failures = [w.failure for w in self.workers if w.failure is not None]
        for failure in failures:
            if isinstance(failure, IngestError):
                print(f"odradek ingest: {failure}", file=sys.stderr)
            else:
                log.error("consumer failed", exc_info=failure)
        return 1 if failures else 0

    def document(self, stopped: bool = False) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "started": self.started,
            "updated": time.time(),
            "stopped": stopped,
            "group": self.settings.group,
            "table": self.settings.table,
            "target": self.settings.target,
            "topics": list(self.settings.topics),
            "metrics_url": None if self.metrics is None else self.metrics.url,
            "consumers": [w.status.snapshot() for w in self.workers],
        }

    def _write_status(self, stopped: bool = False) -> None:
        path = status_path(self.settings.state_dir, self.settings.group, self.settings.table)
        try:
            write_status(path, self.document(stopped))
        except OSError as exc:
            log.warning("cannot write the status file %s: %s", path, exc)

    def _show_progress(self) -> None:
        if self.progress is None:
            return
        snapshots = [w.status.snapshot() for w in self.workers]
        rows = sum(s["rows_written"] for s in snapshots)
        broken = sum(s["broken_messages"] for s in snapshots)
        lags = [a["lag"] for s in snapshots for a in s["assignments"] if a["lag"] is not None]
        parts = sum(len(s["assignments"]) for s in snapshots)
        elapsed = max(time.time() - self.started, 1e-9)
        state = " paused" if self.paused.is_set() else ""
        self.progress.write(
            f"\r{rows:,} rows ({rows / elapsed:,.0f}/s) broken {broken:,} "
            f"lag {sum(lags):,} partitions {parts}{state}   "
        )
        self.progress.flush()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT: finish the current blocks and exit 0."""

        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: finishing the current block", signum)
            self.stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
