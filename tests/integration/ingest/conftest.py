from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.ingest import clickhouse_server
from tests.integration.ingest.clickhouse_server import ClickHouseServer
from tests.integration.ingest.support import PostgresServer, postgres_available
from tests.support import zookeeper
from tests.support.broker_process import BrokerProcess
from tests.support.zookeeper import ZooKeeperProcess

OVERRIDES = {
    "group.initial.rebalance.delay.ms": "0",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
}


@pytest.fixture(scope="module")
def ingest_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One broker per test module (tests use unique topic and group names)."""
    broker = BrokerProcess(tmp_path_factory.mktemp("ingest") / "data", overrides=OVERRIDES)
    broker.start(timeout=90)  # generous: a loaded 2-core machine starts Python slowly
    yield broker
    broker.kill()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    if not postgres_available():
        pytest.skip("PostgreSQL server binaries not installed (scripts/install-test-deps.sh)")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keeper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeperProcess]:
    """ZooKeeper for the ClickHouse tests: ClickHouse's replicated tables and ingest's
    offsets (under different paths)."""
    if not zookeeper.available():
        pytest.skip("needs Debian's zookeeper package and a JDK")
    server = ZooKeeperProcess(tmp_path_factory.mktemp("keeper")).start(timeout=90)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def clickhouse(keeper: ZooKeeperProcess) -> Iterator[ClickHouseServer]:
    if not clickhouse_server.available():
        pytest.skip("needs Debian's clickhouse-server")
    server = ClickHouseServer(keeper.connect)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
