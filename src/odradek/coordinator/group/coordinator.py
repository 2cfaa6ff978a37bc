"""The classic group coordinator (Kafka's GroupCoordinator + GroupMetadataManager).

Sans-IO: delayed responses (JoinGroup, SyncGroup) are callbacks; time is an injected clock;
timers (session expiry, rebalance deadlines) go through an injected scheduler; durability
goes through a writer that appends records to ``__consumer_offsets`` and returns the write
(an :class:`InternalWrite`) that a response must wait for: the calls of a request add theirs
to that request's ``writes``, and JoinGroup/SyncGroup results carry theirs, so every member's
response waits until the in-sync replicas have the group's state. State changes are made here
and mirrored to the log as records, which :meth:`GroupCoordinator.replay` reads back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from kio.schema.errors import ErrorCode

from odradek.common.clock import Clock
from odradek.common.errors import KafkaError
from odradek.common.writes import InternalWrite, PendingWrites
from odradek.coordinator.group import records as rec
from odradek.coordinator.group.state import GroupMetadata, GroupState, MemberMetadata

log = logging.getLogger(__name__)

E = ErrorCode
Protocols = list[tuple[str, bytes]]
TopicPartitionKey = tuple[str, int]


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> TimerHandle: ...


class OffsetsWriter(Protocol):
    def append_group_records(self, partition: int,
                             records: Sequence[tuple[bytes, bytes | None]],
                             producer_id: int = -1, producer_epoch: int = -1
                             ) -> InternalWrite | None: ...


@dataclass(frozen=True, slots=True)
class GroupConfig:
    offsets_partitions: int = 50
    min_session_timeout_ms: int = 6000
    max_session_timeout_ms: int = 1_800_000
    initial_rebalance_delay_ms: int = 3000
    offsets_retention_ms: int = 7 * 24 * 3600 * 1000
    max_group_size: int = 2**31 - 1
    offset_metadata_max_bytes: int = 4096


@dataclass(frozen=True, slots=True)
class JoinResult:
    error: ErrorCode
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str = ""
    member_id: str = ""
    members: tuple[tuple[str, str | None, bytes], ...] = ()
    skip_assignment: bool = False
    write: InternalWrite | None = None  # group state the response waits to see replicated


@dataclass(frozen=True, slots=True)
class SyncResult:
    error: ErrorCode
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignment: bytes = b""
    write: InternalWrite | None = None  # group state the response waits to see replicated


@dataclass(frozen=True, slots=True)
class OffsetCommit:
    offset: int
    leader_epoch: int = -1
    metadata: str | None = ""


@dataclass(slots=True)
class GroupDescription:
    group_id: str
    state: str
    protocol_type: str
    protocol: str
    members: list[MemberMetadata] = field(default_factory=list)


class GroupCoordinator:
    def __init__(self, config: GroupConfig, clock: Clock, scheduler: Scheduler,
                 writer: OffsetsWriter) -> None:
        self.config = config
        self.clock = clock
        self.scheduler = scheduler
        self.writer = writer
        self.groups: dict[str, GroupMetadata] = {}

    def partition_for(self, group_id: str) -> int:
        return rec.partition_for(group_id, self.config.offsets_partitions)

    # -- JoinGroup -----------------------------------------------------------------------------

    def join_group(self, group_id: str, member_id: str, instance_id: str | None,
                   client_id: str, client_host: str, session_timeout_ms: int,
                   rebalance_timeout_ms: int, protocol_type: str, protocols: Protocols,
                   require_known_member_id: bool, callback: Callable[[JoinResult], None]) -> None:
        if not group_id:
            return callback(JoinResult(E.invalid_group_id, member_id=member_id))
        if not (self.config.min_session_timeout_ms <= session_timeout_ms
                <= self.config.max_session_timeout_ms):
            return callback(JoinResult(E.invalid_session_timeout, member_id=member_id))
        group = self.groups.get(group_id)
        if group is None:
            if member_id:
                return callback(JoinResult(E.unknown_member_id, member_id=member_id))
            group = self.groups[group_id] = GroupMetadata(group_id)
        if group.state is GroupState.DEAD:
            return callback(JoinResult(E.coordinator_not_available, member_id=member_id))
        if not group.supports_protocols(protocol_type, protocols):
            return callback(JoinResult(E.inconsistent_group_protocol, member_id=member_id))
        if not member_id:
            return self._join_unknown_member(group, instance_id, client_id, client_host,
                                             session_timeout_ms, rebalance_timeout_ms,
                                             protocol_type, protocols,
                                             require_known_member_id, callback)
        if member_id in group.pending_members:
            group.pending_members.discard(member_id)
            member = MemberMetadata(member_id, instance_id, client_id, client_host,
                                    rebalance_timeout_ms, session_timeout_ms, protocol_type,
                                    list(protocols), is_new=True)
            return self._add_member_and_rebalance(group, member, callback)
        return self._join_known_member(group, member_id, instance_id, protocols,
                                       session_timeout_ms, rebalance_timeout_ms, callback)

    def _join_unknown_member(self, group: GroupMetadata, instance_id: str | None,
                             client_id: str, client_host: str, session_timeout_ms: int,
                             rebalance_timeout_ms: int, protocol_type: str,
                             protocols: Protocols, require_known_member_id: bool,
                             callback: Callable[[JoinResult], None]) -> None:
        new_id = f"{client_id}-{uuid.uuid4()}"
        if len(group.members) >= self.config.max_group_size:
            return callback(JoinResult(E.group_max_size_reached, member_id=new_id))
        if instance_id is not None and instance_id in group.static_members:
            return self._replace_static_member(group, instance_id, new_id, protocols,
                                               session_timeout_ms, rebalance_timeout_ms,
                                               client_id, client_host, callback)
        if instance_id is None and require_known_member_id:
            # KIP-394: hand out the id first; the member joins again with it.
            group.pending_members.add(new_id)
            self._schedule_pending_expiry(group, new_id, session_timeout_ms)
            return callback(JoinResult(E.member_id_required, member_id=new_id))
        member = MemberMetadata(new_id, instance_id, client_id, client_host,
                                rebalance_timeout_ms, session_timeout_ms, protocol_type,
                                list(protocols), is_new=True)
        self._add_member_and_rebalance(group, member, callback)
        return None

    def _join_known_member(self, group: GroupMetadata, member_id: str, instance_id: str | None,
                           protocols: Protocols, session_timeout_ms: int,
                           rebalance_timeout_ms: int,
                           callback: Callable[[JoinResult], None]) -> None:
        error = self._validate_member(group, member_id, instance_id)
        if error is not None:
            return callback(JoinResult(error, member_id=member_id))
        member = group.members[member_id]
        member.session_timeout_ms = session_timeout_ms
        member.rebalance_timeout_ms = rebalance_timeout_ms
        if group.state is GroupState.PREPARING_REBALANCE:
            self._update_member_and_rebalance(group, member, protocols, callback)
        elif group.state is GroupState.COMPLETING_REBALANCE:
            if member.matches(protocols):
                callback(self._join_result(group, member))
            else:
                self._update_member_and_rebalance(group, member, protocols, callback)
        elif group.state is GroupState.STABLE:
            if member_id == group.leader_id or not member.matches(protocols):
                self._update_member_and_rebalance(group, member, protocols, callback)
            else:
                callback(self._join_result(group, member, include_members=False))
        else:  # Empty or Dead with a known member cannot happen
            callback(JoinResult(E.unknown_member_id, member_id=member_id))
        return None

    def _replace_static_member(self, group: GroupMetadata, instance_id: str, new_id: str,
                               protocols: Protocols, session_timeout_ms: int,
                               rebalance_timeout_ms: int, client_id: str, client_host: str,
                               callback: Callable[[JoinResult], None]) -> None:
        old_id = group.static_members[instance_id]
        old = group.members.pop(old_id)
        self._cancel_expiry(old)
        if old.awaiting_join is not None:
            old.awaiting_join(JoinResult(E.fenced_instance_id, member_id=old_id))
        if old.awaiting_sync is not None:
            old.awaiting_sync(SyncResult(E.fenced_instance_id))
        member = MemberMetadata(new_id, instance_id, client_id, client_host,
                                rebalance_timeout_ms, session_timeout_ms, old.protocol_type,
                                list(protocols), assignment=old.assignment)
        group.members[new_id] = member
        group.static_members[instance_id] = new_id
        if group.leader_id == old_id:
            group.leader_id = new_id
        if group.state is GroupState.STABLE and old.matches(protocols):
            # KIP-345: a known static member coming back does not rebalance the others.
            write = self._persist_group(group)
            self._schedule_expiry(group, member)
            is_leader = group.leader_id == new_id
            callback(replace(self._join_result(group, member, include_members=is_leader,
                                               skip_assignment=is_leader), write=write))
            return
        member.awaiting_join = callback
        if group.state is GroupState.PREPARING_REBALANCE:
            self._try_complete_join(group)
        else:
            self._prepare_rebalance(group, f"static member {instance_id} rejoined")

    def _add_member_and_rebalance(self, group: GroupMetadata, member: MemberMetadata,
                                  callback: Callable[[JoinResult], None]) -> None:
        member.awaiting_join = callback
        group.members[member.member_id] = member
        if member.group_instance_id is not None:
            group.static_members[member.group_instance_id] = member.member_id
        if group.protocol_type is None:
            group.protocol_type = member.protocol_type
        if group.leader_id is None:
            group.leader_id = member.member_id
        group.new_member_added = True
        self._schedule_expiry(group, member)
        self._maybe_prepare_rebalance(group, f"member {member.member_id} joined")

    def _update_member_and_rebalance(self, group: GroupMetadata, member: MemberMetadata,
                                     protocols: Protocols,
                                     callback: Callable[[JoinResult], None]) -> None:
        member.protocols = list(protocols)
        member.awaiting_join = callback
        self._maybe_prepare_rebalance(group, f"member {member.member_id} rejoined")

    def _maybe_prepare_rebalance(self, group: GroupMetadata, reason: str) -> None:
        if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE,
                           GroupState.EMPTY):
            self._prepare_rebalance(group, reason)
        elif group.state is GroupState.PREPARING_REBALANCE:
            self._try_complete_join(group)

    def _prepare_rebalance(self, group: GroupMetadata, reason: str) -> None:
        if group.state is GroupState.COMPLETING_REBALANCE:
            for member in group.members.values():
                member.assignment = b""
                if member.awaiting_sync is not None:
                    member.awaiting_sync(SyncResult(E.rebalance_in_progress))
                    member.awaiting_sync = None
        was_empty = group.state is GroupState.EMPTY
        group.state = GroupState.PREPARING_REBALANCE
        group.state_timestamp = self.clock.milliseconds()
        log.info("preparing to rebalance group %s (generation %d): %s", group.group_id,
                 group.generation_id, reason)
        self._cancel_join_deadline(group)
        if was_empty and self.config.initial_rebalance_delay_ms > 0:
            group.new_member_added = False
            group.in_initial_delay = True
            delay = min(self.config.initial_rebalance_delay_ms, group.max_rebalance_timeout_ms())
            remaining = group.max_rebalance_timeout_ms() - delay
            group.join_deadline_handle = self.scheduler.call_later(
                delay, lambda: self._initial_delay_expired(group, remaining))
            return
        group.join_deadline_handle = self.scheduler.call_later(
            group.max_rebalance_timeout_ms(), lambda: self._complete_join(group))
        self._try_complete_join(group)

    def _initial_delay_expired(self, group: GroupMetadata, remaining_ms: int) -> None:
        """group.initial.rebalance.delay.ms: wait again while members keep arriving."""
        group.join_deadline_handle = None
        if group.new_member_added and remaining_ms > 0:
            group.new_member_added = False
            delay = min(self.config.initial_rebalance_delay_ms, remaining_ms)
            group.join_deadline_handle = self.scheduler.call_later(
                delay, lambda: self._initial_delay_expired(group, remaining_ms - delay))
            return
        self._complete_join(group)

    def _try_complete_join(self, group: GroupMetadata) -> None:
        if group.state is not GroupState.PREPARING_REBALANCE:
            return
        # During group.initial.rebalance.delay.ms only the timer completes the join.
        if group.all_members_joined() and not group.in_initial_delay:
            self._complete_join(group)

    def _complete_join(self, group: GroupMetadata) -> None:
        if group.state is not GroupState.PREPARING_REBALANCE:
            return
        self._cancel_join_deadline(group)
        group.in_initial_delay = False
        for member in list(group.members.values()):
            if member.awaiting_join is None and member.group_instance_id is None:
                self._remove_member(group, member)
        group.pending_members.clear()
        group.generation_id += 1
        group.state_timestamp = self.clock.milliseconds()
        if group.is_empty:
            group.state = GroupState.EMPTY
            group.protocol_name = None
            group.leader_id = None
            self._persist_group(group)
            log.info("group %s is empty at generation %d", group.group_id, group.generation_id)
            return
        group.protocol_name = group.select_protocol()
        if group.leader_id not in group.members:
            group.leader_id = next(iter(group.members))
        group.state = GroupState.COMPLETING_REBALANCE
        log.info("stabilizing group %s generation %d (%s) with %d members", group.group_id,
                 group.generation_id, group.protocol_name, len(group.members))
        for member in group.members.values():
            if member.awaiting_join is not None:
                respond = member.awaiting_join
                member.awaiting_join = None
                member.is_new = False
                respond(self._join_result(group, member,
                                          include_members=member.member_id == group.leader_id))
            self._schedule_expiry(group, member)

    def _join_result(self, group: GroupMetadata, member: MemberMetadata,
                     include_members: bool | None = None,
                     skip_assignment: bool = False) -> JoinResult:
        if include_members is None:
            include_members = member.member_id == group.leader_id
        members: tuple[tuple[str, str | None, bytes], ...] = ()
        if include_members and group.protocol_name is not None:
            members = tuple((m.member_id, m.group_instance_id,
                             m.metadata_for(group.protocol_name))
                            for m in group.members.values())
        return JoinResult(E.none, group.generation_id, group.protocol_type,
                          group.protocol_name, group.leader_id or "", member.member_id,
                          members, skip_assignment)

    # -- SyncGroup -----------------------------------------------------------------------------

    def sync_group(self, group_id: str, generation_id: int, member_id: str,
                   instance_id: str | None, protocol_type: str | None,
                   protocol_name: str | None, assignments: dict[str, bytes],
                   callback: Callable[[SyncResult], None]) -> None:
        group = self.groups.get(group_id)
        if group is None or group.state is GroupState.DEAD:
            return callback(SyncResult(E.unknown_member_id))
        error = self._validate_member(group, member_id, instance_id)
        if error is not None:
            return callback(SyncResult(error))
        if generation_id != group.generation_id:
            return callback(SyncResult(E.illegal_generation))
        if (protocol_type is not None and protocol_type != group.protocol_type) or (
                protocol_name is not None and protocol_name != group.protocol_name):
            return callback(SyncResult(E.inconsistent_group_protocol))
        member = group.members[member_id]
        if group.state in (GroupState.PREPARING_REBALANCE, GroupState.EMPTY):
            return callback(SyncResult(E.rebalance_in_progress))
        if group.state is GroupState.STABLE:
            self._schedule_expiry(group, member)
            return callback(self._sync_result(group, member))
        member.awaiting_sync = callback
        self._schedule_expiry(group, member)
        if member_id == group.leader_id:
            for each_id, each in group.members.items():
                each.assignment = assignments.get(each_id, b"")
            try:
                write = self._persist_group(group)
            except KafkaError as exc:
                self._fail_sync(group, exc.error_code)
                return None
            group.state = GroupState.STABLE
            group.state_timestamp = self.clock.milliseconds()
            for each in group.members.values():
                if each.awaiting_sync is not None:
                    respond = each.awaiting_sync
                    each.awaiting_sync = None
                    respond(replace(self._sync_result(group, each), write=write))
        return None

    def _sync_result(self, group: GroupMetadata, member: MemberMetadata) -> SyncResult:
        return SyncResult(E.none, group.protocol_type, group.protocol_name, member.assignment)

    def _fail_sync(self, group: GroupMetadata, error: ErrorCode) -> None:
        for member in group.members.values():
            if member.awaiting_sync is not None:
                respond = member.awaiting_sync
                member.awaiting_sync = None
                respond(SyncResult(error))
        self._prepare_rebalance(group, "storing the group failed")

    # -- Heartbeat and LeaveGroup --------------------------------------------------------------

    def heartbeat(self, group_id: str, generation_id: int, member_id: str,
                  instance_id: str | None) -> ErrorCode:
        group = self.groups.get(group_id)
        if group is None or group.state in (GroupState.DEAD, GroupState.EMPTY):
            return E.unknown_member_id
        error = self._validate_member(group, member_id, instance_id)
        if error is not None:
            return error
        if generation_id != group.generation_id:
            return E.illegal_generation
        member = group.members[member_id]
        self._schedule_expiry(group, member)
        if group.state is GroupState.PREPARING_REBALANCE:
            return E.rebalance_in_progress
        return E.none

    def leave_group(self, group_id: str, leaving: list[tuple[str, str | None]]
                    ) -> tuple[ErrorCode, list[tuple[str, str | None, ErrorCode]]]:
        group = self.groups.get(group_id)
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
                self._try_complete_join(group)
                continue
            member = group.members.get(member_id)
            if member is None:
                results.append((member_id, instance_id, E.unknown_member_id))
                continue
            self._remove_member_and_update(group, member, f"member {member_id} left")
            results.append((member_id, instance_id, E.none))
        return E.none, results

    def _remove_member(self, group: GroupMetadata, member: MemberMetadata) -> None:
        self._cancel_expiry(member)
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

    def _remove_member_and_update(self, group: GroupMetadata, member: MemberMetadata,
                                  reason: str) -> None:
        self._remove_member(group, member)
        if group.state in (GroupState.STABLE, GroupState.COMPLETING_REBALANCE):
            self._prepare_rebalance(group, reason)
        elif group.state is GroupState.PREPARING_REBALANCE:
            self._try_complete_join(group)

    # -- timers ------------------------------------------------------------------------------

    def _schedule_expiry(self, group: GroupMetadata, member: MemberMetadata) -> None:
        self._cancel_expiry(member)
        member.heartbeat_satisfied = True
        member.expiry_handle = self.scheduler.call_later(
            member.session_timeout_ms, lambda: self._expire_member(group, member))

    def _cancel_expiry(self, member: MemberMetadata) -> None:
        if member.expiry_handle is not None:
            member.expiry_handle.cancel()
            member.expiry_handle = None

    def _expire_member(self, group: GroupMetadata, member: MemberMetadata) -> None:
        member.expiry_handle = None
        if group.members.get(member.member_id) is not member:
            return
        if member.awaiting_join is not None or member.awaiting_sync is not None:
            member.expiry_handle = self.scheduler.call_later(
                member.session_timeout_ms, lambda: self._expire_member(group, member))
            return
        log.info("member %s of group %s expired (session timeout %d ms)", member.member_id,
                 group.group_id, member.session_timeout_ms)
        self._remove_member_and_update(group, member, f"member {member.member_id} expired")

    def _schedule_pending_expiry(self, group: GroupMetadata, member_id: str,
                                 session_timeout_ms: int) -> None:
        def expire() -> None:
            if member_id in group.pending_members:
                group.pending_members.discard(member_id)
                self._try_complete_join(group)

        self.scheduler.call_later(session_timeout_ms, expire)

    def _cancel_join_deadline(self, group: GroupMetadata) -> None:
        if group.join_deadline_handle is not None:
            group.join_deadline_handle.cancel()
            group.join_deadline_handle = None

    def _validate_member(self, group: GroupMetadata, member_id: str,
                         instance_id: str | None) -> ErrorCode | None:
        if instance_id is not None:
            known = group.static_members.get(instance_id)
            if known is not None and known != member_id:
                return E.fenced_instance_id
        if member_id not in group.members:
            return E.unknown_member_id
        return None

    # -- offsets -------------------------------------------------------------------------------

    def commit_offsets(self, group_id: str, member_id: str, instance_id: str | None,
                       generation_id: int, offsets: dict[TopicPartitionKey, OffsetCommit],
                       writes: PendingWrites | None = None
                       ) -> dict[TopicPartitionKey, ErrorCode]:
        def all_failed(error: ErrorCode) -> dict[TopicPartitionKey, ErrorCode]:
            return dict.fromkeys(offsets, error)

        if not group_id:
            return all_failed(E.invalid_group_id)
        group = self.groups.get(group_id)
        if group is None:
            if generation_id >= 0:
                return all_failed(E.illegal_generation)
            group = self.groups[group_id] = GroupMetadata(group_id)
        if group.state is GroupState.DEAD:
            return all_failed(E.coordinator_not_available)
        if not (generation_id < 0 and group.state is GroupState.EMPTY):
            # Kafka's order (ClassicGroup.validateOffsetCommit): member, generation, state.
            if generation_id >= 0 or member_id or instance_id is not None:
                error = self._validate_member(group, member_id, instance_id)
                if error is not None:
                    return all_failed(error)
                if generation_id != group.generation_id:
                    return all_failed(E.illegal_generation)
            elif group.state is not GroupState.EMPTY:
                return all_failed(E.unknown_member_id)
            if group.state is GroupState.COMPLETING_REBALANCE:
                return all_failed(E.rebalance_in_progress)
            if member_id in group.members:
                self._schedule_expiry(group, group.members[member_id])
        return self._store_offsets(group, offsets, writes=writes)

    def txn_commit_offsets(self, group_id: str, producer_id: int, producer_epoch: int,
                           member_id: str, instance_id: str | None, generation_id: int,
                           offsets: dict[TopicPartitionKey, OffsetCommit],
                           writes: PendingWrites | None = None
                           ) -> dict[TopicPartitionKey, ErrorCode]:
        """TxnOffsetCommit: offsets written inside the producer's transaction; the group sees
        them only when the COMMIT marker reaches its ``__consumer_offsets`` partition."""
        if not group_id:
            return dict.fromkeys(offsets, E.invalid_group_id)
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = GroupMetadata(group_id)
        if group.state is GroupState.DEAD:
            return dict.fromkeys(offsets, E.coordinator_not_available)
        if generation_id >= 0 or member_id:
            error = self._validate_member(group, member_id, instance_id)
            if error is not None:
                return dict.fromkeys(offsets, error)
            if generation_id != group.generation_id:
                return dict.fromkeys(offsets, E.illegal_generation)
        return self._store_offsets(group, offsets, producer_id, producer_epoch, writes)

    def complete_txn(self, partition: int, producer_id: int, commit: bool) -> None:
        """A transaction marker reached offsets partition ``partition``."""
        for group in self.groups.values():
            if self.partition_for(group.group_id) != partition:
                continue
            pending = group.pending_txn_offsets.pop(producer_id, None)
            if pending and commit:
                group.offsets.update(pending)

    def has_pending_offsets(self, group_id: str, key: TopicPartitionKey) -> bool:
        group = self.groups.get(group_id)
        return group is not None and any(key in p for p in group.pending_txn_offsets.values())

    def _store_offsets(self, group: GroupMetadata, offsets: dict[TopicPartitionKey, OffsetCommit],
                       producer_id: int = -1, producer_epoch: int = -1,
                       writes: PendingWrites | None = None
                       ) -> dict[TopicPartitionKey, ErrorCode]:
        now = self.clock.milliseconds()
        results: dict[TopicPartitionKey, ErrorCode] = {}
        records = []
        values = {}
        for key, commit in offsets.items():
            metadata = commit.metadata or ""
            if len(metadata.encode()) > self.config.offset_metadata_max_bytes:
                results[key] = E.offset_metadata_too_large
                continue
            value = rec.OffsetValue(commit.offset, commit.leader_epoch, metadata, now)
            values[key] = value
            records.append((rec.offset_key(group.group_id, key[0], key[1]),
                            rec.offset_value(value)))
        if records:
            try:
                write = self.writer.append_group_records(
                    self.partition_for(group.group_id), records, producer_id, producer_epoch)
            except KafkaError as exc:
                return {**results, **dict.fromkeys(values, _commit_error(exc.error_code))}
            if writes is not None:
                writes.add(write)
            if producer_id >= 0:
                group.pending_txn_offsets.setdefault(producer_id, {}).update(values)
            else:
                group.offsets.update(values)
        return {**results, **dict.fromkeys(values, E.none)}

    def fetch_offsets(self, group_id: str, partitions: list[TopicPartitionKey] | None
                      ) -> dict[TopicPartitionKey, rec.OffsetValue | None]:
        group = self.groups.get(group_id)
        stored = group.offsets if group is not None else {}
        if partitions is None:
            return dict(stored)
        return {key: stored.get(key) for key in partitions}

    def delete_offsets(self, group_id: str, partitions: list[TopicPartitionKey],
                       writes: PendingWrites | None = None
                       ) -> tuple[ErrorCode, dict[TopicPartitionKey, ErrorCode]]:
        if not group_id:
            return E.invalid_group_id, {}
        group = self.groups.get(group_id)
        if group is None or group.state is GroupState.DEAD:
            return E.group_id_not_found, {}
        if group.state is not GroupState.EMPTY and group.protocol_type != "consumer":
            return E.non_empty_group, {}
        active = group.state is not GroupState.EMPTY
        subscribed = group.subscribed_topics() if active else set()
        results = {}
        deleted = []
        for key in partitions:
            # An unreadable subscription counts as subscribed to everything, as in Kafka.
            if active and (subscribed is None or key[0] in subscribed):
                results[key] = E.group_subscribed_to_topic
                continue
            results[key] = E.none
            if key in group.offsets:
                deleted.append(key)
        if deleted:
            write = self.writer.append_group_records(
                self.partition_for(group_id),
                [(rec.offset_key(group_id, t, p), None) for t, p in deleted])
            if writes is not None:
                writes.add(write)
            for key in deleted:
                group.offsets.pop(key, None)
        return E.none, results

    def expire_offsets(self) -> int:
        """Drop committed offsets of empty groups older than offsets.retention.minutes."""
        now = self.clock.milliseconds()
        retention = self.config.offsets_retention_ms
        expired_total = 0
        for group in list(self.groups.values()):
            if group.state is not GroupState.EMPTY:
                continue
            since = group.state_timestamp if group.state_timestamp >= 0 else None
            expired = [key for key, value in group.offsets.items()
                       if now - max(since or value.commit_timestamp,
                                    value.commit_timestamp) >= retention]
            if expired:
                self.writer.append_group_records(
                    self.partition_for(group.group_id),
                    [(rec.offset_key(group.group_id, t, p), None) for t, p in expired])
                for key in expired:
                    del group.offsets[key]
                expired_total += len(expired)
            if not group.offsets and group.is_empty and group.generation_id >= 0:
                self._delete_group(group)
        return expired_total

    # -- listing, describing, deleting ---------------------------------------------------------

    def list_groups(self, states: Iterable[str] | None = None
                    ) -> list[tuple[str, str, str]]:
        wanted = {s.lower() for s in states} if states else None
        return [(g.group_id, g.protocol_type or "", g.state.value)
                for g in self.groups.values()
                if g.state is not GroupState.DEAD
                and (wanted is None or g.state.value.lower() in wanted)]

    def describe_group(self, group_id: str) -> GroupDescription:
        group = self.groups.get(group_id)
        if group is None:
            return GroupDescription(group_id, GroupState.DEAD.value, "", "")
        protocol = group.protocol_name if group.state is GroupState.STABLE else ""
        return GroupDescription(group_id, group.state.value, group.protocol_type or "",
                                protocol or "", list(group.members.values()))

    def delete_groups(self, group_ids: list[str], writes: PendingWrites | None = None
                      ) -> dict[str, ErrorCode]:
        results = {}
        for group_id in group_ids:
            group = self.groups.get(group_id)
            if group is None or group.state is GroupState.DEAD:
                results[group_id] = E.group_id_not_found
            elif group.state is not GroupState.EMPTY:
                results[group_id] = E.non_empty_group
            else:
                try:
                    write = self._delete_group(group)
                    if writes is not None:
                        writes.add(write)
                    results[group_id] = E.none
                except KafkaError as exc:
                    results[group_id] = exc.error_code
        return results

    def _delete_group(self, group: GroupMetadata) -> InternalWrite | None:
        records: list[tuple[bytes, bytes | None]] = [
            (rec.offset_key(group.group_id, t, p), None) for t, p in group.offsets]
        records.append((rec.group_key(group.group_id), None))
        write = self.writer.append_group_records(self.partition_for(group.group_id), records)
        group.state = GroupState.DEAD
        group.offsets.clear()
        del self.groups[group.group_id]
        return write

    # -- persistence ---------------------------------------------------------------------------

    def _persist_group(self, group: GroupMetadata) -> InternalWrite | None:
        members = tuple(
            rec.MemberValue(m.member_id, m.group_instance_id, m.client_id, m.client_host,
                            m.rebalance_timeout_ms, m.session_timeout_ms,
                            m.metadata_for(group.protocol_name) if group.protocol_name else b"",
                            m.assignment)
            for m in group.members.values())
        value = rec.GroupValue(group.protocol_type or "", group.generation_id,
                               group.protocol_name, group.leader_id,
                               self.clock.milliseconds(), members)
        return self.writer.append_group_records(
            self.partition_for(group.group_id),
            [(rec.group_key(group.group_id), rec.group_value(value))])

    def replay(self, key_bytes: bytes, value_bytes: bytes | None,
               producer_id: int = -1) -> None:
        """Apply one ``__consumer_offsets`` record while loading (latest record wins); records
        of a transaction stay pending until its marker is replayed (:meth:`complete_txn`)."""
        key = rec.decode_key(key_bytes)
        if isinstance(key, rec.OffsetKey) and producer_id >= 0 and value_bytes is not None:
            group = self.groups.get(key.group)
            if group is None:
                group = self.groups[key.group] = GroupMetadata(key.group)
            group.pending_txn_offsets.setdefault(producer_id, {})[
                (key.topic, key.partition)] = rec.decode_offset_value(value_bytes)
            return
        if isinstance(key, rec.OffsetKey):
            group = self.groups.get(key.group)
            if value_bytes is None:
                if group is not None:
                    group.offsets.pop((key.topic, key.partition), None)
                return
            if group is None:
                group = self.groups[key.group] = GroupMetadata(key.group)
            group.offsets[(key.topic, key.partition)] = rec.decode_offset_value(value_bytes)
        elif isinstance(key, rec.GroupKey):
            if value_bytes is None:
                self.groups.pop(key.group, None)
                return
            self._load_group(key.group, rec.decode_group_value(value_bytes))

    def _load_group(self, group_id: str, value: rec.GroupValue) -> None:
        group = self.groups.get(group_id) or GroupMetadata(group_id)
        self.groups[group_id] = group
        group.generation_id = value.generation
        group.protocol_type = value.protocol_type or None
        group.protocol_name = value.protocol
        group.leader_id = value.leader
        group.state_timestamp = value.state_timestamp
        for member in group.members.values():
            self._cancel_expiry(member)
        group.members.clear()
        group.static_members.clear()
        for m in value.members:
            protocols = [(value.protocol or "", m.subscription)]
            group.members[m.member_id] = MemberMetadata(
                m.member_id, m.group_instance_id, m.client_id, m.client_host,
                m.rebalance_timeout_ms, m.session_timeout_ms, value.protocol_type, protocols,
                assignment=m.assignment)
            if m.group_instance_id is not None:
                group.static_members[m.group_instance_id] = m.member_id
        group.state = GroupState.STABLE if group.members else GroupState.EMPTY

    def finish_loading(self, partition: int | None = None) -> None:
        """After replay: loaded members must heartbeat within their session timeout."""
        for group in self.groups.values():
            if partition is not None and self.partition_for(group.group_id) != partition:
                continue
            for member in group.members.values():
                self._schedule_expiry(group, member)

    def unload_partition(self, partition: int) -> int:
        """This broker no longer coordinates the groups of ``partition`` (its leadership
        moved): forget them; waiting members are told NOT_COORDINATOR. Returns how many."""
        doomed = [g for g in self.groups.values() if self.partition_for(g.group_id) == partition]
        for group in doomed:
            self._cancel_join_deadline(group)
            for member in group.members.values():
                self._cancel_expiry(member)
                if member.awaiting_join is not None:
                    respond, member.awaiting_join = member.awaiting_join, None
                    respond(JoinResult(E.not_coordinator, member_id=member.member_id))
                if member.awaiting_sync is not None:
                    respond_sync, member.awaiting_sync = member.awaiting_sync, None
                    respond_sync(SyncResult(E.not_coordinator))
            del self.groups[group.group_id]
        return len(doomed)


def _commit_error(error: ErrorCode) -> ErrorCode:
    """Kafka maps log append failures of a commit to coordinator errors clients retry."""
    if error in (E.unknown_topic_or_partition, E.not_enough_replicas,
                 E.not_enough_replicas_after_append, E.request_timed_out):
        return E.coordinator_not_available
    if error in (E.not_leader_or_follower, E.kafka_storage_error):
        return E.not_coordinator
    if error in (E.message_too_large, E.record_list_too_large, E.invalid_fetch_size):
        return E.invalid_commit_offset_size
    return error


