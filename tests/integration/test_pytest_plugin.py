"""The pytest plugin's brokers serve real clients; a consumer group's first record comes
without Kafka's 3 s initial rebalance delay (the fixtures set it to 0, and create 5 offsets
partitions, not 50, as Kafka's test harnesses do)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from odradek.testing import Broker
from odradek.testing.pytest_plugin import BrokerFactory

pytestmark = pytest.mark.integration

KAFKA_INITIAL_REBALANCE_DELAY_S = 3.0


def first_record_seconds(bootstrap: str, topic: str) -> float:
    """Seconds from subscribing a new group's only member to its first record."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    producer.produce(topic, value=b"first")
    assert producer.flush(15) == 0
    consumer: Any = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{topic}-group",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        started = time.monotonic()
        consumer.subscribe([topic])
        deadline = started + 30
        while time.monotonic() < deadline:
            message = consumer.poll(0.05)
            if message is not None and message.error() is None:
                assert message.value() == b"first"
                return time.monotonic() - started
        raise AssertionError("no record within 30 s")
    finally:
        consumer.close()


def test_group_gets_its_first_record_without_the_initial_delay(odradek_broker: Broker) -> None:
    # With Kafka's default (3000 ms) the JoinGroup alone waits 3 s; without it the whole
    # join, sync, offset fetch and fetch take a fraction of a second.
    elapsed = first_record_seconds(odradek_broker.bootstrap_servers, "plugin-first")
    assert elapsed < KAFKA_INITIAL_REBALANCE_DELAY_S


def test_factory_brokers_serve_clients_with_their_configs(
    odradek_broker_factory: BrokerFactory,
) -> None:
    broker = odradek_broker_factory({"num.partitions": 3})
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    producer.produce("plugin-auto", value=b"x")  # auto-created with num.partitions
    assert producer.flush(15) == 0
    metadata = producer.list_topics("plugin-auto", timeout=10)
    assert len(metadata.topics["plugin-auto"].partitions) == 3
