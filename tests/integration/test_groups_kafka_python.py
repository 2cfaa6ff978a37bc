"""Consumer groups with kafka-python 3, plus raw-request checks of the group error codes.

Seed 001's experiments 2 and 3 are run literally: (2) two ``KafkaConsumer("test",
bootstrap_servers=[B], group_id="testgroup")`` processes share a 2-partition topic and one takes
over when the other exits; (3) ``assign``/``position``/``commit`` and a restarted consumer
resuming at the committed offset. The error-code checks speak the protocol directly
(tests/support/raw_client.py) so that no client retry hides what the broker answered.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.structs import OffsetAndMetadata

from tests.integration.group_procs import Member, stop_all
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient, request_module

pytestmark = pytest.mark.integration

NO_DELAY = {"group.initial.rebalance.delay.ms": "0"}

FIND_COORDINATOR, JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP = 10, 11, 12, 13, 14
OFFSET_COMMIT, OFFSET_DELETE = 8, 47
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
MEMBER_ID_REQUIRED = 79


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


def produce(bootstrap: str, topic: str, values: range) -> dict[int, tuple[int, int]]:
    """Seed 001's producer: key and value ``str(i)``; returns i -> (partition, offset)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        futures = {
            i: producer.send(topic, key=str(i).encode(), value=str(i).encode()) for i in values
        }
        producer.flush(timeout=30)
        return {
            i: (f.get(timeout=10).partition, f.get(timeout=10).offset) for i, f in futures.items()
        }
    finally:
        producer.close(timeout=10)


def describe(broker: BrokerProcess, *members: Member) -> str:
    return "\n".join(m.describe() for m in members) + f"\n--- broker log ---\n{broker.log()}"


# -- seed 001, experiment 2 ---------------------------------------------------------------------


def test_seed_experiment_2_failover(broker_factory: Any) -> None:
    broker: BrokerProcess = broker_factory(overrides=NO_DELAY)
    with RawClient.to(broker.bootstrap) as raw:
        raw.create_topic("test", partitions=2)
    config = {"bootstrap": broker.bootstrap, "topic": "test", "group": "testgroup"}
    first, second = Member("seed", config, "window-1"), Member("seed", config, "window-2")
    members = [first, second]
    try:

        def split() -> bool:
            a, b = first.assignment(), second.assignment()
            return a is not None and b is not None and len(a) == len(b) == 1 and a != b

        wait_until(split, 40, "one partition each", lambda: describe(broker, *members))
        first_tp = next(iter(first.assignment() or ()))
        second_tp = next(iter(second.assignment() or ()))
        assert {first_tp, second_tp} == {("test", 0), ("test", 1)}

        # Both consume their own partition only.
        placed = produce(broker.bootstrap, "test", range(0, 40))
        per_partition = {
            p: sorted(str(i) for i, (q, _) in placed.items() if q == p) for p in (0, 1)
        }
        assert per_partition[0] and per_partition[1], placed
        for member, (_, partition) in ((first, first_tp), (second, second_tp)):
            # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
            member.wait_for(
                lambda _e, m=member, p=partition: (  # type: ignore[misc]
                    len(m.records()) >= len(per_partition[p])
                ),
                20,
                "the records of its partition",
            )
            got = member.records()
            assert {p for p, _, _ in got} == {partition}, describe(broker, *members)
            assert sorted(v for _, _, v in got) == per_partition[partition]

        # window-1 exits: window-2 takes over both partitions.
        first.close()
        second.wait_for(
            lambda _e: second.assignment() == {("test", 0), ("test", 1)},
            30,
            "taking over both partitions",
        )
        takeover = second.of("assigned")[-1]
        # close() committed window-1's position (auto commit): no record is read twice.
        assert takeover["positions"][str(first_tp[1])] == len(per_partition[first_tp[1]]), describe(
            broker, *members
        )

        before = len(second.records())
        after = produce(broker.bootstrap, "test", range(40, 80))
        second.wait_for(
            lambda _e: len(second.records()) >= before + len(after),
            20,
            "every record produced after the exit",
        )
        new = second.records()[before:]
        expected = sorted((p, o, str(i)) for i, (p, o) in after.items())
        assert sorted(new) == expected, describe(broker, *members)
        assert first.records() and all(p == first_tp[1] for p, _, _ in first.records())
        second.close()
    finally:
        stop_all(members)


# -- seed 001, experiment 3 ---------------------------------------------------------------------


def seed_consumer(bootstrap: str) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=[bootstrap],
        group_id="testgroup",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )


def read(consumer: KafkaConsumer, tp: TopicPartition, count: int, commit: bool) -> list[int]:
    """``for message in consumer: print(message)`` (and commit offset + 1), ``count`` times."""
    offsets: list[int] = []
    deadline = time.monotonic() + 20
    while len(offsets) < count and time.monotonic() < deadline:
        for message in consumer.poll(timeout_ms=500, max_records=count - len(offsets)).get(tp, []):
            offsets.append(message.offset)
            if commit:
                consumer.commit({tp: OffsetAndMetadata(message.offset + 1, None, -1)})
    return offsets


def test_seed_experiment_3_commit_and_resume(broker: BrokerProcess) -> None:
    with RawClient.to(broker.bootstrap) as raw:
        raw.create_topic("test", partitions=1)
    produce(broker.bootstrap, "test", range(30))
    tp = TopicPartition("test", 0)

    # Without a commit, every restart starts at the same place.
    for _ in range(2):
        consumer = seed_consumer(broker.bootstrap)
        try:
            consumer.assign([tp])
            assert consumer.position(tp) == 0
            assert read(consumer, tp, 5, commit=False) == [0, 1, 2, 3, 4]
            assert consumer.committed(tp) is None
        finally:
            consumer.close()

    # Committing offset + 1 after each message: the next consumer resumes after the last one.
    consumer = seed_consumer(broker.bootstrap)
    try:
        consumer.assign([tp])
        assert consumer.position(tp) == 0
        assert read(consumer, tp, 12, commit=True) == list(range(12))
        assert consumer.committed(tp) == 12
    finally:
        consumer.close()

    consumer = seed_consumer(broker.bootstrap)
    try:
        consumer.assign([tp])
        assert consumer.position(tp) == 12, broker.log()
        assert read(consumer, tp, 3, commit=False) == [12, 13, 14]
        # Not committed: the next restart is back at 12.
    finally:
        consumer.close()
    consumer = seed_consumer(broker.bootstrap)
    try:
        consumer.assign([tp])
        assert consumer.position(tp) == 12
        assert consumer.committed(tp) == 12
    finally:
        consumer.close()


# -- KafkaAdminClient ---------------------------------------------------------------------------


def test_admin_groups(broker_factory: Any) -> None:
    broker: BrokerProcess = broker_factory(overrides=NO_DELAY)
    topic = f"admin-{uuid.uuid4().hex[:8]}"
    group = f"admin-group-{uuid.uuid4().hex[:8]}"
    with RawClient.to(broker.bootstrap) as raw:
        raw.create_topic(topic, partitions=3)
    produce(broker.bootstrap, topic, range(30))
    member = Member(
        "seed",
        {
            "bootstrap": broker.bootstrap,
            "topic": topic,
            "group": group,
            "extra": {"auto_offset_reset": "earliest", "auto_commit_interval_ms": 100},
        },
        "admin-member",
    )
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        member.wait_for(lambda _e: len(member.records()) >= 30, 40, "30 records")

        def committed() -> dict[TopicPartition, OffsetAndMetadata]:
            return cast(
                "dict[TopicPartition, OffsetAndMetadata]",
                admin.list_group_offsets({group: None})[group],
            )

        want = {
            TopicPartition(topic, p): sum(1 for q, _, _ in member.records() if q == p)
            for p in range(3)
        }
        wait_until(
            lambda: {tp: o.offset for tp, o in committed().items()} == want,
            15,
            "auto-committed offsets",
            lambda: f"{committed()}\n{describe(broker, member)}",
        )

        listed = {g["group_id"]: g for g in admin.list_groups()}
        assert group in listed, listed
        assert listed[group]["protocol_type"] == "consumer"
        stable = [g["group_id"] for g in admin.list_groups(states_filter=["Stable"])]
        empty = [g["group_id"] for g in admin.list_groups(states_filter=["Empty"])]
        assert group in stable and group not in empty

        description = admin.describe_groups([group])[group]
        assert description["error"] is None, description
        assert description["group_state"] == "Stable"
        assert description["protocol_type"] == "consumer"
        assert description["protocol_data"] in ("range", "roundrobin", "sticky")
        [described] = description["members"]
        assert described["client_id"].startswith("kafka-python")
        assignment = described["member_assignment"]
        assigned = {
            (t["topic"], p) for t in assignment["assigned_partitions"] for p in t["partitions"]
        }
        assert assigned == {(topic, p) for p in range(3)}, description

        # Offsets of a subscribed topic cannot be deleted while the group is active.
        tp0 = TopicPartition(topic, 0)
        result = admin.delete_group_offsets(group, [tp0])
        assert result[tp0].__name__ == "GroupSubscribedToTopicError", result
        deleted = admin.delete_groups([group])
        assert deleted[group] == "NonEmptyGroupError", deleted

        member.close()
        wait_until(
            lambda: group in [g["group_id"] for g in admin.list_groups(states_filter=["Empty"])],
            10,
            "the group to be Empty",
        )
        result = admin.delete_group_offsets(group, [tp0])
        assert result[tp0].__name__ == "NoError", result
        assert tp0 not in committed()
        assert admin.delete_groups([group])[group] == "OK"
        assert group not in [g["group_id"] for g in admin.list_groups()]
        assert admin.describe_groups([group])[group]["group_state"] == "Dead"
    finally:
        admin.close()
        member.kill()


# -- error codes, with raw requests -------------------------------------------------------------


class RawMember:
    """Speaks JoinGroup v5 / SyncGroup v5 / Heartbeat v4 / LeaveGroup v4 for one member."""

    def __init__(
        self,
        raw: RawClient,
        group: str,
        session_ms: int = 10_000,
        protocol_type: str = "odradek-test",
    ) -> None:
        self.raw = raw
        self.group = group
        self.session_ms = session_ms
        self.protocol_type = protocol_type
        self.member_id = ""
        self.generation = -1

    def join_request(
        self, member_id: str | None = None, session_ms: int | None = None, version: int = 5
    ) -> Any:
        mod = request_module(JOIN_GROUP, version)
        fields: dict[str, Any] = {
            "group_id": self.group,
            "session_timeout": timedelta(milliseconds=session_ms or self.session_ms),
            "rebalance_timeout": timedelta(milliseconds=30_000),
            "member_id": self.member_id if member_id is None else member_id,
            "protocol_type": self.protocol_type,
            "protocols": (mod.JoinGroupRequestProtocol(name="only", metadata=b"meta"),),
        }
        if version >= 5:
            fields["group_instance_id"] = None
        return mod.JoinGroupRequest(**fields)

    def join(self, **kwargs: Any) -> Any:
        response = self.raw.call(self.join_request(**kwargs))
        if response.error_code == NONE:
            self.member_id = response.member_id
            self.generation = response.generation_id
        return response

    def sync(self, assignments: dict[str, bytes] | None = None) -> Any:
        mod = request_module(SYNC_GROUP, 5)
        return self.raw.call(
            mod.SyncGroupRequest(
                group_id=self.group,
                generation_id=self.generation,
                member_id=self.member_id,
                group_instance_id=None,
                protocol_type=self.protocol_type,
                protocol_name="only",
                assignments=tuple(
                    mod.SyncGroupRequestAssignment(member_id=m, assignment=a)
                    for m, a in (assignments or {}).items()
                ),
            )
        )

    def heartbeat(self, generation: int | None = None, member_id: str | None = None) -> int:
        mod = request_module(HEARTBEAT, 4)
        response = self.raw.call(
            mod.HeartbeatRequest(
                group_id=self.group,
                generation_id=self.generation if generation is None else generation,
                member_id=self.member_id if member_id is None else member_id,
                group_instance_id=None,
            )
        )
        return int(response.error_code)

    def commit(
        self, topic: str, offset: int, generation: int | None = None, partition: int = 0
    ) -> int:
        mod = request_module(OFFSET_COMMIT, 8)
        response = self.raw.call(
            mod.OffsetCommitRequest(
                group_id=self.group,
                generation_id_or_member_epoch=self.generation if generation is None else generation,
                member_id=self.member_id,
                group_instance_id=None,
                topics=(
                    mod.OffsetCommitRequestTopic(
                        name=topic,
                        partitions=(
                            mod.OffsetCommitRequestPartition(
                                partition_index=partition,
                                committed_offset=offset,
                                committed_leader_epoch=-1,
                                committed_metadata="",
                            ),
                        ),
                    ),
                ),
            )
        )
        return int(response.topics[0].partitions[0].error_code)

    def leave(self, member_id: str | None = None) -> Any:
        mod = request_module(LEAVE_GROUP, 4)
        return self.raw.call(
            mod.LeaveGroupRequest(
                group_id=self.group,
                members=(
                    mod.MemberIdentity(
                        member_id=self.member_id if member_id is None else member_id,
                        group_instance_id=None,
                    ),
                ),
            )
        )


def find_coordinator(raw: RawClient, group: str) -> None:
    mod = request_module(FIND_COORDINATOR, 3)
    response = raw.call(mod.FindCoordinatorRequest(key=group, key_type=0))
    assert response.error_code == NONE, response


def test_join_group_error_codes(broker_factory: Any) -> None:
    broker: BrokerProcess = broker_factory(overrides=NO_DELAY)
    group = f"raw-{uuid.uuid4().hex[:8]}"
    with RawClient.to(broker.bootstrap) as raw:
        raw.create_topic("t", partitions=1)
        find_coordinator(raw, group)
        member = RawMember(raw, group)

        # Session timeouts outside [group.min.session.timeout.ms, group.max...] are refused.
        for session_ms in (1000, 5999, 1_800_001):
            response = member.join(member_id="", session_ms=session_ms)
            assert response.error_code == INVALID_SESSION_TIMEOUT, (session_ms, response)

        # KIP-394: v4+ with an empty member id is handed an id first, then joins with it.
        response = member.join(member_id="")
        assert response.error_code == MEMBER_ID_REQUIRED, response
        assigned_id = response.member_id
        assert assigned_id
        response = member.join(member_id=assigned_id)
        assert response.error_code == NONE, response
        assert response.member_id == assigned_id
        assert response.leader == assigned_id
        assert response.generation_id == 1
        assert [m.member_id for m in response.members] == [assigned_id]
        assert member.sync({assigned_id: b"assignment-1"}).assignment == b"assignment-1"
        assert member.heartbeat() == NONE

        # A stale generation, an unknown member.
        assert member.heartbeat(generation=member.generation - 1) == ILLEGAL_GENERATION
        assert member.heartbeat(generation=member.generation + 1) == ILLEGAL_GENERATION
        assert member.heartbeat(member_id="no-such-member") == UNKNOWN_MEMBER_ID
        assert member.heartbeat(member_id="") == UNKNOWN_MEMBER_ID
        assert member.commit("t", 5, generation=member.generation - 1) == ILLEGAL_GENERATION
        assert member.commit("t", 5) == NONE
        # Kafka answers UNKNOWN_TOPIC_OR_PARTITION for partitions that do not exist.
        assert member.commit("no-such-topic", 5) == UNKNOWN_TOPIC_OR_PARTITION
        assert member.commit("t", 5, partition=7) == UNKNOWN_TOPIC_OR_PARTITION
        response = member.leave(member_id="no-such-member")
        assert response.members[0].error_code == UNKNOWN_MEMBER_ID, response

        # Older JoinGroup versions (v3) get no MEMBER_ID_REQUIRED round trip.
        with RawClient.to(broker.bootstrap) as raw2:
            other = RawMember(raw2, f"{group}-v3")
            response = other.join(member_id="", version=3)
            assert response.error_code == NONE, response
            assert response.member_id and response.generation_id == 1

        # Unknown member id on JoinGroup of an existing group, and of a missing group.
        response = member.join(member_id="no-such-member")
        assert response.error_code == UNKNOWN_MEMBER_ID, response
        ghost = RawMember(raw, f"{group}-missing")
        response = ghost.join(member_id="no-such-member")
        assert response.error_code == UNKNOWN_MEMBER_ID, response

        assert member.leave().members[0].error_code == NONE
        # After leaving, the member is unknown.
        assert member.heartbeat() == UNKNOWN_MEMBER_ID


def test_rebalance_in_progress_then_illegal_generation(broker_factory: Any) -> None:
    """A second member joining puts the group in PreparingRebalance: the first member's
    heartbeat answers REBALANCE_IN_PROGRESS; once the new generation forms, the old one is
    ILLEGAL_GENERATION."""
    broker: BrokerProcess = broker_factory(overrides=NO_DELAY)
    group = f"raw-rebalance-{uuid.uuid4().hex[:8]}"
    with RawClient.to(broker.bootstrap) as raw_a, RawClient.to(broker.bootstrap) as raw_b:
        raw_a.create_topic("t", partitions=1)
        a = RawMember(raw_a, group)
        a.member_id = a.join(member_id="").member_id
        assert a.join().error_code == NONE
        assert a.sync({a.member_id: b"a"}).error_code == NONE
        first_generation = a.generation

        b = RawMember(raw_b, group)
        b.member_id = b.join(member_id="").member_id
        # b's JoinGroup waits for a to rejoin: send it without reading the answer yet.
        b_join = raw_b.send(b.join_request())
        deadline = time.monotonic() + 10
        error = a.heartbeat()
        while error == NONE and time.monotonic() < deadline:
            time.sleep(0.05)
            error = a.heartbeat()
        assert error == REBALANCE_IN_PROGRESS, error
        assert a.join().error_code == NONE  # a rejoins: the generation completes
        assert a.generation == first_generation + 1
        correlation, b_response = raw_b.receive(JOIN_GROUP, 5)
        assert correlation == b_join
        assert b_response.error_code == NONE, b_response
        assert b_response.generation_id == a.generation
        assert a.heartbeat(generation=first_generation) == ILLEGAL_GENERATION
        # Kafka validates the member and generation before the group state.
        assert a.commit("t", 1, generation=first_generation) == ILLEGAL_GENERATION
        assert a.commit("t", 1) == REBALANCE_IN_PROGRESS  # CompletingRebalance


def test_offset_delete_error_codes(broker: BrokerProcess) -> None:
    """OffsetDelete as Kafka's OffsetDeleteRequestTest expects: GROUP_ID_NOT_FOUND for an unknown
    group, INVALID_GROUP_ID for an empty one, UNKNOWN_TOPIC_OR_PARTITION for a partition that
    does not exist, NONE for an existing one of an empty group."""
    group = f"raw-delete-{uuid.uuid4().hex[:8]}"
    mod = request_module(OFFSET_DELETE, 0)

    def delete(raw: RawClient, group_id: str, topic: str, partition: int) -> Any:
        return raw.call(
            mod.OffsetDeleteRequest(
                group_id=group_id,
                topics=(
                    mod.OffsetDeleteRequestTopic(
                        name=topic,
                        partitions=(mod.OffsetDeleteRequestPartition(partition_index=partition),),
                    ),
                ),
            )
        )

    with RawClient.to(broker.bootstrap) as raw:
        raw.create_topic("t", partitions=1)
        find_coordinator(raw, group)
        assert delete(raw, group, "t", 0).error_code == 69  # GROUP_ID_NOT_FOUND
        member = RawMember(raw, group)  # generation -1, no member: a "simple" commit
        assert member.commit("t", 4, generation=-1) == NONE
        response = delete(raw, group, "t", 0)
        assert response.error_code == NONE, response
        assert response.topics[0].partitions[0].error_code == NONE
        for topic, partition in (("t", 5), ("no-such-topic", 0)):
            response = delete(raw, group, topic, partition)
            assert response.error_code == NONE, response
            assert response.topics[0].partitions[0].error_code == UNKNOWN_TOPIC_OR_PARTITION, (
                response
            )
        assert delete(raw, "", "t", 0).error_code == 24  # INVALID_GROUP_ID


def test_initial_rebalance_delay(broker: BrokerProcess) -> None:
    """group.initial.rebalance.delay.ms (3000 by default): the first rebalance of an empty group
    waits, and again while new members keep arriving, so both members land in generation 1."""
    group = f"raw-delay-{uuid.uuid4().hex[:8]}"
    with RawClient.to(broker.bootstrap) as raw_a, RawClient.to(broker.bootstrap) as raw_b:
        find_coordinator(raw_a, group)
        a, b = RawMember(raw_a, group), RawMember(raw_b, group)
        started = time.monotonic()
        sent_a = raw_a.send(a.join_request(member_id="", version=3))
        time.sleep(0.3)
        sent_b = raw_b.send(b.join_request(member_id="", version=3))
        got_a, response_a = raw_a.receive(JOIN_GROUP, 3)
        elapsed = time.monotonic() - started
        got_b, response_b = raw_b.receive(JOIN_GROUP, 3)
        assert (got_a, got_b) == (sent_a, sent_b)
        assert response_a.error_code == response_b.error_code == NONE
        assert response_a.generation_id == response_b.generation_id == 1
        leader = response_a if response_a.leader == response_a.member_id else response_b
        assert len(leader.members) == 2
        # 3 s, then 3 s more because a member joined during the first wait.
        assert 5.5 <= elapsed < 10, elapsed
