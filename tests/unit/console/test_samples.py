"""In-memory sample windows, counter rates, percentiles, and what the sampler derives."""

from __future__ import annotations

import pytest

from odradek.console import metrics
from odradek.console.sampler import ConsoleSamples, LagSample
from odradek.console.samples import SampleWindow, percentile, rate


def test_window_keeps_the_last_points_per_key() -> None:
    window: SampleWindow[str] = SampleWindow(capacity=3)
    for i in range(5):
        window.add("a", float(i), float(i * 10))
    window.add("b", 1.0, 7.0)
    assert window.points("a") == ((2.0, 20.0), (3.0, 30.0), (4.0, 40.0))
    assert window.latest("b") == (1.0, 7.0)
    assert window.latest("c") is None and window.points("c") == ()
    window.forget("a")
    assert window.names() == ["b"]


def test_rate() -> None:
    assert rate(None, (10.0, 5.0)) is None
    assert rate((10.0, 100.0), (12.0, 300.0)) == 100.0
    assert rate((10.0, 100.0), (12.0, 50.0)) is None  # counter reset
    assert rate((10.0, 1.0), (10.0, 2.0)) is None


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_lag_samples_feed_the_charts_and_forget_deleted_groups() -> None:
    samples = ConsoleSamples()
    samples.record_lag(
        LagSample(1.0, {"g1": 5, "g2": 0}, {"g1": frozenset({"t"}), "g2": frozenset()})
    )
    samples.record_lag(LagSample(2.0, {"g1": 3}, {"g1": frozenset({"t", "u"})}))
    assert samples.lag.points("g1") == ((1.0, 5.0), (2.0, 3.0))
    assert samples.lag.points("g2") == ()
    assert samples.groups_reading("u") == ["g1"]
    assert samples.groups_reading("v") == []


def test_throughput_rates_from_two_scrapes() -> None:
    samples = ConsoleSamples()
    first = metrics.Throughput({("bytes_in", ""): 1000.0, ("bytes_in", "t"): 400.0})
    samples.record_throughput(10.0, first)
    assert samples.rate_of("bytes_in") is None
    second = metrics.Throughput({("bytes_in", ""): 3000.0, ("bytes_in", "t"): 1400.0}, ["x: down"])
    samples.record_throughput(12.0, second)
    assert samples.rate_of("bytes_in") == 1000.0
    assert samples.rate_of("bytes_in", "t") == 500.0
    assert samples.throughput_points("bytes_in") == ((12.0, 1000.0),)
    assert samples.metrics_errors == ["x: down"]


PROMETHEUS = """\
# HELP kafka_server_brokertopicmetrics_bytesin_total Bytes in
# TYPE kafka_server_brokertopicmetrics_bytesin_total counter
kafka_server_brokertopicmetrics_bytesin_total 300.0
kafka_server_brokertopicmetrics_bytesin_total{topic="a"} 100.0
kafka_server_brokertopicmetrics_bytesin_total{topic="b"} 200.0
# TYPE kafka_server_brokertopicmetrics_messagesin_total counter
kafka_server_brokertopicmetrics_messagesin_total 3.0
# TYPE odradek_other gauge
odradek_other 1.0
"""


def test_counters_parsed_and_summed_over_endpoints() -> None:
    into = metrics.Throughput()
    metrics.parse_counters(PROMETHEUS, into)
    metrics.parse_counters(PROMETHEUS, into)
    assert into.totals == {
        ("bytes_in", ""): 600.0,
        ("bytes_in", "a"): 200.0,
        ("bytes_in", "b"): 400.0,
        ("messages_in", ""): 6.0,
    }
