from __future__ import annotations

import os

# kio entities built with a field name that no version has fail loudly under test, here and in
# every broker the tests start (they inherit the environment); see odradek.protocol.codec.build.
os.environ.setdefault("ODRADEK_STRICT_BUILD", "1")

from collections.abc import Iterator
from multiprocessing import resource_tracker
from pathlib import Path

import pytest

from tests.support import processes
from tests.support.broker_process import BrokerProcess

_SUBREAPER = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SUBREAPER] = processes.become_subreaper()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any process a test started outlives the session (fixtures are torn
    down by now). Orphans were re-parented to pytest (see tests/support/processes.py)."""
    if not session.config.stash.get(_SUBREAPER, False):
        return

    def leftovers() -> list[processes.ProcessInfo]:
        processes.reap_zombies()
        # pytest's own resource tracker (started by in-process brokers' cleaner pools) is one
        # per process by design and ends with pytest.
        own_tracker = getattr(resource_tracker._resource_tracker, "_pid", None)
        return [p for p in processes.descendants(os.getpid()) if p.pid != own_tracker]

    left = leftovers()
    if left:  # give processes that are already on their way out a moment
        processes.wait_gone([p.pid for p in left], timeout=10)
        left = leftovers()
    if not left:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{len(left)} process(es) left behind by the tests (killed now):"]
    lines += [f"  pid {p.pid} (parent {p.ppid}): {p.cmdline[:200]}" for p in left]
    if reporter is not None:
        reporter.write_line("\n".join(lines), red=True)
    else:
        print("\n".join(lines))
    processes.kill_all(left)
    processes.reap_zombies()
    if session.exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[type[BrokerProcess] | object]:
    """Call ``broker_factory(overrides={...})`` to start brokers; all are killed afterwards."""
    started: list[BrokerProcess] = []

    def make(overrides: dict[str, str] | None = None, name: str = "broker") -> BrokerProcess:
        broker = BrokerProcess(tmp_path / f"{name}-{len(started)}", overrides=overrides)
        started.append(broker)
        return broker.start()

    yield make
    for broker in started:
        broker.kill()


@pytest.fixture
def broker(broker_factory) -> BrokerProcess:  # type: ignore[no-untyped-def]
    """A fresh broker process with an empty data dir, on a free loopback port."""
    return broker_factory()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def shared_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One broker shared by a test module (use unique topic names). Without Kafka's 3 s
    group.initial.rebalance.delay.ms (config/server.properties sets 0 too): a consumer that
    joins a group (console-consumer --from-beginning does) does not wait it out."""
    broker = BrokerProcess(
        tmp_path_factory.mktemp("shared") / "data",
        overrides={"group.initial.rebalance.delay.ms": "0"},
    ).start()
    yield broker
    broker.kill()
