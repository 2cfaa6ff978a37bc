"""The seed article's first experiment, literally: kafka-python with its default settings.

A ``KafkaProducer`` sends ``str(i)`` as key and value with an explicit timestamp and flushes after
every record; a ``KafkaConsumer`` subscribed to "test" (no group id) reads them back from the
earliest offset.
"""

from __future__ import annotations

import time

import pytest
from kafka import KafkaConsumer, KafkaProducer

from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

RECORDS = 20


def test_seed_experiment(broker: BrokerProcess) -> None:
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
    sent: list[tuple[int, int]] = []
    futures = []
    try:
        base = int(time.time() * 1000)
        for i in range(RECORDS):
            ts = base + i
            futures.append(
                producer.send(
                    topic="test", value=str(i).encode(), key=str(i).encode(), timestamp_ms=ts
                )
            )
            producer.flush(timeout=30)
            sent.append((i, ts))
        for i, future in enumerate(futures):
            try:
                metadata = future.get(timeout=1)
            except Exception as exc:
                raise AssertionError(
                    f"send {i} failed: {exc!r}\n--- broker log ---\n{broker.log()}"
                ) from exc
            assert (metadata.topic, metadata.partition, metadata.offset) == ("test", 0, i)
    finally:
        producer.close(timeout=10)

    consumer = KafkaConsumer(
        "test",
        bootstrap_servers=[broker.bootstrap],
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    received = []
    try:
        for message in consumer:  # ends after consumer_timeout_ms without a record
            received.append(message)
            if len(received) == RECORDS:
                break
    finally:
        consumer.close()

    assert len(received) == RECORDS, (
        f"received {len(received)} of {RECORDS}\n--- broker log ---\n{broker.log()}"
    )
    for (i, ts), message in zip(sent, received, strict=True):
        assert message.topic == "test"
        assert message.partition == 0
        assert message.offset == i
        assert message.key == str(i).encode()
        assert message.value == str(i).encode()
        assert message.timestamp == ts
        assert message.timestamp_type == 0  # CreateTime
