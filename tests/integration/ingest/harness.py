"""The scenarios the ingest tests run against each target (DuckDB, PostgreSQL): records in
while the ingest process is SIGKILLed, aborted transactions, broken records."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from tests.integration.ingest.support import (
    SRC,
    IngestProcess,
    create_topic,
    json_records,
    read_status,
    stored_offsets,
    unique,
    wait_for,
)

TABLE_COLUMNS = "id Int64, name String, _key String, _partition UInt64, _offset UInt64"
# Restarts rejoin at once as the same static member instead of waiting out a dead session.
FAST_REJOIN = ["--consumer-property=session.timeout.ms=6000", "--flush-interval-ms=300"]


@dataclass
class Scenario:
    """One ingest run's topic, group, table and the flags that name them."""

    bootstrap: str
    target: str
    workdir: Path
    partitions: int = 6
    fmt: str = "JSONEachRow"
    topic: str = ""  # an existing topic to read; else a new one is made
    src: Path = SRC
    options: tuple[str, ...] = ()  # flags every run gets (a ClickHouse target's --keeper)

    def __post_init__(self) -> None:
        self.group = unique("group")
        self.table = "t_" + self.group.replace("-", "_")
        self.current = IngestProcess(self.workdir, [])
        self.started: list[IngestProcess] = []
        if not self.topic:
            self.topic = unique("ingest")
            create_topic(self.bootstrap, self.topic, self.partitions)

    def args(self, *extra: str, instance: str = "") -> list[str]:
        args = [
            f"--bootstrap-server={self.bootstrap}",
            f"--topic={self.topic}",
            f"--group={self.group}",
            f"--format={self.fmt}",
            f"--target={self.target}",
            f"--table={self.table}",
            "--state-dir=state",
            "--log-level=INFO",
            *FAST_REJOIN,
            *self.options,
            *extra,
        ]
        if instance:
            args.append(f"--consumer-property=group.instance.id={instance}")
        return args

    def ingest(self, *extra: str, instance: str = "") -> IngestProcess:
        args = self.args(*extra, instance=instance)
        self.current = IngestProcess(self.workdir, args, self.src).start()
        self.started.append(self.current)
        return self.current

    def close(self) -> None:
        """Kill every ingest process this scenario started that still runs (by PID)."""
        for process in self.started:
            process.kill()

    def status(self) -> dict[str, Any] | None:
        """The status file of the last ingest process started (None until it writes one)."""
        status = read_status(self.workdir / "state", self.group, self.table)
        current = self.current.proc
        if status is None or current is None or status["pid"] != current.pid:
            return None
        return status

    def stored_total(self) -> int:
        """The sum of the offsets the running ingest reports as stored."""
        return sum(v or 0 for v in stored_offsets(self.status()).values())

    def caught_up(self, ends: dict[tuple[str, int], int]) -> bool:
        """Whether the offsets the running ingest has stored reach ``ends``."""
        stored = stored_offsets(self.status())
        return all((stored.get(tp) or 0) >= end for tp, end in ends.items() if end > 0)


class BackgroundProducer:
    """Produces ``count`` JSON records (keys k0..k<count-1>) in small bursts on a thread, and
    records each partition's end offset from the delivery reports."""

    def __init__(self, bootstrap: str, topic: str, count: int, burst: int = 500) -> None:
        self.bootstrap, self.topic, self.count, self.burst = bootstrap, topic, count, burst
        self.ends: dict[tuple[str, int], int] = {}
        self.failures: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _delivered(self, error: object, message: object) -> None:
        if error is not None:
            self.failures.append(str(error))
            return
        tp = (message.topic(), message.partition())  # type: ignore[attr-defined]
        self.ends[tp] = max(self.ends.get(tp, 0), message.offset() + 1)  # type: ignore[attr-defined]

    def _run(self) -> None:
        producer = Producer(
            {"bootstrap.servers": self.bootstrap, "linger.ms": 10, "enable.idempotence": True}
        )
        records = json_records("k", self.count)
        for start in range(0, self.count, self.burst):
            for key, value in records[start : start + self.burst]:
                producer.produce(
                    self.topic, key=key.encode(), value=value, on_delivery=self._delivered
                )
            producer.flush(60)
        producer.flush(60)

    def start(self) -> BackgroundProducer:
        self.thread.start()
        return self

    def join(self) -> None:
        self.thread.join(120)
        assert not self.thread.is_alive(), "the producer did not finish"
        assert not self.failures, self.failures[:3]


def _progressed(
    process: IngestProcess, scenario: Scenario, producer: BackgroundProducer, before: int
) -> bool:
    """The process has stored a block since it started, or there is nothing left to store."""
    if not process.running():
        raise AssertionError(f"ingest exited: {process.log()}")
    done = not producer.thread.is_alive() and scenario.caught_up(producer.ends)
    return done or scenario.stored_total() > before


def kill_loop(
    scenario: Scenario, count: int, kills: int, rng: random.Random, catch_up_s: float = 120
) -> None:
    """Produce ``count`` records while starting ingest and SIGKILLing it ``kills`` times, each
    at a random moment after it has written a block (mid-stream, blocks in flight); then run
    it to the end and stop it with SIGTERM."""
    extra = ["--create-table", TABLE_COLUMNS, "--max-block-size=1500", "--flush-interval-ms=200"]
    producer = BackgroundProducer(scenario.bootstrap, scenario.topic, count).start()
    before = 0
    for _ in range(kills):
        process = scenario.ingest(*extra, instance="ingest")
        wait_for(partial(_progressed, process, scenario, producer, before), 60, "a block")
        time.sleep(rng.uniform(0.0, 1.0))  # not a synchronisation: the moment of the crash
        before = scenario.stored_total()
        process.kill()
    producer.join()
    final = scenario.ingest(*extra, instance="ingest")
    wait_for(lambda: scenario.caught_up(producer.ends), catch_up_s, "ingest to catch up")
    assert final.terminate() == 0, final.log()


def check_exactly_once(
    query: Callable[[str], list[tuple[object, ...]]], table: str, count: int
) -> None:
    """Every key k0..k<count-1> is in the table exactly once."""
    assert query(f"SELECT count(*), count(DISTINCT _key) FROM {table}") == [(count, count)]
    assert query(f"SELECT _key, count(*) FROM {table} GROUP BY _key HAVING count(*) > 1") == []
    keys = {row[0] for row in query(f"SELECT _key FROM {table}")}
    assert keys == {f"k{i}" for i in range(count)}
    # the columns of a row match its record
    assert query(f"SELECT count(*) FROM {table} WHERE _key <> 'k' || id::VARCHAR") == [(0,)]
