"""Consumer groups with confluent-kafka (librdkafka): the three assignment strategies, SIGKILLed
members, static membership, the AdminClient group APIs, and group state across broker restarts.

Group members that must run concurrently are child processes (tests/integration/group_procs.py)
so that one of them can be killed with SIGKILL.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer as _Consumer
from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from tests.integration.group_procs import Member, stop_all
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

NO_DELAY = {"group.initial.rebalance.delay.ms": "0"}
PARTITIONS = 6
TP = tuple[str, int]
PO = tuple[int, int]  # (partition, offset)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    details: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{details()}")
        time.sleep(0.05)


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(15)


def produce(
    bootstrap: str, topic: str, values: range, partitions: int = PARTITIONS
) -> dict[str, PO]:
    """Values ``str(i)`` spread over all partitions; value -> (partition, offset)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    placed: dict[str, PO] = {}
    failed: list[str] = []

    def delivered(err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            failed.append(str(err))
        else:
            placed[msg.value().decode()] = (msg.partition(), msg.offset())

    for i in values:
        producer.produce(
            topic,
            value=str(i).encode(),
            key=str(i).encode(),
            partition=i % partitions,
            on_delivery=delivered,
        )
    assert producer.flush(30) == 0
    assert not failed, failed
    return placed


def describe(broker: BrokerProcess, members: list[Member]) -> str:
    return "\n".join(m.describe() for m in members) + f"\n--- broker log ---\n{broker.log()}"


def consumed(members: list[Member]) -> Counter[PO]:
    return Counter((p, o) for m in members for p, o, _ in m.records())


# -- strategies, exactly-once processing, SIGKILL -----------------------------------------------


def expected_layout(strategy: str, owned: list[set[TP]]) -> None:
    """The strategy's shape: range gives contiguous blocks, roundrobin strides."""
    n = len(owned)
    for partitions in owned:
        numbers = sorted(p for _, p in partitions)
        assert len(numbers) == PARTITIONS // n, owned
        if strategy == "range":
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), owned
        elif strategy == "roundrobin":
            assert len({p % n for p in numbers}) == 1, owned


@pytest.mark.parametrize("strategy", ["range", "roundrobin", "cooperative-sticky"])
def test_strategy_exactly_once_and_sigkill(broker_factory: Any, strategy: str) -> None:
    broker: BrokerProcess = broker_factory(overrides=NO_DELAY)
    topic, group = uid(f"groups-{strategy}"), uid(f"group-{strategy}")
    create_topic(broker.bootstrap, topic, PARTITIONS)
    config = {
        "bootstrap": broker.bootstrap,
        "topic": topic,
        "group": group,
        "conf": {"partition.assignment.strategy": strategy},
    }
    members = [Member("confluent", config, f"{strategy}-{i}") for i in range(3)]
    everything = {(topic, p) for p in range(PARTITIONS)}
    try:

        def balanced(active: list[Member]) -> Callable[[], bool]:
            def check() -> bool:
                owned = [m.assignment() or set() for m in active]
                return (
                    all(len(o) == PARTITIONS // len(active) for o in owned)
                    and set().union(*owned) == everything
                )

            return check

        wait_until(balanced(members), 40, "3 balanced members", lambda: describe(broker, members))
        expected_layout(strategy, [m.assignment() or set() for m in members])

        placed = produce(broker.bootstrap, topic, range(600))
        wanted = set(placed.values())
        wait_until(
            lambda: set(consumed(members)) >= wanted,
            30,
            "all 600 records",
            lambda: describe(broker, members),
        )
        for member in members:  # each member consumed exactly its own partitions
            own = {p for _, p in member.assignment() or set()}
            assert {p for p, _, _ in member.records()} <= own, describe(broker, members)

        victim, survivors = members[0], members[1:]
        victim_partitions = victim.assignment() or set()
        marks = [len(m.snapshot()) for m in survivors]
        victim.kill()
        killed_at = time.monotonic()
        placed_after = produce(broker.bootstrap, topic, range(600, 900))
        wait_until(
            balanced(survivors), 40, "the survivors to take over", lambda: describe(broker, members)
        )
        takeover = time.monotonic() - killed_at
        assert takeover >= 5.0, f"reassigned after {takeover:.1f}s: before session.timeout.ms"
        expected_layout(strategy, [m.assignment() or set() for m in survivors])
        wanted |= set(placed_after.values())
        wait_until(
            lambda: set(consumed(members)) >= wanted,
            30,
            "all 900 records",
            lambda: describe(broker, members),
        )
        time.sleep(0.5)  # a duplicate would show up now

        counts = consumed(members)
        duplicates = {k: n for k, n in counts.items() if n > 1}
        assert not duplicates, f"consumed more than once: {duplicates}\n{describe(broker, members)}"
        assert set(counts) == wanted
        victim_numbers = {p for _, p in victim_partitions}
        taken = {(p, o) for m in survivors for p, o, _ in m.records() if p in victim_numbers}
        assert {v for v in placed_after.values() if v[0] in victim_numbers} <= taken

        if strategy == "cooperative-sticky":
            # Incremental: the survivors kept what they had and revoked nothing.
            for member, mark in zip(survivors, marks, strict=True):
                later = member.snapshot()[mark:]
                assert not [e for e in later if e["ev"] in ("revoked", "lost")], member.describe()
        for member in survivors:
            member.close()
    finally:
        stop_all(members)


# -- static membership --------------------------------------------------------------------------


@pytest.mark.parametrize("restarted_index", [0, 1], ids=["first-joined", "second-joined"])
def test_static_member_restart_keeps_assignment(broker_factory: Any, restarted_index: int) -> None:
    """KIP-345: a static member that comes back within session.timeout.ms gets its partitions
    back and the other member sees no rebalance (the first to join is the group leader)."""
    broker: BrokerProcess = broker_factory(overrides=NO_DELAY)
    topic, group = uid("static"), uid("static-group")
    create_topic(broker.bootstrap, topic, 4)

    def config(instance: str) -> dict[str, Any]:
        return {
            "bootstrap": broker.bootstrap,
            "topic": topic,
            "group": group,
            "conf": {
                "group.instance.id": instance,
                "session.timeout.ms": 30_000,
                "partition.assignment.strategy": "range",
            },
        }

    first = Member("confluent", config("static-0"), "static-0")
    first.wait_for(lambda _e: first.assignment() is not None, 30, "the first member")
    second = Member("confluent", config("static-1"), "static-1")
    members = [first, second]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    try:

        def split() -> bool:
            x, y = first.assignment() or set(), second.assignment() or set()
            return len(x) == len(y) == 2 and not x & y

        wait_until(
            split,
            40,
            "two static members with two partitions each",
            lambda: describe(broker, members),
        )
        bouncing, other = members[restarted_index], members[1 - restarted_index]
        instance, other_instance = f"static-{restarted_index}", f"static-{1 - restarted_index}"
        bouncing_partitions = bouncing.assignment()
        before = admin.describe_consumer_groups([group])[group].result(15)
        assert before.state == ConsumerGroupState.STABLE
        ids_before = {m.group_instance_id: m.member_id for m in before.members}
        assert set(ids_before) == {"static-0", "static-1"}

        placed = produce(broker.bootstrap, topic, range(40), partitions=4)
        wait_until(
            lambda: set(consumed(members)) >= set(placed.values()),
            20,
            "40 records",
            lambda: describe(broker, members),
        )
        other_mark = len(other.snapshot())

        bouncing.close()  # a static member does not send LeaveGroup (KIP-345)
        restarted = Member("confluent", config(instance), f"{instance}-restarted")
        members.append(restarted)
        wait_until(
            lambda: restarted.assignment() is not None,
            20,
            "the restarted member",
            lambda: describe(broker, members),
        )
        assert restarted.assignment() == bouncing_partitions, describe(broker, members)
        placed_after = produce(broker.bootstrap, topic, range(40, 80), partitions=4)
        wait_until(
            lambda: set(consumed(members)) >= set(placed_after.values()),
            20,
            "80 records",
            lambda: describe(broker, members),
        )
        counts = consumed(members)
        assert all(n == 1 for n in counts.values()), describe(broker, members)
        numbers = {p for _, p in bouncing_partitions or set()}
        assert {p for p, _, _ in restarted.records()} == numbers

        # The other member saw no rebalance at all.
        later = [e for e in other.snapshot()[other_mark:] if e["ev"] != "record"]
        assert later == [], f"{later}\n{describe(broker, members)}"
        after = admin.describe_consumer_groups([group])[group].result(15)
        assert after.state == ConsumerGroupState.STABLE
        ids_after = {m.group_instance_id: m.member_id for m in after.members}
        assert ids_after[other_instance] == ids_before[other_instance]
        assert ids_after[instance] != ids_before[instance]
        assignment_after = {
            m.group_instance_id: {(tp.topic, tp.partition) for tp in m.assignment.topic_partitions}
            for m in after.members
        }
        assert assignment_after[instance] == bouncing_partitions
    finally:
        stop_all(members)


# -- AdminClient --------------------------------------------------------------------------------


def test_admin_client_groups(broker_factory: Any) -> None:
    broker: BrokerProcess = broker_factory(overrides=NO_DELAY)
    topic, group = uid("admin"), uid("admin-group")
    create_topic(broker.bootstrap, topic, 4)
    produce(broker.bootstrap, topic, range(40), partitions=4)
    config = {"bootstrap": broker.bootstrap, "topic": topic, "group": group}
    members = [Member("confluent", config, f"admin-{i}") for i in range(2)]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    try:
        wait_until(
            lambda: (
                len(consumed(members)) >= 40
                and all(len(m.assignment() or ()) == 2 for m in members)
            ),
            40,
            "two members sharing 40 records",
            lambda: describe(broker, members),
        )

        def listed(states: set[ConsumerGroupState] | None = None) -> dict[str, Any]:
            kwargs = {"states": states} if states else {}
            result = admin.list_consumer_groups(**kwargs).result(15)
            assert not result.errors, result.errors
            return {g.group_id: g for g in result.valid}

        assert group in listed()
        assert listed()[group].state == ConsumerGroupState.STABLE
        assert group in listed({ConsumerGroupState.STABLE})
        assert group not in listed({ConsumerGroupState.EMPTY})

        description = admin.describe_consumer_groups([group])[group].result(15)
        assert description.group_id == group
        assert description.state == ConsumerGroupState.STABLE
        assert description.partition_assignor == "range"
        assert not description.is_simple_consumer_group
        assert description.coordinator.id == 0
        assert len(description.members) == 2
        assigned = [
            {(tp.topic, tp.partition) for tp in m.assignment.topic_partitions}
            for m in description.members
        ]
        assert assigned[0].isdisjoint(assigned[1])
        assert assigned[0] | assigned[1] == {(topic, p) for p in range(4)}
        assert {m.client_id for m in description.members} == {"rdkafka"}
        assert all(m.host for m in description.members)

        # Deleting an active group fails with NON_EMPTY_GROUP.
        with pytest.raises(KafkaException) as failure:
            admin.delete_consumer_groups([group])[group].result(15)
        assert failure.value.args[0].code() == KafkaError.NON_EMPTY_GROUP

        committed = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[
            group
        ].result(15)
        offsets = {tp.partition: tp.offset for tp in committed.topic_partitions}
        assert offsets == dict.fromkeys(range(4), 10), offsets

        # Altering offsets needs an empty group: refused while members are active.
        change = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 3)])
        with pytest.raises(KafkaException) as failure:
            result = admin.alter_consumer_group_offsets([change])[group].result(15)
            errors = [tp.error for tp in result.topic_partitions if tp.error]
            if errors:
                raise KafkaException(errors[0])
        assert failure.value.args[0].code() == KafkaError.UNKNOWN_MEMBER_ID

        for member in members:
            member.close()
        wait_until(lambda: group in listed({ConsumerGroupState.EMPTY}), 10, "an Empty group")
        result = admin.alter_consumer_group_offsets([change])[group].result(15)
        assert [(tp.partition, tp.offset, tp.error) for tp in result.topic_partitions] == [
            (0, 3, None)
        ]
        committed = admin.list_consumer_group_offsets(
            [
                ConsumerGroupTopicPartitions(
                    group, [TopicPartition(topic, 0), TopicPartition(topic, 1)]
                )
            ]
        )[group].result(15)
        assert [(tp.partition, tp.offset) for tp in committed.topic_partitions] == [(0, 3), (1, 10)]

        admin.delete_consumer_groups([group])[group].result(15)
        assert group not in listed()
        gone = admin.describe_consumer_groups([group])[group].result(15)
        assert gone.state == ConsumerGroupState.DEAD
        committed = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])]
        )[group].result(15)
        assert [tp.offset for tp in committed.topic_partitions] == [-1001]  # OFFSET_INVALID
    finally:
        stop_all(members)


# -- broker restarts ----------------------------------------------------------------------------


def consume_and_commit(bootstrap: str, topic: str, group: str, count: int) -> dict[int, int]:
    """Subscribe, read ``count`` records, commit synchronously, close; partition -> next."""
    consumer = _Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
        }
    )
    try:
        consumer.subscribe([topic])
        positions: dict[int, int] = {}
        got = 0
        deadline = time.monotonic() + 30
        while got < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None  # a record names both
            positions[partition] = offset + 1
            got += 1
            if got % 10 == 0 or got == count:
                consumer.commit(asynchronous=False)
        assert got == count
        return positions
    finally:
        consumer.close()


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_groups_survive_broker_restart(broker_factory: Any, how: str) -> None:
    broker: BrokerProcess = broker_factory(overrides=NO_DELAY)
    topic, group, admin_group = uid(f"restart-{how}"), uid("restart-group"), uid("admin-set")
    create_topic(broker.bootstrap, topic, 3)
    produce(broker.bootstrap, topic, range(60), partitions=3)
    positions = consume_and_commit(broker.bootstrap, topic, group, 45)
    assert sum(positions.values()) == 45
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(admin_group, [TopicPartition(topic, 2, 7)])]
    )[admin_group].result(15)
    # An active member at the time of the crash: the group is Stable, with a member.
    active = Member(
        "confluent",
        {"bootstrap": broker.bootstrap, "topic": topic, "group": uid("active"), "batch": 1},
        "active",
    )
    try:
        wait_until(
            lambda: len(active.records()) >= 1,
            30,
            "the active member",
            lambda: describe(broker, [active]),
        )
        if how == "stop":
            assert broker.stop() == 0, broker.log()
        else:
            broker.kill()
        broker.start()
    finally:
        active.kill()

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    listed = {g.group_id: g for g in admin.list_consumer_groups().result(15).valid}
    assert {group, admin_group} <= set(listed), (listed, broker.log())

    consumer = _Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], 15)
        assert {tp.partition: tp.offset for tp in committed} == positions, broker.log()
        # A new member of the group resumes after the committed offsets.
        consumer.subscribe([topic])
        seen: list[tuple[int, int]] = []
        deadline = time.monotonic() + 30
        while len(seen) < 15 and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                partition, offset = message.partition(), message.offset()
                assert partition is not None and offset is not None  # a record names both
                seen.append((partition, offset))
        assert len(seen) == 15, broker.log()
        for partition, start in positions.items():
            offsets = [o for p, o in seen if p == partition]
            assert offsets == list(range(start, 20)), (partition, offsets)
    finally:
        consumer.close()
    other = _Consumer({"bootstrap.servers": broker.bootstrap, "group.id": admin_group})
    try:
        [tp] = other.committed([TopicPartition(topic, 2)], 15)
        assert tp.offset == 7
    finally:
        other.close()


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_active_group_survives_broker_restart(broker_factory: Any, how: str) -> None:
    """Members keep running while the broker restarts: afterwards every record is still
    processed exactly once (commits refused during the outage are retried from the last
    committed offset)."""
    broker: BrokerProcess = broker_factory(overrides=NO_DELAY)
    topic, group = uid(f"live-{how}"), uid("live-group")
    create_topic(broker.bootstrap, topic, 4)
    config = {
        "bootstrap": broker.bootstrap,
        "topic": topic,
        "group": group,
        "conf": {"reconnect.backoff.max.ms": 500},
    }
    members = [Member("confluent", config, f"live-{i}") for i in range(2)]
    try:
        wait_until(
            lambda: all(len(m.assignment() or ()) == 2 for m in members),
            40,
            "two members",
            lambda: describe(broker, members),
        )
        wanted = set(produce(broker.bootstrap, topic, range(100), partitions=4).values())
        wait_until(
            lambda: set(consumed(members)) >= wanted,
            30,
            "100 records",
            lambda: describe(broker, members),
        )
        if how == "stop":
            assert broker.stop() == 0, broker.log()
        else:
            broker.kill()
        broker.start()
        wanted |= set(produce(broker.bootstrap, topic, range(100, 200), partitions=4).values())
        wait_until(
            lambda: set(consumed(members)) >= wanted,
            40,
            "200 records",
            lambda: describe(broker, members),
        )
        time.sleep(0.5)
        counts = consumed(members)
        assert set(counts) == wanted
        assert all(n == 1 for n in counts.values()), (
            f"{[k for k, n in counts.items() if n > 1]}\n{describe(broker, members)}"
        )
        owned = [m.assignment() or set() for m in members]
        assert owned[0] | owned[1] == {(topic, p) for p in range(4)}
    finally:
        stop_all(members)
