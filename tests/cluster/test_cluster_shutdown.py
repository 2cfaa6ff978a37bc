"""Shutdown that always ends.

A second SIGTERM skips the controlled phase of a broker's shutdown. The first SIGTERM asks
the controller to move the broker's leaderships away and waits for that (bounded by
controlled.shutdown.max.retries); an operator who does not want to wait sends another
signal, and the broker goes on with the rest of the clean shutdown at once. In the test the
controller is stopped (SIGSTOP, its ZooKeeper session kept alive by a long session
timeout), so no leadership can move.

With ZooKeeper gone, SIGTERM still ends every broker with a clean shutdown: the controlled
phase and the ZooKeeper client's close are bounded, and nothing waits on kazoo's retries.
So does SIGTERM to every broker at once, and SIGTERM during a partition reassignment; after
each, the next start recovers nothing. benchmarks/shutdown.py measures the times."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Producer

from tests.cluster.test_cluster_reassignment import alter_reassignments, ongoing_reassignments
from tests.support.cluster import Cluster, read_partitions, wait_until
from tests.support.zookeeper import ZooKeeperProcess

OVERRIDES = {"zookeeper.session.timeout.ms": "40000", "controlled.shutdown.max.retries": "3"}
CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"


def test_second_sigterm_skips_the_controlled_shutdown(cluster: Callable[..., Cluster]) -> None:
    c = cluster(2, overrides=OVERRIDES)
    c.create_topic("led-by-both", partitions=2, replication_factor=2)
    c.wait_full_isr("led-by-both", [0, 1])
    controller = wait_until(c.controller_id, 30, "no controller")
    [leaving] = [b for b in c.ids if b != controller]
    broker = c.brokers[leaving]
    c.pause(controller)
    try:
        os.kill(broker.pid, signal.SIGTERM)
        wait_until(
            lambda: "shutting down" in broker.log() or None,
            15,
            "the broker did not start shutting down",
        )
        time.sleep(1.0)  # into the controlled phase, which cannot finish
        assert broker.proc is not None and broker.proc.poll() is None
        os.kill(broker.pid, signal.SIGTERM)
        code = broker.proc.wait(timeout=12)  # well before the controlled phase's 15 s bound
    finally:
        c.resume(controller)
    log = broker.log()
    assert code == 0, log
    assert "skipping the rest of the controlled shutdown" in log
    assert "did not move every leadership in time" not in log
    assert "shut down cleanly" in log
    assert (broker.data_dir / CLEAN_SHUTDOWN_FILE).exists()


# controlled.shutdown.max.retries=1: a 5 s controlled phase; each ZooKeeper stop step <= 12 s.
SHUTDOWN_BOUND_S = 45.0


def test_sigterm_ends_every_broker_after_zookeeper_is_gone(tmp_path: Path) -> None:
    zk = ZooKeeperProcess(tmp_path / "zk").start()
    c = Cluster(tmp_path / "c", f"{zk.connect}/gone", 3, {"controlled.shutdown.max.retries": "1"})
    try:
        c.start()
        c.create_topic("t", partitions=3, replication_factor=3)
        c.wait_full_isr("t", [0, 1, 2])
        zk.stop()
        started = time.monotonic()
        for broker in c.brokers.values():
            os.kill(broker.pid, signal.SIGTERM)
        for broker in c.brokers.values():
            assert broker.proc is not None
            remaining = max(1.0, SHUTDOWN_BOUND_S - (time.monotonic() - started))
            assert broker.proc.wait(timeout=remaining) == 0, broker.log()
            assert "shut down cleanly" in broker.log()
            assert (broker.data_dir / CLEAN_SHUTDOWN_FILE).exists()
        zk.start()  # the same data and port: the cluster comes back as it was
        _restart_recovers_nothing(c)
    finally:
        c.stop(grace=1.0)
        zk.stop()


# The stated bound (docs/zookeeper.md) with the default controlled.shutdown.max.retries=3: a
# 15 s controlled phase, closing the controller and the ZooKeeper session at most 12 s each,
# 10 s for a thread blocked in ZooKeeper; a little more for a loaded test machine.
DEFAULT_BOUND_S = 55.0


def _wait_clean_exits(c: Cluster, started: float, bound: float) -> None:
    """Each broker must exit 0 within ``bound`` seconds of ``started``, cleanly."""
    for broker_id, broker in c.brokers.items():
        assert broker.proc is not None
        remaining = max(1.0, bound - (time.monotonic() - started))
        assert broker.proc.wait(timeout=remaining) == 0, broker.log()
        assert "shut down cleanly" in broker.log(), broker.log()
        assert (broker.data_dir / CLEAN_SHUTDOWN_FILE).exists(), broker_id


def _restart_recovers_nothing(c: Cluster) -> None:
    marks = {i: b.log_path.stat().st_size for i, b in c.brokers.items()}
    c.start()
    for broker_id, broker in c.brokers.items():
        with open(broker.log_path, errors="replace") as log:
            log.seek(marks[broker_id])
            since = log.read()
        assert "recover" not in since.lower(), f"broker {broker_id} recovered:\n{since}"


def _produce(c: Cluster, topic: str, count: int, partitions: int) -> None:
    producer = Producer({"bootstrap.servers": c.bootstrap, "acks": "all"})
    for n in range(count):
        producer.produce(topic, value=str(n).encode(), partition=n % partitions)
    assert producer.flush(60) == 0


def test_sigterm_to_every_broker_at_once_ends_each_in_the_bound(
    cluster: Callable[..., Cluster],
) -> None:
    """Every broker of a cluster gets SIGTERM at the same moment (ZooKeeper up): each asks to
    move its leaderships to brokers that are leaving too, so the controlled phase cannot
    succeed; each still exits within the stated bound, cleanly, and nothing is recovered on
    the next start."""
    c = cluster(3)
    c.create_topic("everyone", partitions=3, replication_factor=3)
    _produce(c, "everyone", 300, 3)
    started = time.monotonic()
    for broker in c.brokers.values():
        os.kill(broker.pid, signal.SIGTERM)
    _wait_clean_exits(c, started, DEFAULT_BOUND_S)
    _restart_recovers_nothing(c)
    read = read_partitions(c.bootstrap, "everyone", range(3))
    assert sum(len(records) for records in read.values()) == 300


def test_sigterm_during_a_reassignment_ends_each_in_the_bound(
    cluster: Callable[..., Cluster],
) -> None:
    """SIGTERM while a partition reassignment is ongoing (its new replica's broker stopped,
    so it cannot finish): every broker exits in the bound with a clean shutdown, nothing is
    recovered on the next start, and the reassignment then completes."""
    c = cluster(3, overrides={"zookeeper.session.timeout.ms": "40000"})
    controller = wait_until(c.controller_id, 30, "no controller")
    stays, stopped = (b for b in c.ids if b != controller)
    c.create_topic("moving", assignment=[[stays, controller]])
    _produce(c, "moving", 200, 1)
    c.pause(stopped)
    try:
        moved = alter_reassignments(c, "moving", {0: [stays, controller, stopped]})
        assert all(p.error_code == 0 for t in moved.responses for p in t.partitions), moved
        assert ongoing_reassignments(c, "moving"), "the reassignment is not ongoing"
        started = time.monotonic()
        for broker_id in (stays, controller):
            os.kill(c.brokers[broker_id].pid, signal.SIGTERM)
    finally:
        c.resume(stopped)
    os.kill(c.brokers[stopped].pid, signal.SIGTERM)
    _wait_clean_exits(c, started, DEFAULT_BOUND_S)
    _restart_recovers_nothing(c)
    wait_until(
        lambda: not ongoing_reassignments(c, "moving") or None,
        60,
        "the reassignment did not complete after the restart",
        context=c.logs,
    )
    read = read_partitions(c.bootstrap, "moving", [0])
    assert len(read[0]) == 200
