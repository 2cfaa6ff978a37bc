"""A consumer group with aiokafka: ``getmany`` and manual commits.

Two members run concurrently on one event loop. A batch counts as processed only once its commit
succeeded; a commit refused because of a rebalance makes the member rewind to the batch start
(or drop the partition if it lost it), as an application that must not lose records does.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

NO_DELAY = {"group.initial.rebalance.delay.ms": "0"}
PARTITIONS = 4


class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.assigned: list[set[TopicPartition]] = []

    async def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.assigned.append(set(assigned))


class GroupMember:
    def __init__(self, bootstrap: str, topic: str, group: str, name: str) -> None:
        self.name = name
        self.listener = Listener()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
            max_poll_records=25,
        )
        self.topic = topic
        self.processed: list[tuple[int, int]] = []
        self.commit_failures = 0
        self.task: asyncio.Task[None] | None = None
        self.stopping = False

    async def start(self) -> None:
        await self.consumer.start()
        self.consumer.subscribe([self.topic], listener=self.listener)
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        while not self.stopping:
            batches = await self.consumer.getmany(timeout_ms=200)
            for tp, messages in batches.items():
                if not messages:
                    continue
                try:
                    await self.consumer.commit({tp: messages[-1].offset + 1})
                except (CommitFailedError, KafkaError):
                    self.commit_failures += 1
                    try:
                        self.consumer.seek(tp, messages[0].offset)
                    except IllegalStateError:
                        pass  # no longer ours: its new owner starts at the committed offset
                    continue
                self.processed.extend((tp.partition, m.offset) for m in messages)

    async def stop(self) -> None:
        self.stopping = True
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)
        await self.consumer.stop()

    def assignment(self) -> set[int]:
        return {tp.partition for tp in self.consumer.assignment()}


async def produce(bootstrap: str, topic: str, values: range) -> set[tuple[int, int]]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        results = [
            await producer.send(topic, value=str(i).encode(), partition=i % PARTITIONS)
            for i in values
        ]
        metadata = [await r for r in results]
        return {(m.partition, m.offset) for m in metadata}
    finally:
        await producer.stop()


async def wait_until(predicate: Any, timeout: float, what: str, details: Any = str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {details()}")
        await asyncio.sleep(0.05)


async def test_group_getmany_manual_commit(broker_factory: Any) -> None:
    broker: BrokerProcess = broker_factory(overrides=NO_DELAY)
    topic, group = f"aio-{uuid.uuid4().hex[:8]}", f"aio-group-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()

    members = [GroupMember(broker.bootstrap, topic, group, f"m{i}") for i in range(2)]
    try:
        for member in members:
            await member.start()
        await wait_until(
            lambda: (
                [len(m.assignment()) for m in members] == [2, 2]
                and members[0].assignment().isdisjoint(members[1].assignment())
            ),
            30,
            "two members with two partitions each",
            lambda: (broker.log(), [m.assignment() for m in members]),
        )

        def consumed() -> Counter[tuple[int, int]]:
            return Counter(x for m in members for x in m.processed)

        wanted = await produce(broker.bootstrap, topic, range(200))
        await wait_until(
            lambda: set(consumed()) >= wanted,
            30,
            "200 records",
            lambda: (len(consumed()), broker.log()),
        )
        for member in members:
            assert {p for p, _ in member.processed} <= member.assignment()

        # One member leaves; the other takes over and nothing is processed twice.
        leaving, staying = members
        await leaving.stop()
        await wait_until(
            lambda: staying.assignment() == set(range(PARTITIONS)),
            30,
            "the takeover",
            lambda: broker.log(),
        )
        wanted |= await produce(broker.bootstrap, topic, range(200, 400))
        await wait_until(
            lambda: set(consumed()) >= wanted,
            30,
            "400 records",
            lambda: (len(consumed()), broker.log()),
        )
        await asyncio.sleep(0.3)
        counts = consumed()
        assert set(counts) == wanted
        assert all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n > 1}
        await staying.stop()
    finally:
        for member in members:
            if not member.stopping:
                await member.stop()

    # A new member resumes after the committed offsets.
    more = await produce(broker.bootstrap, topic, range(400, 440))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    try:
        for p in range(PARTITIONS):
            assert await consumer.committed(TopicPartition(topic, p)) == 100
        consumer.subscribe([topic])
        seen: set[tuple[int, int]] = set()
        deadline = time.monotonic() + 30
        while len(seen) < len(more) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            seen |= {(tp.partition, m.offset) for tp, ms in batches.items() for m in ms}
        assert seen == more
    finally:
        await consumer.stop()
