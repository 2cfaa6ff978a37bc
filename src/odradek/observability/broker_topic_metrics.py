"""Kafka's BrokerTopicMetrics (``kafka.server:type=BrokerTopicMetrics``; BrokerTopicStats):
the meters and their MBean and Prometheus names, one ``TopicStats`` of plain counts per topic,
the counts of topics forgotten since (``RETIRED``, which also holds the all-topics-only
meters), and the all-topics sums built from them at scrape time."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TopicMeter:
    attr: str  # TopicStats attribute
    mbean: str  # the ``name=`` of kafka.server:type=BrokerTopicMetrics
    event_type: str  # Yammer's EventType attribute
    per_topic: bool = True  # False: Kafka keeps it on the all-topics MBean only

    @property
    def prometheus(self) -> str:
        """``kafka_server_brokertopicmetrics_<name without PerSec, lower case>`` (+ _total)."""
        return "kafka_server_brokertopicmetrics_" + self.mbean.removesuffix("PerSec").lower()


TOPIC_METERS: tuple[TopicMeter, ...] = (
    TopicMeter("messages_in", "MessagesInPerSec", "messages"),
    TopicMeter("bytes_in", "BytesInPerSec", "bytes"),
    TopicMeter("bytes_out", "BytesOutPerSec", "bytes"),
    TopicMeter("bytes_rejected", "BytesRejectedPerSec", "bytes"),
    TopicMeter("produce_requests", "TotalProduceRequestsPerSec", "requests"),
    TopicMeter("fetch_requests", "TotalFetchRequestsPerSec", "requests"),
    TopicMeter("failed_produce", "FailedProduceRequestsPerSec", "requests"),
    TopicMeter("failed_fetch", "FailedFetchRequestsPerSec", "requests"),
    TopicMeter("invalid_crc", "InvalidMessageCrcRecordsPerSec", "requests", per_topic=False),
    TopicMeter("invalid_magic", "InvalidMagicNumberRecordsPerSec", "requests", per_topic=False),
)


class TopicStats:
    """BrokerTopicMetrics of one topic (or of all topics): plain counts."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "bytes_rejected",
        "created",
        "failed_fetch",
        "failed_produce",
        "fetch_requests",
        "invalid_crc",
        "invalid_magic",
        "messages_in",
        "produce_requests",
        "topic",
    )

    def __init__(self, topic: str | None) -> None:
        self.topic = topic
        self.created = time.monotonic()
        self.messages_in = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.bytes_rejected = 0
        self.produce_requests = 0
        self.fetch_requests = 0
        self.failed_produce = 0
        self.failed_fetch = 0
        self.invalid_crc = 0
        self.invalid_magic = 0

    def count(self, attr: str) -> int:
        value: int = getattr(self, attr)
        return value


TOPICS: dict[str, TopicStats] = {}
RETIRED = TopicStats(None)
"""The all-topics-only counters, and the counts of topics forgotten since (the all-topics
MBeans are sums: the hot path updates only the topic's stats)."""


def all_topics(attr: str) -> int:
    """The all-topics count of a TopicStats attribute."""
    return RETIRED.count(attr) + sum(stats.count(attr) for stats in TOPICS.values())


def topic_stats(topic: str) -> TopicStats:
    stats = TOPICS.get(topic)
    if stats is None:
        stats = TOPICS[topic] = TopicStats(topic)
    return stats


def forget_topics(live: Collection[str]) -> None:
    """Drop the per-topic stats of topics that no longer exist (Kafka removes their MBeans
    on deletion); the all-topics counts keep them."""
    for topic in [t for t in TOPICS if t not in live]:
        gone = TOPICS.pop(topic)
        for meter in TOPIC_METERS:
            setattr(RETIRED, meter.attr, RETIRED.count(meter.attr) + gone.count(meter.attr))
