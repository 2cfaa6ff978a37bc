"""/live and /ready of `odradek serve` processes: ready once serving, not ready from the
start of a shutdown (while it drains a request in flight) and, in cluster mode, while its
ZooKeeper session is gone; live throughout."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from kio.schema.find_coordinator.v1.request import FindCoordinatorRequest
from kio.schema.join_group.v3.request import JoinGroupRequest, JoinGroupRequestProtocol
from kio.schema.types import GroupId
from kio.static.primitive import i8, i32Timedelta

from tests.support import zookeeper
from tests.support.broker_process import BrokerProcess, free_port
from tests.support.raw_client import RawClient
from tests.unit.observability.scrape import http_get, scrape, wait_for_endpoint

pytestmark = pytest.mark.integration


def probe(port: int, path: str) -> tuple[int, bytes] | None:
    """(status, body), or None when the endpoint does not answer (not listening)."""
    try:
        status, _, body = http_get(port, path, timeout=5)
    except OSError:
        return None
    return status, body


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.05)


def start_broker(
    broker_factory: Callable[..., BrokerProcess], **overrides: str
) -> tuple[BrokerProcess, int]:
    port = free_port()
    broker = broker_factory(overrides={"metrics.port": str(port), **overrides})
    wait_for_endpoint(port)
    return broker, port


def test_live_and_ready_while_serving(broker_factory: Callable[..., BrokerProcess]) -> None:
    _, port = start_broker(broker_factory)
    assert probe(port, "/live") == (200, b"live\n")
    assert probe(port, "/ready") == (200, b"ready\n")


def test_not_ready_from_the_start_of_shutdown(broker_factory: Callable[..., BrokerProcess]) -> None:
    """A JoinGroup waiting out group.initial.rebalance.delay.ms keeps the broker draining
    after SIGTERM; meanwhile /ready says why it is not ready and /live still answers."""
    broker, port = start_broker(broker_factory, **{"group.initial.rebalance.delay.ms": "4000"})
    with RawClient.to(broker.bootstrap) as client:
        find = FindCoordinatorRequest(key="health-group", key_type=i8(0))
        wait_for(lambda: client.call(find).error_code == 0, 15, "a group coordinator")
        client.send(
            JoinGroupRequest(
                group_id=GroupId("health-group"),
                session_timeout=i32Timedelta.parse(timedelta(seconds=10)),
                rebalance_timeout=i32Timedelta.parse(timedelta(seconds=10)),
                member_id="",
                protocol_type="consumer",
                protocols=(JoinGroupRequestProtocol(name="range", metadata=b""),),
            )
        )
        wait_for(
            lambda: (
                scrape(port).get(
                    "kafka_coordinator_group_groupmetadatamanager_numgroupspreparingrebalance"
                )
                == 1
            ),
            10,
            "the JoinGroup parked in the delayed rebalance",
        )
        assert broker.proc is not None
        broker.proc.send_signal(signal.SIGTERM)
        answer = probe(port, "/ready")
        deadline = time.monotonic() + 10
        while answer == (200, b"ready\n") and time.monotonic() < deadline:
            time.sleep(0.02)
            answer = probe(port, "/ready")
        # Not "not listening" (None): the endpoint still answers while the broker drains.
        assert answer == (503, b"not ready: shutting down\n")
        assert probe(port, "/live") == (200, b"live\n")
    assert broker.proc.wait(30) == 0


@pytest.fixture
def zk(tmp_path: Path) -> Iterator[zookeeper.ZooKeeperProcess]:
    if not zookeeper.available():
        pytest.skip("ZooKeeper (Debian package zookeeper) is not installed")
    server = zookeeper.ZooKeeperProcess(tmp_path / "zookeeper").start()
    yield server
    server.stop()


@pytest.mark.zk
def test_cluster_broker_is_ready_only_while_registered_in_zookeeper(
    zk: zookeeper.ZooKeeperProcess, broker_factory: Callable[..., BrokerProcess]
) -> None:
    _, port = start_broker(
        broker_factory,
        **{
            "zookeeper.connect": f"{zk.connect}/health",
            "broker.id": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "zookeeper.session.timeout.ms": "4000",
        },
    )
    wait_for(lambda: probe(port, "/ready") == (200, b"ready\n"), 15, "ready in a cluster")
    zk.stop()
    wait_for(
        lambda: probe(port, "/ready") == (503, b"not ready: ZooKeeper session not connected\n"),
        15,
        "not ready",
    )
    assert probe(port, "/live") == (200, b"live\n")
    zk.start()
    # Whether its session outlived the outage or expired (then it registers again):
    wait_for(lambda: probe(port, "/ready") == (200, b"ready\n"), 30, "ready again")
