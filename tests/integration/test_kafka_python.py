"""kafka-python 3.x against a real broker process over real sockets.

kafka-python 3 turns idempotence on by default (KIP-679), which needs InitProducerId.  The
feature tests here pass ``enable_idempotence=False`` so that each one exercises its own feature;
the producer's out-of-the-box configuration is covered by ``test_default_producer_config`` and by
``test_seed001.py``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import kafka.codec
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import MessageSizeTooLargeError, TopicAlreadyExistsError

from tests.integration.clients import (
    BASE_TS,
    CLIENT_MAX_BYTES,
    CODECS,
    LARGE_OK_BYTES,
    LATENCY_RECORDS,
    MID_BATCH_OFFSET,
    OVERSIZED_BYTES,
    TOPIC_ALREADY_EXISTS,
    UNKNOWN_TOPIC_OR_PARTITION,
    Got,
    Rec,
    assert_in_order,
    assert_low_latency,
    assert_round_trip,
    sample_records,
    spacing,
    unique_topic,
    wait_for,
)
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

CODEC_AVAILABLE = {
    "none": True,
    "gzip": kafka.codec.has_gzip(),
    "snappy": kafka.codec.has_snappy(),
    "lz4": kafka.codec.has_lz4(),
    "zstd": kafka.codec.has_zstd(),
}
CODEC_PACKAGE = {"snappy": "python-snappy", "lz4": "lz4", "zstd": "zstandard"}


@pytest.fixture
def closing() -> Iterator[list[Any]]:
    """Clients appended here are closed after the test."""
    clients: list[Any] = []
    yield clients
    for client in reversed(clients):
        client.close()


def make_producer(closing: list[Any], bootstrap: str, **extra: Any) -> KafkaProducer:
    conf: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "enable_idempotence": False,
        "linger_ms": 5,
        "max_block_ms": 15_000,
        "request_timeout_ms": 15_000,
        "delivery_timeout_ms": 20_000,
    }
    conf.update(extra)
    producer = KafkaProducer(**conf)
    closing.append(producer)
    return producer


def make_consumer(closing: list[Any], bootstrap: str, **extra: Any) -> KafkaConsumer:
    conf: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "request_timeout_ms": 15_000,
    }
    conf.update(extra)
    consumer = KafkaConsumer(**conf)
    closing.append(consumer)
    return consumer


def assigned_consumer(
    closing: list[Any], bootstrap: str, topic: str, offset: int = 0, **extra: Any
) -> KafkaConsumer:
    consumer = make_consumer(closing, bootstrap, **extra)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek(tp, offset)
    return consumer


def to_got(rec: Any) -> Got:
    return Got(
        partition=rec.partition,
        offset=rec.offset,
        key=rec.key,
        value=rec.value,
        headers=[tuple(h) for h in rec.headers or []],
        timestamp=rec.timestamp,
        create_time=rec.timestamp_type == 0,
    )


def consume_n(consumer: KafkaConsumer, n: int, timeout: float = 30.0) -> list[Any]:
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200, max_records=n - len(out)).values():
            out.extend(records)
    assert len(out) == n, f"consumed {len(out)} of {n} records in {timeout}s"
    return out


def send_all(producer: KafkaProducer, topic: str, records: list[Rec]) -> list[Any]:
    futures = [
        producer.send(topic, value=r.value, key=r.key, headers=r.headers, timestamp_ms=r.timestamp)
        for r in records
    ]
    producer.flush(timeout=30)
    return [f.get(timeout=1) for f in futures]


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_every_field(
    shared_broker: BrokerProcess, closing: list[Any], codec: str
) -> None:
    if not CODEC_AVAILABLE[codec]:
        pytest.skip(f"kafka-python has no {codec} codec: install {CODEC_PACKAGE[codec]}")
    topic = unique_topic(f"kp-rt-{codec}")
    records = sample_records()
    producer = make_producer(
        closing, shared_broker.bootstrap, compression_type=None if codec == "none" else codec
    )
    metadata = send_all(producer, topic, records)
    assert [m.offset for m in metadata] == list(range(len(records)))
    assert [m.timestamp for m in metadata] == [r.timestamp for r in records]

    consumer = assigned_consumer(closing, shared_broker.bootstrap, topic)
    got = [to_got(r) for r in consume_n(consumer, len(records))]
    assert_round_trip(records, got)

    mid = assigned_consumer(closing, shared_broker.bootstrap, topic, offset=MID_BATCH_OFFSET)
    got = [to_got(r) for r in consume_n(mid, len(records) - MID_BATCH_OFFSET)]
    assert_round_trip(records, got, start=MID_BATCH_OFFSET)


def test_default_producer_config(shared_broker: BrokerProcess, closing: list[Any]) -> None:
    """Out-of-the-box KafkaProducer (idempotent, acks=all in kafka-python 3)."""
    topic = unique_topic("kp-default")
    producer = KafkaProducer(
        bootstrap_servers=shared_broker.bootstrap,
        max_block_ms=15_000,
        delivery_timeout_ms=20_000,
        request_timeout_ms=15_000,
    )
    closing.append(producer)
    futures = [producer.send(topic, value=str(i).encode(), key=b"k") for i in range(5)]
    producer.flush(timeout=30)
    try:
        offsets = [f.get(timeout=1).offset for f in futures]
    except Exception as exc:
        raise AssertionError(
            f"default (idempotent) producer failed: {exc!r}\n"
            f"--- broker log ---\n{shared_broker.log()}"
        ) from exc
    assert offsets == [0, 1, 2, 3, 4]
    consumer = assigned_consumer(closing, shared_broker.bootstrap, topic)
    assert [r.value for r in consume_n(consumer, 5)] == [str(i).encode() for i in range(5)]


def test_ten_thousand_records_in_order(shared_broker: BrokerProcess, closing: list[Any]) -> None:
    topic = unique_topic("kp-10k")
    n = 10_000
    producer = make_producer(closing, shared_broker.bootstrap, linger_ms=20, batch_size=64 * 1024)
    futures = [producer.send(topic, value=str(i).encode(), key=b"k") for i in range(n)]
    producer.flush(timeout=60)
    assert [f.get(timeout=1).offset for f in futures] == list(range(n))

    consumer = assigned_consumer(closing, shared_broker.bootstrap, topic)
    got = [to_got(r) for r in consume_n(consumer, n, timeout=60)]
    assert_in_order(got, n)


def test_large_record_ok_and_oversized_rejected(
    shared_broker: BrokerProcess, closing: list[Any]
) -> None:
    topic = unique_topic("kp-large")
    producer = make_producer(
        closing, shared_broker.bootstrap, max_request_size=CLIENT_MAX_BYTES, linger_ms=0
    )
    big = os.urandom(LARGE_OK_BYTES)
    oversized = os.urandom(OVERSIZED_BYTES)

    assert producer.send(topic, value=big, key=b"big").get(timeout=30).offset == 0

    future = producer.send(topic, value=oversized, key=b"oversized")
    with pytest.raises(MessageSizeTooLargeError) as excinfo:
        future.get(timeout=30)
    assert "max_request_size" not in str(excinfo.value), "rejected by the client, not the broker"

    assert producer.send(topic, value=b"small", key=b"after").get(timeout=30).offset == 1

    consumer = assigned_consumer(closing, shared_broker.bootstrap, topic)
    got = consume_n(consumer, 2)
    assert [(r.offset, r.key) for r in got] == [(0, b"big"), (1, b"after")]
    assert got[0].value == big
    assert got[1].value == b"small"


def test_offsets_for_times_and_earliest_latest(
    shared_broker: BrokerProcess, closing: list[Any]
) -> None:
    topic = unique_topic("kp-times")
    producer = make_producer(closing, shared_broker.bootstrap)
    send_all(producer, topic, [Rec(None, f"t{ts}".encode(), [], ts) for ts in (1000, 2000, 3000)])

    consumer = make_consumer(closing, shared_broker.bootstrap)
    tp = TopicPartition(topic, 0)

    def lookup(ts: int) -> Any:
        return consumer.offsets_for_times({tp: ts}, timeout_ms=10_000)[tp]

    found = lookup(1500)
    assert found is not None
    assert (found.offset, found.timestamp) == (1, 2000)
    assert lookup(1000).offset == 0
    assert lookup(3000).offset == 2
    assert lookup(3001) is None
    assert consumer.beginning_offsets([tp], timeout_ms=10_000) == {tp: 0}
    assert consumer.end_offsets([tp], timeout_ms=10_000) == {tp: 3}


def test_long_poll_wakes_on_produce(shared_broker: BrokerProcess, closing: list[Any]) -> None:
    """A consumer parked in Fetch (default fetch_max_wait_ms=500) must see a new record within
    milliseconds: the broker has to answer the parked Fetch as soon as data arrives."""
    topic = unique_topic("kp-latency")
    producer = make_producer(closing, shared_broker.bootstrap, linger_ms=0)
    send_all(producer, topic, [Rec(None, b"warm-up", [], BASE_TS)])

    consumer = assigned_consumer(closing, shared_broker.bootstrap, topic)
    received: dict[bytes, float] = {}
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=50).values():
                now = time.perf_counter()
                for r in records:
                    received[r.value] = now

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: b"warm-up" in received, 15, "the warm-up record")
        latencies: list[float] = []
        for i in range(LATENCY_RECORDS):
            time.sleep(spacing(i))
            value = f"probe-{i}".encode()
            acked: list[float] = []
            future = producer.send(topic, value=value)
            future.add_callback(lambda _md, a=acked: a.append(time.perf_counter()))
            future.get(timeout=10)
            # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
            wait_for(lambda a=acked: a, 5, f"probe {i} ack callback", interval=0.001)  # type: ignore[misc]
            wait_for(
                lambda v=value: v in received,  # type: ignore[misc]
                5,
                f"probe {i} at the consumer",
                interval=0.001,
            )
            latencies.append(received[value] - acked[0])
    finally:
        stop.set()
        thread.join(5)
    assert_low_latency(latencies, shared_broker.log())


def test_admin_create_delete_topics(shared_broker: BrokerProcess, closing: list[Any]) -> None:
    topic = unique_topic("kp-admin")
    admin = KafkaAdminClient(bootstrap_servers=shared_broker.bootstrap, request_timeout_ms=15_000)
    closing.append(admin)

    result = admin.create_topics(
        {topic: {"num_partitions": 3, "replication_factor": 1}}, timeout_ms=10_000
    )
    assert [(t["name"], t["error_code"]) for t in result["topics"]] == [(topic, 0)]

    def described() -> dict[str, Any] | None:
        [meta] = admin.describe_topics([topic])
        return meta if meta["error_code"] == 0 and len(meta["partitions"]) == 3 else None

    meta = wait_for(described, 10, "3 partitions in metadata")
    assert isinstance(meta, dict)
    assert sorted(p["partition_index"] for p in meta["partitions"]) == [0, 1, 2]
    assert topic in admin.list_topics()

    with pytest.raises(TopicAlreadyExistsError):
        admin.create_topics(
            {topic: {"num_partitions": 3, "replication_factor": 1}}, timeout_ms=10_000
        )
    dup = admin.create_topics(
        {topic: {"num_partitions": 3, "replication_factor": 1}},
        timeout_ms=10_000,
        raise_errors=False,
    )
    assert [t["error_code"] for t in dup["topics"]] == [TOPIC_ALREADY_EXISTS]

    deleted = admin.delete_topics([topic], timeout_ms=10_000)
    assert [(t["name"], t["error_code"]) for t in deleted["topics"]] == [(topic, 0)]
    wait_for(lambda: topic not in admin.list_topics(), 10, "the deleted topic to leave metadata")
    [meta] = admin.describe_topics([topic])
    assert meta["error_code"] == UNKNOWN_TOPIC_OR_PARTITION


def test_unknown_topic_without_auto_create(broker_factory: Any, closing: list[Any]) -> None:
    broker: BrokerProcess = broker_factory(overrides={"auto.create.topics.enable": "false"})
    topic = unique_topic("kp-unknown")
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15_000)
    closing.append(admin)
    [meta] = admin.describe_topics([topic])
    assert meta["name"] == topic
    assert meta["error_code"] == UNKNOWN_TOPIC_OR_PARTITION, f"{meta}\n{broker.log()}"

    # The consumer's metadata view: the topic does not exist, and asking did not create it.
    consumer = make_consumer(closing, broker.bootstrap)
    assert topic not in consumer.topics()
    [meta] = admin.describe_topics([topic])
    assert meta["error_code"] == UNKNOWN_TOPIC_OR_PARTITION
