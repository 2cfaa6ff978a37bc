"""The Prometheus families of the hot-path metrics, built from their plain counts when the
endpoint is scraped: BrokerTopicMetrics counters (all topics and per live topic), the
RequestMetrics request and error counters and time histograms, client-quota throttling,
ReplicaManager's ISR changes and the FetchSessionCache gauges and counters, under the names
the Prometheus JMX exporter's Kafka rules give their MBeans."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from prometheus_client.core import HistogramMetricFamily, Metric

from odradek.observability.broker_topic_metrics import TOPIC_METERS, TOPICS, all_topics
from odradek.observability.histogram import SUM_INDEX, buckets
from odradek.observability.metrics import COUNTERS, FETCH_SESSIONS, THROTTLES
from odradek.observability.request_metrics import (
    FETCH,
    FETCH_CONSUMER,
    REQUEST_TIMES,
    REQUESTS,
    error_name,
)


def _counter(name: str, documentation: str) -> Metric:
    return Metric(name, documentation, "counter")


def prometheus_families(live_topics: Collection[str] | None = None) -> Iterator[Metric]:
    """Families for everything recorded on the hot path. ``live_topics``: the topics that
    exist (per-topic series of others are left out)."""
    for meter in TOPIC_METERS:
        family = _counter(
            meter.prometheus, f"kafka.server:type=BrokerTopicMetrics,name={meter.mbean} (Count)"
        )
        family.add_sample(meter.prometheus + "_total", {}, all_topics(meter.attr))
        if meter.per_topic:
            for topic, stats in sorted(TOPICS.items()):
                if live_topics is None or topic in live_topics:
                    family.add_sample(
                        meter.prometheus + "_total", {"topic": topic}, stats.count(meter.attr)
                    )
        yield family
    requests = sorted(REQUESTS.values(), key=lambda s: s.api_key)
    family = _counter(
        "kafka_network_requestmetrics_requests",
        "kafka.network:type=RequestMetrics,name=RequestsPerSec (Count)",
    )
    for request in requests:
        for version, count in sorted(request.version_counts().items()):
            family.add_sample(
                "kafka_network_requestmetrics_requests_total",
                {"request": request.name, "version": str(version)},
                count,
            )
    yield family
    family = _counter(
        "kafka_network_requestmetrics_errors",
        "kafka.network:type=RequestMetrics,name=ErrorsPerSec (Count); non-zero error codes only",
    )
    for request in requests:
        for code, count in sorted(request.errors.items()):
            family.add_sample(
                "kafka_network_requestmetrics_errors_total",
                {"request": request.name, "error": error_name(code)},
                count,
            )
    yield family
    for mbean, attr in REQUEST_TIMES:
        name = "kafka_network_requestmetrics_" + mbean.lower()
        histogram_family = HistogramMetricFamily(
            name,
            f"kafka.network:type=RequestMetrics,name={mbean} (milliseconds)",
            labels=["request"],
        )
        for request in requests:
            if not request.count:
                continue
            histogram = request.histogram(attr)
            names = [request.name, FETCH_CONSUMER] if request.api_key == FETCH else [request.name]
            for request_name in names:
                histogram_family.add_metric(
                    [request_name], buckets(histogram), histogram[SUM_INDEX]
                )
        yield histogram_family
    for index, (name, what) in enumerate(
        (("throttled_responses", "responses throttled"), ("throttle_time_ms", "throttle time, ms"))
    ):
        family = _counter(
            f"kafka_server_quota_{name}",
            f"Client quotas (kafka.server:type=Produce|Fetch|Request throttle-time): {what}",
        )
        for quota, counts in sorted(THROTTLES.items()):
            family.add_sample(f"kafka_server_quota_{name}_total", {"quota": quota}, counts[index])
        yield family
    for attr, mbean in (("isr_shrinks", "isrshrinks"), ("isr_expands", "isrexpands")):
        family = _counter(
            f"kafka_server_replicamanager_{mbean}",
            f"kafka.server:type=ReplicaManager,name={mbean} (Count)",
        )
        family.add_sample(f"kafka_server_replicamanager_{mbean}_total", {}, getattr(COUNTERS, attr))
        yield family
    yield from _fetch_session_families()


def _fetch_session_families() -> Iterator[Metric]:
    prefix = "kafka_server_fetchsessioncache_"
    for mbean, value in (
        ("NumIncrementalFetchSessions", FETCH_SESSIONS.sessions),
        ("NumIncrementalFetchPartitionsCached", FETCH_SESSIONS.partitions),
    ):
        gauge = Metric(
            prefix + mbean.lower(), f"kafka.server:type=FetchSessionCache,name={mbean}", "gauge"
        )
        gauge.add_sample(prefix + mbean.lower(), {}, value)
        yield gauge
    family = _counter(
        prefix + "incrementalfetchsessionevictions",
        "kafka.server:type=FetchSessionCache,name=IncrementalFetchSessionEvictionsPerSec (Count)",
    )
    family.add_sample(
        prefix + "incrementalfetchsessionevictions_total", {}, FETCH_SESSIONS.evictions
    )
    yield family
    family = _counter(
        prefix + "fetches",
        "Fetch requests, full (sessionless or opening a session) or incremental (KIP-227)",
    )
    for kind in ("full", "incremental"):
        family.add_sample(prefix + "fetches_total", {"fetch": kind}, getattr(FETCH_SESSIONS, kind))
    yield family
