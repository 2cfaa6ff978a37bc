"""The Prometheus view of one broker: the hot-path families of ``metrics``, the scrape-time
gauges of ``broker_state``, consumer lag (kafka_exporter's names) and the process metrics."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from odradek.observability import broker_state as state
from odradek.observability import metrics

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer


class BrokerCollector(Collector):
    def __init__(self, broker: BrokerServer) -> None:
        self.broker = broker

    def collect(self) -> Iterable[Metric]:
        broker = self.broker
        live = state.live_topics(broker)
        metrics.forget_topics(live)
        yield from metrics.prometheus_families(live)
        yield from _gauge_families(state.gauges(broker))
        yield from _lag_families(broker)
        connections = GaugeMetricFamily(
            "kafka_server_socket_server_metrics_connection_count",
            "kafka.server:type=socket-server-metrics,listener=*,networkProcessor=* "
            "connection-count", labels=["listener"])
        for listener, count in state.connections_by_listener(broker).items():
            connections.add_metric([listener], count)
        yield connections

    def describe(self) -> Iterable[Metric]:
        return []  # names vary with the topics; nothing to check at registration


def _gauge_families(gauges: list[state.Gauge]) -> Iterator[Metric]:
    families: dict[str, Metric] = {}
    for domain, props, value in gauges:
        name, labels = state.prometheus_name(domain, props)
        family = families.get(name)
        if family is None:
            mbean = ",".join(f"{k}={v}" for k, v in props if k in ("type", "name"))
            family = families[name] = Metric(name, f"{domain}:{mbean} (Value)", "gauge")
        family.add_sample(name, labels, value)
    yield from families.values()


def _lag_families(broker: BrokerServer) -> Iterator[Metric]:
    """Per group and partition, as kafka_exporter names them (Kafka itself exports lag only
    from the consumer; the broker computes it here from committed offsets and the logs)."""
    lag = GaugeMetricFamily("kafka_consumergroup_lag",
                            "committed offset behind the high watermark, per partition",
                            labels=["consumergroup", "topic", "partition"])
    current = GaugeMetricFamily("kafka_consumergroup_current_offset",
                                "committed offset, per partition",
                                labels=["consumergroup", "topic", "partition"])
    lag_sum = GaugeMetricFamily("kafka_consumergroup_lag_sum", "lag summed over a topic",
                                labels=["consumergroup", "topic"])
    members = GaugeMetricFamily("kafka_consumergroup_members", "members of the group",
                                labels=["consumergroup"])
    sums: dict[tuple[str, str], int] = {}
    for item in state.consumer_lag(broker):
        labels = [item.group, item.topic, str(item.partition)]
        lag.add_metric(labels, item.lag)
        current.add_metric(labels, item.committed)
        key = (item.group, item.topic)
        sums[key] = sums.get(key, 0) + item.lag
    for (group, topic), total in sums.items():
        lag_sum.add_metric([group, topic], total)
    for group, count in state.group_members(broker).items():
        members.add_metric([group], count)
    yield from (lag, current, lag_sum, members)


def broker_registry(broker: BrokerServer) -> CollectorRegistry:
    """A registry for one broker's endpoint: its collector and the process collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BrokerCollector(broker))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
