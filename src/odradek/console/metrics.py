"""What the console reads from the brokers' metrics endpoints (``--metrics-url``, one per
broker): the Prometheus text odradek serves (and Kafka's JMX exporter rules produce), read for
the BrokerTopicMetrics counters of bytes in, bytes out and messages in, per topic and in all,
and for each broker's app-info (``kafka_server_app_info{id,version,commit_id}``, the
``kafka.server:type=app-info,id=N`` MBean): the software version it runs."""

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
APP_INFO = "kafka_server_app_info"


@dataclass(frozen=True)
class AppInfo:
    """A broker's app-info: the software version it runs and its commit id."""

    version: str
    commit_id: str


@dataclass
class Throughput:
    """One scrape of the endpoints: counter totals, (counter, topic or ALL_TOPICS) -> value,
    summed over the endpoints; the app-info of each broker id that one of them reported."""

    totals: dict[tuple[str, str], float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    app_info: dict[int, AppInfo] = field(default_factory=dict)


def parse_counters(text: str, into: Throughput) -> None:
    """Add the throughput counters and the app-info of one endpoint's Prometheus text to
    ``into`` (app-info without a broker id or a version tells nothing and is left out)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            counter = COUNTERS.get(sample.name)
            if counter is None:
                if sample.name == APP_INFO:
                    _add_app_info(sample.labels, into)
                continue
            key = (counter, sample.labels.get("topic", ALL_TOPICS))
            into.totals[key] = into.totals.get(key, 0.0) + sample.value


def _add_app_info(labels: dict[str, str], into: Throughput) -> None:
    broker_id, version = labels.get("id", ""), labels.get("version", "")
    if broker_id.isdigit() and version:
        into.app_info[int(broker_id)] = AppInfo(version, labels.get("commit_id", ""))


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
