"""The Prometheus view of one broker: the hot-path families of ``metrics``, the scrape-time
gauges the broker reports through ``view.BrokerView``, consumer lag (kafka_exporter's names),
the broker's app-info, the event loop's lag and the process metrics."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from odradek.common.version import __version__
from odradek.observability.broker_topic_metrics import forget_topics
from odradek.observability.gauge_text import documentation, prometheus_name
from odradek.observability.histogram import buckets, histogram_sum
from odradek.observability.loop_lag import LoopLag
from odradek.observability.prometheus import prometheus_families
from odradek.observability.view import BrokerView, Gauge, GaugesInSlices


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one scrape read from the broker on its event loop, in exposition order: the
    hot-path families, the gauges (their families are built when formatted, see
    ``gauge_text``), then consumer lag, connections, app-info and the loop's lag."""

    recorded: list[Metric]
    gauges: list[Gauge]
    read: list[Metric]

    def families(self) -> Iterator[Metric]:
        """Every family, the gauges' built here (what ``GaugeText`` writes the same text
        for without building them)."""
        yield from self.recorded
        yield from _gauge_families(self.gauges)
        yield from self.read


class BrokerCollector(Collector):
    def __init__(self, broker: BrokerView, loop_lag: LoopLag) -> None:
        self.broker = broker
        self.loop_lag = loop_lag

    def collect(self) -> Iterable[Metric]:
        return self.snapshot().families()

    def snapshot(self) -> Snapshot:
        """Read the broker's state now (on its event loop); the gauges' families, the costly
        part with many partitions, are left to the formatting (on any thread)."""
        return self._snapshot(self.broker.gauges())

    async def snapshot_in_slices(self) -> Snapshot:
        """``snapshot()``, with the gauges read a slice at a time when the broker can
        (``GaugesInSlices``: the event loop runs between slices), the rest in one turn after
        them."""
        broker = self.broker
        if isinstance(broker, GaugesInSlices):
            gauges = await broker.gauges_in_slices()
        else:
            gauges = broker.gauges()
        return self._snapshot(gauges)

    def _snapshot(self, gauges: list[Gauge]) -> Snapshot:
        broker = self.broker
        live = broker.live_topics()
        forget_topics(live)
        recorded = list(prometheus_families(live))
        read = list(_lag_families(broker))
        connections = GaugeMetricFamily(
            "kafka_server_socket_server_metrics_connection_count",
            "kafka.server:type=socket-server-metrics,listener=*,networkProcessor=* "
            "connection-count",
            labels=["listener"],
        )
        for listener, count in broker.connections_by_listener().items():
            connections.add_metric([listener], count)
        read += [connections, _app_info_family(broker.node_id), *_loop_lag_families(self.loop_lag)]
        return Snapshot(recorded, gauges, read)

    def describe(self) -> Iterable[Metric]:
        return []  # names vary with the topics; nothing to check at registration


def _gauge_families(gauges: list[Gauge]) -> Iterator[Metric]:
    families: dict[str, Metric] = {}
    for domain, props, value in gauges:
        name, labels = prometheus_name(domain, props)
        family = families.get(name)
        if family is None:
            family = families[name] = Metric(name, documentation(domain, props), "gauge")
        family.add_sample(name, labels, value)
    yield from families.values()


def _app_info_family(broker_id: int) -> Metric:
    """Kafka's ``kafka.server:type=app-info,id=N`` (its version and commit-id are strings) as
    an info gauge: always 1, the strings and the broker id in its labels."""
    info = GaugeMetricFamily(
        "kafka_server_app_info",
        "kafka.server:type=app-info,id=* version and commit-id (always 1)",
        labels=["id", "version", "commit_id"],
    )
    info.add_metric([str(broker_id), __version__, "odradek"], 1)
    return info


def _lag_families(broker: BrokerView) -> Iterator[Metric]:
    """Per group and partition, as kafka_exporter names them (Kafka itself exports lag only
    from the consumer; the broker computes it here from committed offsets and the logs)."""
    lag = GaugeMetricFamily(
        "kafka_consumergroup_lag",
        "committed offset behind the high watermark, per partition",
        labels=["consumergroup", "topic", "partition"],
    )
    current = GaugeMetricFamily(
        "kafka_consumergroup_current_offset",
        "committed offset, per partition",
        labels=["consumergroup", "topic", "partition"],
    )
    lag_sum = GaugeMetricFamily(
        "kafka_consumergroup_lag_sum", "lag summed over a topic", labels=["consumergroup", "topic"]
    )
    members = GaugeMetricFamily(
        "kafka_consumergroup_members", "members of the group", labels=["consumergroup"]
    )
    sums: dict[tuple[str, str], int] = {}
    for item in broker.consumer_lag():
        labels = [item.group, item.topic, str(item.partition)]
        lag.add_metric(labels, item.lag)
        current.add_metric(labels, item.committed)
        key = (item.group, item.topic)
        sums[key] = sums.get(key, 0) + item.lag
    for (group, topic), total in sums.items():
        lag_sum.add_metric([group, topic], total)
    for group, count in broker.group_members().items():
        members.add_metric([group], count)
    yield from (lag, current, lag_sum, members)


def _loop_lag_families(loop_lag: LoopLag) -> Iterator[Metric]:
    """The event loop's lag (``loop_lag``): the longest in the last minute, and every one."""
    longest = GaugeMetricFamily(
        "odradek_event_loop_max_lag_ms",
        "the longest event-loop lag in the last minute (ms): how long the loop was held",
    )
    longest.add_metric([], loop_lag.max_lag_ms(time.monotonic()))
    lags = HistogramMetricFamily(
        "odradek_event_loop_lag_ms", "event-loop lag of each wake-up of the monitor (ms)"
    )
    histogram = loop_lag.histogram_ms()
    lags.add_metric([], buckets(histogram), histogram_sum(histogram))
    yield from (longest, lags)


def process_registry() -> CollectorRegistry:
    """The process collectors (CPU, memory, descriptors; Python's platform and GC): they read
    ``/proc`` and the interpreter, so any thread may collect them."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
