"""The classic group membership protocol: JoinGroup, SyncGroup, Heartbeat and LeaveGroup
(Kafka's GroupCoordinator ``handleJoinGroup``, ``handleSyncGroup``, ``handleHeartbeat``,
``handleLeaveGroup``), with KIP-394 (a new member first gets its member id) and KIP-345
(static members, named by ``group.instance.id``).

JoinGroup and SyncGroup are answered later, through a callback: a join waits for the
rebalance to complete (:mod:`.rebalance`), a follower's sync waits for the leader's, which
brings the assignment. The leader's SyncGroup stores the group (its metadata record with
every assignment) and every waiting member's result carries that write, so no member learns
its assignment before the in-sync replicas hold it. A static member that comes back with the
same protocols into a Stable group takes its former place under a new member id without a
rebalance; the former member id is fenced (FENCED_INSTANCE_ID)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.coordinator.group.metadata_manager import GroupMetadataManager
from odradek.coordinator.group.model import CoordinatorContext, JoinResult, Protocols, SyncResult
from odradek.coordinator.group.rebalance import Rebalancer, join_result
from odradek.coordinator.group.state import GroupMetadata, GroupState, MemberMetadata

E = ErrorCode


class GroupMembership:
    def __init__(
        self, context: CoordinatorContext, metadata: GroupMetadataManager, rebalancer: Rebalancer
    ) -> None:
        self.context = context
        self.metadata = metadata
        self.rebalancer = rebalancer

    # -- JoinGroup ----------------------------------------------------------------------------

    def join_group(
        self,
        group_id: str,
        member_id: str,
        instance_id: str | None,
        client_id: str,
        client_host: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: Protocols,
        require_known_member_id: bool,
        callback: Callable[[JoinResult], None],
    ) -> None:
        config = self.context.config
        if not group_id:
            return callback(JoinResult(E.invalid_group_id, member_id=member_id))
        if not (
            config.min_session_timeout_ms <= session_timeout_ms <= config.max_session_timeout_ms
        ):
            return callback(JoinResult(E.invalid_session_timeout, member_id=member_id))
        group = self.metadata.groups.get(group_id)
        if group is None:
            if member_id:
                return callback(JoinResult(E.unknown_member_id, member_id=member_id))
            group = self.metadata.get_or_create(group_id)
        if group.state is GroupState.DEAD:
            return callback(JoinResult(E.coordinator_not_available, member_id=member_id))
        if not group.supports_protocols(protocol_type, protocols):
            return callback(JoinResult(E.inconsistent_group_protocol, member_id=member_id))
        if not member_id:
            new = MemberMetadata(
                f"{client_id}-{uuid.uuid4()}",
                instance_id,
                client_id,
                client_host,
                rebalance_timeout_ms,
                session_timeout_ms,
                protocol_type,
                list(protocols),
                is_new=True,
            )
            return self._join_unknown_member(group, new, require_known_member_id, callback)
        if member_id in group.pending_members:
            group.pending_members.discard(member_id)
            member = MemberMetadata(
                member_id,
                instance_id,
                client_id,
                client_host,
                rebalance_timeout_ms,
                session_timeout_ms,
                protocol_type,
                list(protocols),
                is_new=True,
            )
            return self._add_member_and_rebalance(group, member, callback)
        return self._join_known_member(
            group,
            member_id,
            instance_id,
            protocols,
            session_timeout_ms,
            rebalance_timeout_ms,
            callback,
        )

    def _join_unknown_member(
        self,
        group: GroupMetadata,
        new: MemberMetadata,
        require_known_member_id: bool,
        callback: Callable[[JoinResult], None],
    ) -> None:
        """A member without a member id; ``new`` is the member it would become."""
        new_id, instance_id = new.member_id, new.group_instance_id
        if len(group.members) >= self.context.config.max_group_size:
            return callback(JoinResult(E.group_max_size_reached, member_id=new_id))
        if instance_id is not None and instance_id in group.static_members:
            return self._replace_static_member(group, instance_id, new, callback)
        if instance_id is None and require_known_member_id:
            # KIP-394: hand out the id first; the member joins again with it.
            group.pending_members.add(new_id)
            self.rebalancer.schedule_pending_expiry(group, new_id, new.session_timeout_ms)
            return callback(JoinResult(E.member_id_required, member_id=new_id))
        self._add_member_and_rebalance(group, new, callback)
        return None

    def _join_known_member(
        self,
        group: GroupMetadata,
        member_id: str,
        instance_id: str | None,
        protocols: Protocols,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        callback: Callable[[JoinResult], None],
    ) -> None:
        error = group.validate_member(member_id, instance_id)
        if error is not None:
            return callback(JoinResult(error, member_id=member_id))
        member = group.members[member_id]
        member.session_timeout_ms = session_timeout_ms
        member.rebalance_timeout_ms = rebalance_timeout_ms
        if group.state is GroupState.PREPARING_REBALANCE:
            self._update_member_and_rebalance(group, member, protocols, callback)
        elif group.state is GroupState.COMPLETING_REBALANCE:
            if member.matches(protocols):
                callback(join_result(group, member))
            else:
                self._update_member_and_rebalance(group, member, protocols, callback)
        elif group.state is GroupState.STABLE:
            if member_id == group.leader_id or not member.matches(protocols):
                self._update_member_and_rebalance(group, member, protocols, callback)
            else:
                callback(join_result(group, member, include_members=False))
        else:  # Empty or Dead with a known member cannot happen
            callback(JoinResult(E.unknown_member_id, member_id=member_id))
        return None

    def _replace_static_member(
        self,
        group: GroupMetadata,
        instance_id: str,
        new: MemberMetadata,
        callback: Callable[[JoinResult], None],
    ) -> None:
        """KIP-345: ``instance_id`` comes back under a new member id; the old one is fenced."""
        old_id, new_id = group.static_members[instance_id], new.member_id
        old = group.members.pop(old_id)
        old.cancel_expiry()
        if old.awaiting_join is not None:
            old.awaiting_join(JoinResult(E.fenced_instance_id, member_id=old_id))
        if old.awaiting_sync is not None:
            old.awaiting_sync(SyncResult(E.fenced_instance_id))
        member = replace(
            new, protocol_type=old.protocol_type, assignment=old.assignment, is_new=False
        )
        group.members[new_id] = member
        group.static_members[instance_id] = new_id
        if group.leader_id == old_id:
            group.leader_id = new_id
        if group.state is GroupState.STABLE and old.matches(member.protocols):
            # KIP-345: a known static member coming back does not rebalance the others.
            write = self.metadata.store_group(group)
            self.rebalancer.schedule_expiry(group, member)
            is_leader = group.leader_id == new_id
            result = join_result(
                group, member, include_members=is_leader, skip_assignment=is_leader
            )
            callback(replace(result, write=write))
            return
        member.awaiting_join = callback
        if group.state is GroupState.PREPARING_REBALANCE:
            self.rebalancer.try_complete_join(group)
        else:
            self.rebalancer.prepare_rebalance(group, f"static member {instance_id} rejoined")

    def _add_member_and_rebalance(
        self, group: GroupMetadata, member: MemberMetadata, callback: Callable[[JoinResult], None]
    ) -> None:
        member.awaiting_join = callback
        group.members[member.member_id] = member
        if member.group_instance_id is not None:
            group.static_members[member.group_instance_id] = member.member_id
        if group.protocol_type is None:
            group.protocol_type = member.protocol_type
        if group.leader_id is None:
            group.leader_id = member.member_id
        group.new_member_added = True
        self.rebalancer.schedule_expiry(group, member)
        self.rebalancer.maybe_prepare_rebalance(group, f"member {member.member_id} joined")

    def _update_member_and_rebalance(
        self,
        group: GroupMetadata,
        member: MemberMetadata,
        protocols: Protocols,
        callback: Callable[[JoinResult], None],
    ) -> None:
        member.protocols = list(protocols)
        member.awaiting_join = callback
        self.rebalancer.maybe_prepare_rebalance(group, f"member {member.member_id} rejoined")

    # -- SyncGroup ----------------------------------------------------------------------------

    def sync_group(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        instance_id: str | None,
        protocol_type: str | None,
        protocol_name: str | None,
        assignments: dict[str, bytes],
        callback: Callable[[SyncResult], None],
    ) -> None:
        group = self.metadata.groups.get(group_id)
        if group is None or group.state is GroupState.DEAD:
            return callback(SyncResult(E.unknown_member_id))
        error = group.validate_member(member_id, instance_id)
        if error is not None:
            return callback(SyncResult(error))
        if generation_id != group.generation_id:
            return callback(SyncResult(E.illegal_generation))
        if (protocol_type is not None and protocol_type != group.protocol_type) or (
            protocol_name is not None and protocol_name != group.protocol_name
        ):
            return callback(SyncResult(E.inconsistent_group_protocol))
        member = group.members[member_id]
        if group.state in (GroupState.PREPARING_REBALANCE, GroupState.EMPTY):
            return callback(SyncResult(E.rebalance_in_progress))
        if group.state is GroupState.STABLE:
            self.rebalancer.schedule_expiry(group, member)
            return callback(_sync_result(group, member))
        member.awaiting_sync = callback
        self.rebalancer.schedule_expiry(group, member)
        if member_id == group.leader_id:
            self._complete_sync(group, assignments)
        return None

    def _complete_sync(self, group: GroupMetadata, assignments: dict[str, bytes]) -> None:
        """The leader's assignments: store the group, then answer every waiting member."""
        for each_id, each in group.members.items():
            each.assignment = assignments.get(each_id, b"")
        try:
            write = self.metadata.store_group(group)
        except KafkaError as exc:
            for each in group.members.values():
                if each.awaiting_sync is not None:
                    respond = each.awaiting_sync
                    each.awaiting_sync = None
                    respond(SyncResult(exc.error_code))
            self.rebalancer.prepare_rebalance(group, "storing the group failed")
            return
        group.state = GroupState.STABLE
        group.state_timestamp = self.context.clock.milliseconds()
        for each in group.members.values():
            if each.awaiting_sync is not None:
                respond = each.awaiting_sync
                each.awaiting_sync = None
                respond(replace(_sync_result(group, each), write=write))

    # -- Heartbeat and LeaveGroup -------------------------------------------------------------

    def heartbeat(
        self, group_id: str, generation_id: int, member_id: str, instance_id: str | None
    ) -> ErrorCode:
        group = self.metadata.groups.get(group_id)
        if group is None or group.state in (GroupState.DEAD, GroupState.EMPTY):
            return E.unknown_member_id
        error = group.validate_member(member_id, instance_id)
        if error is not None:
            return error
        if generation_id != group.generation_id:
            return E.illegal_generation
        member = group.members[member_id]
        self.rebalancer.schedule_expiry(group, member)
        if group.state is GroupState.PREPARING_REBALANCE:
            return E.rebalance_in_progress
        return E.none

    def leave_group(
        self, group_id: str, leaving: list[tuple[str, str | None]]
    ) -> tuple[ErrorCode, list[tuple[str, str | None, ErrorCode]]]:
        group = self.metadata.groups.get(group_id)
        if group is None or group.state is GroupState.DEAD:
            return E.none, [(m, i, E.unknown_member_id) for m, i in leaving]
        results: list[tuple[str, str | None, ErrorCode]] = []
        for member_id, instance_id in leaving:
            if instance_id is not None:
                known = group.static_members.get(instance_id)
                if known is None:
                    results.append((member_id, instance_id, E.unknown_member_id))
                    continue
                if member_id and known != member_id:
                    results.append((member_id, instance_id, E.fenced_instance_id))
                    continue
                member_id = known
            if member_id in group.pending_members:
                group.pending_members.discard(member_id)
                results.append((member_id, instance_id, E.none))
                self.rebalancer.try_complete_join(group)
                continue
            member = group.members.get(member_id)
            if member is None:
                results.append((member_id, instance_id, E.unknown_member_id))
                continue
            reason = f"member {member_id} left"
            self.rebalancer.remove_member_and_update(group, member, reason)
            results.append((member_id, instance_id, E.none))
        return E.none, results


def _sync_result(group: GroupMetadata, member: MemberMetadata) -> SyncResult:
    return SyncResult(E.none, group.protocol_type, group.protocol_name, member.assignment)
