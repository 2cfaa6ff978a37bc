"""KIP-848's online migration between classic and consumer groups, in the group coordinator
without a broker (the fake clock, scheduler and in-memory ``__consumer_offsets`` of the group
tests).

The reference is Kafka 4.0's GroupMetadataManager (convertToConsumerGroup,
convertToClassicGroup, classicGroupJoinToConsumerGroup and its SyncGroup, Heartbeat and
LeaveGroup siblings) and ConsumerGroup.validateOffsetCommit: a consumer-protocol member
joining a classic group of consumers converts it in place; its classic members keep their
member ids, their generation as member epoch and their assignment, and rejoin when their
assignment must change, revoking before anyone else gets their partitions; when the last
consumer-protocol member leaves, the group becomes classic again; the log read back rebuilds
what was converted; ``group.consumer.migration.policy`` says which way a group may go."""

from __future__ import annotations

import struct
import uuid
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from odradek.common.clock import FakeClock
from odradek.common.errors import NotCoordinatorError
from odradek.coordinator.group.consumer import records as crec
from odradek.coordinator.group.consumer.manager import (
    ConsumerGroupManager,
    HeartbeatRequest,
    HeartbeatResult,
)
from odradek.coordinator.group.consumer.model import (
    ClassicMemberMetadata,
    ConsumerGroup,
    MemberState,
)
from odradek.coordinator.group.consumer_protocol import decode_assignment, encode_assignment
from odradek.coordinator.group.coordinator import (
    GroupConfig,
    GroupCoordinator,
    JoinResult,
    OffsetCommit,
    SyncResult,
)
from odradek.coordinator.group.migration import POLICIES
from odradek.coordinator.group.state import GroupState
from tests.unit.coordinator.test_consumer_group_protocol import FakeTopics
from tests.unit.coordinator.test_group_coordinator import FakeOffsetsLog, FakeScheduler

E = ErrorCode
GROUP = "billing"
TOPIC = "invoices"
TOPIC_ID = uuid.UUID(int=7)
PARTITIONS = 6
SESSION = 10_000
REBALANCE = 30_000


def subscription(topics: list[str], owned: dict[str, list[int]] | None = None) -> bytes:
    """A ConsumerProtocolSubscription v1: topics, null user data, owned partitions."""
    out = [struct.pack(">hi", 1, len(topics))]
    out.extend(struct.pack(">h", len(topic)) + topic.encode() for topic in topics)
    out.append(struct.pack(">i", -1))
    owned = owned or {}
    out.append(struct.pack(">i", len(owned)))
    for topic, parts in owned.items():
        out.append(struct.pack(">h", len(topic)) + topic.encode())
        out.append(struct.pack(">i", len(parts)) + b"".join(struct.pack(">i", p) for p in parts))
    return b"".join(out)


class Harness:
    def __init__(self, policy: str = "bidirectional", log: FakeOffsetsLog | None = None) -> None:
        self.clock = FakeClock()
        self.scheduler = FakeScheduler(self.clock)
        self.log = log or FakeOffsetsLog()
        self.coordinator = GroupCoordinator(
            GroupConfig(
                offsets_partitions=4,
                initial_rebalance_delay_ms=0,
                consumer_migration_policy=policy,
            ),
            self.clock,
            self.scheduler,
            self.log,
            FakeTopics({TOPIC: (TOPIC_ID, PARTITIONS)}),
        )

    # -- the classic protocol ----------------------------------------------------------------

    def join(
        self, member_id: str = "", owned: list[int] | None = None, **fields: Any
    ) -> JoinResult:
        results: list[JoinResult] = []
        protocols = fields.pop(
            "protocols", [("range", subscription([TOPIC], {TOPIC: owned or []}))]
        )
        self.coordinator.join_group(
            GROUP,
            member_id,
            fields.pop("instance_id", None),
            "client",
            "/10.0.0.1",
            SESSION,
            REBALANCE,
            fields.pop("protocol_type", "consumer"),
            protocols,
            fields.pop("require_known_member_id", False),
            results.append,
        )
        assert len(results) <= 1
        return results[0] if results else JoinResult(E.unknown_server_error)

    def sync(
        self, member_id: str, generation: int, assignments: dict[str, bytes] | None = None
    ) -> SyncResult:
        results: list[SyncResult] = []
        self.coordinator.sync_group(
            GROUP,
            generation,
            member_id,
            None,
            "consumer",
            "range",
            assignments or {},
            results.append,
        )
        assert len(results) <= 1
        return results[0] if results else SyncResult(E.unknown_server_error)

    def classic_group(self) -> tuple[str, str, int]:
        """A Stable classic group of two consumers, 0-2 to the leader and 3-5 to the other."""
        first = self.join()
        second_results: list[JoinResult] = []
        self.coordinator.join_group(
            GROUP,
            "",
            None,
            "client",
            "/10.0.0.2",
            SESSION,
            REBALANCE,
            "consumer",
            [("range", subscription([TOPIC]))],
            False,
            second_results.append,
        )
        again = self.join(first.member_id)
        second = second_results[0]
        assert again.error is E.none and second.error is E.none
        leader, other, generation = again.member_id, second.member_id, again.generation_id
        self.sync(other, generation)  # waits for the leader
        done = self.sync(
            leader,
            generation,
            {
                leader: encode_assignment({TOPIC: frozenset({0, 1, 2})}, 1),
                other: encode_assignment({TOPIC: frozenset({3, 4, 5})}, 1),
            },
        )
        assert done.error is E.none
        assert self.coordinator.groups[GROUP].state is GroupState.STABLE
        return leader, other, generation

    # -- the consumer protocol ---------------------------------------------------------------

    def heartbeat(self, member_id: str, epoch: int, **fields: Any) -> HeartbeatResult:
        return self.coordinator.consumer_group_heartbeat(
            HeartbeatRequest(group_id=GROUP, member_id=member_id, member_epoch=epoch, **fields)
        )

    def consumer_join(self, member_id: str) -> HeartbeatResult:
        return self.heartbeat(
            member_id,
            0,
            owned={},
            subscribed_topic_names=(TOPIC,),
            rebalance_timeout_ms=REBALANCE,
        )

    def group(self) -> ConsumerGroup:
        group = self.coordinator.consumer_group(GROUP)
        assert group is not None
        return group

    def replayed(self) -> GroupCoordinator:
        other = Harness()
        for appended in self.log.appended:
            other.coordinator.replay(appended.key, appended.value)
        other.coordinator.finish_loading()
        return other.coordinator


def assigned(result: SyncResult) -> set[int]:
    return set(decode_assignment(result.assignment).get(TOPIC, frozenset()))


def no_partition_held_twice(group: ConsumerGroup) -> None:
    seen: set[int] = set()
    for member in group.members.values():
        held = set(member.owned().get(TOPIC_ID, frozenset()))
        assert not held & seen, f"partitions {held & seen} held twice"
        seen |= held


def converted() -> tuple[Harness, str, str, int]:
    h = Harness()
    leader, other, generation = h.classic_group()
    assert h.coordinator.commit_offsets(
        GROUP, leader, None, generation, {(TOPIC, 1): OffsetCommit(41)}
    )
    joined = h.consumer_join("new-1")
    assert joined.error is E.none
    return h, leader, other, generation


# -- upgrade ----------------------------------------------------------------------------------


def test_a_consumer_member_converts_the_classic_group_in_place() -> None:
    h, leader, other, generation = converted()
    group = h.group()
    assert set(group.members) == {leader, other, "new-1"}
    for member_id, parts in ((leader, {0, 1, 2}), (other, {3, 4, 5})):
        member = group.members[member_id]
        assert member.classic is not None and member.classic.session_timeout_ms == SESSION
        assert member.classic.protocol_name == "range"
        assert member.member_epoch == generation and member.subscribed_topic_names == (TOPIC,)
        assert member.assigned == {TOPIC_ID: frozenset(parts)}
    # Every partition is still held by a classic member: the newcomer waits for them.
    newcomer = group.members["new-1"]
    assert newcomer.assigned == {} and newcomer.state is MemberState.UNRELEASED_PARTITIONS
    assert group.group_epoch == generation + 1 == group.assignment_epoch
    shell = h.coordinator.groups[GROUP]
    assert shell.members == {} and shell.state is GroupState.EMPTY
    assert h.log.group_values(GROUP)[-1] is None  # the classic group's tombstone
    stored = h.coordinator.fetch_offsets(GROUP, [(TOPIC, 1)])[(TOPIC, 1)]
    assert stored is not None and stored.offset == 41
    assert h.coordinator.list_typed_groups() == [(GROUP, "consumer", "Reconciling", "consumer")]


def test_classic_members_revoke_through_a_rejoin_before_the_newcomer_gets_partitions() -> None:
    h, leader, other, generation = converted()
    group = h.group()
    epoch = group.group_epoch
    for member_id, parts in ((leader, [0, 1, 2]), (other, [3, 4, 5])):
        assert h.coordinator.heartbeat(GROUP, generation, member_id, None) is (
            E.rebalance_in_progress
        )
        # Cooperative: it rejoins still owning its partitions; it must give one up first.
        rejoin = h.join(member_id, owned=parts)
        assert rejoin.error is E.none and rejoin.members == () and rejoin.leader_id == ""
        assert rejoin.generation_id == generation  # still revoking
        assert group.members[member_id].state is MemberState.UNREVOKED_PARTITIONS
        kept = assigned(h.sync(member_id, generation))
        assert len(kept) == 2 and kept < set(parts)
        no_partition_held_twice(group)
        assert h.coordinator.heartbeat(GROUP, generation, member_id, None) is (
            E.rebalance_in_progress
        )
        final = h.join(member_id, owned=sorted(kept))
        assert final.generation_id == epoch
        assert assigned(h.sync(member_id, epoch)) == kept
        assert h.coordinator.heartbeat(GROUP, epoch, member_id, None) is E.none
        no_partition_held_twice(group)
    polled = h.heartbeat("new-1", epoch)
    assert polled.assignment is not None and len(polled.assignment[TOPIC_ID]) == 2
    assert group.members["new-1"].state is MemberState.STABLE
    no_partition_held_twice(group)


def test_an_eager_member_that_revoked_everything_moves_on_at_once() -> None:
    h, leader, _, _generation = converted()
    epoch = h.group().group_epoch
    rejoin = h.join(leader, owned=[])  # eager: revoked all before rejoining
    assert rejoin.generation_id == epoch
    assert len(assigned(h.sync(leader, epoch))) == 2


def test_the_log_read_back_rebuilds_the_converted_group() -> None:
    h, leader, other, generation = converted()
    loaded = h.replayed()
    group = loaded.consumer_group(GROUP)
    assert group is not None
    before = h.group()
    assert (group.group_epoch, group.assignment_epoch) == (before.group_epoch, generation + 1)
    assert group.target == before.target
    for member_id in (leader, other, "new-1"):
        want, got = before.members[member_id], group.members[member_id]
        assert (got.member_epoch, got.state, got.assigned, got.classic) == (
            want.member_epoch,
            want.state,
            want.assigned,
            want.classic,
        )
    assert loaded.groups[GROUP].members == {}
    stored = loaded.fetch_offsets(GROUP, [(TOPIC, 1)])[(TOPIC, 1)]
    assert stored is not None and stored.offset == 41
    # A loaded classic member's session timeout is its own.
    assert loaded.heartbeat(GROUP, generation, leader, None) is E.rebalance_in_progress


@pytest.mark.parametrize("policy", ["disabled", "downgrade", "DISABLED"])
def test_a_policy_without_upgrade_keeps_the_classic_group(policy: str) -> None:
    h = Harness(policy)
    h.classic_group()
    joined = h.consumer_join("new-1")
    assert joined.error is E.group_id_not_found
    assert h.coordinator.consumer_group(GROUP) is None
    assert h.coordinator.groups[GROUP].state is GroupState.STABLE


def test_a_classic_group_of_another_protocol_type_is_not_upgraded() -> None:
    h = Harness()
    h.join(protocol_type="connect", protocols=[("sessioned", b"worker")])
    assert h.consumer_join("new-1").error is E.group_id_not_found


def test_every_policy_value_is_known() -> None:
    assert POLICIES == ("bidirectional", "upgrade", "downgrade", "disabled")


def test_a_pending_classic_join_is_told_to_rejoin_when_the_group_is_converted() -> None:
    h = Harness()
    _leader, other, _generation = h.classic_group()
    waiting: list[JoinResult] = []
    h.coordinator.join_group(
        GROUP,
        other,
        None,
        "client",
        "/10.0.0.2",
        SESSION,
        REBALANCE,
        "consumer",
        [("range", subscription([TOPIC, "other"]))],
        False,
        waiting.append,
    )
    assert waiting == []  # PreparingRebalance, waiting for the leader
    assert h.consumer_join("new-1").error is E.none
    assert [r.error for r in waiting] == [E.rebalance_in_progress]


# -- classic members of a consumer group ------------------------------------------------------


def test_a_classic_member_joins_a_consumer_group() -> None:
    h = Harness()
    first = h.consumer_join("c-1")
    assert first.error is E.none and first.member_epoch == 1
    asked = h.join(require_known_member_id=True)
    assert asked.error is E.member_id_required and asked.member_id
    joined = h.join(asked.member_id)
    assert joined.error is E.none and joined.protocol_name == "range"
    assert joined.protocol_type == "consumer" and joined.members == ()
    group = h.group()
    assert group.members[asked.member_id].uses_classic_protocol
    # The consumer member holds all six; the newcomer waits until it releases three.
    assert assigned(h.sync(asked.member_id, joined.generation_id)) == set()
    h.heartbeat("c-1", 1, owned={TOPIC_ID: frozenset(range(PARTITIONS))})
    h.heartbeat("c-1", 1, owned={TOPIC_ID: frozenset(range(3))})
    assert h.coordinator.heartbeat(GROUP, joined.generation_id, asked.member_id, None) is (
        E.rebalance_in_progress
    )
    again = h.join(asked.member_id)
    assert assigned(h.sync(asked.member_id, again.generation_id)) == {3, 4, 5}
    assert h.coordinator.heartbeat(GROUP, again.generation_id, asked.member_id, None) is E.none
    no_partition_held_twice(group)


def test_classic_join_errors_in_a_consumer_group() -> None:
    h = Harness()
    h.consumer_join("c-1")
    assert h.join(protocol_type="connect").error is E.inconsistent_group_protocol
    joined = h.join()
    other = h.join(protocols=[("roundrobin", subscription([TOPIC]))])
    assert other.error is E.inconsistent_group_protocol  # no protocol in common
    assert h.join("c-1").error is E.unknown_member_id  # a consumer-protocol member
    assert h.sync(joined.member_id, joined.generation_id + 5).error is E.illegal_generation
    assert h.coordinator.heartbeat(GROUP, 0, "nobody", None) is E.unknown_member_id


def test_a_silent_classic_member_is_removed_after_its_own_session_timeout() -> None:
    h = Harness()
    h.consumer_join("c-1")
    joined = h.join()
    h.sync(joined.member_id, joined.generation_id)
    h.scheduler.advance(SESSION - 1)
    assert joined.member_id in h.group().members
    h.heartbeat("c-1", h.group().members["c-1"].member_epoch)
    h.scheduler.advance(2)
    assert joined.member_id not in h.group().members


def test_leave_group_removes_a_classic_member_and_its_records() -> None:
    h = Harness()
    h.consumer_join("c-1")
    joined = h.join()
    epoch = h.group().group_epoch
    error, results = h.coordinator.leave_group(GROUP, [(joined.member_id, None), ("x", None)])
    assert error is E.none
    assert [r[2] for r in results] == [E.none, E.unknown_member_id]
    assert joined.member_id not in h.group().members and h.group().group_epoch == epoch + 1
    tombstoned = {
        crec.decode_key(a.key).member_id
        for a in h.log.appended
        if a.value is None and crec.key_type(a.key) in crec.RECORD_TYPES
    }
    assert joined.member_id in tombstoned


def test_a_classic_members_commit_is_checked_against_its_member_epoch() -> None:
    h = Harness()
    h.consumer_join("c-1")
    joined = h.join()
    epoch = joined.generation_id
    bad = h.coordinator.commit_offsets(
        GROUP, joined.member_id, None, epoch + 1, {(TOPIC, 0): OffsetCommit(5)}
    )
    assert bad == {(TOPIC, 0): E.illegal_generation}
    good = h.coordinator.commit_offsets(
        GROUP, joined.member_id, None, epoch, {(TOPIC, 0): OffsetCommit(5)}
    )
    assert good == {(TOPIC, 0): E.none}


# -- downgrade --------------------------------------------------------------------------------


def reconciled() -> tuple[Harness, str, str]:
    h, leader, other, _generation = converted()
    epoch = h.group().group_epoch
    for member_id in (leader, other):
        h.join(member_id, owned=[])
        h.sync(member_id, epoch)
    h.heartbeat("new-1", epoch)
    return h, leader, other


def test_the_last_consumer_member_leaving_makes_the_group_classic_again() -> None:
    h, leader, other = reconciled()
    epoch = h.group().group_epoch
    targets = {m: dict(h.group().target[m]) for m in (leader, other)}
    left = h.heartbeat("new-1", -1)
    assert left.error is E.none
    assert h.coordinator.consumer_group(GROUP) is None
    shell = h.coordinator.groups[GROUP]
    assert shell.state is GroupState.PREPARING_REBALANCE
    assert shell.generation_id == epoch and shell.protocol_name == "range"
    assert set(shell.members) == {leader, other}
    for member_id, target in targets.items():
        parts = decode_assignment(shell.members[member_id].assignment).get(TOPIC, frozenset())
        assert parts == target[TOPIC_ID]
    assert h.coordinator.list_typed_groups() == [
        (GROUP, "consumer", "PreparingRebalance", "classic")
    ]
    # The members find out with their next heartbeat and rejoin a classic rebalance.
    assert h.coordinator.heartbeat(GROUP, epoch, leader, None) is E.rebalance_in_progress
    stored = h.coordinator.fetch_offsets(GROUP, [(TOPIC, 1)])[(TOPIC, 1)]
    assert stored is not None and stored.offset == 41
    loaded = h.replayed()
    assert loaded.consumer_group(GROUP) is None
    assert set(loaded.groups[GROUP].members) == {leader, other}
    assert loaded.groups[GROUP].generation_id == epoch


def test_a_policy_without_downgrade_keeps_classic_members_in_the_consumer_group() -> None:
    h = Harness("upgrade")
    leader, other, _generation = h.classic_group()
    h.consumer_join("new-1")
    h.heartbeat("new-1", -1)
    group = h.group()
    assert set(group.members) == {leader, other}
    assert all(m.uses_classic_protocol for m in group.members.values())


def test_the_consumer_member_fenced_by_its_session_timeout_downgrades_the_group() -> None:
    h, leader, other = reconciled()
    for _ in range(12):  # 60 s: past the consumer session timeout (45 s), not the classic one
        h.scheduler.advance(SESSION // 2)
        group = h.coordinator.consumer_group(GROUP)
        if group is None:
            break
        for member_id in (leader, other):
            epoch = group.members[member_id].member_epoch
            assert h.coordinator.heartbeat(GROUP, epoch, member_id, None) is E.none
    assert h.coordinator.consumer_group(GROUP) is None
    assert set(h.coordinator.groups[GROUP].members) == {leader, other}


# -- records ----------------------------------------------------------------------------------


def test_classic_member_metadata_is_tagged_field_zero_of_the_member_record() -> None:
    classic = ClassicMemberMetadata(12_000, (("range", b"\x00\x01"), ("cooperative-sticky", b"")))
    value = crec.MemberMetadataValue(None, "r1", "c", "/h", (TOPIC,), None, 300, None, classic)
    _, raw = crec.member_metadata_record(GROUP, "m", value)
    assert raw is not None
    assert crec.decode_member_metadata(raw) == value
    plain = crec.MemberMetadataValue(None, None, "c", "/h", (TOPIC,), None, 300, "uniform")
    _, raw_plain = crec.member_metadata_record(GROUP, "m", plain)
    assert raw_plain is not None and raw_plain.endswith(b"\x00")  # no tagged fields
    assert crec.decode_member_metadata(raw_plain) == plain


def test_a_classic_members_offset_fetch_is_checked_against_its_member_epoch() -> None:
    h = Harness()
    h.consumer_join("c-1")
    joined = h.join()
    group = h.group()
    check = ConsumerGroupManager.validate_offset_fetch
    assert check(group, joined.member_id, joined.generation_id) is None
    assert check(group, joined.member_id, joined.generation_id + 1) is E.illegal_generation
    assert check(group, "c-1", 0) is E.stale_member_epoch


def test_an_upgrade_whose_write_fails_leaves_the_classic_group() -> None:
    h = Harness()
    leader, other, generation = h.classic_group()
    h.log.fail = NotCoordinatorError("moved")
    assert h.consumer_join("new-1").error is E.not_coordinator
    h.log.fail = None
    assert h.coordinator.consumer_group(GROUP) is None
    shell = h.coordinator.groups[GROUP]
    assert set(shell.members) == {leader, other} and shell.generation_id == generation
    assert shell.state is GroupState.STABLE
    assert h.coordinator.heartbeat(GROUP, generation, leader, None) is E.none
    assert h.consumer_join("new-1").error is E.none  # and again, written this time
    assert set(h.group().members) == {leader, other, "new-1"}


def test_a_classic_static_member_replacing_the_last_consumer_one_downgrades_at_once() -> None:
    h = Harness()
    first = h.heartbeat(
        "c-1",
        0,
        owned={},
        instance_id="host-1",
        subscribed_topic_names=(TOPIC,),
        rebalance_timeout_ms=REBALANCE,
    )
    assert first.error is E.none
    second = h.join(instance_id="host-2")
    h.heartbeat("c-1", first.member_epoch, owned={TOPIC_ID: frozenset(range(PARTITIONS))})
    h.heartbeat("c-1", first.member_epoch, owned={TOPIC_ID: frozenset(range(3))})
    target = h.group().target["c-1"]
    assert h.heartbeat("c-1", -2, instance_id="host-1").error is E.none
    replacing = h.join(instance_id="host-1")
    assert replacing.error is E.none
    assert h.coordinator.consumer_group(GROUP) is None
    shell = h.coordinator.groups[GROUP]
    assert shell.state is GroupState.STABLE  # no rebalance: it took its predecessor's place
    assert set(shell.members) == {replacing.member_id, second.member_id}
    assert shell.static_members == {"host-1": replacing.member_id, "host-2": second.member_id}
    assert replacing.generation_id == shell.generation_id
    synced = h.sync(replacing.member_id, replacing.generation_id)
    assert synced.error is E.none and assigned(synced) == set(target[TOPIC_ID])
    loaded = h.replayed()
    assert loaded.consumer_group(GROUP) is None
    assert set(loaded.groups[GROUP].members) == {replacing.member_id, second.member_id}


def test_a_classic_static_member_rejoining_under_a_new_id_keeps_its_place() -> None:
    h = Harness()
    h.consumer_join("c-1")
    before = h.join(instance_id="host-2")
    again = h.join(instance_id="host-2")
    assert again.error is E.none and again.member_id != before.member_id
    assert h.join(before.member_id, instance_id="host-2").error is E.fenced_instance_id
    group = h.group()
    assert set(group.members) == {"c-1", again.member_id}
    loaded = h.replayed().consumer_group(GROUP)
    assert loaded is not None
    member = loaded.members[again.member_id]
    assert (
        member.instance_id == "host-2" and member.classic == group.members[again.member_id].classic
    )


def test_a_classic_join_whose_write_fails_leaves_the_group_as_it_was() -> None:
    h = Harness()
    h.consumer_join("c-1")
    before = h.group()
    epochs = (before.group_epoch, before.assignment_epoch)
    h.log.fail = NotCoordinatorError("moved")
    failed = h.join()
    assert failed.error is E.not_coordinator
    h.log.fail = None
    group = h.group()
    assert set(group.members) == {"c-1"} and (group.group_epoch, group.assignment_epoch) == epochs
    assert h.join().error is E.none
