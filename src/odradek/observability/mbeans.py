"""The MBeans behind Jolokia's view of the hot-path metrics: every rate MBean with its count
now and when it started (BrokerTopicMetrics, RequestMetrics requests and errors, the fetch
session evictions, ReplicaManager's ISR changes), and every request-time histogram MBean with
a reader of its current buckets."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from odradek.observability.broker_topic_metrics import TOPIC_METERS, TOPICS, all_topics
from odradek.observability.metrics import COUNTERS, FETCH_SESSIONS, STARTED
from odradek.observability.request_metrics import (
    FETCH,
    FETCH_CONSUMER,
    REQUEST_TIMES,
    REQUESTS,
    RequestStats,
    error_name,
)

MeterKey = tuple[str, tuple[tuple[str, str], ...]]  # (domain, key properties in Kafka's order)


def meter_sources() -> Iterator[tuple[MeterKey, int, float, str]]:
    """Every rate MBean and its count now: (key, count, created (monotonic), event type)."""
    server = "kafka.server"
    for meter in TOPIC_METERS:
        props = (("type", "BrokerTopicMetrics"), ("name", meter.mbean))
        yield (server, props), all_topics(meter.attr), STARTED, meter.event_type
        if meter.per_topic:
            for topic, stats in TOPICS.items():
                yield (
                    (server, (*props, ("topic", topic))),
                    stats.count(meter.attr),
                    stats.created,
                    meter.event_type,
                )
    for request in REQUESTS.values():
        for version, count in request.version_counts().items():
            yield (
                (
                    "kafka.network",
                    (
                        ("type", "RequestMetrics"),
                        ("name", "RequestsPerSec"),
                        ("request", request.name),
                        ("version", str(version)),
                    ),
                ),
                count,
                request.created,
                "requests",
            )
        for code, count in request.errors.items():
            yield (
                (
                    "kafka.network",
                    (
                        ("type", "RequestMetrics"),
                        ("name", "ErrorsPerSec"),
                        ("request", request.name),
                        ("error", error_name(code)),
                    ),
                ),
                count,
                request.created,
                "requests",
            )
    yield (
        (
            server,
            (("type", "FetchSessionCache"), ("name", "IncrementalFetchSessionEvictionsPerSec")),
        ),
        FETCH_SESSIONS.evictions,
        STARTED,
        "evictions",
    )
    for attr, mbean, event_type in (
        ("isr_shrinks", "IsrShrinksPerSec", "shrinks"),
        ("isr_expands", "IsrExpandsPerSec", "expands"),
    ):
        yield (
            (server, (("type", "ReplicaManager"), ("name", mbean))),
            getattr(COUNTERS, attr),
            STARTED,
            event_type,
        )


def histogram_sources() -> Iterator[tuple[MeterKey, Callable[[], list[float]]]]:
    """Every request-time histogram MBean and a reader of its current buckets."""
    for stats in REQUESTS.values():
        if not stats.count:
            continue
        names = [stats.name, FETCH_CONSUMER] if stats.api_key == FETCH else [stats.name]
        for request_name in names:
            for mbean, attr in REQUEST_TIMES:
                yield (
                    (
                        "kafka.network",
                        (("type", "RequestMetrics"), ("name", mbean), ("request", request_name)),
                    ),
                    _reader(stats, attr),
                )


def _reader(stats: RequestStats, attr: str) -> Callable[[], list[float]]:
    return lambda: stats.histogram(attr)
