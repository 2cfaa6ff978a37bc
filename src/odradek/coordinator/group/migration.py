"""KIP-848's online migration between classic and consumer groups
(``group.consumer.migration.policy``: ``bidirectional``, ``upgrade``, ``downgrade`` or
``disabled``; empty groups change kind whatever the policy).

**Upgrade.** A ConsumerGroupHeartbeat joining a classic group whose members all use the
``consumer`` protocol type converts it in place (Kafka's ``convertToConsumerGroup``): every
classic member becomes a member of the consumer group that keeps speaking the classic
protocol, at member epoch = the group's generation, Stable, with its subscription decoded
from its JoinGroup metadata and its assignment from its last SyncGroup; the group epoch and
the assignment epoch are the generation and each member's target is its assignment. Members
waiting for a JoinGroup or SyncGroup response are told REBALANCE_IN_PROGRESS. The conversion
is written as the classic group's tombstone followed by every record of the consumer group,
in the heartbeat's write, so loading the log rebuilds the same group; the committed offsets
belong to the group id and stay.

**Downgrade.** When the last consumer-protocol member of a consumer group leaves (or is
fenced) while classic members remain, the group becomes a classic group (Kafka's
``convertToClassicGroup``): Stable at generation = the group epoch, each member with its
supported protocols and its target assignment encoded with the consumer protocol, written as
the consumer group's tombstones and the classic group's metadata record; then it prepares a
rebalance, so the members rejoin a classic rebalance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.common.writes import InternalWrite
from odradek.coordinator.group import records as rec
from odradek.coordinator.group.consumer import records as crec
from odradek.coordinator.group.consumer.core import ConsumerGroupCore
from odradek.coordinator.group.consumer.model import (
    Assignment,
    ClassicMemberMetadata,
    ConsumerGroup,
    ConsumerGroupMember,
    MemberState,
)
from odradek.coordinator.group.consumer_protocol import (
    decode_assignment,
    decode_subscription,
    encode_assignment,
    subscription_version,
)
from odradek.coordinator.group.metadata_manager import group_value
from odradek.coordinator.group.model import CoordinatorContext, JoinResult, SyncResult
from odradek.coordinator.group.rebalance import Rebalancer
from odradek.coordinator.group.state import GroupMetadata, GroupState, MemberMetadata

E = ErrorCode
log = logging.getLogger(__name__)
CONSUMER_PROTOCOL_TYPE = "consumer"
POLICIES = ("bidirectional", "upgrade", "downgrade", "disabled")


def upgrade_enabled(policy: str) -> bool:
    return policy.lower() in ("bidirectional", "upgrade")


def downgrade_enabled(policy: str) -> bool:
    return policy.lower() in ("bidirectional", "downgrade")


class GroupMigration:
    def __init__(
        self, context: CoordinatorContext, core: ConsumerGroupCore, rebalancer: Rebalancer
    ) -> None:
        self.context = context
        self.core = core
        self.rebalancer = rebalancer

    # -- classic to consumer ------------------------------------------------------------------

    def can_upgrade(self, shell: GroupMetadata) -> bool:
        config = self.context.config
        group_id = shell.group_id
        if not upgrade_enabled(config.consumer_migration_policy):
            log.info("cannot upgrade classic group %s: the online upgrade is disabled", group_id)
            return False
        if shell.protocol_type != CONSUMER_PROTOCOL_TYPE:
            log.info("cannot upgrade classic group %s: not the consumer protocol", group_id)
            return False
        if len(shell.members) > config.consumer_max_size:
            log.info("cannot upgrade classic group %s: more members than allowed", group_id)
            return False
        try:
            for member in shell.members.values():
                decode_subscription(_subscription_of(shell, member))
                decode_assignment(member.assignment)
        except ValueError:
            log.warning("cannot upgrade classic group %s: malformed consumer protocol", group_id)
            return False
        return True

    def upgrade(self, shell: GroupMetadata, records: list[crec.Record]) -> Callable[[], None]:
        """Convert ``shell``'s classic group into a consumer group; ``records`` gets the
        conversion's records. Returns what turns it back into the classic group it was, for
        a heartbeat whose write fails (its members were told to rejoin, and will)."""
        undo = self._restorer(shell)
        generation = shell.generation_id
        group = ConsumerGroup(shell.group_id, group_epoch=generation, assignment_epoch=generation)
        for classic in shell.members.values():
            member = self._member_from(shell, classic, generation)
            group.members[member.member_id] = member
            group.target[member.member_id] = dict(member.assigned)
            if member.instance_id is not None:
                group.static_members[member.instance_id] = member.member_id
        _release_classic_group(shell)
        records.append(rec.group_tombstone(shell.group_id))
        records.extend(crec.group_records(group))
        shell.consumer = group
        for member in group.members.values():
            self.core.schedule_session_timeout(group, member)
        log.info("classic group %s converted to a consumer group", shell.group_id)
        return undo

    def _restorer(self, shell: GroupMetadata) -> Callable[[], None]:
        saved = replace(
            shell, members=dict(shell.members), static_members=dict(shell.static_members)
        )

        def restore() -> None:
            if shell.consumer is not None:
                for converted in shell.consumer.members.values():
                    converted.cancel_timers()
            shell.consumer = None
            shell.members, shell.static_members = saved.members, saved.static_members
            shell.generation_id, shell.protocol_type = saved.generation_id, saved.protocol_type
            shell.protocol_name, shell.leader_id = saved.protocol_name, saved.leader_id
            shell.state, shell.state_timestamp = saved.state, saved.state_timestamp
            for member in shell.members.values():
                self.rebalancer.schedule_expiry(shell, member)
            if saved.state is not GroupState.STABLE:
                shell.state = GroupState.STABLE  # so that the rebalance starts over
                self.rebalancer.prepare_rebalance(shell, "its upgrade was not written")

        return restore

    def _member_from(
        self, shell: GroupMetadata, classic: MemberMetadata, generation: int
    ) -> ConsumerGroupMember:
        subscription = decode_subscription(_subscription_of(shell, classic))
        return ConsumerGroupMember(
            classic.member_id,
            instance_id=classic.group_instance_id,
            rack_id=subscription.rack_id,
            client_id=classic.client_id,
            client_host=classic.client_host,
            subscribed_topic_names=tuple(sorted(set(subscription.topics))),
            rebalance_timeout_ms=classic.rebalance_timeout_ms,
            member_epoch=generation,
            previous_member_epoch=generation,
            state=MemberState.STABLE,
            assigned=self.by_topic_id(decode_assignment(classic.assignment)),
            classic=ClassicMemberMetadata(classic.session_timeout_ms, tuple(classic.protocols)),
        )

    def by_topic_id(self, partitions: dict[str, frozenset[int]]) -> Assignment:
        """Partitions by topic name as partitions by topic id (unknown topics dropped)."""
        result: Assignment = {}
        for name, parts in partitions.items():
            found = self.context.topics.topic(name)
            if found is not None and parts:
                result[found[0]] = result.get(found[0], frozenset()) | parts
        return result

    def by_topic_name(self, assignment: Assignment) -> dict[str, frozenset[int]]:
        result: dict[str, frozenset[int]] = {}
        for topic_id, parts in assignment.items():
            name = self.context.topics.topic_name(topic_id)
            if name is not None:
                result[name] = parts
        return result

    # -- consumer to classic ------------------------------------------------------------------

    def can_downgrade(self, group: ConsumerGroup, leaving_member_id: str | None) -> bool:
        """Whether ``group`` becomes classic now that ``leaving_member_id`` leaves (None: a
        classic static member just replaced the last consumer-protocol one)."""
        config = self.context.config
        if not group.uses_classic_protocol_only(except_member=leaving_member_id):
            return False
        remaining = len(group.members) - (1 if leaving_member_id is not None else 0)
        if remaining < 1:
            return False  # it becomes empty: it stays a consumer group until a classic join
        if not downgrade_enabled(config.consumer_migration_policy):
            log.info(
                "cannot downgrade consumer group %s: the online downgrade is disabled",
                group.group_id,
            )
            return False
        return remaining <= config.max_group_size

    def downgrade(
        self,
        group: ConsumerGroup,
        leaving_member_id: str | None,
        records: list[crec.Record] | None = None,
    ) -> InternalWrite | None:
        """Convert ``group`` (without its leaving member) back into a classic group, written
        after ``records``. A member leaving makes the classic group rebalance; a static
        member's replacement leaves it Stable."""
        shell = self.core.metadata.groups[group.group_id]
        written = [*(records or []), *crec.group_tombstones(group)]
        _release_classic_group(shell)
        shell.generation_id = group.group_epoch
        shell.protocol_type = CONSUMER_PROTOCOL_TYPE
        for member in group.members.values():
            member.cancel_timers()
            if member.member_id != leaving_member_id and member.classic is not None:
                shell.members[member.member_id] = _classic_member(member, member.classic)
                if member.instance_id is not None:
                    shell.static_members[member.instance_id] = member.member_id
        shell.protocol_name = shell.select_protocol()
        shell.leader_id = next(iter(shell.members))
        for classic in shell.members.values():
            partitions = self.by_topic_name(group.target.get(classic.member_id, {}))
            version = subscription_version(classic.metadata_for(shell.protocol_name))
            classic.assignment = encode_assignment(partitions, version)
        shell.state = GroupState.STABLE
        shell.state_timestamp = self.context.clock.milliseconds()
        written.append(
            rec.group_metadata_record(shell.group_id, group_value(shell, shell.state_timestamp))
        )
        try:
            write = self.core.append(group.group_id, written)
        except KafkaError:
            _release_classic_group(shell)  # still the consumer group it was
            for member in group.members.values():
                self.core.schedule_session_timeout(group, member)
            raise
        shell.consumer = None
        for classic in shell.members.values():
            self.rebalancer.schedule_expiry(shell, classic)
        log.info("consumer group %s converted to a classic group", group.group_id)
        if leaving_member_id is not None:
            self.rebalancer.prepare_rebalance(
                shell, f"downgrade of group {group.group_id} from consumer to classic"
            )
        return write


def _classic_member(member: ConsumerGroupMember, classic: ClassicMemberMetadata) -> MemberMetadata:
    return MemberMetadata(
        member.member_id,
        member.instance_id,
        member.client_id,
        member.client_host,
        member.rebalance_timeout_ms,
        classic.session_timeout_ms,
        CONSUMER_PROTOCOL_TYPE,
        list(classic.supported_protocols),
    )


def _subscription_of(shell: GroupMetadata, member: MemberMetadata) -> bytes:
    """The member's subscription for the group's protocol (its first one before any)."""
    if shell.protocol_name is not None:
        try:
            return member.metadata_for(shell.protocol_name)
        except KeyError:
            pass
    return member.protocols[0][1] if member.protocols else b""


def _release_classic_group(shell: GroupMetadata) -> None:
    """The classic group's members handed over: their pending responses told
    REBALANCE_IN_PROGRESS, their timers and the group's stopped, the group left Empty."""
    shell.cancel_join_deadline()
    shell.in_initial_delay = False
    for member in shell.members.values():
        member.cancel_expiry()
        if member.awaiting_join is not None:
            respond, member.awaiting_join = member.awaiting_join, None
            respond(JoinResult(E.rebalance_in_progress, member_id=member.member_id))
        if member.awaiting_sync is not None:
            respond_sync, member.awaiting_sync = member.awaiting_sync, None
            respond_sync(SyncResult(E.rebalance_in_progress))
    shell.members.clear()
    shell.static_members.clear()
    shell.pending_members.clear()
    shell.state = GroupState.EMPTY
    shell.protocol_type = shell.protocol_name = shell.leader_id = None
