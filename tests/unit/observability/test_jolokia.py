"""Jolokia's pieces: Yammer-style meters, object names and patterns, GET paths."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from odradek.observability import metrics
from odradek.observability.jolokia import (
    TICK_SECONDS,
    Ewma,
    Meters,
    ObjectName,
    read_request_from_path,
    split_path,
)


@pytest.fixture
def recording() -> Iterator[None]:
    was = metrics.ENABLED
    metrics.reset()
    metrics.enable()
    yield
    metrics.reset()
    if not was:
        metrics.disable()


def test_ewma_is_yammers() -> None:
    one_minute = Ewma(1)
    one_minute.tick(50)  # the first tick sets the rate: 50 events in 5 s
    assert one_minute.rate == pytest.approx(10.0)
    one_minute.tick(0)
    alpha = 1 - math.exp(-5 / 60)
    assert one_minute.rate == pytest.approx(10.0 - alpha * 10.0)
    fifteen = Ewma(15)
    fifteen.tick(50)
    fifteen.tick(0)
    assert fifteen.rate > one_minute.rate  # the longer average decays more slowly


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.usefixtures("recording")
def test_meters_tick_from_the_counts_and_catch_up() -> None:
    clock = FakeClock()
    meters = Meters(clock)
    key = ("kafka.server", (("type", "BrokerTopicMetrics"), ("name", "MessagesInPerSec")))
    metrics.produced("t", 100, 1000)
    meters.tick_if_necessary()  # no tick yet: less than 5 s
    assert key not in meters.meters
    clock.now += TICK_SECONDS
    meters.tick_if_necessary()
    assert meters.meters[key].m1.rate == pytest.approx(100 / TICK_SECONDS)
    topic_key = (
        "kafka.server",
        (("type", "BrokerTopicMetrics"), ("name", "MessagesInPerSec"), ("topic", "t")),
    )
    assert meters.meters[topic_key].m1.rate == pytest.approx(100 / TICK_SECONDS)
    metrics.produced("t", 50, 500)
    clock.now += 3 * TICK_SECONDS  # three ticks missed: the 50 go to the first of them
    meters.tick_if_necessary()
    alpha = 1 - math.exp(-5 / 60)
    rate = 20.0
    for count in (50, 0, 0):
        rate += alpha * (count / TICK_SECONDS - rate)
    assert meters.meters[key].m1.rate == pytest.approx(rate)
    assert meters.meters[key].last_count == 150


def test_object_names_and_patterns() -> None:
    name = ObjectName("kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec")
    assert not name.is_pattern
    key = ("kafka.server", (("type", "BrokerTopicMetrics"), ("name", "MessagesInPerSec")))
    topic_key = ("kafka.server", (*key[1], ("topic", "t")))
    assert name.matches(key)
    assert not name.matches(topic_key)
    # key order does not matter
    assert ObjectName("kafka.server:name=MessagesInPerSec,type=BrokerTopicMetrics").matches(key)
    pattern = ObjectName("kafka.server:type=BrokerTopicMetrics,*")
    assert pattern.is_pattern and pattern.matches(key) and pattern.matches(topic_key)
    wildcard = ObjectName("kafka.*:type=BrokerTopicMetrics,name=*PerSec,topic=*")
    assert wildcard.matches(topic_key) and not wildcard.matches(key)
    with pytest.raises(ValueError):
        ObjectName("no-domain")
    with pytest.raises(ValueError):
        ObjectName("kafka.server:")


def test_get_paths() -> None:
    assert split_path("read/a:b=c!/d/Count") == ["read", "a:b=c/d", "Count"]
    assert split_path("x!!y") == ["x!y"]
    assert read_request_from_path(
        "read/kafka.server:type=BrokerTopicMetrics,name=TotalFetchRequestsPerSec"
    ) == {
        "type": "read",
        "mbean": "kafka.server:type=BrokerTopicMetrics,name=TotalFetchRequestsPerSec",
    }
    assert read_request_from_path(
        "read/kafka.server:name=BrokerTopicMetrics/TotalFetchRequestsPerSec/Count"
    ) == {
        "type": "read",
        "mbean": "kafka.server:name=BrokerTopicMetrics",
        "attribute": "TotalFetchRequestsPerSec",
        "path": "Count",
    }
    assert read_request_from_path("read/a:b=c/Count,MeanRate")["attribute"] == ["Count", "MeanRate"]
    assert read_request_from_path("search/kafka.log:*") == {
        "type": "search",
        "mbean": "kafka.log:*",
    }
