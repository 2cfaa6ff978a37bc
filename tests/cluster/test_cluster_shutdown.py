"""A second SIGTERM skips the controlled phase of a broker's shutdown.

The broker's first SIGTERM asks the controller to move its leaderships away and waits for
that (bounded by controlled.shutdown.max.retries); an operator who does not want to wait
sends another signal, and the broker goes on with the rest of the clean shutdown at once.
Here the controller is stopped (SIGSTOP, its ZooKeeper session kept alive by a long
session timeout), so no leadership can move."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from tests.support.cluster import Cluster, wait_until

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
