"""A scrape reads the per-partition log gauges a slice at a time
(``broker_view.gauges_in_slices``): the same gauges in the same order as ``gauges()``, the
event loop running between slices, and logs deleted or created meanwhile do not fail it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from odradek.common.ids import TopicPartition
from odradek.server import broker_view
from odradek.server.broker import BrokerServer
from tests.unit.observability.log_broker import log_broker
from tests.unit.observability.test_log_gauges import expected, log_values
from tests.unit.storage.helpers import TOPIC_ID, append, log_config, make_batch

TOPICS = 40
PARTITIONS = 10


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerServer]:
    with log_broker(tmp_path) as broker:
        manager = broker.log_manager
        for topic in range(TOPICS):
            for partition in range(PARTITIONS):
                tp = TopicPartition(f"t{(topic * 7) % TOPICS:03d}", partition)
                manager.get_or_create_log(tp, TOPIC_ID, log_config())
        yield broker


def test_slices_give_what_one_read_gives(broker: BrokerServer) -> None:
    assert asyncio.run(broker_view.gauges_in_slices(broker)) == broker.gauges()
    log = broker.log_manager.logs[TopicPartition("t003", 4)]
    append(log, make_batch(5))
    sliced = asyncio.run(broker_view.gauges_in_slices(broker))
    assert sliced == broker.gauges()
    assert ("kafka.log", (("type", "Log"), ("name", "LogEndOffset"),
            ("topic", "t003"), ("partition", "4")), 5) in sliced  # fmt: skip


def test_the_loop_runs_between_slices_and_logs_change_meanwhile(
    broker: BrokerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a slice of 0 s every 64 logs are a slice: the loop runs between them, and here
    it deletes a log not read yet and creates one, which the read leaves out (the next one
    has both changes)."""
    monkeypatch.setattr(broker_view, "SLICE_SECONDS", 0.0)
    manager = broker.log_manager
    turns = 0

    async def meanwhile() -> None:
        nonlocal turns
        while True:
            turns += 1
            if turns == 2:
                manager.delete_log(TopicPartition("t039", 9))  # the last in the order
                manager.get_or_create_log(TopicPartition("t000x", 0), TOPIC_ID, log_config())
            await asyncio.sleep(0)

    async def scrape() -> list[tuple[str, str, str]]:
        task = asyncio.get_running_loop().create_task(meanwhile())
        try:
            gauges = await broker_view.gauges_in_slices(broker)
        finally:
            task.cancel()
        return [
            (dict(props)["topic"], dict(props)["partition"], dict(props)["name"])
            for domain, props, _ in gauges
            if domain == "kafka.log" and dict(props)["type"] == "Log"
        ]

    read = asyncio.run(scrape())
    assert turns >= TOPICS * PARTITIONS // 64  # the loop ran between the slices
    partitions = sorted({(t, p) for t, p, _ in read})
    assert ("t039", "9") not in partitions
    assert ("t000x", "0") not in partitions
    assert len(partitions) == TOPICS * PARTITIONS - 1
    assert log_values(broker) == expected(broker)  # the next read has both
    assert asyncio.run(broker_view.gauges_in_slices(broker)) == broker.gauges()
