"""KIP-848 consumer groups with confluent-kafka (librdkafka, ``group.protocol=consumer``): the
server-side assignor balances the members, a member leaving moves only its partitions while the
others keep consuming, the admin APIs see the group's type, and committed offsets and the
group survive a broker restart.

Each consumer is polled by its own thread (librdkafka releases the GIL while it waits), which
records what it consumed and owns; the test reads those with deadlines.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    ConsumerGroupType,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from tests.support.broker_process import BrokerProcess, free_port
from tests.unit.observability.scrape import scrape

pytestmark = pytest.mark.integration

# A one-second heartbeat interval makes each reconciliation step a second, not five.
FAST = {
    "group.consumer.heartbeat.interval.ms": "1000",
    "group.consumer.min.heartbeat.interval.ms": "1000",
}
PARTITIONS = 12
NO_DELAY = {"group.initial.rebalance.delay.ms": "0"}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, details: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{details()}")
        time.sleep(0.05)


def produce(
    bootstrap: str, topic: str, values: range, partitions: int = PARTITIONS
) -> set[tuple[int, int]]:
    """Values spread over every partition; returns their (partition, offset)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    placed: set[tuple[int, int]] = set()

    def delivered(err: Any, msg: Any) -> None:
        assert err is None, err
        placed.add((msg.partition(), msg.offset()))

    for i in values:
        producer.produce(topic, str(i).encode(), partition=i % partitions, on_delivery=delivered)
    assert producer.flush(30) == 0
    return placed


class Member(threading.Thread):
    """One ``group.protocol=consumer`` consumer (or ``protocol``, with more ``settings``) on
    its own thread, committing synchronously after each batch; a commit refused during a
    rebalance is retried until one succeeds."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topic: str,
        protocol: str = "consumer",
        settings: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "group.protocol": protocol,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                **(settings or {}),
            }
        )
        self.topic = topic
        self.lock = threading.Lock()
        self.owned: frozenset[int] = frozenset()
        self.owned_topics: frozenset[tuple[str, int]] = frozenset()
        self.consumed: list[tuple[int, int]] = []
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.start()

    def run(self) -> None:
        self.consumer.subscribe([self.topic])
        dirty = False
        while not self.stopping.is_set():
            batch = self.consumer.consume(num_messages=100, timeout=0.2)
            good = [m for m in batch if m.error() is None]
            with self.lock:
                self.consumed.extend((m.partition() or 0, m.offset() or 0) for m in good)
                self.errors.extend(str(m.error()) for m in batch if m.error() is not None)
                assigned = self.consumer.assignment()
                self.owned = frozenset(tp.partition for tp in assigned)
                self.owned_topics = frozenset((tp.topic, tp.partition) for tp in assigned)
            dirty = dirty or bool(good)
            if dirty:
                try:
                    self.consumer.commit(asynchronous=False)
                    dirty = False
                except KafkaException as exc:
                    with self.lock:
                        self.errors.append(str(exc))
        self.consumer.close()

    def assignment(self) -> frozenset[int]:
        with self.lock:
            return self.owned

    def topic_assignment(self) -> frozenset[tuple[str, int]]:
        with self.lock:
            return self.owned_topics

    def records(self) -> set[tuple[int, int]]:
        with self.lock:
            return set(self.consumed)

    def consumed_records(self) -> list[tuple[int, int]]:
        """Every record consumed, once per time it was consumed."""
        with self.lock:
            return list(self.consumed)

    def close(self) -> None:
        self.stopping.set()
        self.join(60)
        assert not self.is_alive(), "the consumer did not close"

    def describe(self) -> str:
        with self.lock:
            return f"owns {sorted(self.owned)}, {len(self.consumed)} records, {self.errors[-5:]}"


@pytest.fixture
def members() -> Iterator[list[Member]]:
    started: list[Member] = []
    yield started
    for member in started:
        if member.is_alive():
            member.close()


def details(broker: BrokerProcess, members: list[Member]) -> Callable[[], str]:
    return lambda: "\n".join(m.describe() for m in members) + f"\n{broker.log()}"


def balanced(members: list[Member]) -> Callable[[], bool]:
    def check() -> bool:
        owned = [m.assignment() for m in members]
        share = PARTITIONS // len(members)
        return all(len(o) == share for o in owned) and frozenset().union(*owned) == frozenset(
            range(PARTITIONS)
        )

    return check


def test_three_members_share_twelve_partitions_and_a_leaver_moves_only_its_own(
    broker_factory: Any, members: list[Member]
) -> None:
    metrics_port = free_port()
    broker: BrokerProcess = broker_factory(overrides={**FAST, "metrics.port": str(metrics_port)})
    topic, group = uid("kip848"), uid("kip848-group")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(15)
    members.extend(Member(broker.bootstrap, group, topic) for _ in range(3))
    why = details(broker, members)
    wait_until(balanced(members), 60, "4 partitions each", why)
    samples = scrape(metrics_port)  # the group's gauges count its consumer-protocol members
    assert samples.get("kafka_consumergroup_members", consumergroup=group) == 3
    protocol_count = "kafka_server_group_coordinator_metrics_group_count"
    assert samples.get(protocol_count, protocol="consumer") == 1
    consumer_state_count = "kafka_server_group_coordinator_metrics_consumer_group_count"
    assert samples.total(consumer_state_count) == 1

    placed = produce(broker.bootstrap, topic, range(1200))
    wait_until(
        lambda: set().union(*(m.records() for m in members)) >= placed, 60, "1200 records", why
    )
    description = admin.describe_consumer_groups([group])[group].result(15)
    assert description.type == ConsumerGroupType.CONSUMER
    assert len(description.members) == 3
    listed = admin.list_consumer_groups(types={ConsumerGroupType.CONSUMER}).result(15)
    assert group in {g.group_id for g in listed.valid}

    leaver, survivors = members[0], members[1:]
    before = [m.assignment() for m in survivors]
    leaver.close()
    wait_until(balanced(survivors), 60, "the survivors to share 12 partitions", why)
    for member, kept in zip(survivors, before, strict=True):
        assert kept <= member.assignment(), why()  # only the leaver's partitions moved

    later = produce(broker.bootstrap, topic, range(1200, 1800))
    wait_until(
        lambda: set().union(*(m.records() for m in survivors)) >= later,
        60,
        "the survivors to consume 600 more records",
        why,
    )


def test_committed_offsets_and_the_group_survive_a_broker_restart(
    broker_factory: Any, members: list[Member]
) -> None:
    broker: BrokerProcess = broker_factory(overrides=FAST)
    topic, group = uid("kip848-restart"), uid("kip848-restart-group")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(15)
    first = produce(broker.bootstrap, topic, range(240))
    member = Member(broker.bootstrap, group, topic)
    members.append(member)
    why = details(broker, members)
    wait_until(lambda: member.records() >= first, 60, "the first 240 records", why)

    def committed() -> dict[int, int]:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        offsets = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, parts)], require_stable=False
        )[group].result(15)
        return {tp.partition: tp.offset for tp in offsets.topic_partitions}

    wait_until(lambda: sum(committed().values()) == 240, 60, "240 committed offsets", why)
    member.close()

    broker.restart()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    assert sum(committed().values()) == 240
    listed = admin.list_consumer_groups(types={ConsumerGroupType.CONSUMER}).result(15)
    assert group in {g.group_id for g in listed.valid}

    second = produce(broker.bootstrap, topic, range(240, 360))
    again = Member(broker.bootstrap, group, topic)
    members.append(again)
    why = details(broker, members)
    wait_until(lambda: again.records() >= second, 60, "the 120 new records", why)
    assert not again.records() & first, "records consumed again after the restart"


def test_a_regex_subscription_gets_matching_topics_including_new_ones(
    broker_factory: Any, members: list[Member]
) -> None:
    """KIP-848 regex subscriptions (``subscribe(["^..."])``): the broker resolves the regex,
    and a topic created later joins the assignment."""
    broker: BrokerProcess = broker_factory(overrides=FAST)
    prefix = uid("rx")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for name in (f"{prefix}-a", f"{prefix}-b", f"other-{prefix}"):
        admin.create_topics([NewTopic(name, 3, 1)])[name].result(15)
    member = Member(broker.bootstrap, uid("rx-group"), f"^{prefix}-.*")
    members.append(member)
    why = details(broker, members)

    def owns(*topics: str) -> Callable[[], bool]:
        wanted = {(t, p) for t in topics for p in range(3)}
        return lambda: member.topic_assignment() == wanted

    wait_until(owns(f"{prefix}-a", f"{prefix}-b"), 60, "the two matching topics", why)
    later = f"{prefix}-c"
    admin.create_topics([NewTopic(later, 3, 1)])[later].result(15)
    wait_until(owns(f"{prefix}-a", f"{prefix}-b", later), 90, "the topic created later", why)


def test_a_classic_group_upgraded_offline_keeps_its_committed_offsets(
    broker_factory: Any, members: list[Member]
) -> None:
    """A classic group's members all stop; consumer-protocol members then join the same
    group id: the (empty) classic group becomes a consumer group and they resume after the
    offsets the classic members committed."""
    broker: BrokerProcess = broker_factory(overrides={**FAST, **NO_DELAY})
    topic, group = uid("upgrade"), uid("upgrade-group")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(15)
    first = produce(broker.bootstrap, topic, range(120))
    classic = Member(broker.bootstrap, group, topic, protocol="classic")
    members.append(classic)
    why = details(broker, members)
    wait_until(lambda: classic.records() >= first, 60, "the classic member's records", why)
    classic.close()
    listed = admin.list_consumer_groups().result(15)
    assert {g.group_id: g.type for g in listed.valid}[group] == ConsumerGroupType.CLASSIC

    second = produce(broker.bootstrap, topic, range(120, 240))
    modern = Member(broker.bootstrap, group, topic)
    members.append(modern)
    wait_until(lambda: modern.records() >= second, 60, "the records after the upgrade", why)
    assert not modern.records() & first, "records the classic member committed consumed again"
    listed = admin.list_consumer_groups().result(15)
    assert {g.group_id: g.type for g in listed.valid}[group] == ConsumerGroupType.CONSUMER
