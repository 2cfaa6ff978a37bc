"""pytest plugin (entry point ``odradek``, loaded automatically where odradek is installed):
real in-process brokers for your tests, each on an ephemeral loopback port with its own
data directory under pytest's ``tmp_path``.

Fixtures:

``odradek_broker``
    A fresh broker per test. Connect with ``odradek_broker.bootstrap_servers``::

        def test_round_trip(odradek_broker):
            producer = Producer({"bootstrap.servers": odradek_broker.bootstrap_servers})

``odradek_broker_factory``
    Start brokers with your own broker configs (Kafka's names; a mapping, keyword
    arguments, or both; values may be str, int or bool). Each call returns a started
    ``odradek.testing.Broker``; all are stopped when the test ends::

        def test_partitions(odradek_broker_factory):
            broker = odradek_broker_factory({"num.partitions": 3})
            strict = odradek_broker_factory(**{"auto.create.topics.enable": False})

``odradek_broker_session``
    One broker for the whole session (per xdist worker), for suites that only need a
    broker to be there: cheaper, but tests share its topics and groups, so use unique names.

Defaults differ from ``odradek serve`` (and Kafka) as in Kafka's own test harnesses
(``TestUtils.createBrokerConfig``, ``EmbeddedKafkaCluster``):
``group.initial.rebalance.delay.ms=0``, so a consumer group's first member gets its
assignment at once instead of after 3 s; ``offsets.topic.num.partitions=5`` and
``transaction.state.log.num.partitions=5`` (not 50), so the first group or transactional
producer does not wait while 50 partitions are created. A new group's first record arrives
in about 0.2 s instead of 3-4 s. Pass a config to the factory to get Kafka's value back.
The metrics endpoint is off (``metrics.port=-1``); pass ``{"metrics.port": 0}`` for one on
a free port (``broker.server.metrics_endpoint.port``). ``ODRADEK_*``/``KAFKA_*`` environment
variables do not reach these brokers.

The plugin imports the broker only when a fixture is used, so having odradek installed
costs other test runs next to nothing. Disable it with ``-p no:odradek``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

if TYPE_CHECKING:
    from odradek.testing.broker import Broker

ConfigValue = str | int | bool

TEST_DEFAULTS: Mapping[str, str] = {
    "group.initial.rebalance.delay.ms": "0",
    "offsets.topic.num.partitions": "5",
    "transaction.state.log.num.partitions": "5",
}


class BrokerFactory(Protocol):
    """``odradek_broker_factory(overrides=None, /, **configs) -> Broker``."""

    def __call__(
        self, overrides: Mapping[str, ConfigValue] | None = None, /, **configs: ConfigValue
    ) -> Broker: ...


def _config_text(value: ConfigValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # Kafka's spelling, not Python's
    return str(value)


def _settings(
    overrides: Mapping[str, ConfigValue] | None, configs: Mapping[str, ConfigValue]
) -> dict[str, str]:
    settings = dict(TEST_DEFAULTS)
    for name, value in {**(overrides or {}), **configs}.items():
        settings[name] = _config_text(value)
    return settings


@contextlib.contextmanager
def _running(data_dir: Path, settings: Mapping[str, str]) -> Iterator[Broker]:
    from odradek.testing.broker import Broker

    with Broker(data_dir=data_dir, overrides=settings) as broker:
        yield broker


@pytest.fixture
def odradek_broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh in-process broker for this test (see the module docstring)."""
    with _running(tmp_path / "odradek-data", TEST_DEFAULTS) as broker:
        yield broker


@pytest.fixture
def odradek_broker_factory(tmp_path: Path) -> Iterator[BrokerFactory]:
    """Start brokers with configs of your choice; all stop when the test ends."""
    with contextlib.ExitStack() as brokers:
        count = 0

        def start(
            overrides: Mapping[str, ConfigValue] | None = None, /, **configs: ConfigValue
        ) -> Broker:
            nonlocal count
            count += 1
            data_dir = tmp_path / f"odradek-data-{count}"
            return brokers.enter_context(_running(data_dir, _settings(overrides, configs)))

        yield start


@pytest.fixture(scope="session")
def odradek_broker_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One in-process broker shared by the whole test session."""
    with _running(tmp_path_factory.mktemp("odradek-session"), TEST_DEFAULTS) as broker:
        yield broker
