"""A single node's offline-partition figure (OfflinePartitionsCount, OfflineReplicaCount) is
read from the log manager's per-topic tally of hosted logs, not from a lookup of every
partition at each scrape: it must still count exactly the partitions without a hosted log,
as topics are created, grown and deleted and as a log dir goes offline."""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from odradek.cluster.admin_manager import TopicSpec
from odradek.common.ids import TopicPartition
from odradek.config.broker import load_broker_config
from odradek.server.broker import BrokerServer


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[BrokerServer]:
    dirs = ",".join(str(tmp_path / name) for name in ("d0", "d1"))
    config = load_broker_config(
        None,
        {"log.dirs": dirs, "listeners": "PLAINTEXT://127.0.0.1:0", "metrics.port": "-1"},
        environ={},
    )
    server = BrokerServer(config)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def without_log(broker: BrokerServer) -> int:
    """The partitions of the metadata whose log the broker does not host, one by one."""
    logs = broker.log_manager.logs
    return sum(
        TopicPartition(topic.name, partition) not in logs
        for topic in broker.metadata_store.topics.values()
        for partition in range(topic.partitions)
    )


def offline_gauges(broker: BrokerServer) -> list[float]:
    wanted = ("OfflinePartitionsCount", "OfflineReplicaCount")
    return [value for _, props, value in broker.gauges() if dict(props).get("name") in wanted]


async def test_offline_partitions_follow_topics_and_log_dirs(broker: BrokerServer) -> None:
    admin, cluster = broker.admin_manager, broker.cluster
    await admin.create_topic_async(TopicSpec("a", 4, 1))
    await admin.create_topic_async(TopicSpec("b", 3, 1))
    assert cluster.offline_partition_count() == without_log(broker) == 0
    await admin.create_partitions("b", 6, None, validate_only=False)
    assert cluster.offline_partition_count() == without_log(broker) == 0
    assert broker.log_manager.hosted == {"a": (4, 6), "b": (6, 15)}

    manager = broker.log_manager
    failing = manager.dir_of(TopicPartition("b", 0))
    assert failing is not None
    on_failing = sum(1 for tp in list(manager.logs) if manager.dir_of(tp) == failing)
    manager.failure_channel.maybe_add_offline_log_dir(
        failing, "a test's failure", OSError(errno.EIO, "Input/output error")
    )
    assert 0 < on_failing < 10
    assert cluster.offline_partition_count() == without_log(broker) == on_failing
    assert offline_gauges(broker) == [on_failing, on_failing]

    await admin.delete_topic_async("b")
    assert cluster.offline_partition_count() == without_log(broker)
    assert "b" not in manager.hosted
    await admin.create_topic_async(TopicSpec("c", 2, 1))  # in the dir still online
    assert cluster.offline_partition_count() == without_log(broker)
    assert manager.hosted["c"] == (2, 1)
