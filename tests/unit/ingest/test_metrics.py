"""The consumers' statistics as Prometheus metrics: one series per consumer, or per consumer
and partition, read from the status at each scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from odradek.ingest.batch import PartitionBlock, WriteJob
from odradek.ingest.metrics import StatusCollector
from odradek.ingest.status import ConsumerStatus


def scrape(collector: StatusCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def partition_labels(consumer: str, topic: str, partition: int) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            {
                "group": "g",
                "table": "users",
                "consumer_id": consumer,
                "topic": topic,
                "partition": str(partition),
            }.items()
        )
    )


def test_statistics_become_series_per_consumer_and_partition() -> None:
    status = ConsumerStatus("g-1-0")
    status.assigned({("t", 0): 5, ("t", 1): None})
    status.polled(12)
    status.watermarks({("t", 0): 20})
    block = PartitionBlock(5, 17, rows=[(1,)] * 10, records=12, broken=2)
    status.committed(WriteJob({("t", 0): block}, records=12, broken=2))
    status.exception("TargetUnavailable: gone")
    status.revoked([("t", 1)])
    samples = scrape(StatusCollector("g", "users", lambda: [status.snapshot()]))

    consumer = (("consumer_id", "g-1-0"), ("group", "g"), ("table", "users"))
    p0 = partition_labels("g-1-0", "t", 0)
    assert samples[("odradek_ingest_rows_written_total", p0)] == 10
    assert samples[("odradek_ingest_broken_messages_total", p0)] == 2
    assert samples[("odradek_ingest_current_offset", p0)] == 17
    assert samples[("odradek_ingest_lag", p0)] == 3
    assert ("odradek_ingest_current_offset", partition_labels("g-1-0", "t", 1)) not in samples
    assert samples[("odradek_ingest_messages_read_total", consumer)] == 12
    assert samples[("odradek_ingest_commits_total", consumer)] == 1
    assert samples[("odradek_ingest_exceptions_total", consumer)] == 1
    assert samples[("odradek_ingest_rebalance_revocations_total", consumer)] == 1
    assert samples[("odradek_ingest_assigned_partitions", consumer)] == 1
    assert samples[("odradek_ingest_paused", consumer)] == 0
    for name in ("last_poll", "last_commit", "last_exception"):
        stamp = samples[(f"odradek_ingest_{name}_timestamp_seconds", consumer)]
        assert stamp > 1.7e9


def test_partition_counters_outlive_a_revocation() -> None:
    status = ConsumerStatus("c")
    status.assigned({("t", 0): None})
    status.committed(WriteJob({("t", 0): PartitionBlock(None, 3, rows=[(1,)] * 3)}))
    status.revoked([("t", 0)])
    samples = scrape(StatusCollector("g", "users", lambda: [status.snapshot()]))
    assert samples[("odradek_ingest_rows_written_total", partition_labels("c", "t", 0))] == 3
    assert ("odradek_ingest_lag", partition_labels("c", "t", 0)) not in samples
