"""Consumer-group benchmark: failover and rebalance times against a real odradek broker.

Two figures, with confluent-kafka (librdkafka) consumers, each polling on its own thread:

(a) failover: a 2-member group shares a 4-partition topic while a producer writes to every
    partition every 5 ms. One member closes cleanly (``close()``, which sends LeaveGroup); the
    time from that call until the survivor has received a record from each of the partitions
    the leaver owned. Median (and min/max) of ``--runs`` (10) runs, each with a fresh group.
(b) rebalance: 9 members are stable on a 20-partition topic; a 10th subscribes. The time from
    its ``subscribe()`` until all 10 have been handed their assignment of the new generation
    (``on_assign``). Median of ``--rebalance-runs`` (5) runs.

Both run once with librdkafka's default ``heartbeat.interval.ms`` (3000: a member learns of a
rebalance from its next heartbeat, so that dominates) and once with 300 ms. The broker runs with
``group.initial.rebalance.delay.ms=0`` (the delay only applies to the first join of an empty
group, not to the rebalances measured here).

    python benchmarks/groups.py [--runs 10] [--rebalance-runs 5] [--heartbeats 3000,300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.broker_process import BrokerProcess  # noqa: E402


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.005)


class Member:
    """A subscribed consumer polling on its own thread, recording assignment and receipts."""

    def __init__(self, bootstrap: str, topic: str, group: str, heartbeat_ms: int) -> None:
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "auto.offset.reset": "latest",
                "heartbeat.interval.ms": heartbeat_ms,
                "session.timeout.ms": 45_000,
                "partition.assignment.strategy": "range",
            }
        )
        self.topic = topic
        self.owned: set[int] = set()
        self.assigned_at = 0.0  # monotonic time of the latest on_assign
        self.first_seen: dict[int, float] = {}  # partition -> first receipt after `watch_from`
        self.watch_from = float("inf")
        self._stop = threading.Event()
        self._closed = threading.Event()
        self.close_started = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> float:
        started = time.monotonic()
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        self.thread.start()
        return started

    def _on_assign(self, _: Any, partitions: list[Any]) -> None:
        self.owned = {tp.partition for tp in partitions}
        self.assigned_at = time.monotonic()

    def _on_revoke(self, _: Any, partitions: list[Any]) -> None:
        self.owned = set()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self.consumer.poll(0.05)
            if message is None or message.error():
                continue
            now = time.monotonic()
            if now >= self.watch_from:
                self.first_seen.setdefault(message.partition(), now)
        self.close_started = time.monotonic()
        self.consumer.close()
        self._closed.set()

    def close(self, wait: bool = True) -> None:
        self._stop.set()
        if wait:
            self._closed.wait(30)


class Feeder:
    """Produces one small record to every partition every ``interval`` seconds."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, interval: float) -> None:
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        self.topic, self.partitions, self.interval = topic, partitions, interval
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for p in range(self.partitions):
                self.producer.produce(self.topic, value=b"x", partition=p)
            self.producer.poll(0)
            time.sleep(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(10)
        self.producer.flush(10)


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(15)


def failover_once(bootstrap: str, topic: str, heartbeat_ms: int) -> float:
    group = f"failover-{uuid.uuid4().hex[:8]}"
    leaver = Member(bootstrap, topic, group, heartbeat_ms)
    survivor = Member(bootstrap, topic, group, heartbeat_ms)
    leaver.start()
    survivor.start()
    try:
        wait_until(
            lambda: len(leaver.owned) == 2 and len(survivor.owned) == 2,
            60,
            "two members with two partitions each",
        )
        time.sleep(0.3)  # both are fetching
        moving = set(leaver.owned)
        survivor.watch_from = time.monotonic()
        leaver.close(wait=False)
        leaver._closed.wait(30)
        started = leaver.close_started
        wait_until(lambda: moving <= set(survivor.first_seen), 60, "the takeover")
        # Records of the survivor's own partitions keep arriving, so look at the moved ones.
        return max(survivor.first_seen[p] for p in moving) - started
    finally:
        leaver.close()
        survivor.close()


def rebalance_once(bootstrap: str, topic: str, heartbeat_ms: int, members: int = 10) -> float:
    group = f"rebalance-{uuid.uuid4().hex[:8]}"
    group_members = [Member(bootstrap, topic, group, heartbeat_ms) for _ in range(members)]
    try:
        for member in group_members[:-1]:
            member.start()
        wait_until(
            lambda: (
                sum(len(m.owned) for m in group_members[:-1]) == 20
                and all(m.owned for m in group_members[:-1])
            ),
            90,
            f"{members - 1} stable members",
        )
        time.sleep(0.5)
        started = group_members[-1].start()
        wait_until(
            lambda: (
                all(m.assigned_at > started and m.owned for m in group_members)
                and sum(len(m.owned) for m in group_members) == 20
            ),
            90,
            f"all {members} members assigned",
        )
        return max(m.assigned_at for m in group_members) - started
    finally:
        for member in group_members:
            member.close(wait=False)
        for member in group_members:
            member.close()


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values) * 1000:7.0f} ms   "
        f"min {min(values) * 1000:6.0f}   max {max(values) * 1000:6.0f}   (n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rebalance-runs", type=int, default=5)
    parser.add_argument(
        "--heartbeats",
        default="3000,300",
        help="heartbeat.interval.ms values to measure (comma-separated)",
    )
    args = parser.parse_args()
    heartbeats = [int(h) for h in args.heartbeats.split(",")]

    with tempfile.TemporaryDirectory(prefix="odradek-groups-bench-") as tmp:
        broker = BrokerProcess(
            Path(tmp) / "data", overrides={"group.initial.rebalance.delay.ms": "0"}
        ).start()
        try:
            create_topic(broker.bootstrap, "failover", 4)
            create_topic(broker.bootstrap, "rebalance", 20)
            feeder = Feeder(broker.bootstrap, "failover", 4, 0.005)
            try:
                for heartbeat_ms in heartbeats:
                    times = [
                        failover_once(broker.bootstrap, "failover", heartbeat_ms)
                        for _ in range(args.runs)
                    ]
                    print(
                        f"(a) failover after close(), heartbeat.interval.ms={heartbeat_ms:5d}: "
                        f"{summary(times)}",
                        flush=True,
                    )
            finally:
                feeder.stop()
            for heartbeat_ms in heartbeats:
                times = [
                    rebalance_once(broker.bootstrap, "rebalance", heartbeat_ms)
                    for _ in range(args.rebalance_runs)
                ]
                print(
                    f"(b) 10th member joins 9, heartbeat.interval.ms={heartbeat_ms:5d}:     "
                    f"{summary(times)}",
                    flush=True,
                )
        except Exception:
            print(f"--- broker log ---\n{broker.log()}", file=sys.stderr)
            raise
        finally:
            broker.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
