from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.zookeeper import ZooKeeperProcess, available


@pytest.fixture(scope="session")
def zookeeper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeperProcess]:
    """One real ZooKeeper for the cluster tests; each test uses its own chroot."""
    if not available():
        pytest.skip("ZooKeeper (Debian package zookeeper) is not installed")
    zk = ZooKeeperProcess(tmp_path_factory.mktemp("zookeeper")).start()
    yield zk
    zk.stop()


@pytest.fixture
def zk_connect(zookeeper: ZooKeeperProcess, request: pytest.FixtureRequest) -> str:
    """A connect string with a fresh chroot for this test."""
    name = request.node.name.replace("[", "_").replace("]", "_")
    return f"{zookeeper.connect}/odradek-test-{name}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "cluster":
            item.add_marker(pytest.mark.zk)
