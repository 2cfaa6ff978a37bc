"""Record-level produce errors (KIP-467) as Kafka's LogValidator answers them: the whole batch
is rejected, the failing records are listed in ``record_errors`` and ``error_message`` carries
Kafka's summary. With confluent-kafka (librdkafka splits the batch's delivery reports into
INVALID_RECORD for the listed records and _INVALID_DIFFERENT_RECORD for the others, as in
librdkafka's test 0011_produce_batch) and with raw Produce v9 requests."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from confluent_kafka import KafkaError, Producer
from kafka import KafkaProducer
from kafka.errors import KafkaError as KafkaPythonError

from odradek.protocol.records.codec import encode_batch
from tests.integration.clients import unique_topic
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient

pytestmark = pytest.mark.integration

INVALID_RECORD = 87
INVALID_TIMESTAMP = 32
HOUR_MS = 3_600_000


def compacted_topic(
    broker: BrokerProcess, prefix: str, configs: dict[str, str] | None = None
) -> str:
    topic = unique_topic(prefix)
    with RawClient.to(broker.bootstrap) as client:
        client.create_topic(topic, configs=configs or {"cleanup.policy": "compact"})
    return topic


def keyless_message(topic: str) -> str:
    return f"Compacted topic cannot accept message without key in topic partition {topic}-0"


@pytest.mark.parametrize("one_per_batch", [False, True])
def test_librdkafka_delivery_reports(shared_broker: BrokerProcess, one_per_batch: bool) -> None:
    topic = compacted_topic(shared_broker, "rec-err-rdkafka")
    config = {"bootstrap.servers": shared_broker.bootstrap, "linger.ms": 100}
    if one_per_batch:
        config["batch.size"] = 1
    producer = Producer(config)
    outcome: Counter[int] = Counter()

    def report(err: Any, _msg: Any) -> None:
        outcome[0 if err is None else err.code()] += 1

    for i in range(100):
        key = None if i % 10 == 0 else f"key-{i}".encode()
        producer.produce(
            topic, key=key, value=f"value {i}".encode(), partition=0, on_delivery=report
        )
    assert producer.flush(30) == 0
    assert outcome[KafkaError.INVALID_RECORD] == 10, outcome
    if one_per_batch:
        assert outcome[0] == 90, outcome
    else:
        assert outcome[KafkaError._INVALID_DIFFERENT_RECORD] == 90, outcome


def test_record_errors_and_error_message(shared_broker: BrokerProcess) -> None:
    topic = compacted_topic(shared_broker, "rec-err-raw")
    now = int(time.time() * 1000)
    records = [(None if i in (0, 5, 7, 11) else b"k", b"v") for i in range(12)]
    with RawClient.to(shared_broker.bootstrap) as client:
        result = client.produce(topic, 0, encode_batch(records, timestamp=now, compression=1))
        assert result.error_code == INVALID_RECORD
        assert (result.base_offset, result.log_start_offset) == (-1, 0)
        assert [e.batch_index for e in result.record_errors] == [0, 5, 7, 11]
        text = keyless_message(topic)
        assert {e.batch_index_error_message for e in result.record_errors} == {text}
        assert result.error_message == (
            "One or more records have been rejected due to 4 record errors in total, and only "
            "showing the first three errors at most: ["
            f"RecordError(batchIndex=0, message='{text}'), "
            f"RecordError(batchIndex=5, message='{text}'), "
            f"RecordError(batchIndex=7, message='{text}')]"
        )
        assert client.latest_offset(topic) == 0  # nothing of the batch was appended
        good = client.produce(topic, 0, encode_batch([(b"k", b"v")], timestamp=now))
        assert (good.error_code, good.base_offset, good.record_errors) == (0, 0, ())


def test_timestamps_out_of_the_topic_bounds(shared_broker: BrokerProcess) -> None:
    topic = unique_topic("rec-err-ts")
    now = int(time.time() * 1000)
    with RawClient.to(shared_broker.bootstrap) as client:
        client.create_topic(
            topic,
            configs={
                "message.timestamp.before.max.ms": str(HOUR_MS),
                "message.timestamp.after.max.ms": str(HOUR_MS),
            },
        )
        stamps = [now, now - 3 * HOUR_MS, now, now + 3 * HOUR_MS]
        result = client.produce(topic, 0, encode_batch([(b"k", b"v")] * 4, timestamps=stamps))
        assert result.error_code == INVALID_TIMESTAMP
        assert [e.batch_index for e in result.record_errors] == [1, 3]
        assert result.record_errors[0].batch_index_error_message.startswith(
            f"Timestamp {now - 3 * HOUR_MS} of message with offset 1 is out of range."
        )
        assert (
            result.error_message
            == "One or more records have been rejected due to invalid timestamp"
        )
        assert client.latest_offset(topic) == 0
        ok = client.produce(topic, 0, encode_batch([(b"k", b"v")], timestamp=now))
        assert ok.error_code == 0


def test_old_producer_to_a_compacted_topic(shared_broker: BrokerProcess) -> None:
    """Produce v2 (magic 1): no record_errors field, the partition error is INVALID_RECORD."""
    topic = compacted_topic(shared_broker, "rec-err-old")
    producer = KafkaProducer(
        bootstrap_servers=shared_broker.bootstrap,
        api_version=(0, 10),
        compression_type="gzip",
        retries=0,
    )
    try:
        good = producer.send(topic, key=b"k", value=b"kept", partition=0).get(timeout=30)
        assert good.offset == 0
        with pytest.raises(KafkaPythonError) as info:
            producer.send(topic, value=b"keyless", partition=0).get(timeout=30)
        assert getattr(info.value, "errno", None) == INVALID_RECORD, repr(info.value)
    finally:
        producer.close()
    with RawClient.to(shared_broker.bootstrap) as client:
        assert client.latest_offset(topic) == 1
