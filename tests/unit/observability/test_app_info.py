"""The broker's app-info in its Prometheus text (``kafka_server_app_info``: Kafka's
``kafka.server:type=app-info,id=N`` MBean, its strings as labels), and the console reading
each broker's version from it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from odradek.common.version import __version__
from odradek.console import metrics as console_metrics
from odradek.observability import metrics
from odradek.testing import Broker
from tests.unit.observability.scrape import scrape


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The metrics port of a broker with ``broker.id=7``."""
    metrics.reset()
    with Broker(
        data_dir=tmp_path_factory.mktemp("app-info"),
        overrides={"metrics.port": "0", "broker.id": "7"},
    ) as broker:
        assert broker.server is not None and broker.server.metrics_endpoint is not None
        yield broker.server.metrics_endpoint.port


def test_app_info_names_the_broker_and_its_version(metered: int) -> None:
    samples = scrape(metered)
    assert samples.get("kafka_server_app_info", id="7", version=__version__, commit_id="odradek")
    assert samples.total("kafka_server_app_info") == 1.0  # one series, the broker's own


def test_the_console_reads_the_version_by_broker_id(metered: int) -> None:
    read = console_metrics.Throughput()
    console_metrics.parse_counters(scrape(metered).text, read)
    assert read.app_info == {7: console_metrics.AppInfo(__version__, "odradek")}


def test_app_info_without_a_broker_id_or_version_names_no_broker() -> None:
    text = (
        "# TYPE kafka_server_app_info gauge\n"
        'kafka_server_app_info{version="3.7.0",commit_id="abc"} 1\n'
        'kafka_server_app_info{id="2",commit_id="abc"} 1\n'
        'kafka_server_app_info{id="3",version="3.7.0",commit_id="abc"} 1\n'
    )
    read = console_metrics.Throughput()
    console_metrics.parse_counters(text, read)
    assert read.app_info == {3: console_metrics.AppInfo("3.7.0", "abc")}
