"""The in-process broker and its pytest fixture, driven by real clients."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from odradek import Broker

pytestmark = pytest.mark.integration


def _round_trip(bootstrap: str, topic: str) -> list[bytes | None]:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for i in range(3):
        producer.produce(topic, key=b"k", value=f"v{i}".encode())
    assert producer.flush(10) == 0
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    values: list[bytes | None] = []
    for _ in range(50):
        message = consumer.poll(0.2)
        if message is not None and not message.error():
            values.append(message.value())
        if len(values) == 3:
            break
    consumer.close()
    return values


def test_fixture_serves_real_clients(odradek_broker: Broker) -> None:
    assert _round_trip(odradek_broker.bootstrap_servers, "fixture") == [b"v0", b"v1", b"v2"]


def test_plain_with_runs_on_a_thread_and_cleans_up() -> None:
    with Broker() as broker:
        data_dir = broker.data_dir
        assert _round_trip(broker.bootstrap_servers, "threaded") == [b"v0", b"v1", b"v2"]
    assert not data_dir.exists()


async def test_async_with_runs_on_the_current_loop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with Broker(data_dir=tmp_path / "d") as broker:
        assert broker.port > 0
        assert broker.server is not None and broker.server.cluster_id
    assert (tmp_path / "d" / ".kafka_cleanshutdown").exists()
