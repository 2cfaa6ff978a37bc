"""Shutdown bound: how long SIGTERM takes to end each broker of a 3-broker cluster.

A real ZooKeeper (Debian's package) and three ``python -m odradek serve`` brokers on 127.0.0.1
(with the default ``controlled.shutdown.max.retries=3``). Each round starts a fresh cluster,
creates a topic (3 partitions, replication factor 3), produces 300 records with acks=all, and
then, by scenario:

- ``all-at-once``: SIGTERM to every broker at the same moment, ZooKeeper up (each asks the
  controller to move its leaderships to brokers that are leaving too);
- ``zookeeper-gone``: ZooKeeper is stopped (SIGKILL) first, then SIGTERM to every broker;
- ``reassignment``: a reassignment of partition 0 to a replica on a stopped (SIGSTOP) broker
  is ongoing; SIGTERM to the two others, then the stopped one is continued and gets SIGTERM;
- ``one-broker``: SIGTERM to one non-controller broker (the controlled shutdown can succeed).

The figure is the time from a broker's SIGTERM to its exit; every broker must exit 0 having
written its clean-shutdown marker (``.kafka_cleanshutdown``), or the round counts as failed.
The stated bound (docs/zookeeper.md) is about 50 s with the default settings.

    python benchmarks/shutdown.py [--rounds 10] [--scenarios all-at-once,zookeeper-gone,...]

Writes ``benchmarks/results/shutdown.md``. Every process is stopped by PID on exit.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import Producer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.cluster.test_cluster_reassignment import alter_reassignments  # noqa: E402
from tests.support.cluster import Cluster, wait_until  # noqa: E402
from tests.support.zookeeper import ZooKeeperProcess  # noqa: E402

CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"
WAIT_LIMIT_S = 120.0


def produce(c: Cluster, topic: str, count: int, partitions: int) -> None:
    producer = Producer({"bootstrap.servers": c.bootstrap, "acks": "all"})
    for n in range(count):
        producer.produce(topic, value=str(n).encode(), partition=n % partitions)
    if producer.flush(60) != 0:
        raise RuntimeError("records were not acknowledged")


def exit_times(c: Cluster, signalled: dict[int, float], ids: list[int]) -> list[float]:
    """Seconds from each broker's SIGTERM to its exit; a broker that fails, or exits without
    the clean-shutdown marker, raises."""
    times = []
    for broker_id in ids:
        broker = c.brokers[broker_id]
        assert broker.proc is not None
        code = broker.proc.wait(WAIT_LIMIT_S)
        ended = time.monotonic()
        if code != 0 or not (broker.data_dir / CLEAN_SHUTDOWN_FILE).exists():
            raise RuntimeError(f"broker {broker_id} exited {code} without a clean shutdown")
        times.append(ended - signalled[broker_id])
    return times


def sigterm(c: Cluster, ids: list[int]) -> dict[int, float]:
    at = {}
    for broker_id in ids:
        os.kill(c.brokers[broker_id].pid, signal.SIGTERM)
        at[broker_id] = time.monotonic()
    return at


def all_at_once(c: Cluster, zk: ZooKeeperProcess) -> list[float]:
    return exit_times(c, sigterm(c, c.ids), c.ids)


def zookeeper_gone(c: Cluster, zk: ZooKeeperProcess) -> list[float]:
    zk.stop()
    return exit_times(c, sigterm(c, c.ids), c.ids)


def reassignment(c: Cluster, zk: ZooKeeperProcess) -> list[float]:
    controller = wait_until(c.controller_id, 30, "no controller")
    stays, stopped = (b for b in c.ids if b != controller)
    c.create_topic("moving", assignment=[[stays, controller]])
    c.pause(stopped)
    try:
        alter_reassignments(c, "moving", {0: [stays, controller, stopped]})
        at = sigterm(c, [stays, controller])
    finally:
        c.resume(stopped)
    at.update(sigterm(c, [stopped]))
    return exit_times(c, at, c.ids)


def one_broker(c: Cluster, zk: ZooKeeperProcess) -> list[float]:
    controller = wait_until(c.controller_id, 30, "no controller")
    leaving = next(b for b in c.ids if b != controller)
    return exit_times(c, sigterm(c, [leaving]), [leaving])


SCENARIOS: dict[str, Callable[[Cluster, ZooKeeperProcess], list[float]]] = {
    "all-at-once": all_at_once,
    "zookeeper-gone": zookeeper_gone,
    "reassignment": reassignment,
    "one-broker": one_broker,
}


class SetupFailed(Exception):
    """The cluster did not come up (a loaded machine): the round measures nothing."""


def one_round(work: Path, scenario: str) -> list[float]:
    zk = ZooKeeperProcess(work / "zk").start()
    c = Cluster(work / "cluster", f"{zk.connect}/bench", 3)
    try:
        try:
            c.start()
            c.create_topic("data", partitions=3, replication_factor=3)
            produce(c, "data", 300, 3)
        except (RuntimeError, AssertionError, OSError) as exc:
            raise SetupFailed(str(exc).splitlines()[0]) from exc
        return SCENARIOS[scenario](c, zk)
    finally:
        c.stop(grace=1.0)
        zk.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/shutdown.md")
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    failed = not_started = 0
    with tempfile.TemporaryDirectory(prefix="odradek-shutdown-") as tmp:
        for scenario in args.scenarios.split(","):
            times: list[float] = []
            for n in range(args.rounds):
                try:
                    times += one_round(Path(tmp) / f"{scenario}-{n}", scenario)
                except SetupFailed as exc:
                    not_started += 1
                    print(f"{scenario} round {n}: the cluster did not start: {exc}", flush=True)
                except (RuntimeError, AssertionError, OSError) as exc:
                    failed += 1
                    print(f"{scenario} round {n}: FAILED {exc}", flush=True)
            if times:
                row = (
                    f"| {scenario} | {len(times)} | {statistics.median(times):.1f} "
                    f"| {min(times):.1f} | {max(times):.1f} |"
                )
                rows.append(row)
                print(row, flush=True)
    load_after = os.getloadavg()
    report = [
        "# Shutdown bound (benchmarks/shutdown.py)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
        f"{args.rounds} rounds per scenario, 3 brokers, default controlled.shutdown settings; "
        f"{failed} failed shutdowns; {not_started} rounds where the cluster did not start "
        "(measured nothing).",
        "",
        "Seconds from a broker's SIGTERM to its exit (each exit 0 with the clean-shutdown marker).",
        "",
        "| scenario | exits | median s | min s | max s |",
        "| --- | ---: | ---: | ---: | ---: |",
        *rows,
        "",
    ]
    args.out.write_text("\n".join(report))
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
