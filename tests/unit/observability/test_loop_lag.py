"""The loop-lag monitor: the last minute's longest lag (per-second maxima in a ring), the
histogram of every lag, the monitor task measuring a loop held by a blocking call, and the
metrics endpoint exporting both (Prometheus and Jolokia)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest

from odradek.observability.histogram import buckets, histogram_count, histogram_sum
from odradek.observability.loop_lag import WINDOW_S, LoopLag
from odradek.testing import Broker
from tests.unit.observability.scrape import jolokia, scrape


def test_longest_lag_of_the_last_minute() -> None:
    lag = LoopLag()
    assert lag.max_lag_ms(1000.0) == 0.0
    lag.record(0.002, 1000.1)
    lag.record(0.300, 1000.5)  # the same second: its maximum
    lag.record(0.001, 1000.9)
    lag.record(0.040, 1001.2)
    assert lag.max_lag_ms(1001.5) == pytest.approx(300.0)
    # The 300 ms second is in the window for WINDOW_S seconds, then drops out.
    assert lag.max_lag_ms(1000.0 + WINDOW_S - 0.1) == pytest.approx(300.0)
    assert lag.max_lag_ms(1000.0 + WINDOW_S) == pytest.approx(40.0)
    assert lag.max_lag_ms(1001.0 + WINDOW_S) == 0.0


def test_a_slot_reused_a_minute_later_forgets_its_old_maximum() -> None:
    lag = LoopLag()
    lag.record(0.500, 2000.3)
    lag.record(0.003, 2000.7 + WINDOW_S)  # the same ring slot, a minute on
    assert lag.max_lag_ms(2001.0 + WINDOW_S) == pytest.approx(3.0)


def test_every_lag_goes_to_the_histogram() -> None:
    lag = LoopLag()
    for lag_s in (0.0004, 0.003, 0.060, 0.060, 0.700, 40.0):
        lag.record(lag_s, 10.0)
    histogram = lag.histogram_ms()
    assert histogram_count(histogram) == 6
    assert histogram_sum(histogram) == pytest.approx(40823.4)
    cumulative = dict(buckets(histogram))
    assert cumulative["50.0"] == 2  # lags over 50 ms: count - bucket 50
    assert cumulative["100.0"] == 4
    assert cumulative["1000.0"] == 5
    assert cumulative["+Inf"] == 6
    assert histogram_sum(lag.histogram) == pytest.approx(40.8234)  # kept in seconds


async def test_the_monitor_measures_a_blocked_loop() -> None:
    lag = LoopLag()
    task = asyncio.get_running_loop().create_task(lag.monitor(interval_s=0.01))
    try:
        await asyncio.sleep(0.05)
        time.sleep(0.2)  # holds the loop, as a blocking call in a handler would
        await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert 150.0 < lag.max_lag_ms(time.monotonic()) < 2000.0
    cumulative = dict(buckets(lag.histogram_ms()))
    assert cumulative["+Inf"] - cumulative["100.0"] >= 1  # the wake-up after the block
    assert cumulative["+Inf"] >= 5


def test_the_endpoint_exports_the_lag(tmp_path: Path) -> None:
    with Broker(data_dir=tmp_path / "data", overrides={"metrics.port": "0"}) as broker:
        assert broker.server is not None and broker.server.metrics_endpoint is not None
        port = broker.server.metrics_endpoint.port
        time.sleep(0.3)  # a few wake-ups
        samples = scrape(port)
        assert 0 <= samples.get("odradek_event_loop_max_lag_ms") < 10_000
        count = samples.get("odradek_event_loop_lag_ms_count")
        assert count >= 2
        assert samples.get("odradek_event_loop_lag_ms_bucket", le="+Inf") == count
        longest = jolokia(port, "read/odradek:type=EventLoop,name=MaxLagMs/Value")["value"]
        assert longest >= 0
        lags = jolokia(port, "read/odradek:type=EventLoop,name=LagMs")["value"]
        assert lags["Count"] >= count and lags["99thPercentile"] > 0
