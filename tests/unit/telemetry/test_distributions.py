"""Pushed histograms and summaries (KIP-714) on the broker's Prometheus endpoint: an
explicit-bucket histogram becomes a Prometheus histogram (cumulative ``_bucket`` counts by
``le``, ``_count``, ``_sum``), delta pushes add up, and a summary keeps its quantiles."""

from __future__ import annotations

from kio.schema.errors import ErrorCode
from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from odradek.protocol.records.compression import CompressionType
from odradek.telemetry.manager import ClientMetricsManager
from odradek.telemetry.series import TelemetryCollector
from tests.unit.telemetry.otlp_payloads import payload
from tests.unit.telemetry.test_manager import CLIENT, _manager, _subscribed

NONE = int(CompressionType.NONE)
LATENCY = "org.apache.kafka.producer.node.request.latency"
FAMILY = "org_apache_kafka_producer_node_request_latency"


def _pushed(*bodies: bytes) -> tuple[ClientMetricsManager, dict[str, Metric]]:
    manager = _manager({"all": {"metrics": "*", "interval.ms": "1000"}})
    instance_id, sub = _subscribed(manager)
    for n, body in enumerate(bodies):
        pushed = manager.push(instance_id, CLIENT, sub, False, NONE, body, 1 + 1000 * n)
        assert pushed is ErrorCode.none
    return manager, {f.name: f for f in manager.series.families()}


def _values(family: Metric) -> dict[tuple[str, str], float]:
    """(sample name, its le or quantile label) -> value."""
    return {
        (s.name, s.labels.get("le", s.labels.get("quantile", ""))): s.value for s in family.samples
    }


def test_a_histogram_gets_cumulative_buckets_count_and_sum() -> None:
    _, families = _pushed(payload(histograms={LATENCY: ([5.0, 10.0], [3, 2, 1], 40.5)}))
    family = families[FAMILY]
    assert family.type == "histogram"
    assert _values(family) == {
        (f"{FAMILY}_bucket", "5.0"): 3,
        (f"{FAMILY}_bucket", "10.0"): 5,
        (f"{FAMILY}_bucket", "+Inf"): 6,
        (f"{FAMILY}_count", ""): 6,
        (f"{FAMILY}_sum", ""): 40.5,
    }
    assert all(s.labels["client_id"] == "app-1" for s in family.samples)


def test_a_cumulative_histogram_is_replaced_and_a_delta_one_adds_up() -> None:
    first = ([5.0], [1, 1], 7.0)
    second = ([5.0], [2, 0], 4.0)
    _, replaced = _pushed(
        payload(histograms={LATENCY: first}), payload(histograms={LATENCY: second})
    )
    assert _values(replaced[FAMILY])[(f"{FAMILY}_count", "")] == 2
    _, added = _pushed(
        payload(delta_histograms={LATENCY: first}), payload(delta_histograms={LATENCY: second})
    )
    values = _values(added[FAMILY])
    assert values[(f"{FAMILY}_bucket", "5.0")] == 3
    assert values[(f"{FAMILY}_bucket", "+Inf")] == 4
    assert (values[(f"{FAMILY}_count", "")], values[(f"{FAMILY}_sum", "")]) == (4, 11.0)


def test_a_histogram_without_buckets_has_only_the_inf_bucket() -> None:
    _, families = _pushed(payload(histograms={LATENCY: ([], [], 2.0)}))
    assert _values(families[FAMILY])[(f"{FAMILY}_bucket", "+Inf")] == 0


def test_a_summary_keeps_its_quantiles() -> None:
    summary = ([(0.5, 3.0), (0.99, 12.0)], 40, 150.0)
    _, families = _pushed(payload(summaries={LATENCY: summary}))
    family = families[FAMILY]
    assert family.type == "summary"
    assert _values(family) == {
        (FAMILY, "0.5"): 3.0,
        (FAMILY, "0.99"): 12.0,
        (f"{FAMILY}_count", ""): 40,
        (f"{FAMILY}_sum", ""): 150.0,
    }


def test_the_exposition_text_parses_as_prometheus_histograms() -> None:
    manager, _ = _pushed(
        payload(
            histograms={LATENCY: ([5.0], [1, 1], 7.0)},
            summaries={"org.apache.kafka.consumer.poll.idle": ([(0.5, 1.0)], 1, 1.0)},
            gauges={"org.apache.kafka.consumer.lag": 3.0},
        )
    )
    registry = CollectorRegistry()
    registry.register(TelemetryCollector(manager.series, lambda: None))
    text = generate_latest(registry).decode()
    assert f"# TYPE {FAMILY} histogram" in text
    assert f"{FAMILY}_bucket{{" in text and 'le="+Inf"' in text
    assert "# TYPE org_apache_kafka_consumer_poll_idle summary" in text
    assert 'quantile="0.5"' in text
    parsed = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert parsed[FAMILY] == "histogram"
    assert parsed["org_apache_kafka_consumer_poll_idle"] == "summary"
    assert parsed["org_apache_kafka_consumer_lag"] == "gauge"
