"""Members of a consumer group that speak the classic protocol (Kafka's
``classicGroupJoinToConsumerGroup``, ``classicGroupSyncToConsumerGroup``,
``classicGroupHeartbeatToConsumerGroup`` and ``classicGroupLeaveToConsumerGroup``).

Such a member came with a classic group converted to a consumer group, or joined a consumer
group with JoinGroup. The server-side assignor decides for it as for any member:

* JoinGroup updates its subscription (decoded from its ConsumerProtocolSubscription), bumps
  the group epoch when it changed, recomputes the target assignment, moves the member one
  step towards its target with the partitions its subscription says it owns, and answers at
  once: generation = its member epoch, no leader work (no member list);
* SyncGroup answers its assigned partitions as a ConsumerProtocolAssignment;
* Heartbeat answers REBALANCE_IN_PROGRESS while its assignment must change (the group epoch
  moved past it, it has partitions to revoke, or partitions it waits for were released), so
  it rejoins: partitions it gives up leave its SyncGroup assignment before another member
  gets them, as a consumer-protocol member's would;
* its session timeout is its JoinGroup's; told to rejoin, it must join, and having joined it
  must sync, within its rebalance timeout, or it is removed;
* LeaveGroup removes it (its records' tombstones, a group epoch bump).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.common.writes import InternalWrite
from odradek.coordinator.group.consumer import records as crec
from odradek.coordinator.group.consumer.core import ConsumerGroupCore, snapshot_of
from odradek.coordinator.group.consumer.model import (
    Assignment,
    ClassicMemberMetadata,
    ConsumerGroup,
    ConsumerGroupMember,
    MemberState,
)
from odradek.coordinator.group.consumer_protocol import (
    Subscription,
    decode_subscription,
    encode_assignment,
    subscription_version,
)
from odradek.coordinator.group.model import JoinResult, Protocols, SyncResult

E = ErrorCode
CONSUMER_PROTOCOL_TYPE = "consumer"


@dataclass(frozen=True, slots=True)
class ClassicJoin:
    """A JoinGroup request, as the classic-member path needs it."""

    member_id: str
    instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: Protocols
    require_known_member_id: bool


class ClassicMemberError(Exception):
    def __init__(self, error: ErrorCode) -> None:
        super().__init__(error.name)
        self.error = error


class ClassicMembers:
    def __init__(self, core: ConsumerGroupCore) -> None:
        self.core = core
        self.context = core.context

    # -- JoinGroup ----------------------------------------------------------------------------

    def join_group(self, group: ConsumerGroup, join: ClassicJoin) -> JoinResult:
        member_id = join.member_id or str(uuid.uuid4())
        snapshot = snapshot_of(group)
        try:
            self._validate_join(group, join, member_id)
            if not join.member_id and join.require_known_member_id and not join.instance_id:
                # KIP-394: the member gets its id first and joins again with it.
                return JoinResult(E.member_id_required, member_id=member_id)
            subscription = decode_subscription(join.protocols[0][1])
            records: list[crec.Record] = []
            member, joined, replaced = self._member_for(group, join, member_id, records)
        except ValueError:
            return JoinResult(E.inconsistent_group_protocol, member_id=member_id)
        except ClassicMemberError as exc:
            return JoinResult(exc.error, member_id=member_id)
        bump = self._update_member(group.group_id, member, join, subscription, records) or joined
        if joined:
            group.members[member.member_id] = member
            if member.instance_id is not None:
                group.static_members[member.instance_id] = member.member_id
        self.core.update_target(group, bump, records)
        self.core.reconcile(group, member, self._owned(subscription), records)
        migration = self.core.migration
        try:
            if replaced and migration is not None and migration.can_downgrade(group, None):
                # The last consumer-protocol member was replaced by this classic one.
                return self._downgraded(group, member.member_id, records)
            write = self.core.append(group.group_id, records)
        except KafkaError as exc:
            self._restore(snapshot)
            return JoinResult(exc.error_code, member_id=member.member_id)
        member.cancel_classic_timer()
        self.core.schedule_session_timeout(group, member)
        self.core.schedule_classic_timeout(
            group, member, "the classic member did not sync within its rebalance timeout", True
        )
        assert member.classic is not None
        return JoinResult(
            E.none,
            generation_id=member.member_epoch,
            protocol_type=CONSUMER_PROTOCOL_TYPE,
            protocol_name=member.classic.protocol_name,
            member_id=member.member_id,
            write=write,
        )

    def _restore(self, snapshot: ConsumerGroup) -> None:
        """The group as it was before a JoinGroup whose write failed."""
        shell = self.core.metadata.groups[snapshot.group_id]
        if shell.consumer is not None:
            for member in shell.consumer.members.values():
                member.cancel_timers()
        shell.consumer = snapshot
        for member in snapshot.members.values():
            member.rebalance_timer = member.classic_timer = None  # cancelled with the others
            self.core.schedule_session_timeout(snapshot, member)
            self.core.schedule_rebalance_timeout(snapshot, member)

    def _downgraded(
        self, group: ConsumerGroup, member_id: str, records: list[crec.Record]
    ) -> JoinResult:
        """Kafka's downgrade by static member replacement: the group becomes a Stable classic
        group at once, the joining member in it with its predecessor's assignment."""
        assert self.core.migration is not None
        write = self.core.migration.downgrade(group, None, records)
        shell = self.core.metadata.groups[group.group_id]
        return JoinResult(
            E.none,
            generation_id=shell.generation_id,
            protocol_type=CONSUMER_PROTOCOL_TYPE,
            protocol_name=shell.protocol_name,
            leader_id=shell.leader_id or "",
            member_id=member_id,
            write=write,
        )

    def _validate_join(self, group: ConsumerGroup, join: ClassicJoin, member_id: str) -> None:
        config = self.context.config
        if not (
            config.min_session_timeout_ms
            <= join.session_timeout_ms
            <= config.max_session_timeout_ms
        ):
            raise ClassicMemberError(E.invalid_session_timeout)
        if member_id not in group.members and len(group.members) >= config.consumer_max_size:
            raise ClassicMemberError(E.group_max_size_reached)
        if not _supports_classic_protocols(group, join.protocol_type, join.protocols):
            raise ClassicMemberError(E.inconsistent_group_protocol)

    def _member_for(
        self,
        group: ConsumerGroup,
        join: ClassicJoin,
        member_id: str,
        records: list[crec.Record],
    ) -> tuple[ConsumerGroupMember, bool, bool]:
        """The joining member, whether it is new to the group (added by the caller), and
        whether it replaced a static member speaking the consumer protocol."""
        if join.instance_id is not None:
            known_id = group.static_members.get(join.instance_id)
            if known_id is not None and known_id != member_id:
                if join.member_id:
                    raise ClassicMemberError(E.fenced_instance_id)
                replaced_consumer = not group.members[known_id].uses_classic_protocol
                replacing = self._replace_static_member(group, known_id, member_id, records)
                return replacing, False, replaced_consumer
        member = group.members.get(member_id)
        if member is None:
            return ConsumerGroupMember(member_id, instance_id=join.instance_id), True, False
        if not member.uses_classic_protocol:
            raise ClassicMemberError(E.unknown_member_id)
        return member, False, False

    def _replace_static_member(
        self,
        group: ConsumerGroup,
        old_id: str,
        member_id: str,
        records: list[crec.Record],
    ) -> ConsumerGroupMember:
        """A static member joining under a new member id takes over its predecessor's place
        and assignment."""
        old = group.members.pop(old_id)
        old.cancel_timers()
        records.extend(crec.member_tombstones(group.group_id, old_id))
        old.member_id = member_id
        group.members[member_id] = old
        if old.instance_id is not None:
            group.static_members[old.instance_id] = member_id
        target = group.target.pop(old_id, {})
        group.target[member_id] = target
        records.append(
            crec.member_metadata_record(group.group_id, member_id, crec.metadata_value(old))
        )
        records.append(crec.target_assignment_member_record(group.group_id, member_id, target))
        records.append(crec.current_record(group.group_id, old))
        return old

    def _update_member(
        self,
        group_id: str,
        member: ConsumerGroupMember,
        join: ClassicJoin,
        subscription: Subscription,
        records: list[crec.Record],
    ) -> bool:
        """Apply the JoinGroup to the member; True when its subscription changed."""
        before = crec.metadata_value(member)
        topics = tuple(sorted(set(subscription.topics)))
        changed = topics != member.subscribed_topic_names
        member.subscribed_topic_names = topics
        member.subscribed_topic_regex = None
        member.server_assignor = None
        member.rack_id = subscription.rack_id
        member.rebalance_timeout_ms = join.rebalance_timeout_ms
        member.client_id, member.client_host = join.client_id, join.client_host
        member.classic = ClassicMemberMetadata(join.session_timeout_ms, tuple(join.protocols))
        after = crec.metadata_value(member)
        if after != before:
            records.append(crec.member_metadata_record(group_id, member.member_id, after))
        return changed

    def _owned(self, subscription: Subscription) -> Assignment:
        owned: Assignment = {}
        for name, partitions in subscription.owned.items():
            found = self.context.topics.topic(name)
            if found is not None and partitions:
                owned[found[0]] = owned.get(found[0], frozenset()) | partitions
        return owned

    # -- SyncGroup ----------------------------------------------------------------------------

    def sync_group(
        self,
        group: ConsumerGroup,
        generation_id: int,
        member_id: str,
        instance_id: str | None,
        protocol_type: str | None,
        protocol_name: str | None,
    ) -> SyncResult:
        try:
            member = self._classic_member(group, member_id, instance_id)
        except ClassicMemberError as exc:
            return SyncResult(exc.error)
        assert member.classic is not None
        if generation_id != member.member_epoch:
            return SyncResult(E.illegal_generation)
        name = member.classic.protocol_name
        if (protocol_type is not None and protocol_type != CONSUMER_PROTOCOL_TYPE) or (
            protocol_name is not None and protocol_name != name
        ):
            return SyncResult(E.inconsistent_group_protocol)
        if (
            group.group_epoch > member.member_epoch
            and member.state is not MemberState.UNREVOKED_PARTITIONS
        ):
            self._ask_to_rejoin(group, member)
            return SyncResult(E.rebalance_in_progress)
        member.cancel_classic_timer()
        self.core.schedule_session_timeout(group, member)
        partitions: dict[str, frozenset[int]] = {}
        for topic_id, parts in member.assigned.items():
            topic = self.context.topics.topic_name(topic_id)
            if topic is not None:
                partitions[topic] = parts
        version = subscription_version(member.classic.supported_protocols[0][1])
        return SyncResult(
            E.none, CONSUMER_PROTOCOL_TYPE, name, encode_assignment(partitions, version)
        )

    # -- Heartbeat and LeaveGroup -------------------------------------------------------------

    def heartbeat(
        self, group: ConsumerGroup, generation_id: int, member_id: str, instance_id: str | None
    ) -> ErrorCode:
        try:
            member = self._classic_member(group, member_id, instance_id)
        except ClassicMemberError as exc:
            return exc.error
        if generation_id != member.member_epoch:
            return E.illegal_generation
        self.core.schedule_session_timeout(group, member)
        if (
            member.member_epoch < group.group_epoch
            or member.state is MemberState.UNREVOKED_PARTITIONS
            or (
                member.state is MemberState.UNRELEASED_PARTITIONS
                and not _waiting_on_unreleased(group, member)
            )
        ):
            self._ask_to_rejoin(group, member)
            return E.rebalance_in_progress
        return E.none

    def leave_group(
        self, group: ConsumerGroup, leaving: list[tuple[str, str | None]]
    ) -> tuple[list[tuple[str, str | None, ErrorCode]], list[InternalWrite | None]]:
        results: list[tuple[str, str | None, ErrorCode]] = []
        writes: list[InternalWrite | None] = []
        for member_id, instance_id in leaving:
            try:
                member = self._leaving_member(group, member_id, instance_id)
            except ClassicMemberError as exc:
                results.append((member_id, instance_id, exc.error))
                continue
            writes.append(self.core.remove_member(group, member))
            results.append((member.member_id, instance_id, E.none))
        return results, writes

    def _leaving_member(
        self, group: ConsumerGroup, member_id: str, instance_id: str | None
    ) -> ConsumerGroupMember:
        if instance_id is not None:
            known = group.static_members.get(instance_id)
            if known is None:
                raise ClassicMemberError(E.unknown_member_id)
            if member_id and known != member_id:
                raise ClassicMemberError(E.fenced_instance_id)
            member_id = known
        member = group.members.get(member_id)
        if member is None or not member.uses_classic_protocol:
            raise ClassicMemberError(E.unknown_member_id)
        return member

    def _classic_member(
        self, group: ConsumerGroup, member_id: str, instance_id: str | None
    ) -> ConsumerGroupMember:
        """The member a SyncGroup or Heartbeat names (Kafka's validateConsumerGroupMember
        and throwIfMemberDoesNotUseClassicProtocol)."""
        if instance_id is not None:
            known = group.static_members.get(instance_id)
            if known is None:
                raise ClassicMemberError(E.unknown_member_id)
            if known != member_id:
                raise ClassicMemberError(E.fenced_instance_id)
        member = group.members.get(member_id)
        if member is None or not member.uses_classic_protocol:
            raise ClassicMemberError(E.unknown_member_id)
        return member

    def _ask_to_rejoin(self, group: ConsumerGroup, member: ConsumerGroupMember) -> None:
        self.core.schedule_classic_timeout(
            group, member, "the classic member did not rejoin within its rebalance timeout", False
        )


def _supports_classic_protocols(
    group: ConsumerGroup, protocol_type: str, protocols: Protocols
) -> bool:
    """The consumer protocol type, and a protocol every classic member supports (any, while
    there is none)."""
    if protocol_type != CONSUMER_PROTOCOL_TYPE or not protocols:
        return False
    names = {name for name, _ in protocols}
    for member in group.members.values():
        if member.classic is not None:
            names &= {name for name, _ in member.classic.supported_protocols}
    return bool(names)


def _waiting_on_unreleased(group: ConsumerGroup, member: ConsumerGroupMember) -> bool:
    """Some partition of the member's target is still held by another member."""
    owners = group.owners()
    for topic_id, partitions in group.target.get(member.member_id, {}).items():
        for partition in partitions - member.assigned.get(topic_id, frozenset()):
            if owners.get((topic_id, partition), member.member_id) != member.member_id:
                return True
    return False
