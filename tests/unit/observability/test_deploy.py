"""deploy/: every metric the Grafana dashboard and the alert rules query is one a running
broker exports (start a broker, drive traffic so every family has series, scrape, compare)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from odradek.testing import Broker
from tests.unit.observability.scrape import Samples, promql_metric_names, scrape

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "odradek-dashboard.json"
ALERTS = DEPLOY / "alerts.yml"


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"]
               for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if variable.get("type") == "query":
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def alert_expressions() -> list[str]:
    """The ``expr`` of every rule: one-line values and ``|`` block scalars."""
    lines = ALERTS.read_text().splitlines()
    expressions = []
    index = 0
    while index < len(lines):
        match = re.match(r"^(\s*)expr:\s*(.*)$", lines[index])
        index += 1
        if match is None:
            continue
        indent, value = len(match.group(1)), match.group(2).strip()
        if value not in ("|", ">", "|-", ">-"):
            expressions.append(value)
            continue
        block = []
        while index < len(lines) and (not lines[index].strip() or
                                      len(lines[index]) - len(lines[index].lstrip()) > indent):
            block.append(lines[index].strip())
            index += 1
        expressions.append(" ".join(block))
    return expressions


def test_the_files_hold_queries() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = " ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for topic in ("throughput", "latency", "lag", "partition"):
        assert topic in titles
    expressions = alert_expressions()
    assert len(expressions) >= 4
    joined = " ".join(expressions)
    for metric in ("kafka_consumergroup_lag", "kafka_network_requestmetrics_totaltimems_bucket",
                   "kafka_server_replicamanager_underreplicatedpartitions",
                   "kafka_controller_kafkacontroller_offlinepartitionscount"):
        assert metric in joined
    try:
        import yaml
    except ImportError:
        return
    rules = yaml.safe_load(ALERTS.read_text())
    assert len([r for g in rules["groups"] for r in g["rules"]]) == len(expressions)
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert config["scrape_configs"][0]["metrics_path"] == "/metrics"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Samples]:
    confluent_kafka = pytest.importorskip("confluent_kafka")
    overrides = {"metrics.port": "0", "group.initial.rebalance.delay.ms": "0"}
    with Broker(data_dir=tmp_path_factory.mktemp("deploy"), overrides=overrides) as broker:
        assert broker.server is not None and broker.server.metrics_endpoint is not None
        bootstrap = broker.bootstrap_servers
        producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
        for index in range(200):
            producer.produce("deploy-topic", value=b"%d" % index)
        assert producer.flush(20) == 0
        consumer: Any = confluent_kafka.Consumer({
            "bootstrap.servers": bootstrap, "group.id": "deploy-group",
            "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.subscribe(["deploy-topic"])
        received = 0
        deadline = time.monotonic() + 30
        while received < 100 and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                received += 1
        consumer.commit(asynchronous=False)
        consumer.close()
        assert received >= 100
        yield scrape(broker.server.metrics_endpoint.port)


def test_every_queried_metric_is_exported(exported: Samples) -> None:
    names = exported.names()
    referenced: dict[str, set[str]] = {}
    for source, expressions in (("dashboard", dashboard_queries()),
                                ("alerts", alert_expressions())):
        for expression in expressions:
            for name in promql_metric_names(expression):
                referenced.setdefault(name, set()).add(source)
    assert len(referenced) > 20
    missing = {name: sorted(sources) for name, sources in referenced.items()
               if name not in names}
    assert not missing, f"queried but not exported: {missing}"
    assert exported.get("kafka_consumergroup_lag", consumergroup="deploy-group",
                        topic="deploy-topic", partition="0") == 100
