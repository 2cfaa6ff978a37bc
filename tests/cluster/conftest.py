from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
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


@pytest.fixture
def cluster(zk_connect: str, tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Call ``cluster(n=3, overrides={...}, **more_overrides)`` to start a cluster of ``n``
    brokers (ids 1..n) and wait until it is ready; every process is stopped afterwards
    (SIGTERM, then SIGKILL)."""
    made: list[Cluster] = []

    def make(n: int = 3, overrides: dict[str, str] | None = None, **more: str) -> Cluster:
        connect = zk_connect if not made else f"{zk_connect}-{len(made)}"
        instance = Cluster(
            tmp_path / f"cluster-{len(made)}", connect, n, {**(overrides or {}), **more}
        )
        made.append(instance)
        return instance.start()

    yield make
    for instance in made:
        # all at once, the last controlled shutdown cannot finish: a second SIGTERM skips it
        instance.stop(grace=3.0, hurry_after=0.5)
