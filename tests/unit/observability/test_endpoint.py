"""The HTTP endpoint on an in-process broker: routes, Jolokia answers, configuration."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from odradek.config.broker import EMBEDDED_DEFAULTS
from odradek.observability import metrics
from odradek.observability.http import DEFAULT_PORT
from odradek.protocol.records.codec import encode_batch
from odradek.testing import Broker
from tests.support.raw_client import RawClient
from tests.unit.observability.scrape import http_get, jolokia, jolokia_post


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Broker, int]]:
    metrics.reset()
    with Broker(
        data_dir=tmp_path_factory.mktemp("endpoint"), overrides={"metrics.port": "0"}
    ) as broker:
        assert broker.server is not None and broker.server.metrics_endpoint is not None
        yield broker, broker.server.metrics_endpoint.port


def test_metrics_text_gzip_and_openmetrics(running: tuple[Broker, int]) -> None:
    _, port = running
    status, headers, body = http_get(port, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"kafka_controller_kafkacontroller_activecontrollercount 1.0" in body
    assert b"process_cpu_seconds_total" in body
    status, headers, zipped = http_get(port, "/metrics", {"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") == "gzip"
    assert b"kafka_server_kafkaserver_brokerstate 3.0" in gzip.decompress(zipped)
    status, headers, body = http_get(
        port, "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_unknown_paths_and_methods(running: tuple[Broker, int]) -> None:
    _, port = running
    assert http_get(port, "/nope")[0] == 404
    assert http_get(port, "/")[0] == 200
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 405")


def test_keep_alive_serves_several_requests(running: tuple[Broker, int]) -> None:
    _, port = running
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for _ in range(3):
            sock.sendall(b"GET /jolokia/version HTTP/1.1\r\nHost: x\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(1)
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            body = b""
            while len(body) < length:
                body += sock.recv(length - len(body))
            assert json.loads(body)["value"]["info"]["product"] == "odradek"


def test_jolokia_reads(running: tuple[Broker, int]) -> None:
    broker, port = running
    with RawClient.to(broker.bootstrap_servers) as client:
        client.create_topic("jolokia-unit")
        batch = encode_batch([(None, b"v" * 100)] * 3, timestamp=1_700_000_000_000)
        assert client.produce("jolokia-unit", 0, batch).error_code == 0
    answer = jolokia(
        port, "read/kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec,topic=jolokia-unit"
    )
    assert answer["status"] == 200
    value = answer["value"]
    assert value["Count"] == 3
    assert set(value) == {
        "Count",
        "EventType",
        "RateUnit",
        "MeanRate",
        "OneMinuteRate",
        "FiveMinuteRate",
        "FifteenMinuteRate",
    }
    assert value["EventType"] == "messages" and value["RateUnit"] == "SECONDS"
    # the seed's form: type given as name=, the metric as the attribute
    seed = jolokia(
        port, "read/kafka.server:name=BrokerTopicMetrics,topic=jolokia-unit/MessagesInPerSec/Count"
    )
    assert seed["value"] == 3
    assert seed["request"]["mbean"] == "kafka.server:name=BrokerTopicMetrics,topic=jolokia-unit"
    log_size = jolokia(
        port, "read/kafka.log:type=Log,name=Size,topic=jolokia-unit,partition=0/Value"
    )
    assert log_size["value"] == len(batch)
    produce_time = jolokia(
        port, "read/kafka.network:type=RequestMetrics,name=TotalTimeMs,request=Produce"
    )["value"]
    assert produce_time["Count"] >= 1 and produce_time["99thPercentile"] > 0
    pattern = jolokia(port, "read/kafka.log:type=Log,name=LogEndOffset,*/Value")
    assert (
        pattern["value"]["kafka.log:type=Log,name=LogEndOffset,topic=jolokia-unit,partition=0"] == 3
    )
    search = jolokia(port, "search/kafka.controller:*")["value"]
    assert "kafka.controller:type=KafkaController,name=ActiveControllerCount" in search
    listing = jolokia(port, "list")["value"]
    assert (
        "Count" in listing["kafka.server"]["type=BrokerTopicMetrics,name=MessagesInPerSec"]["attr"]
    )


def test_jolokia_errors_and_post(running: tuple[Broker, int]) -> None:
    _, port = running
    missing = jolokia(port, "read/kafka.server:type=Nope,name=Nothing")
    assert missing["status"] == 404
    assert missing["error_type"] == "javax.management.InstanceNotFoundException"
    attribute = jolokia(
        port, "read/kafka.controller:type=KafkaController,name=ActiveControllerCount/Nope"
    )
    assert attribute["status"] == 404
    bad = jolokia(port, "read/not-an-object-name")
    assert bad["status"] == 400
    bulk = jolokia_post(
        port,
        [
            {
                "type": "read",
                "mbean": "kafka.controller:type=KafkaController,name=ActiveControllerCount",
                "attribute": "Value",
            },
            {"type": "version"},
            {"type": "exec", "mbean": "x:y=z"},
        ],
    )
    assert [r["status"] for r in bulk] == [200, 200, 400]
    assert bulk[0]["value"] == 1


def test_embedded_default_port_is_documented() -> None:
    assert EMBEDDED_DEFAULTS["metrics.port"] == str(DEFAULT_PORT)
    prometheus = (Path(__file__).parents[3] / "deploy" / "prometheus.yml").read_text()
    assert f":{DEFAULT_PORT}" in prometheus


async def test_metrics_port_settings(tmp_path: Path) -> None:
    async with Broker(data_dir=tmp_path / "off", overrides={"metrics.port": "-1"}) as off:
        assert off.server is not None and off.server.metrics_endpoint is None
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        broker = Broker(data_dir=tmp_path / "busy", overrides={"metrics.port": str(taken)})
        with pytest.raises(OSError):
            await broker.start()  # an explicit port that cannot be bound stops startup
        assert broker.server is not None
        await broker.server.stop()
    await asyncio.sleep(0)
