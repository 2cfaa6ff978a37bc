"""The consumers' statistics (``system.kafka_consumers``' figures, as ``--status`` shows them)
as Prometheus metrics on ``--metrics-port``: ``http://HOST:PORT/metrics``.

Every series has the labels ``group``, ``table`` and ``consumer_id``; per-partition series add
``topic`` and ``partition``. Counters count from the process's start; the per-partition
counters stay after a partition is revoked, so that they never go down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

PREFIX = "odradek_ingest_"
CONSUMER_LABELS = ["group", "table", "consumer_id"]
PARTITION_LABELS = [*CONSUMER_LABELS, "topic", "partition"]

# (name, help, snapshot key) of the per-consumer counters and gauges
_CONSUMER_COUNTERS = [
    ("messages_read", "Records read from Kafka", "num_messages_read"),
    ("commits", "Blocks written to the target with their offsets", "num_commits"),
    ("exceptions", "Errors met (Kafka, target, conflicts)", "num_exceptions"),
    ("rebalance_assignments", "Partition assignments received", "num_rebalance_assignments"),
    ("rebalance_revocations", "Partition revocations received", "num_rebalance_revocations"),
]
_CONSUMER_TIMES = [
    ("last_poll_timestamp_seconds", "Unix time of the last poll", "last_poll_time"),
    ("last_commit_timestamp_seconds", "Unix time of the last block written", "last_commit_time"),
    ("last_rebalance_timestamp_seconds", "Unix time of the last rebalance", "last_rebalance_time"),
]


class StatusCollector(Collector):
    """Reads the consumers' status snapshots at each scrape."""

    def __init__(
        self, group: str, table: str, snapshots: Callable[[], list[dict[str, Any]]]
    ) -> None:
        self.group = group
        self.table = table
        self.snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        snapshots = self.snapshots()
        yield from self._consumer_metrics(snapshots)
        yield from self._partition_metrics(snapshots)

    def _consumer_metrics(self, snapshots: list[dict[str, Any]]) -> Iterator[Metric]:
        for name, text, key in _CONSUMER_COUNTERS:
            counter = CounterMetricFamily(PREFIX + name, text, labels=CONSUMER_LABELS)
            for s in snapshots:
                counter.add_metric(self._labels(s), s[key])
            yield counter
        for name, text, key in _CONSUMER_TIMES:
            gauge = GaugeMetricFamily(PREFIX + name, text, labels=CONSUMER_LABELS)
            for s in snapshots:
                if s[key] is not None:
                    gauge.add_metric(self._labels(s), s[key])
            yield gauge
        last_exception = GaugeMetricFamily(
            PREFIX + "last_exception_timestamp_seconds",
            "Unix time of the last error met",
            labels=CONSUMER_LABELS,
        )
        paused = GaugeMetricFamily(PREFIX + "paused", "1 while paused", labels=CONSUMER_LABELS)
        assigned = GaugeMetricFamily(
            PREFIX + "assigned_partitions", "Partitions assigned", labels=CONSUMER_LABELS
        )
        for s in snapshots:
            labels = self._labels(s)
            if s["exceptions"]:
                last_exception.add_metric(labels, s["exceptions"][-1]["time"])
            paused.add_metric(labels, int(s["is_paused"]))
            assigned.add_metric(labels, len(s["assignments"]))
        yield from (last_exception, paused, assigned)

    def _partition_metrics(self, snapshots: list[dict[str, Any]]) -> Iterator[Metric]:
        rows = CounterMetricFamily(
            PREFIX + "rows_written", "Rows written to the table", labels=PARTITION_LABELS
        )
        broken = CounterMetricFamily(
            PREFIX + "broken_messages",
            "Records that did not parse (skipped or written to the error table)",
            labels=PARTITION_LABELS,
        )
        offset = GaugeMetricFamily(
            PREFIX + "current_offset",
            "Next offset to consume, as stored with the table",
            labels=PARTITION_LABELS,
        )
        lag = GaugeMetricFamily(
            PREFIX + "lag", "Records between the stored offset and the high watermark",
            labels=PARTITION_LABELS,
        )  # fmt: skip
        for s in snapshots:
            for p in s["partitions"]:
                labels = [*self._labels(s), p["topic"], str(p["partition_id"])]
                rows.add_metric(labels, p["rows_written"])
                broken.add_metric(labels, p["broken_messages"])
            for a in s["assignments"]:
                labels = [*self._labels(s), a["topic"], str(a["partition_id"])]
                if a["current_offset"] is not None:
                    offset.add_metric(labels, a["current_offset"])
                if a["lag"] is not None:
                    lag.add_metric(labels, a["lag"])
        yield from (rows, broken, offset, lag)

    def _labels(self, snapshot: dict[str, Any]) -> list[str]:
        return [self.group, self.table, snapshot["consumer_id"]]


class MetricsEndpoint:
    """The HTTP server of ``/metrics``, bound when made (OSError when the port is taken)."""

    def __init__(self, host: str, port: int, collector: StatusCollector) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        self.server, self.thread = start_http_server(port, addr=host, registry=registry)
        self.host = host
        self.port = int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
