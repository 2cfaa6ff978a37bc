"""Exactly-once consume-transform-produce under crashes of the application.

``eos_app.py`` (confluent-kafka, a child process) copies an input topic to an output topic in
transactions, committing its consumer offsets with send_offsets_to_transaction. It is killed
with SIGKILL at random points (during start-up, mid-transaction, between transactions) and
restarted, twenty times; then it runs until the input is consumed. The output topic, read
with read_committed, must hold every input record exactly once, and the group's committed
offsets must be at the input's end.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.integration.test_transactions_confluent import (
    OVERRIDES,
    create_topics,
    read_all,
    unique,
)

pytestmark = pytest.mark.integration

APP = Path(__file__).with_name("eos_app.py")
RECORDS = 2000
PARTITIONS = 2
KILLS = 20
BATCH = 10
PAUSE_MS = 40  # inside each transaction: ~200 records/s, ~100 per incarnation
SEED = int(os.environ.get("ODRADEK_EOS_SEED", "20240611"))
READY_TIMEOUT = 20.0
FINISH_TIMEOUT = 60.0


class App:
    """One incarnation of the application."""

    def __init__(self, argv: list[str], log_path: Path) -> None:
        self.log_path = log_path
        self.offset = log_path.stat().st_size if log_path.exists() else 0
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(APP), *argv],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def output(self) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(self.offset)
            return log.read().decode(errors="replace")

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "READY" in self.output():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def produce_input(bootstrap: str, topic: str) -> list[bytes]:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
    )
    keys = [b"k%04d" % i for i in range(RECORDS)]
    for i, key in enumerate(keys):
        producer.produce(topic, key=key, value=b"value-%04d" % i, partition=i % PARTITIONS)
    assert producer.flush(30) == 0
    return keys


def group_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, p) for p in range(PARTITIONS)]
    )
    result = admin.list_consumer_group_offsets([request], request_timeout=10)
    return {tp.partition: tp.offset for tp in result[group].result(timeout=20).topic_partitions}


def committed_output(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of the output as read_committed sees it."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("check"),
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    got: list[tuple[bytes | None, bytes | None]] = []
    at_end: set[int | None] = set()  # None: an error that names no partition
    deadline = time.monotonic() + 20
    try:
        while len(at_end) < PARTITIONS and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                at_end.add(message.partition())
                continue
            got.append((message.key(), message.value()))
    finally:
        consumer.close()
    assert len(at_end) == PARTITIONS, "output not read to its end"
    return got


def test_exactly_once_with_application_killed_twenty_times(
    broker_factory: Any, tmp_path: Path
) -> None:
    broker = broker_factory(overrides=OVERRIDES)
    bootstrap = broker.bootstrap
    source, sink = unique("eos-in"), unique("eos-out")
    create_topics(bootstrap, source, sink, partitions=PARTITIONS)
    keys = produce_input(bootstrap, source)
    group, tid = unique("eos-group"), unique("eos-app")
    argv = [bootstrap, source, sink, group, tid, "--batch", str(BATCH), "--pause-ms", str(PAUSE_MS)]
    log_path = tmp_path / "app.log"
    rng = random.Random(SEED)
    crashed_by_itself = 0
    started = time.monotonic()

    for _ in range(KILLS):
        app = App(argv, log_path)
        if rng.random() < 0.2:
            time.sleep(rng.uniform(0.0, 0.6))  # during start-up, maybe inside InitProducerId
        else:
            assert app.wait_ready(READY_TIMEOUT) or app.proc.poll() is not None, (
                f"app not ready:\n{app.output()}"
            )
            time.sleep(rng.uniform(0.05, 1.0))
        if app.proc.poll() is not None:
            crashed_by_itself += 1
        app.kill()
    kill_phase = time.monotonic() - started

    app = App(argv, log_path)
    try:
        deadline = time.monotonic() + FINISH_TIMEOUT
        while True:
            assert time.monotonic() < deadline, (
                f"input not fully processed within {FINISH_TIMEOUT}s (seed {SEED}); app "
                f"output:\n{app.output()[-3000:]}\nbroker log:\n{broker.log()}"
            )
            if app.proc.poll() is not None:
                crashed_by_itself += 1
                app = App(argv, log_path)
            offsets = group_offsets(bootstrap, group, source)
            if sum(max(o, 0) for o in offsets.values()) >= RECORDS:
                break
            time.sleep(0.5)
    finally:
        app.stop()

    output = committed_output(bootstrap, sink)
    counts = Counter(key for key, _ in output)
    duplicates = {k: n for k, n in counts.items() if n > 1}
    missing = set(keys) - set(counts)
    assert not duplicates, (
        f"{len(duplicates)} keys twice or more (seed {SEED}): {sorted(duplicates.items())[:10]}"
    )
    assert not missing, f"{len(missing)} keys missing (seed {SEED}): {sorted(missing)[:10]}"
    assert len(output) == RECORDS
    assert all(value == b"VALUE-" + key[1:] for key, value in output if key is not None)
    assert group_offsets(bootstrap, group, source) == dict.fromkeys(
        range(PARTITIONS), RECORDS // PARTITIONS
    )
    # the kills really landed inside transactions: aborted records are in the output log
    uncommitted = read_all(bootstrap, [sink], "read_uncommitted", partitions=PARTITIONS)[sink]
    print(
        f"kill phase {kill_phase:.1f}s, {crashed_by_itself} self-inflicted exits, "
        f"{len(uncommitted) - RECORDS} aborted output records"
    )
