"""Helpers of the ingest integration tests: the ingest process (started and killed by PID),
a real PostgreSQL server on a free loopback port, and producers."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from tests.support.broker_process import free_port

SRC = Path(__file__).resolve().parents[3] / "src"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(30)


def produce(bootstrap: str, topic: str, values: list[tuple[str, bytes]], **config: Any) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **config})
    for key, value in values:
        producer.produce(topic, key=key.encode(), value=value)
        producer.poll(0)
    assert producer.flush(30) == 0


def json_records(prefix: str, count: int, start: int = 0) -> list[tuple[str, bytes]]:
    return [
        (f"{prefix}{i}", json.dumps({"id": i, "name": f"name-{i}"}).encode())
        for i in range(start, start + count)
    ]


class IngestProcess:
    """``odradek ingest ARGS`` (``python -m odradek ingest``) in ``cwd``; its output in a log
    file."""

    def __init__(self, cwd: Path, args: list[str], src: Path = SRC) -> None:
        self.cwd = cwd
        self.args = args
        self.src = src  # the source tree it runs (benchmarks compare two)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = cwd / f"ingest-{uuid.uuid4().hex[:6]}.log"

    def start(self) -> IngestProcess:
        env = dict(os.environ, PYTHONPATH=str(self.src), PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "odradek", "ingest", *self.args],
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.running():
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(30)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, and the exit code."""
        assert self.proc is not None
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def wait(self, timeout: float = 60) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise


def read_status(state_dir: Path, group: str, table: str) -> dict[str, Any] | None:
    path = state_dir / f"{group}--{table}.status.json"
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document


def stored_offsets(status: dict[str, Any] | None) -> dict[tuple[str, int], int | None]:
    if status is None:
        return {}
    return {
        (a["topic"], a["partition_id"]): a["current_offset"]
        for consumer in status["consumers"]
        for a in consumer["assignments"]
    }


def postgres_available() -> bool:
    return (PG_BIN / "postgres").exists()


class PostgresServer:
    """A PostgreSQL server of its own: initdb in a temp dir, ``postgres`` on a free loopback
    port (as the ``postgres`` user when we are root), stopped and killed by PID."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="odradek-ingest-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.user = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run_as(self) -> dict[str, Any]:
        return {"user": self.user} if self.user else {}

    def start(self, timeout: float = 60) -> PostgresServer:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
            **self._run_as(),
        )
        log = open(self.directory / "postgres.log", "ab")  # noqa: SIM115 - the child's
        self.proc = subprocess.Popen(
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.data}",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=50",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            **self._run_as(),
        )
        log.close()
        wait_for(self._ready, timeout, "PostgreSQL to accept connections")
        return self

    def _ready(self) -> bool:
        import psycopg

        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"postgres exited: {(self.directory / 'postgres.log').read_text()}")
        try:
            psycopg.connect(self.url, connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)
