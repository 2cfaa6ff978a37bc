"""KIP-848's online migration with confluent-kafka (librdkafka) against a real broker: a group
of three ``group.protocol=classic`` consumers replaced one by one by ``group.protocol=consumer``
ones (and the other way round) keeps its committed offsets, keeps consuming every partition,
consumes no record a second time, and ends up a group of the new kind.

Each consumer (test_consumer_group_protocol's ``Member``) polls on its own thread and commits
synchronously what it consumed (retrying a commit a rebalance refused). A step waits until
everything produced so far is consumed and committed, so a consumer started later must
consume only records produced after it started.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    ConsumerGroupType,
    KafkaException,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from tests.integration.test_consumer_group_protocol import (
    FAST,
    NO_DELAY,
    PARTITIONS,
    Member,
    produce,
    uid,
    wait_until,
)
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

DEADLINE = 120  # seconds: the machine is loaded


def classic(strategy: str) -> dict[str, Any]:
    return {
        "group.protocol": "classic",
        "partition.assignment.strategy": strategy,
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 500,
    }


CONSUMER: dict[str, Any] = {"group.protocol": "consumer"}


class GroupConsumer(Member):
    """A consumer of the migration (its protocol and settings in ``config``), named after
    them in failure reports."""

    def __init__(self, bootstrap: str, group: str, topic: str, config: dict[str, Any]) -> None:
        self.name_ = f"{config['group.protocol']}-{config.get('partition.assignment.strategy', '')}"
        settings = {k: v for k, v in config.items() if k != "group.protocol"}
        super().__init__(bootstrap, group, topic, config["group.protocol"], settings)

    def describe(self) -> str:
        return f"{self.name_}: {super().describe()}"


def consumption_counts(consumers: list[GroupConsumer]) -> Counter[tuple[int, int]]:
    """How many times each (partition, offset) was consumed, over all ``consumers``."""
    return Counter(r for consumer in consumers for r in consumer.consumed_records())


@pytest.fixture
def consumers() -> Iterator[list[GroupConsumer]]:
    started: list[GroupConsumer] = []
    yield started
    for consumer in started:
        if consumer.is_alive():
            consumer.close()


class Migration:
    """One group, its topic, what was produced and what its consumers consumed."""

    def __init__(self, broker: BrokerProcess, consumers: list[GroupConsumer]) -> None:
        self.broker = broker
        self.consumers = consumers
        self.topic, self.group = uid("migrate"), uid("migrate-group")
        self.admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        self.admin.create_topics([NewTopic(self.topic, PARTITIONS, 1)])[self.topic].result(30)
        self.produced: set[tuple[int, int]] = set()
        self.next_value = 0

    def start(self, config: dict[str, Any]) -> GroupConsumer:
        consumer = GroupConsumer(self.broker.bootstrap, self.group, self.topic, config)
        self.consumers.append(consumer)
        return consumer

    def details(self) -> str:
        return "\n".join(c.describe() for c in self.consumers) + f"\n{self.broker.log()[-6000:]}"

    def committed(self) -> dict[int, int]:
        request = [ConsumerGroupTopicPartitions(self.group)]
        result = self.admin.list_consumer_group_offsets(request)[self.group].result(10)
        return {tp.partition: tp.offset for tp in result.topic_partitions if tp.offset >= 0}

    def produce_batch(self, count: int = 240) -> set[tuple[int, int]]:
        values = range(self.next_value, self.next_value + count)
        self.next_value += count
        placed = produce(self.broker.bootstrap, self.topic, values)
        self.produced |= placed
        return placed

    def settled(self) -> bool:
        """Every running consumer owns partitions, none twice, all of them together."""
        owned = [c.assignment() for c in self.consumers if c.is_alive()]
        every = [p for o in owned for p in o]
        return all(owned) and len(every) == len(set(every)) == PARTITIONS

    def consumed(self) -> set[tuple[int, int]]:
        return {r for c in self.consumers for r in c.records()}

    def all_consumed_and_committed(self) -> Callable[[], bool]:
        ends = dict.fromkeys(range(PARTITIONS), 0)
        for partition, offset in self.produced:
            ends[partition] = max(ends[partition], offset + 1)

        def check() -> bool:
            if not self.consumed() >= self.produced:
                return False
            try:
                return self.committed() == ends
            except (KafkaException, TimeoutError):  # e.g. the broker restarted: a new client
                self.admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
                return False

        return check

    def step(self, what: str) -> set[tuple[int, int]]:
        """Produce a batch on every partition; wait until all of it is consumed and committed."""
        batch = self.produce_batch()
        wait_until(self.all_consumed_and_committed(), DEADLINE, what, self.details)
        return batch

    def group_type(self) -> Any:
        description = self.admin.describe_consumer_groups([self.group])[self.group].result(30)
        return description.type

    def member_ids(self) -> set[str]:
        description = self.admin.describe_consumer_groups([self.group])[self.group].result(30)
        return {member.member_id for member in description.members}

    def listed_type(self) -> Any:
        listed = self.admin.list_consumer_groups().result(30)
        return next(g.type for g in listed.valid if g.group_id == self.group)


def replace_one_by_one(
    broker_factory: Any,
    consumers: list[GroupConsumer],
    before: dict[str, Any],
    after: dict[str, Any],
) -> Migration:
    """Three consumers configured ``before`` consume and commit, then are replaced one by one
    by consumers configured ``after``; returns the migration for the final checks."""
    broker: BrokerProcess = broker_factory(overrides={**FAST, **NO_DELAY})
    m = Migration(broker, consumers)
    old = [m.start(before) for _ in range(3)]
    wait_until(m.settled, DEADLINE, "the first consumers to share the partitions", m.details)
    m.step("the first consumers to consume and commit everything")
    for i, leaving in enumerate(old):
        leaving.close()
        newcomer = m.start(after)
        wait_until(m.settled, DEADLINE, f"replacement {i + 1} to get partitions", m.details)
        batch = m.step(f"replacement {i + 1} to consume and commit everything")
        assert newcomer.records(), m.details()
        # Only what was produced after it joined: nothing from the start again.
        assert set(newcomer.records()) <= batch, m.details()
    last = m.step("the new consumers to keep consuming every partition")
    survivors = [c for c in consumers if c.is_alive()]
    assert {p for p, _ in last} == set(range(PARTITIONS))
    assert frozenset().union(*(c.assignment() for c in survivors)) == frozenset(range(PARTITIONS))
    counts = consumption_counts(consumers)
    assert set(counts) == m.produced, m.details()
    twice = sorted(r for r, n in counts.items() if n > 1)
    assert not twice, f"consumed twice: {twice[:20]}\n{m.details()}"
    return m


@pytest.mark.parametrize("strategy", ["cooperative-sticky", "range"])
def test_classic_consumers_replaced_one_by_one_by_consumer_protocol_ones(
    broker_factory: Any, consumers: list[GroupConsumer], strategy: str
) -> None:
    m = replace_one_by_one(broker_factory, consumers, classic(strategy), CONSUMER)
    wait_until(
        lambda: m.group_type() == ConsumerGroupType.CONSUMER,
        DEADLINE,
        "a consumer group",
        m.details,
    )
    assert m.listed_type() == ConsumerGroupType.CONSUMER


def test_consumer_protocol_consumers_replaced_one_by_one_by_classic_ones(
    broker_factory: Any, consumers: list[GroupConsumer]
) -> None:
    m = replace_one_by_one(broker_factory, consumers, CONSUMER, classic("cooperative-sticky"))
    wait_until(
        lambda: m.listed_type() == ConsumerGroupType.CLASSIC,
        DEADLINE,
        "a classic group",
        m.details,
    )


def test_a_group_mid_migration_survives_a_broker_restart(
    broker_factory: Any, consumers: list[GroupConsumer]
) -> None:
    """Two classic members and a consumer-protocol one; the broker restarts and loads the
    converted group from its log; the three go on consuming without consuming anything
    twice."""
    broker: BrokerProcess = broker_factory(overrides={**FAST, **NO_DELAY})
    m = Migration(broker, consumers)
    for _ in range(2):
        m.start(classic("cooperative-sticky"))
    wait_until(m.settled, DEADLINE, "the classic consumers to share the partitions", m.details)
    m.step("the classic consumers to consume and commit everything")
    m.start(CONSUMER)
    wait_until(m.settled, DEADLINE, "the three to share the partitions", m.details)
    m.step("the mixed group to consume and commit everything")
    assert m.group_type() == ConsumerGroupType.CONSUMER
    members = m.member_ids()
    assert len(members) == 3
    broker.restart()
    m.step("the mixed group to go on after the restart")
    wait_until(m.settled, DEADLINE, "the three to share the partitions again", m.details)
    m.step("the mixed group to consume and commit everything again")
    assert all(c.is_alive() for c in consumers)
    assert m.group_type() == ConsumerGroupType.CONSUMER
    assert m.member_ids() == members, m.details()  # loaded, not joined anew
    counts = consumption_counts(consumers)
    twice = sorted(r for r, n in counts.items() if n > 1)
    assert not twice, f"consumed twice: {twice[:20]}\n{m.details()}"
