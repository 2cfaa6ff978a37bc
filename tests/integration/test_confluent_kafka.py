"""confluent-kafka (librdkafka) against a real broker process over real sockets.

librdkafka refuses to build a consumer without ``group.id``; the consumers here set a unique one
with auto-commit off and only ever use ``assign()`` with explicit offsets, so no group protocol
request is needed for the data path.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import (
    OFFSET_END,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
    OffsetSpec,
)

from tests.integration.clients import (
    BASE_TS,
    CLIENT_MAX_BYTES,
    CODECS,
    LARGE_OK_BYTES,
    LATENCY_RECORDS,
    MID_BATCH_OFFSET,
    OVERSIZED_BYTES,
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

DELIVERY_TIMEOUT_MS = 20_000


def make_producer(bootstrap: str, **extra: Any) -> Producer:
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "linger.ms": 5,
        "message.timeout.ms": DELIVERY_TIMEOUT_MS,
    }
    conf.update(extra)
    return Producer(conf)


def make_consumer(bootstrap: str, **extra: Any) -> Consumer:
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": unique_topic("ck-unused-group"),
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
    }
    conf.update(extra)
    return Consumer(conf)


@pytest.fixture
def consumers() -> Iterator[list[Consumer]]:
    made: list[Consumer] = []
    yield made
    for consumer in made:
        consumer.close()


class Deliveries:
    """Collects delivery reports."""

    def __init__(self) -> None:
        self.reports: list[tuple[KafkaError | None, Message]] = []

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        self.reports.append((err, msg))

    def errors(self) -> list[KafkaError]:
        return [err for err, _ in self.reports if err is not None]

    def offsets(self) -> list[int]:
        offsets: list[int] = []
        for err, msg in self.reports:
            if err is None:
                offset = msg.offset()
                assert offset is not None  # acks >= 1: the broker assigned it one
                offsets.append(offset)
        return offsets


def produce_all(producer: Producer, topic: str, records: list[Rec]) -> Deliveries:
    dr = Deliveries()
    for r in records:
        producer.produce(
            topic,
            value=r.value,
            key=r.key,
            headers=list(r.headers) or None,
            timestamp=r.timestamp,
            on_delivery=dr,
        )
    remaining = producer.flush(DELIVERY_TIMEOUT_MS / 1000 + 5)
    assert remaining == 0, f"{remaining} messages still undelivered"
    assert not dr.errors(), f"delivery errors: {dr.errors()[:5]}"
    assert len(dr.reports) == len(records)
    return dr


def to_got(msg: Message) -> Got:
    ts_type, ts = msg.timestamp()
    partition, offset = msg.partition(), msg.offset()
    assert partition is not None and offset is not None  # a record names both
    # ignore[arg-type]: the stubs type headers() for producing too (a dict, str values); a
    # consumed record's are a list of (str, bytes) pairs
    return Got(
        partition=partition,
        offset=offset,
        key=msg.key(),
        value=msg.value(),
        headers=list(msg.headers() or []),  # type: ignore[arg-type]
        timestamp=ts,
        create_time=ts_type == TIMESTAMP_CREATE_TIME,
    )


def consume_n(consumer: Consumer, n: int, timeout: float = 30.0) -> list[Message]:
    """Consume exactly ``n`` messages (or fail with what arrived by the deadline)."""
    out: list[Message] = []
    other_errors: list[str] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=min(1000, n - len(out)), timeout=0.2):
            err = msg.error()
            if err is None:
                out.append(msg)
            elif err.fatal() or msg.topic():
                raise AssertionError(f"consumer error on {msg.topic()}[{msg.partition()}]: {err}")
            else:  # client-level (e.g. group coordinator) noise: report only if short
                other_errors.append(str(err))
    assert len(out) == n, (
        f"consumed {len(out)} of {n} messages in {timeout}s; client errors: {other_errors[:10]}"
    )
    return out


def assigned_consumer(
    consumers: list[Consumer],
    bootstrap: str,
    topic: str,
    offset: int = 0,
    partition: int = 0,
    **extra: Any,
) -> Consumer:
    consumer = make_consumer(bootstrap, **extra)
    consumers.append(consumer)
    consumer.assign([TopicPartition(topic, partition, offset)])
    return consumer


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_every_field(
    shared_broker: BrokerProcess, consumers: list[Consumer], codec: str
) -> None:
    topic = unique_topic(f"ck-rt-{codec}")
    records = sample_records()
    producer = make_producer(shared_broker.bootstrap, **{"compression.type": codec})
    dr = produce_all(producer, topic, records)
    assert dr.offsets() == list(range(len(records)))
    for (_, msg), rec in zip(dr.reports, records, strict=True):
        assert msg.timestamp() == (TIMESTAMP_CREATE_TIME, rec.timestamp)

    consumer = assigned_consumer(consumers, shared_broker.bootstrap, topic)
    got = [to_got(m) for m in consume_n(consumer, len(records))]
    assert_round_trip(records, got)

    mid = assigned_consumer(consumers, shared_broker.bootstrap, topic, offset=MID_BATCH_OFFSET)
    got = [to_got(m) for m in consume_n(mid, len(records) - MID_BATCH_OFFSET)]
    assert_round_trip(records, got, start=MID_BATCH_OFFSET)


def test_ten_thousand_records_in_order(
    shared_broker: BrokerProcess, consumers: list[Consumer]
) -> None:
    topic = unique_topic("ck-10k")
    n = 10_000
    producer = make_producer(shared_broker.bootstrap, **{"linger.ms": 20})
    dr = Deliveries()
    for i in range(n):
        producer.produce(topic, value=str(i).encode(), key=b"k", on_delivery=dr)
        if i % 1000 == 999:
            producer.poll(0)
    assert producer.flush(DELIVERY_TIMEOUT_MS / 1000 + 10) == 0
    assert not dr.errors(), dr.errors()[:5]
    assert sorted(dr.offsets()) == list(range(n))

    consumer = assigned_consumer(consumers, shared_broker.bootstrap, topic)
    got = [to_got(m) for m in consume_n(consumer, n, timeout=60)]
    assert_in_order(got, n)


def test_large_record_ok_and_oversized_rejected(
    shared_broker: BrokerProcess, consumers: list[Consumer]
) -> None:
    topic = unique_topic("ck-large")
    producer = make_producer(
        shared_broker.bootstrap,
        **{"message.max.bytes": CLIENT_MAX_BYTES, "batch.size": CLIENT_MAX_BYTES, "linger.ms": 0},
    )
    big = os.urandom(LARGE_OK_BYTES)
    oversized = os.urandom(OVERSIZED_BYTES)

    dr = Deliveries()
    producer.produce(topic, value=big, key=b"big", on_delivery=dr)
    assert producer.flush(30) == 0
    assert not dr.errors(), f"900 KB record rejected: {dr.errors()}"
    assert dr.offsets() == [0]

    dr = Deliveries()
    producer.produce(topic, value=oversized, key=b"oversized", on_delivery=dr)
    assert producer.flush(30) == 0
    assert len(dr.reports) == 1
    err = dr.reports[0][0]
    assert err is not None, "a 2 MB record was accepted by a broker with max.message.bytes ~1 MB"
    assert err.code() == KafkaError.MSG_SIZE_TOO_LARGE, f"unexpected error: {err}"

    dr = Deliveries()
    producer.produce(topic, value=b"small", key=b"after", on_delivery=dr)
    assert producer.flush(30) == 0
    assert not dr.errors(), f"producer broken after the rejection: {dr.errors()}"
    assert dr.offsets() == [1]

    consumer = assigned_consumer(consumers, shared_broker.bootstrap, topic)
    got = consume_n(consumer, 2)
    assert [(m.offset(), m.key()) for m in got] == [(0, b"big"), (1, b"after")]
    assert got[0].value() == big
    assert got[1].value() == b"small"


def test_offsets_for_times_and_watermarks(
    shared_broker: BrokerProcess, consumers: list[Consumer]
) -> None:
    topic = unique_topic("ck-times")
    records = [Rec(None, f"t{ts}".encode(), [], ts) for ts in (1000, 2000, 3000)]
    produce_all(make_producer(shared_broker.bootstrap), topic, records)

    consumer = make_consumer(shared_broker.bootstrap)
    consumers.append(consumer)

    def lookup(ts: int) -> TopicPartition:
        [tp] = consumer.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
        assert tp.error is None, tp.error
        return tp

    assert lookup(1500).offset == 1
    assert lookup(1000).offset == 0
    assert lookup(3000).offset == 2
    assert lookup(1).offset == 0
    assert lookup(3001).offset == OFFSET_END  # -1: no record at or after it
    assert consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (0, 3)

    # The same through the AdminClient's ListOffsets.
    admin = AdminClient({"bootstrap.servers": shared_broker.bootstrap})
    tp = TopicPartition(topic, 0)
    specs = {
        "earliest": OffsetSpec.earliest(),
        "latest": OffsetSpec.latest(),
        "1500": OffsetSpec.for_timestamp(1500),
        "9999": OffsetSpec.for_timestamp(9999),
    }
    results = {}
    for name, spec in specs.items():
        futures = admin.list_offsets({tp: spec}, request_timeout=10)
        results[name] = futures[tp].result(timeout=15)
    assert results["earliest"].offset == 0
    assert results["latest"].offset == 3
    assert results["1500"].offset == 1
    assert results["1500"].timestamp == 2000
    assert results["9999"].offset == -1


def test_long_poll_wakes_on_produce(
    shared_broker: BrokerProcess, consumers: list[Consumer]
) -> None:
    """A consumer parked in Fetch (default fetch.wait.max.ms=500) must see a new record within
    milliseconds: the broker has to answer the parked Fetch as soon as data arrives."""
    topic = unique_topic("ck-latency")
    producer = make_producer(shared_broker.bootstrap, **{"linger.ms": 0})
    produce_all(producer, topic, [Rec(None, b"warm-up", [], BASE_TS)])

    consumer = assigned_consumer(consumers, shared_broker.bootstrap, topic, offset=0)
    received: dict[bytes | None, float] = {}
    stop = threading.Event()
    errors: list[str] = []

    def run() -> None:
        while not stop.is_set():
            msg = consumer.poll(0.05)
            if msg is None:
                continue
            if msg.error():
                errors.append(str(msg.error()))
            else:
                received[msg.value()] = time.perf_counter()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: b"warm-up" in received, 15, f"the warm-up record ({errors})")
        latencies: list[float] = []
        for i in range(LATENCY_RECORDS):
            time.sleep(spacing(i))
            value = f"probe-{i}".encode()
            acked: list[float] = []
            # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
            producer.produce(
                topic,
                value=value,
                on_delivery=lambda err, _m, a=acked: (
                    a.append(time.perf_counter())  # type: ignore[misc]
                    if err is None
                    else None
                ),
            )
            assert producer.flush(10) == 0
            assert acked, f"probe {i} not acknowledged"
            # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
            wait_for(
                lambda v=value: v in received,  # type: ignore[misc]
                5,
                f"probe {i} at the consumer ({errors})",
                interval=0.001,
            )
            latencies.append(received[value] - acked[0])
    finally:
        stop.set()
        thread.join(5)
    assert_low_latency(latencies, shared_broker.log())


def test_admin_create_delete_topics(shared_broker: BrokerProcess) -> None:
    topic = unique_topic("ck-admin")
    admin = AdminClient({"bootstrap.servers": shared_broker.bootstrap})

    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=3, replication_factor=1)],
        operation_timeout=10,
        request_timeout=15,
    )
    futures[topic].result(timeout=20)

    def partitions() -> int:
        md = admin.list_topics(timeout=10)
        meta = md.topics.get(topic)
        return 0 if meta is None or meta.error is not None else len(meta.partitions)

    wait_for(lambda: partitions() == 3, 10, "3 partitions in metadata")
    md = admin.list_topics(timeout=10)
    assert sorted(md.topics[topic].partitions) == [0, 1, 2]
    assert {p.leader for p in md.topics[topic].partitions.values()} == {0}

    # Each partition takes writes.
    producer = make_producer(shared_broker.bootstrap)
    dr = Deliveries()
    for p in range(3):
        producer.produce(topic, value=f"p{p}".encode(), partition=p, on_delivery=dr)
    assert producer.flush(20) == 0
    assert not dr.errors(), dr.errors()
    assert sorted((m.partition(), m.offset()) for _, m in dr.reports) == [(0, 0), (1, 0), (2, 0)]

    dup = admin.create_topics(
        [NewTopic(topic, num_partitions=3, replication_factor=1)], request_timeout=15
    )
    with pytest.raises(KafkaException) as excinfo:
        dup[topic].result(timeout=20)
    assert excinfo.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS, excinfo.value

    admin.delete_topics([topic], operation_timeout=10, request_timeout=15)[topic].result(20)
    wait_for(
        lambda: topic not in admin.list_topics(timeout=10).topics,
        10,
        "the deleted topic to leave metadata",
    )


def test_unknown_topic_without_auto_create(broker_factory: Any) -> None:
    broker: BrokerProcess = broker_factory(overrides={"auto.create.topics.enable": "false"})
    topic = unique_topic("ck-unknown")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    md = admin.list_topics(topic=topic, timeout=10)
    assert topic in md.topics, f"metadata has no entry for {topic}: {md.topics}"
    err = md.topics[topic].error
    assert err is not None, f"no error for an unknown topic: {md.topics[topic]}\n{broker.log()}"
    assert err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, err

    # A producer fails the record instead of creating the topic.
    producer = make_producer(
        broker.bootstrap, **{"topic.metadata.propagation.max.ms": 1000, "message.timeout.ms": 5000}
    )
    dr = Deliveries()
    producer.produce(topic, value=b"nowhere", on_delivery=dr)
    assert producer.flush(15) == 0
    [(err, _)] = dr.reports
    assert err is not None
    assert err.code() in (KafkaError._UNKNOWN_TOPIC, KafkaError.UNKNOWN_TOPIC_OR_PART), err
    md = admin.list_topics(topic=topic, timeout=10)
    topic_error = md.topics[topic].error
    assert topic_error is not None, "the topic was created anyway"
    assert topic_error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
