"""The rebalance of a classic group and its timers (Kafka's GroupCoordinator:
``prepareRebalance``, ``onCompleteJoin``, ``removeMemberAndUpdateGroup``, and the delayed
operations DelayedJoin, InitialDelayedJoin and DelayedHeartbeat).

PreparingRebalance waits until every member has rejoined, or until the largest rebalance
timeout of the members has passed; members that did not rejoin are removed then, except
static ones (KIP-345). An Empty group's first rebalance waits
``group.initial.rebalance.delay.ms`` first, and again while new members keep arriving, up to
the rebalance timeout. Completing the join starts the next generation: CompletingRebalance
with a leader and a protocol, or Empty (stored at once) when nobody is left. Every member has
a session timer that its heartbeats (and its JoinGroup, SyncGroup and OffsetCommit requests)
restart; when it fires the member is removed and the others rebalance."""

from __future__ import annotations

import logging

from kio.schema.errors import ErrorCode

from odradek.coordinator.group.metadata_manager import GroupMetadataManager
from odradek.coordinator.group.model import CoordinatorContext, JoinResult, SyncResult
from odradek.coordinator.group.state import GroupMetadata, GroupState, MemberMetadata

log = logging.getLogger(__name__)

E = ErrorCode


class Rebalancer:
    def __init__(self, context: CoordinatorContext, metadata: GroupMetadataManager) -> None:
        self.context = context
        self.metadata = metadata

    # -- PreparingRebalance -------------------------------------------------------------------

    def maybe_prepare_rebalance(self, group: GroupMetadata, reason: str) -> None:
        if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE, GroupState.EMPTY):
            self.prepare_rebalance(group, reason)
        elif group.state is GroupState.PREPARING_REBALANCE:
            self.try_complete_join(group)

    def prepare_rebalance(self, group: GroupMetadata, reason: str) -> None:
        if group.state is GroupState.COMPLETING_REBALANCE:
            for member in group.members.values():
                member.assignment = b""
                if member.awaiting_sync is not None:
                    member.awaiting_sync(SyncResult(E.rebalance_in_progress))
                    member.awaiting_sync = None
        was_empty = group.state is GroupState.EMPTY
        group.state = GroupState.PREPARING_REBALANCE
        group.state_timestamp = self.context.clock.milliseconds()
        log.info(
            "preparing to rebalance group %s (generation %d): %s",
            group.group_id,
            group.generation_id,
            reason,
        )
        group.cancel_join_deadline()
        scheduler = self.context.scheduler
        initial_delay = self.context.config.initial_rebalance_delay_ms
        if was_empty and initial_delay > 0:
            group.new_member_added = False
            group.in_initial_delay = True
            delay = min(initial_delay, group.max_rebalance_timeout_ms())
            remaining = group.max_rebalance_timeout_ms() - delay
            group.join_deadline_handle = scheduler.call_later(
                delay, lambda: self._initial_delay_expired(group, remaining)
            )
            return
        group.join_deadline_handle = scheduler.call_later(
            group.max_rebalance_timeout_ms(), lambda: self.complete_join(group)
        )
        self.try_complete_join(group)

    def _initial_delay_expired(self, group: GroupMetadata, remaining_ms: int) -> None:
        """group.initial.rebalance.delay.ms: wait again while members keep arriving."""
        group.join_deadline_handle = None
        if group.new_member_added and remaining_ms > 0:
            group.new_member_added = False
            delay = min(self.context.config.initial_rebalance_delay_ms, remaining_ms)
            group.join_deadline_handle = self.context.scheduler.call_later(
                delay, lambda: self._initial_delay_expired(group, remaining_ms - delay)
            )
            return
        self.complete_join(group)

    def try_complete_join(self, group: GroupMetadata) -> None:
        if group.state is not GroupState.PREPARING_REBALANCE:
            return
        # During group.initial.rebalance.delay.ms only the timer completes the join.
        if group.all_members_joined() and not group.in_initial_delay:
            self.complete_join(group)

    # -- the next generation ------------------------------------------------------------------

    def complete_join(self, group: GroupMetadata) -> None:
        if group.state is not GroupState.PREPARING_REBALANCE:
            return
        group.cancel_join_deadline()
        group.in_initial_delay = False
        for member in list(group.members.values()):
            if member.awaiting_join is None and member.group_instance_id is None:
                self.remove_member(group, member)
        group.pending_members.clear()
        group.generation_id += 1
        group.state_timestamp = self.context.clock.milliseconds()
        if group.is_empty:
            group.state = GroupState.EMPTY
            group.protocol_name = None
            group.leader_id = None
            self.metadata.store_group(group)
            log.info("group %s is empty at generation %d", group.group_id, group.generation_id)
            return
        group.protocol_name = group.select_protocol()
        if group.leader_id not in group.members:
            group.leader_id = next(iter(group.members))
        group.state = GroupState.COMPLETING_REBALANCE
        log.info(
            "stabilizing group %s generation %d (%s) with %d members",
            group.group_id,
            group.generation_id,
            group.protocol_name,
            len(group.members),
        )
        for member in group.members.values():
            if member.awaiting_join is not None:
                respond = member.awaiting_join
                member.awaiting_join = None
                member.is_new = False
                is_leader = member.member_id == group.leader_id
                respond(join_result(group, member, include_members=is_leader))
            self.schedule_expiry(group, member)

    # -- members leaving ----------------------------------------------------------------------

    def remove_member(self, group: GroupMetadata, member: MemberMetadata) -> None:
        member.cancel_expiry()
        group.members.pop(member.member_id, None)
        instance_id = member.group_instance_id
        if instance_id is not None and group.static_members.get(instance_id) == member.member_id:
            del group.static_members[instance_id]
        if member.awaiting_join is not None:
            member.awaiting_join(JoinResult(E.unknown_member_id, member_id=member.member_id))
            member.awaiting_join = None
        if member.awaiting_sync is not None:
            member.awaiting_sync(SyncResult(E.unknown_member_id))
            member.awaiting_sync = None
        if group.leader_id == member.member_id:
            group.leader_id = next(iter(group.members), None)

    def remove_member_and_update(
        self, group: GroupMetadata, member: MemberMetadata, reason: str
    ) -> None:
        self.remove_member(group, member)
        if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            self.prepare_rebalance(group, reason)
        elif group.state is GroupState.PREPARING_REBALANCE:
            self.try_complete_join(group)

    # -- session timers -----------------------------------------------------------------------

    def schedule_expiry(self, group: GroupMetadata, member: MemberMetadata) -> None:
        """(Re)start the member's session timer."""
        member.cancel_expiry()
        member.heartbeat_satisfied = True
        member.expiry_handle = self.context.scheduler.call_later(
            member.session_timeout_ms, lambda: self._expire_member(group, member)
        )

    def _expire_member(self, group: GroupMetadata, member: MemberMetadata) -> None:
        member.expiry_handle = None
        if group.members.get(member.member_id) is not member:
            return
        if member.awaiting_join is not None or member.awaiting_sync is not None:
            member.expiry_handle = self.context.scheduler.call_later(
                member.session_timeout_ms, lambda: self._expire_member(group, member)
            )
            return
        log.info(
            "member %s of group %s expired (session timeout %d ms)",
            member.member_id,
            group.group_id,
            member.session_timeout_ms,
        )
        self.remove_member_and_update(group, member, f"member {member.member_id} expired")

    def schedule_pending_expiry(
        self, group: GroupMetadata, member_id: str, session_timeout_ms: int
    ) -> None:
        """KIP-394: a member id handed out with MEMBER_ID_REQUIRED lapses unless the member
        joins with it within its session timeout."""

        def expire() -> None:
            if member_id in group.pending_members:
                group.pending_members.discard(member_id)
                self.try_complete_join(group)

        self.context.scheduler.call_later(session_timeout_ms, expire)

    # -- loading and unloading the group's offsets partition ----------------------------------

    def on_group_loaded(self, group: GroupMetadata) -> None:
        """Loaded members must heartbeat within their session timeout."""
        for member in group.members.values():
            self.schedule_expiry(group, member)

    def on_group_unloaded(self, group: GroupMetadata) -> None:
        """Another broker coordinates the group now: stop its timers and tell the members
        that wait for a JoinGroup or SyncGroup response NOT_COORDINATOR."""
        group.cancel_join_deadline()
        for member in group.members.values():
            member.cancel_expiry()
            if member.awaiting_join is not None:
                respond, member.awaiting_join = member.awaiting_join, None
                respond(JoinResult(E.not_coordinator, member_id=member.member_id))
            if member.awaiting_sync is not None:
                respond_sync, member.awaiting_sync = member.awaiting_sync, None
                respond_sync(SyncResult(E.not_coordinator))


def join_result(
    group: GroupMetadata,
    member: MemberMetadata,
    include_members: bool | None = None,
    skip_assignment: bool = False,
) -> JoinResult:
    """The JoinGroup response of ``member`` in the current generation; only the leader (by
    default) gets the members and their subscriptions for the chosen protocol."""
    if include_members is None:
        include_members = member.member_id == group.leader_id
    members: tuple[tuple[str, str | None, bytes], ...] = ()
    if include_members and group.protocol_name is not None:
        members = tuple(
            (m.member_id, m.group_instance_id, m.metadata_for(group.protocol_name))
            for m in group.members.values()
        )
    return JoinResult(
        E.none,
        group.generation_id,
        group.protocol_type,
        group.protocol_name,
        group.leader_id or "",
        member.member_id,
        members,
        skip_assignment,
    )
