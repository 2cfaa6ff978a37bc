"""aiokafka against a real broker process over real sockets."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError

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
)
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TIMEOUT = 30.0


@pytest.fixture
async def closing() -> AsyncIterator[list[Any]]:
    """Started clients appended here are stopped/closed after the test."""
    clients: list[Any] = []
    yield clients
    for client in reversed(clients):
        if isinstance(client, AIOKafkaAdminClient):
            await client.close()
        else:
            await client.stop()


async def make_producer(closing: list[Any], bootstrap: str, **extra: Any) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=15_000, **extra)
    await asyncio.wait_for(producer.start(), TIMEOUT)
    closing.append(producer)
    return producer


async def assigned_consumer(
    closing: list[Any], bootstrap: str, topic: str | None = None, offset: int = 0, **extra: Any
) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=15_000,
        **extra,
    )
    await asyncio.wait_for(consumer.start(), TIMEOUT)
    closing.append(consumer)
    if topic is not None:
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
        headers=[tuple(h) for h in rec.headers or ()],
        timestamp=rec.timestamp,
        create_time=rec.timestamp_type == 0,
    )


async def consume_n(consumer: AIOKafkaConsumer, n: int, timeout: float = TIMEOUT) -> list[Any]:
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=200, max_records=n - len(out))
        for records in batches.values():
            out.extend(records)
    assert len(out) == n, f"consumed {len(out)} of {n} records in {timeout}s"
    return out


async def send_all(producer: AIOKafkaProducer, topic: str, records: list[Rec]) -> list[Any]:
    futures = [
        await producer.send(
            topic, value=r.value, key=r.key, headers=r.headers, timestamp_ms=r.timestamp
        )
        for r in records
    ]
    return list(await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT))


@pytest.mark.parametrize("codec", CODECS)
async def test_round_trip_every_field(
    shared_broker: BrokerProcess, closing: list[Any], codec: str
) -> None:
    topic = unique_topic(f"aio-rt-{codec}")
    records = sample_records()
    producer = await make_producer(
        closing,
        shared_broker.bootstrap,
        linger_ms=5,
        compression_type=None if codec == "none" else codec,
    )
    metadata = await send_all(producer, topic, records)
    assert [m.offset for m in metadata] == list(range(len(records)))
    # CreateTime: the broker answered log_append_time -1.  (RecordMetadata.timestamp itself is
    # not checked: aiokafka's ProducerBatch.done() overwrites its loop variable and reports the
    # batch's first timestamp for every record; the consumer side below checks timestamps.)
    assert [m.timestamp_type for m in metadata] == [0] * len(records)
    assert metadata[0].timestamp == records[0].timestamp

    consumer = await assigned_consumer(closing, shared_broker.bootstrap, topic)
    got = [to_got(r) for r in await consume_n(consumer, len(records))]
    assert_round_trip(records, got)

    mid = await assigned_consumer(closing, shared_broker.bootstrap, topic, offset=MID_BATCH_OFFSET)
    got = [to_got(r) for r in await consume_n(mid, len(records) - MID_BATCH_OFFSET)]
    assert_round_trip(records, got, start=MID_BATCH_OFFSET)


async def test_idempotent_producer(shared_broker: BrokerProcess, closing: list[Any]) -> None:
    """aiokafka's idempotent producer (InitProducerId + sequenced batches)."""
    topic = unique_topic("aio-idem")
    records = [Rec(b"k", str(i).encode(), [], BASE_TS + i) for i in range(5)]
    try:
        producer = await make_producer(closing, shared_broker.bootstrap, enable_idempotence=True)
        metadata = await send_all(producer, topic, records)
    except Exception as exc:
        raise AssertionError(
            f"idempotent producer failed: {exc!r}\n--- broker log ---\n{shared_broker.log()}"
        ) from exc
    assert [m.offset for m in metadata] == [0, 1, 2, 3, 4]


async def test_ten_thousand_records_in_order(
    shared_broker: BrokerProcess, closing: list[Any]
) -> None:
    topic = unique_topic("aio-10k")
    n = 10_000
    producer = await make_producer(
        closing, shared_broker.bootstrap, linger_ms=20, max_batch_size=64 * 1024
    )
    futures = [await producer.send(topic, value=str(i).encode(), key=b"k") for i in range(n)]
    metadata = await asyncio.wait_for(asyncio.gather(*futures), 60)
    assert [m.offset for m in metadata] == list(range(n))

    consumer = await assigned_consumer(closing, shared_broker.bootstrap, topic)
    got = [to_got(r) for r in await consume_n(consumer, n, timeout=60)]
    assert_in_order(got, n)


async def test_large_record_ok_and_oversized_rejected(
    shared_broker: BrokerProcess, closing: list[Any]
) -> None:
    topic = unique_topic("aio-large")
    producer = await make_producer(
        closing, shared_broker.bootstrap, max_request_size=CLIENT_MAX_BYTES
    )
    big = os.urandom(LARGE_OK_BYTES)
    oversized = os.urandom(OVERSIZED_BYTES)

    md = await asyncio.wait_for(producer.send_and_wait(topic, value=big, key=b"big"), TIMEOUT)
    assert md.offset == 0

    future = await producer.send(topic, value=oversized, key=b"oversized")
    with pytest.raises(MessageSizeTooLargeError):
        await asyncio.wait_for(future, TIMEOUT)

    md = await asyncio.wait_for(
        producer.send_and_wait(topic, value=b"small", key=b"after"), TIMEOUT
    )
    assert md.offset == 1, "producer broken after the rejection"

    consumer = await assigned_consumer(
        closing, shared_broker.bootstrap, topic, max_partition_fetch_bytes=CLIENT_MAX_BYTES
    )
    got = await consume_n(consumer, 2)
    assert [(r.offset, r.key) for r in got] == [(0, b"big"), (1, b"after")]
    assert got[0].value == big
    assert got[1].value == b"small"


async def test_offsets_for_times_and_earliest_latest(
    shared_broker: BrokerProcess, closing: list[Any]
) -> None:
    topic = unique_topic("aio-times")
    producer = await make_producer(closing, shared_broker.bootstrap)
    await send_all(
        producer, topic, [Rec(None, f"t{ts}".encode(), [], ts) for ts in (1000, 2000, 3000)]
    )

    consumer = await assigned_consumer(closing, shared_broker.bootstrap)
    tp = TopicPartition(topic, 0)

    async def lookup(ts: int) -> Any:
        result = await asyncio.wait_for(consumer.offsets_for_times({tp: ts}), TIMEOUT)
        return result[tp]

    found = await lookup(1500)
    assert found is not None
    assert (found.offset, found.timestamp) == (1, 2000)
    assert (await lookup(1000)).offset == 0
    assert (await lookup(3000)).offset == 2
    assert await lookup(3001) is None
    assert await asyncio.wait_for(consumer.beginning_offsets([tp]), TIMEOUT) == {tp: 0}
    assert await asyncio.wait_for(consumer.end_offsets([tp]), TIMEOUT) == {tp: 3}


async def test_long_poll_wakes_on_produce(shared_broker: BrokerProcess, closing: list[Any]) -> None:
    """A consumer parked in Fetch (default fetch_max_wait_ms=500) must see a new record within
    milliseconds: the broker has to answer the parked Fetch as soon as data arrives."""
    topic = unique_topic("aio-latency")
    producer = await make_producer(closing, shared_broker.bootstrap)
    await send_all(producer, topic, [Rec(None, b"warm-up", [], BASE_TS)])

    consumer = await assigned_consumer(closing, shared_broker.bootstrap, topic)
    first = await asyncio.wait_for(consumer.getone(), TIMEOUT)
    assert first.value == b"warm-up"

    latencies: list[float] = []
    for i in range(LATENCY_RECORDS):
        receive = asyncio.ensure_future(consumer.getone())
        await asyncio.sleep(spacing(i))  # lets the consumer's Fetch park at the broker
        assert not receive.done(), "a record arrived before it was produced"
        value = f"probe-{i}".encode()
        await asyncio.wait_for(producer.send_and_wait(topic, value=value), 10)
        acked = time.perf_counter()
        record = await asyncio.wait_for(receive, 5)
        received = time.perf_counter()
        assert record.value == value
        latencies.append(received - acked)
    assert_low_latency(latencies, shared_broker.log())


async def test_admin_create_delete_topics(shared_broker: BrokerProcess, closing: list[Any]) -> None:
    topic = unique_topic("aio-admin")
    admin = AIOKafkaAdminClient(
        bootstrap_servers=shared_broker.bootstrap, request_timeout_ms=15_000
    )
    await asyncio.wait_for(admin.start(), TIMEOUT)
    closing.append(admin)

    response = await admin.create_topics([NewTopic(topic, 3, 1)], timeout_ms=10_000)
    assert [tuple(e[:2]) for e in response.topic_errors] == [(topic, 0)]

    async def partitions() -> int:
        [meta] = await admin.describe_topics([topic])
        return 0 if meta["error_code"] else len(meta["partitions"])

    deadline = time.monotonic() + 10
    while await partitions() != 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert await partitions() == 3

    dup = await admin.create_topics([NewTopic(topic, 3, 1)], timeout_ms=10_000)
    assert [tuple(e[:2]) for e in dup.topic_errors] == [(topic, TOPIC_ALREADY_EXISTS)]

    deleted = await admin.delete_topics([topic], timeout_ms=10_000)
    assert [tuple(e[:2]) for e in deleted.topic_error_codes] == [(topic, 0)]
    deadline = time.monotonic() + 10
    while topic in await admin.list_topics() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert topic not in await admin.list_topics()


async def test_unknown_topic_without_auto_create(broker_factory: Any, closing: list[Any]) -> None:
    broker: BrokerProcess = broker_factory(overrides={"auto.create.topics.enable": "false"})
    topic = unique_topic("aio-unknown")
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15_000)
    await asyncio.wait_for(admin.start(), TIMEOUT)
    closing.append(admin)
    [meta] = await admin.describe_topics([topic])
    assert meta["topic"] == topic
    assert meta["error_code"] == UNKNOWN_TOPIC_OR_PARTITION, f"{meta}\n{broker.log()}"

    # The consumer's view: no such topic, and asking did not create it.
    consumer = await assigned_consumer(closing, broker.bootstrap)
    assert topic not in await consumer.topics()
    [meta] = await admin.describe_topics([topic])
    assert meta["error_code"] == UNKNOWN_TOPIC_OR_PARTITION
