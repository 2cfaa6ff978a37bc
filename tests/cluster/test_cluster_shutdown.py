"""Shutdown that always ends.

A second SIGTERM skips the controlled phase of a broker's shutdown. The first SIGTERM asks
the controller to move the broker's leaderships away and waits for that (bounded by
controlled.shutdown.max.retries); an operator who does not want to wait sends another
signal, and the broker goes on with the rest of the clean shutdown at once. In the test the
controller is stopped (SIGSTOP, its ZooKeeper session kept alive by a long session
timeout), so no leadership can move.

With ZooKeeper gone, SIGTERM still ends every broker with a clean shutdown: the controlled
phase and the ZooKeeper client's close are bounded, and nothing waits on kazoo's retries."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.cluster import Cluster, wait_until
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
    finally:
        c.stop(grace=1.0)
        zk.stop()
