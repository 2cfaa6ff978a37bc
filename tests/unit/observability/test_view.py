"""The endpoint reads a broker only through ``BrokerView``: a stand-in that is no
``BrokerServer`` serves /ready, /metrics and Jolokia, and the real broker satisfies the
protocol."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odradek.config.broker import load_broker_config
from odradek.observability.gauge_text import prometheus_name
from odradek.observability.http import Gzipped, MetricsEndpoint
from odradek.observability.view import BrokerView, Gauge, GaugesInSlices, GroupLag
from odradek.server.broker import BrokerServer


@dataclass(frozen=True)
class FakeListener:
    name: str
    host: str


@dataclass
class FakeConfig:
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return self.values.get(name)

    @property
    def listeners(self) -> Sequence[FakeListener]:
        return [FakeListener("PLAINTEXT", "127.0.0.1")]


@dataclass
class FakeBroker:
    node_id: int = 7
    config: FakeConfig = field(default_factory=FakeConfig)
    reason: str | None = "starting"

    def not_ready_reason(self) -> str | None:
        return self.reason

    def live_topics(self) -> set[str]:
        return {"t"}

    def gauges(self) -> list[Gauge]:
        where = (("topic", "t"), ("partition", "0"))
        return [("kafka.log", (("type", "Log"), ("name", "Size"), *where), 42.0)]

    def connections_by_listener(self) -> dict[str, int]:
        return {"PLAINTEXT": 3}

    def consumer_lag(self) -> list[GroupLag]:
        return [GroupLag("g", "t", 0, committed=5, end_offset=8)]

    def group_members(self) -> dict[str, int]:
        return {"g": 2}


def test_endpoint_serves_any_broker_view() -> None:
    broker = FakeBroker()
    view: BrokerView = broker  # structural: no BrokerServer involved
    endpoint = MetricsEndpoint(view)
    assert endpoint.route("GET", "/ready", {}, b"") == (
        503,
        "text/plain; charset=utf-8",
        b"not ready: starting\n",
    )
    broker.reason = None
    assert endpoint.route("GET", "/ready", {}, b"")[0] == 200

    status, _, body = asyncio.run(endpoint.scrape({}))
    text = body.decode()
    assert status == 200
    assert 'kafka_log_log_size{partition="0",topic="t"} 42.0' in text
    assert 'kafka_consumergroup_lag{consumergroup="g",partition="0",topic="t"} 3.0' in text
    assert 'kafka_consumergroup_members{consumergroup="g"} 2.0' in text
    assert 'kafka_server_socket_server_metrics_connection_count{listener="PLAINTEXT"} 3.0' in text
    status, _, body = asyncio.run(endpoint.scrape({"accept-encoding": "gzip"}))
    assert isinstance(body, Gzipped)
    assert gzip.decompress(body).decode().count("kafka_log_log_size{") == 1

    status, _, body = endpoint.route(
        "GET", "/jolokia/read/kafka.log:type=Log,name=Size,topic=t,partition=0", {}, b""
    )
    assert status == 200
    assert json.loads(body)["value"] == {"Value": 42.0}


@dataclass
class SlicedFakeBroker(FakeBroker):
    """A view that also reads its gauges in slices (``GaugesInSlices``); what it reads so
    differs here from ``gauges()`` only to tell which one was read."""

    slices: int = 0

    async def gauges_in_slices(self) -> list[Gauge]:
        for _ in range(3):
            self.slices += 1
            await asyncio.sleep(0)
        where = (("topic", "t"), ("partition", "0"))
        return [("kafka.log", (("type", "Log"), ("name", "Size"), *where), 43.0)]


def test_scrapes_read_the_gauges_in_slices_when_the_view_can() -> None:
    broker = SlicedFakeBroker()
    assert isinstance(broker, GaugesInSlices) and not isinstance(FakeBroker(), GaugesInSlices)
    endpoint = MetricsEndpoint(broker)
    status, _, body = asyncio.run(endpoint.scrape({}))
    assert status == 200 and broker.slices == 3
    assert 'kafka_log_log_size{partition="0",topic="t"} 43.0' in body.decode()
    _, _, body = endpoint.route(
        "GET", "/jolokia/read/kafka.log:type=Log,name=Size,topic=t,partition=0", {}, b""
    )
    assert json.loads(body)["value"] == {"Value": 42.0}  # Jolokia reads gauges()


def test_prometheus_name_follows_the_jmx_exporter() -> None:
    props = (("type", "Log"), ("name", "Size"), ("topic", "t"), ("partition", "0"))
    assert prometheus_name("kafka.log", props) == (
        "kafka_log_log_size",
        {"topic": "t", "partition": "0"},
    )


def test_broker_server_is_a_broker_view(tmp_path: Path) -> None:
    config = load_broker_config(
        None,
        {"log.dirs": str(tmp_path / "data"), "listeners": "PLAINTEXT://127.0.0.1:0"},
        environ={},
    )
    broker = BrokerServer(config)
    view: BrokerView = broker  # mypy checks the protocol here
    assert view.node_id == broker.node_id
    assert view.not_ready_reason() == "starting"
    assert broker.servers == () and not broker.stopping
    assert view.live_topics() == set() and view.consumer_lag() == []
    assert view.connections_by_listener() == {"PLAINTEXT": 0}
