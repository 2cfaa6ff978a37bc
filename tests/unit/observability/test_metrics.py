"""The hot-path accumulators and their Prometheus families."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from kio.schema.errors import ErrorCode
from kio.schema.find_coordinator.v4.response import Coordinator, FindCoordinatorResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from odradek.observability import metrics
from odradek.observability.broker_topic_metrics import TOPICS, all_topics, forget_topics
from odradek.observability.histogram import BUCKETS_MS, new_histogram, quantile
from odradek.observability.prometheus import prometheus_families
from odradek.protocol.codec import build
from tests.unit.observability.scrape import Samples, promql_metric_names


@pytest.fixture
def recording() -> Iterator[None]:
    was = metrics.ENABLED
    metrics.reset()
    metrics.enable()
    yield
    metrics.reset()
    if not was:
        metrics.disable()


class _Families(Collector):
    def __init__(self, live: set[str] | None = None) -> None:
        self.live = live

    def collect(self) -> Iterator[Metric]:
        return prometheus_families(self.live)


def exposition(live: set[str] | None = None) -> Samples:
    registry = CollectorRegistry()
    registry.register(_Families(live))
    return Samples(generate_latest(registry).decode())


def header(api_key: int, version: int) -> bytes:
    return api_key.to_bytes(2, "big") + version.to_bytes(2, "big") + b"\0\0\0\1"


@pytest.mark.usefixtures("recording")
def test_produce_counts_per_topic_and_in_total() -> None:
    metrics.produced("a", 10, 1000)
    metrics.produced("a", 5, 500)
    metrics.produced("b", 1, 80)
    samples = exposition()
    assert samples.get("kafka_server_brokertopicmetrics_messagesin_total", topic="a") == 15
    assert samples.get("kafka_server_brokertopicmetrics_messagesin_total", topic="b") == 1
    assert samples.get("kafka_server_brokertopicmetrics_messagesin_total") == 16
    assert samples.get("kafka_server_brokertopicmetrics_bytesin_total") == 1580
    assert samples.get("kafka_server_brokertopicmetrics_totalproducerequests_total", topic="a") == 2
    assert samples.get("kafka_server_brokertopicmetrics_totalproducerequests_total") == 3


@pytest.mark.usefixtures("recording")
def test_failed_produce_follows_kafka() -> None:
    metrics.produce_failed("a", 2000, ErrorCode.message_too_large)  # expected: not "failed"
    metrics.produce_failed("a", 100, ErrorCode.unknown_server_error)
    metrics.produce_failed("a", 100, ErrorCode.corrupt_message)
    samples = exposition()
    assert samples.get("kafka_server_brokertopicmetrics_bytesrejected_total", topic="a") == 2000
    assert (
        samples.get("kafka_server_brokertopicmetrics_failedproducerequests_total", topic="a") == 1
    )
    assert samples.get("kafka_server_brokertopicmetrics_totalproducerequests_total") == 3
    assert samples.get("kafka_server_brokertopicmetrics_invalidmessagecrcrecords_total") == 1
    assert samples.get("kafka_server_brokertopicmetrics_messagesin_total") == 0
    assert (
        samples.get(
            "kafka_network_requestmetrics_errors_total",
            request="Produce",
            error="MESSAGE_TOO_LARGE",
        )
        == 1
    )
    assert (
        samples.get(
            "kafka_network_requestmetrics_errors_total",
            request="Produce",
            error="UNKNOWN_SERVER_ERROR",
        )
        == 1
    )


@dataclass
class _TP:
    topic: str


@dataclass
class _Info:
    records: bytes


@dataclass
class _Read:
    tp: _TP
    error: Exception | None
    info: _Info | None


class _Failure(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(str(code))
        self.error_code = code


@pytest.mark.usefixtures("recording")
def test_fetch_counts_partitions_bytes_and_failures() -> None:
    reads = [
        _Read(_TP("a"), None, _Info(b"x" * 300)),
        _Read(_TP("a"), _Failure(ErrorCode.offset_out_of_range), None),  # expected
        _Read(_TP("b"), _Failure(ErrorCode.unknown_server_error), None),
        _Read(_TP(""), _Failure(ErrorCode.unknown_topic_id), None),
    ]  # not counted
    metrics.fetch_requested(reads)
    metrics.fetch_responded(reads)
    samples = exposition()
    assert samples.get("kafka_server_brokertopicmetrics_totalfetchrequests_total", topic="a") == 2
    assert samples.get("kafka_server_brokertopicmetrics_totalfetchrequests_total") == 3
    assert samples.get("kafka_server_brokertopicmetrics_failedfetchrequests_total") == 1
    assert samples.get("kafka_server_brokertopicmetrics_failedfetchrequests_total", topic="b") == 1
    assert samples.get("kafka_server_brokertopicmetrics_bytesout_total", topic="a") == 300
    assert (
        samples.get(
            "kafka_network_requestmetrics_errors_total",
            request="Fetch",
            error="OFFSET_OUT_OF_RANGE",
        )
        == 1
    )


def test_nothing_is_recorded_while_disabled() -> None:
    was = metrics.ENABLED
    metrics.reset()
    metrics.disable()
    try:
        metrics.produced("a", 10, 1000)
        metrics.fetch_requested([_Read(_TP("a"), None, _Info(b"x"))])
        assert all_topics("messages_in") == 0
        assert not TOPICS
    finally:
        if was:
            metrics.enable()


@pytest.mark.usefixtures("recording")
def test_request_times_become_histograms_in_milliseconds() -> None:
    # received, started (+0.1 ms), local done (+2 ms), completed (+50 ms), sent
    metrics.record_request(header(1, 12), 10.0, 10.0001, 10.0021, 10.0521, 10.0521, 10.0522)
    metrics.record_immediate(memoryview(header(0, 9)), 20.0, 20.0, 20.003, 20.0031)
    metrics.record_immediate(header(0, 10), 30.0, 30.0, 30.0004, 30.0004)
    samples = exposition()
    assert (
        samples.get("kafka_network_requestmetrics_requests_total", request="Produce", version="9")
        == 1
    )
    assert (
        samples.get("kafka_network_requestmetrics_requests_total", request="Produce", version="10")
        == 1
    )
    for name in (
        "totaltimems",
        "requestqueuetimems",
        "localtimems",
        "remotetimems",
        "responsequeuetimems",
        "responsesendtimems",
    ):
        assert samples.get(f"kafka_network_requestmetrics_{name}_count", request="Produce") == 2
        assert samples.get(f"kafka_network_requestmetrics_{name}_count", request="Fetch") == 1
        assert (
            samples.get(f"kafka_network_requestmetrics_{name}_count", request="FetchConsumer") == 1
        )
    remote = "kafka_network_requestmetrics_remotetimems"
    assert samples.get(f"{remote}_sum", request="Fetch") == pytest.approx(50.0)
    assert samples.get(f"{remote}_bucket", request="Fetch", le="25.0") == 0
    assert samples.get(f"{remote}_bucket", request="Fetch", le="50.0") == 1
    assert samples.get(f"{remote}_bucket", request="Fetch", le="+Inf") == 1
    local = "kafka_network_requestmetrics_localtimems"
    assert samples.get(f"{local}_sum", request="Produce") == pytest.approx(3.4)
    assert samples.get(f"{local}_bucket", request="Produce", le="0.5") == 1
    assert samples.get(f"{local}_bucket", request="Produce", le="5.0") == 2


@pytest.mark.usefixtures("recording")
def test_response_errors_walk_the_entity() -> None:
    response = build(
        FindCoordinatorResponse,
        throttle_time=timedelta(0),
        coordinators=(
            build(
                Coordinator,
                key="g1",
                node_id=0,
                host="h",
                port=1,
                error_code=ErrorCode.none,
                error_message=None,
            ),
            build(
                Coordinator,
                key="g2",
                node_id=-1,
                host="",
                port=-1,
                error_code=ErrorCode.coordinator_not_available,
                error_message="x",
            ),
        ),
    )
    metrics.response_errors(10, response)
    samples = exposition()
    assert (
        samples.get(
            "kafka_network_requestmetrics_errors_total",
            request="FindCoordinator",
            error="COORDINATOR_NOT_AVAILABLE",
        )
        == 1
    )


@pytest.mark.usefixtures("recording")
def test_deleted_topics_leave_the_per_topic_series() -> None:
    metrics.produced("kept", 1, 10)
    metrics.produced("gone", 2, 20)
    samples = exposition({"kept"})
    assert samples.get("kafka_server_brokertopicmetrics_messagesin_total", topic="kept") == 1
    assert (
        "kafka_server_brokertopicmetrics_messagesin_total",
        (("topic", "gone"),),
    ) not in samples.values
    assert samples.get("kafka_server_brokertopicmetrics_messagesin_total") == 3
    forget_topics({"kept"})
    assert set(TOPICS) == {"kept"}


def test_quantile_interpolates_inside_buckets() -> None:
    buckets = new_histogram()
    index = BUCKETS_MS.index(10.0)
    buckets[index] = 10  # ten observations in (5, 10]
    assert quantile(buckets, 0.5) == pytest.approx(7.5)
    assert quantile(buckets, 1.0) == pytest.approx(10.0)
    assert quantile(new_histogram(), 0.99) == 0.0


def test_promql_names_are_extracted() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, instance) (rate("
        'kafka_network_requestmetrics_totaltimems_bucket{request="Produce"}[5m]))) > 100 '
        "and on(instance) kafka_server_kafkaserver_brokerstate offset 5m"
    )
    assert promql_metric_names(expr) == {
        "kafka_network_requestmetrics_totaltimems_bucket",
        "kafka_server_kafkaserver_brokerstate",
    }
    assert promql_metric_names("label_values(kafka_log_log_size, topic)") == {"kafka_log_log_size"}
    assert promql_metric_names('sum(x{topic=~"$topic"}) / 1e3') == {"x"}
