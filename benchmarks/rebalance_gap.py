"""Delivery gap on the surviving members while a member leaves: classic vs KIP-848 groups.

Three confluent-kafka (librdkafka) consumers, each polling on its own thread, share a
12-partition topic that a producer writes to (every partition, every 5 ms). Once all three
are receiving, one closes cleanly (LeaveGroup, or a ConsumerGroupHeartbeat with epoch -1). For
each survivor we record when each record arrived and report the longest pause in its
deliveries from the close until the leaver's partitions are being delivered to the survivors
(plus one second), and the takeover time (close until a record of every one of the leaver's
partitions reached a survivor). Figures: the worst survivor of a run; median (min-max) over
``--runs`` runs, each with a fresh group.

Protocols compared, all with a 1 s heartbeat interval (the client's ``heartbeat.interval.ms``
for classic groups; the broker's ``group.consumer.heartbeat.interval.ms`` for consumer groups):

* ``classic-eager`` — librdkafka's default assignors (range, roundrobin): every member stops
  for the rebalance;
* ``classic-cooperative`` — ``cooperative-sticky`` (KIP-429): incremental, client-side;
* ``consumer`` — ``group.protocol=consumer`` (KIP-848): incremental, server-side.

    python benchmarks/rebalance_gap.py [--runs 5]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.broker_process import BrokerProcess  # noqa: E402

PARTITIONS = 12
HEARTBEAT_MS = 1000
PROTOCOLS: dict[str, dict[str, Any]] = {
    "classic-eager": {"group.protocol": "classic", "heartbeat.interval.ms": HEARTBEAT_MS},
    "classic-cooperative": {
        "group.protocol": "classic",
        "heartbeat.interval.ms": HEARTBEAT_MS,
        "partition.assignment.strategy": "cooperative-sticky",
    },
    "consumer": {"group.protocol": "consumer"},
}


class Member(threading.Thread):
    def __init__(self, bootstrap: str, topic: str, group: str, conf: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "auto.offset.reset": "latest",
                "enable.auto.commit": True,
                **conf,
            }
        )
        self.topic = topic
        self.lock = threading.Lock()
        self.arrivals: list[tuple[float, int]] = []  # (monotonic time, partition)
        self.owned: frozenset[int] = frozenset()
        self.stopping = threading.Event()
        self.start()

    def run(self) -> None:
        self.consumer.subscribe([self.topic])
        while not self.stopping.is_set():
            message = self.consumer.poll(0.05)
            now = time.monotonic()
            owned = frozenset(tp.partition for tp in self.consumer.assignment())
            with self.lock:
                self.owned = owned
                if message is not None and message.error() is None:
                    self.arrivals.append((now, message.partition() or 0))
        self.consumer.close()

    def snapshot(self) -> tuple[frozenset[int], list[tuple[float, int]]]:
        with self.lock:
            return self.owned, list(self.arrivals)

    def close(self) -> None:
        self.stopping.set()
        self.join(60)


class Load(threading.Thread):
    """One record to every partition every 5 ms."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        self.topic = topic
        self.stopping = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            for partition in range(PARTITIONS):
                self.producer.produce(self.topic, b"x", partition=partition)
            self.producer.poll(0)
            time.sleep(0.005)
        self.producer.flush(10)

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.01)


def one_run(bootstrap: str, topic: str, conf: dict[str, Any]) -> tuple[float, float]:
    """(longest delivery gap of the worst survivor, takeover time), in seconds."""
    group = f"gap-{uuid.uuid4().hex[:8]}"
    members = [Member(bootstrap, topic, group, conf) for _ in range(3)]
    try:

        def balanced() -> bool:
            owned = [m.snapshot()[0] for m in members]
            return (
                all(len(o) == PARTITIONS // 3 for o in owned)
                and len(frozenset().union(*owned)) == PARTITIONS
            )

        wait_until(balanced, 120, "3 balanced members")
        start = time.monotonic()
        wait_until(
            lambda: all(any(t > start for t, _ in m.snapshot()[1]) for m in members),
            60,
            "every member receiving",
        )
        leaver, survivors = members[0], members[1:]
        moving = leaver.snapshot()[0]
        closed_at = time.monotonic()
        leaver.close()

        def taken_over() -> bool:
            got = {p for m in survivors for t, p in m.snapshot()[1] if t > closed_at}
            return moving <= got

        wait_until(taken_over, 120, "the survivors to take the leaver's partitions")
        takeover = time.monotonic() - closed_at
        time.sleep(1.0)
        end = time.monotonic()
        worst = 0.0
        for member in survivors:
            times = [closed_at] + [t for t, _ in member.snapshot()[1] if closed_at < t <= end]
            times.append(end)
            worst = max(worst, max(b - a for a, b in itertools.pairwise(times)))
        return worst, takeover
    finally:
        for member in members:
            if member.is_alive():
                member.close()


def spread(values: list[float]) -> str:
    return (
        f"{statistics.median(values) * 1000:7.0f} ms "
        f"({min(values) * 1000:.0f}-{max(values) * 1000:.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="rebalance-gap-")) / "data"
    broker = BrokerProcess(
        data,
        overrides={
            "group.initial.rebalance.delay.ms": "0",
            "group.consumer.heartbeat.interval.ms": str(HEARTBEAT_MS),
            "group.consumer.min.heartbeat.interval.ms": str(HEARTBEAT_MS),
            "metrics.port": "-1",
        },
    ).start()
    try:
        topic = "rebalance-gap"
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
        load = Load(broker.bootstrap, topic)
        try:
            print(f"{'protocol':22} {'longest gap (worst survivor)':32} takeover")
            for name, conf in PROTOCOLS.items():
                gaps, takeovers = [], []
                for _ in range(args.runs):
                    gap, takeover = one_run(broker.bootstrap, topic, conf)
                    gaps.append(gap)
                    takeovers.append(takeover)
                print(f"{name:22} {spread(gaps):32} {spread(takeovers)}", flush=True)
        finally:
            load.stop()
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
