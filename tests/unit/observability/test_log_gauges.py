"""The per-partition ``kafka.log:type=Log`` gauges follow every change of a partition's log
(appends, new partitions, deleted ones), although an unchanged partition's gauges are reused
from the previous collection."""

from __future__ import annotations

from pathlib import Path

from odradek.common.ids import TopicPartition
from odradek.server.broker import BrokerServer
from tests.unit.observability.log_broker import log_broker
from tests.unit.storage.helpers import TOPIC_ID, append, log_config, make_batch


def log_values(broker: BrokerServer) -> dict[tuple[str, str, str], float]:
    """(topic, partition, gauge name) -> value, of the broker's Log gauges."""
    values = {}
    for domain, props, value in broker.gauges():
        keys = dict(props)
        if domain == "kafka.log" and keys["type"] == "Log":
            values[(keys["topic"], keys["partition"], keys["name"])] = value
    return values


def expected(broker: BrokerServer) -> dict[tuple[str, str, str], float]:
    """The same, read from the logs themselves."""
    values: dict[tuple[str, str, str], float] = {}
    for tp, log in broker.log_manager.logs.items():
        where = (tp.topic, str(tp.partition))
        values[(*where, "LogEndOffset")] = log.log_end_offset
        values[(*where, "LogStartOffset")] = log.log_start_offset
        values[(*where, "Size")] = sum(segment.size for segment in log.segments)
        values[(*where, "NumLogSegments")] = len(log.segments)
    return values


def test_log_gauges_follow_appends_creations_and_deletions(tmp_path: Path) -> None:
    with log_broker(tmp_path) as broker:
        manager = broker.log_manager
        tps = [TopicPartition("b", 0), TopicPartition("a", 1), TopicPartition("a", 0)]
        logs = [manager.get_or_create_log(tp, TOPIC_ID, log_config()) for tp in tps]
        first = log_values(broker)
        assert first == expected(broker)
        assert first[("a", "0", "LogEndOffset")] == 0
        order = [(t, p) for (t, p, name) in first if name == "LogEndOffset"]
        assert order == [("a", "0"), ("a", "1"), ("b", "0")]

        append(logs[1], make_batch(3))
        changed = log_values(broker)
        assert changed == expected(broker)
        assert changed[("a", "1", "LogEndOffset")] == 3
        assert changed[("a", "1", "Size")] > first[("a", "1", "Size")]
        assert changed[("b", "0", "Size")] == first[("b", "0", "Size")]

        manager.delete_log(TopicPartition("b", 0))
        manager.get_or_create_log(TopicPartition("c", 0), TOPIC_ID, log_config())
        after = log_values(broker)
        assert after == expected(broker)
        assert {(t, p) for (t, p, _) in after} == {("a", "0"), ("a", "1"), ("c", "0")}
        partition_count = [
            value
            for domain, props, value in broker.gauges()
            if dict(props).get("name") == "PartitionCount"
        ]
        assert partition_count == [3]
