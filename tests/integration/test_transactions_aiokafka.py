"""Transactions with aiokafka (AIOKafkaProducer with a transactional_id): begin, commit,
abort, send_offsets_to_transaction and fencing, checked with aiokafka consumers in both
isolation levels."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced

from tests.integration.test_transactions_confluent import (
    OVERRIDES,
    create_topics,
    unique,
)
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TIMEOUT = 30.0


@pytest.fixture(scope="module")
def txn_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(tmp_path_factory.mktemp("aio-txn") / "data", overrides=OVERRIDES)
    broker.start()
    yield broker
    broker.kill()


@pytest.fixture
async def closing() -> AsyncIterator[list[Any]]:
    clients: list[Any] = []
    yield clients
    for client in reversed(clients):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.stop(), 10)


async def txn_producer(closing: list[Any], bootstrap: str, tid: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=tid,
        transaction_timeout_ms=10_000,
        request_timeout_ms=15_000,
    )
    await asyncio.wait_for(producer.start(), TIMEOUT)  # InitProducerId
    closing.append(producer)
    return producer


async def read_all(
    bootstrap: str, topic: str, isolation: str, group: str | None = None
) -> list[tuple[int, bytes | None]]:
    """(offset, value) of partition 0 from the start to the end offset the consumer's
    isolation level reports (the LSO for read_committed)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level=isolation,
        enable_auto_commit=False,
        group_id=group,
    )
    await asyncio.wait_for(consumer.start(), TIMEOUT)
    tp = TopicPartition(topic, 0)
    got: list[tuple[int, bytes | None]] = []
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        async with asyncio.timeout(TIMEOUT):
            while await consumer.position(tp) < end:
                batches = await consumer.getmany(tp, timeout_ms=200)
                got += [(m.offset, m.value) for m in batches.get(tp, [])]
    finally:
        await consumer.stop()
    return got


def values(records: list[tuple[int, bytes | None]]) -> list[bytes | None]:
    return [v for _, v in records]


async def test_commit_and_abort(txn_broker: BrokerProcess, closing: list[Any]) -> None:
    bootstrap = txn_broker.bootstrap
    t1, t2 = unique("aio-txn-a"), unique("aio-txn-b")
    create_topics(bootstrap, t1, t2)
    producer = await txn_producer(closing, bootstrap, unique("tid"))
    async with producer.transaction():
        for i in range(4):
            await producer.send(t1, b"c1-%d" % i, partition=0)
            await producer.send(t2, b"c2-%d" % i, partition=0)
    await producer.begin_transaction()
    sent = [await producer.send_and_wait(t, b"aborted", partition=0) for t in (t1, t2)]
    assert [m.offset for m in sent] == [5, 5]  # after 4 records and a COMMIT marker
    await producer.abort_transaction()
    await producer.begin_transaction()
    await producer.send(t2, b"c2-last", partition=0)
    await producer.commit_transaction()

    assert values(await read_all(bootstrap, t1, "read_committed")) == [
        b"c1-%d" % i for i in range(4)
    ]
    assert values(await read_all(bootstrap, t2, "read_committed")) == [
        b"c2-%d" % i for i in range(4)
    ] + [b"c2-last"]
    uncommitted = await read_all(bootstrap, t2, "read_uncommitted")
    assert uncommitted == [(i, b"c2-%d" % i) for i in range(4)] + [(5, b"aborted"), (7, b"c2-last")]


async def test_send_offsets_to_transaction(txn_broker: BrokerProcess, closing: list[Any]) -> None:
    bootstrap = txn_broker.bootstrap
    source, sink = unique("aio-src"), unique("aio-sink")
    create_topics(bootstrap, source, sink)
    group = unique("aio-group")
    tp = TopicPartition(source, 0)
    producer = await txn_producer(closing, bootstrap, unique("tid"))
    observer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await observer.start()
    closing.append(observer)

    await producer.begin_transaction()
    await producer.send_and_wait(sink, b"out-1", partition=0)
    await producer.send_offsets_to_transaction({tp: 5}, group)
    assert await observer.committed(tp) is None
    await producer.commit_transaction()
    assert await observer.committed(tp) == 5

    await producer.begin_transaction()
    await producer.send_and_wait(sink, b"out-2", partition=0)
    await producer.send_offsets_to_transaction({tp: 9}, group)
    await producer.abort_transaction()
    assert await observer.committed(tp) == 5
    assert values(await read_all(bootstrap, sink, "read_committed")) == [b"out-1"]


async def test_second_producer_fences_the_first(
    txn_broker: BrokerProcess, closing: list[Any]
) -> None:
    bootstrap = txn_broker.bootstrap
    topic = unique("aio-fence")
    create_topics(bootstrap, topic)
    tid = unique("tid")
    first = await txn_producer(closing, bootstrap, tid)
    await first.begin_transaction()
    await first.send_and_wait(topic, b"zombie", partition=0)
    second = await txn_producer(closing, bootstrap, tid)
    with pytest.raises(KafkaError) as raised:
        await asyncio.wait_for(first.commit_transaction(), TIMEOUT)
    assert isinstance(raised.value, ProducerFenced), repr(raised.value)
    async with second.transaction():
        await second.send(topic, b"winner", partition=0)
    assert values(await read_all(bootstrap, topic, "read_committed")) == [b"winner"]
