"""Throughput from the brokers' metrics endpoints (``--metrics-url``, one per broker): the
Prometheus text odradek serves (and Kafka's JMX exporter rules produce), read for the
BrokerTopicMetrics counters of bytes in, bytes out and messages in, per topic and in all."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

COUNTERS = {
    "kafka_server_brokertopicmetrics_bytesin_total": "bytes_in",
    "kafka_server_brokertopicmetrics_bytesout_total": "bytes_out",
    "kafka_server_brokertopicmetrics_messagesin_total": "messages_in",
}
ALL_TOPICS = ""


@dataclass
class Throughput:
    """Counter totals: (counter, topic or ALL_TOPICS) -> value, summed over the endpoints."""

    totals: dict[tuple[str, str], float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def parse_counters(text: str, into: Throughput) -> None:
    """Add the throughput counters of one endpoint's Prometheus text to ``into``."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            counter = COUNTERS.get(sample.name)
            if counter is None:
                continue
            key = (counter, sample.labels.get("topic", ALL_TOPICS))
            into.totals[key] = into.totals.get(key, 0.0) + sample.value


def scrape(urls: Iterable[str], timeout: float) -> Throughput:
    """The counters of every endpoint; one that cannot be read is named in ``errors``."""
    result = Throughput()
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                parse_counters(response.read().decode("utf-8", "replace"), result)
        except (OSError, ValueError) as exc:
            result.errors.append(f"{url}: {exc}")
    return result
