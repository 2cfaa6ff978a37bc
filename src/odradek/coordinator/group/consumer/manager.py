"""Consumer-protocol groups (KIP-848): ConsumerGroupHeartbeat, leaving, offset-commit
validation, and loading the group's records (the consumer-group half of Kafka's
GroupMetadataManager; what it shares with classic members of a consumer group is in
:mod:`.core`).

A heartbeat, in Kafka's order: validate the request; find or create the group and the member
(a static member rejoining replaces its former member id); fence a stale member epoch;
update the member's subscription; bump the group epoch when membership, a subscription or the
subscribed topics' metadata changed; recompute the target assignment with the group's server
assignor when the group epoch is ahead of the assignment epoch; move the member one step
towards its target (:mod:`.reconciliation`); append every record this produced in one write.
A heartbeat joining a classic group whose members all speak the consumer protocol converts it
first (KIP-848's online upgrade, :mod:`odradek.coordinator.group.migration`).

A consumer group lives beside the classic group state of the same id
(:class:`~odradek.coordinator.group.state.GroupMetadata`, which keeps the committed offsets
of either kind): ``GroupMetadata.consumer`` is set while the id names a consumer group, so
offsets, their expiry and deletion are shared with the classic protocol.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.common.writes import InternalWrite
from odradek.coordinator.group.consumer import records as crec
from odradek.coordinator.group.consumer.core import ConsumerGroupCore, snapshot_of
from odradek.coordinator.group.consumer.model import (
    LEAVE_GROUP_MEMBER_EPOCH,
    LEAVE_GROUP_STATIC_MEMBER_EPOCH,
    Assignment,
    ConsumerGroup,
    ConsumerGroupMember,
    Requester,
    difference,
)
from odradek.coordinator.group.consumer.replay import replay_into
from odradek.coordinator.group.state import GroupMetadata, GroupState

E = ErrorCode


@dataclass(frozen=True, slots=True)
class HeartbeatRequest:
    """A ConsumerGroupHeartbeat, with the sender's client id and host; ``None`` fields did not
    change since the member's previous heartbeat."""

    group_id: str
    member_id: str
    member_epoch: int
    instance_id: str | None = None
    rack_id: str | None = None
    rebalance_timeout_ms: int = -1
    subscribed_topic_names: tuple[str, ...] | None = None
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    owned: Assignment | None = None
    client_id: str = ""
    client_host: str = ""
    # The sender's principal and host, for the topic ACLs a regex subscription must respect
    requester: Requester | None = None


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    error: ErrorCode
    message: str | None = None
    member_id: str | None = None
    member_epoch: int = -1
    heartbeat_interval_ms: int = 0
    assignment: Assignment | None = None
    write: InternalWrite | None = None


class HeartbeatError(Exception):
    def __init__(self, error: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def new_member_id() -> str:
    """A random member id as Kafka prints a Uuid: URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class ConsumerGroupManager:
    def __init__(self, core: ConsumerGroupCore) -> None:
        self.core = core
        self.context = core.context
        self.metadata = core.metadata

    # -- lookups ------------------------------------------------------------------------------

    def group(self, group_id: str) -> ConsumerGroup | None:
        return self.core.group(group_id)

    def groups(self) -> Iterable[ConsumerGroup]:
        return self.core.groups()

    # -- ConsumerGroupHeartbeat ---------------------------------------------------------------

    def heartbeat(self, request: HeartbeatRequest) -> HeartbeatResult:
        try:
            self._validate(request)
            if request.member_epoch in (LEAVE_GROUP_MEMBER_EPOCH, LEAVE_GROUP_STATIC_MEMBER_EPOCH):
                return self._leave(request)
            return self._heartbeat(request)
        except HeartbeatError as exc:
            return HeartbeatResult(exc.error, exc.message, request.member_id or None)

    def _validate(self, request: HeartbeatRequest) -> None:
        def invalid(message: str) -> HeartbeatError:
            return HeartbeatError(E.invalid_request, message)

        if not request.group_id:
            raise invalid("GroupId can't be empty.")
        if request.member_epoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            raise invalid(f"MemberEpoch {request.member_epoch} is invalid.")
        if request.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH and not request.instance_id:
            raise invalid("InstanceId can't be null when MemberEpoch is -2.")
        if request.member_epoch == 0:
            if request.rebalance_timeout_ms == -1:
                raise invalid("RebalanceTimeoutMs must be provided in first request.")
            if request.owned:
                raise invalid("TopicPartitions must be empty when (re-)joining.")
            if request.subscribed_topic_names is None and request.subscribed_topic_regex is None:
                raise invalid(
                    "SubscribedTopicNames or SubscribedTopicRegex must be set in first request."
                )
        if request.server_assignor is not None and (
            request.server_assignor not in self.context.config.consumer_assignors
        ):
            raise HeartbeatError(
                E.unsupported_assignor,
                f"ServerAssignor {request.server_assignor} is not supported. "
                f"Supported assignors: {', '.join(self.context.config.consumer_assignors)}.",
            )
        if request.subscribed_topic_regex is not None:
            try:
                re.compile(request.subscribed_topic_regex)
            except re.error as exc:
                raise HeartbeatError(
                    E.invalid_regular_expression,
                    f"SubscribedTopicRegex `{request.subscribed_topic_regex}` is not a valid "
                    f"regular expression: {exc}.",
                ) from exc

    def _heartbeat(self, request: HeartbeatRequest) -> HeartbeatResult:
        shell, records, undo_upgrade = self._shell_for(request)
        group = shell.consumer
        assert group is not None
        core = self.core
        snapshot = snapshot_of(group)
        # A regex no member subscribes to any more (its members left) is forgotten: one
        # subscribed again is new, and resolved again.
        group.resolved_regexes &= _regexes(group)
        member, joined = self._member_for(group, request, records)
        bump = self._update_member(group, member, request, records) or joined
        core.update_target(group, bump, records)
        moved = core.reconcile(group, member, request.owned, records)
        try:
            write = core.append(group.group_id, records)
        except KafkaError as exc:
            if undo_upgrade is not None:
                undo_upgrade()
                return HeartbeatResult(exc.error_code, str(exc), request.member_id or None)
            shell.consumer = snapshot
            for kept in snapshot.members.values():
                if kept.session_timer is None:  # a replaced static member's, cancelled
                    core.schedule_session_timeout(snapshot, kept)
            return HeartbeatResult(exc.error_code, str(exc), request.member_id or None)
        core.schedule_session_timeout(group, member)
        core.schedule_rebalance_timeout(group, member)
        core.resolve_regexes(group, request.requester, request.subscribed_topic_regex)
        # As Kafka: the assignment is sent to a member joining, to one sending a full request
        # (all of rebalance timeout, subscription and owned partitions: after an error) and
        # when the member's assignment changed; not merely because it reported what it owns.
        full = (
            request.rebalance_timeout_ms != -1
            and (
                request.subscribed_topic_names is not None
                or request.subscribed_topic_regex is not None
            )
            and request.owned is not None
        )
        provide = request.member_epoch == 0 or full or moved
        return HeartbeatResult(
            E.none,
            member_id=member.member_id,
            member_epoch=member.member_epoch,
            heartbeat_interval_ms=self.context.consumer_heartbeat_interval_ms(group.group_id),
            assignment=dict(member.assigned) if provide else None,
            write=write,
        )

    def _shell_for(
        self, request: HeartbeatRequest
    ) -> tuple[GroupMetadata, list[crec.Record], Callable[[], None] | None]:
        """The group's state holder, the records that made it a consumer group and what
        undoes an upgrade: an empty classic group (e.g. one with only committed offsets)
        becomes one at once, a classic group with members when the migration policy allows
        it (KIP-848's online upgrade)."""
        shell = self.metadata.groups.get(request.group_id)
        if shell is not None and shell.consumer is not None:
            return shell, [], None
        if shell is not None and (shell.members or shell.state is not GroupState.EMPTY):
            migration = self.core.migration
            if request.member_epoch == 0 and migration is not None and migration.can_upgrade(shell):
                records: list[crec.Record] = []
                return shell, records, migration.upgrade(shell, records)
            raise HeartbeatError(
                E.group_id_not_found, f"Group {request.group_id} is not a consumer group."
            )
        if request.member_epoch != 0:
            raise HeartbeatError(
                E.unknown_member_id, f"Group {request.group_id} has no member {request.member_id}."
            )
        shell = self.metadata.get_or_create(request.group_id)
        shell.consumer = ConsumerGroup(request.group_id)
        return shell, [], None

    def _member_for(
        self, group: ConsumerGroup, request: HeartbeatRequest, records: list[crec.Record]
    ) -> tuple[ConsumerGroupMember, bool]:
        """The member the heartbeat is from, and whether it is new to the group."""
        if request.member_epoch != 0:
            member = group.members.get(request.member_id)
            if member is None or member.uses_classic_protocol:
                raise HeartbeatError(
                    E.unknown_member_id, f"Member {request.member_id} is not a member."
                )
            _check_epoch(member, request)
            return member, False
        member_id = request.member_id or new_member_id()
        if request.instance_id is not None:
            replaced = self._replace_static_member(group, request, member_id, records)
            if replaced is not None:
                return replaced, False
        member = group.members.get(member_id)
        if member is not None:
            return member, False
        if len(group.members) >= self.context.config.consumer_max_size:
            raise HeartbeatError(
                E.group_max_size_reached,
                f"The consumer group has reached its maximum capacity of "
                f"{self.context.config.consumer_max_size} members.",
            )
        member = ConsumerGroupMember(member_id, instance_id=request.instance_id)
        group.members[member_id] = member
        if request.instance_id is not None:
            group.static_members[request.instance_id] = member_id
        return member, True

    def _replace_static_member(
        self,
        group: ConsumerGroup,
        request: HeartbeatRequest,
        member_id: str,
        records: list[crec.Record],
    ) -> ConsumerGroupMember | None:
        """A static member rejoining under a new member id takes over its predecessor's
        assignment, once the predecessor left with epoch -2 (UNRELEASED_INSTANCE_ID before)."""
        assert request.instance_id is not None
        old_id = group.static_members.get(request.instance_id)
        if old_id is None:
            return None
        old = group.members[old_id]
        if old.member_epoch != LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            if old_id == member_id:
                return old
            raise HeartbeatError(
                E.unreleased_instance_id,
                f"Static member {old_id} with instance id {request.instance_id} is not "
                "released yet.",
            )
        old.cancel_timers()
        del group.members[old_id]
        records.extend(crec.member_tombstones(group.group_id, old_id))
        member = replace(
            old,
            member_id=member_id,
            member_epoch=0,
            previous_member_epoch=-1,
            session_timer=None,
            rebalance_timer=None,
        )
        group.members[member_id] = member
        group.static_members[request.instance_id] = member_id
        target = group.target.pop(old_id, {})
        group.target[member_id] = target
        records.append(crec.target_assignment_member_record(group.group_id, member_id, target))
        return member

    def _update_member(
        self,
        group: ConsumerGroup,
        member: ConsumerGroupMember,
        request: HeartbeatRequest,
        records: list[crec.Record],
    ) -> bool:
        """Apply what the heartbeat changed; True when the subscription did (an epoch bump)."""
        before = crec.metadata_value(member)
        subscription = (
            member.subscribed_topic_names,
            member.subscribed_topic_regex,
            member.server_assignor,
        )
        if request.subscribed_topic_names is not None:
            member.subscribed_topic_names = tuple(sorted(set(request.subscribed_topic_names)))
        if request.subscribed_topic_regex is not None:
            member.subscribed_topic_regex = request.subscribed_topic_regex or None
        if request.server_assignor is not None:
            member.server_assignor = request.server_assignor
        if request.rack_id is not None:
            member.rack_id = request.rack_id
        if request.rebalance_timeout_ms != -1:
            member.rebalance_timeout_ms = request.rebalance_timeout_ms
        if request.instance_id is not None:
            member.instance_id = request.instance_id
        member.client_id = request.client_id
        member.client_host = request.client_host
        after = crec.metadata_value(member)
        if after != before or member.member_epoch == 0:
            records.append(crec.member_metadata_record(group.group_id, member.member_id, after))
        return subscription != (
            member.subscribed_topic_names,
            member.subscribed_topic_regex,
            member.server_assignor,
        )

    # -- leaving and fencing ------------------------------------------------------------------

    def _leave(self, request: HeartbeatRequest) -> HeartbeatResult:
        group = self.group(request.group_id)
        member = None
        if group is not None:
            member_id = request.member_id
            if request.instance_id is not None:
                member_id = group.static_members.get(request.instance_id, "")
                if member_id and request.member_id and member_id != request.member_id:
                    raise HeartbeatError(
                        E.fenced_instance_id,
                        f"Instance id {request.instance_id} belongs to another member.",
                    )
            member = group.members.get(member_id)
        if group is None or member is None or member.uses_classic_protocol:
            raise HeartbeatError(
                E.unknown_member_id, f"Member {request.member_id} is not a member."
            )
        if request.member_epoch == LEAVE_GROUP_STATIC_MEMBER_EPOCH:
            member.member_epoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH
            write = self.core.append(group.group_id, [crec.current_record(group.group_id, member)])
        else:
            write = self.core.remove_member(group, member)
        return HeartbeatResult(
            E.none,
            member_id=request.member_id or member.member_id,
            member_epoch=request.member_epoch,
            heartbeat_interval_ms=self.context.consumer_heartbeat_interval_ms(group.group_id),
            write=write,
        )

    # -- offsets ------------------------------------------------------------------------------

    @staticmethod
    def validate_offset_commit(
        group: ConsumerGroup, member_id: str, member_epoch: int
    ) -> ErrorCode | None:
        """Commits come from a member at its current epoch (a classic member's generation is
        its member epoch: ILLEGAL_GENERATION otherwise); without a member epoch (admin tools,
        manual assignment) only while the group is empty."""
        if member_epoch < 0 and not group.members:
            return None
        member = group.members.get(member_id)
        if member is None:
            return E.unknown_member_id
        if member_epoch != member.member_epoch:
            return E.illegal_generation if member.uses_classic_protocol else E.stale_member_epoch
        return None

    @staticmethod
    def validate_offset_fetch(
        group: ConsumerGroup, member_id: str | None, member_epoch: int
    ) -> ErrorCode | None:
        if member_epoch < 0 and not member_id:
            return None
        member = group.members.get(member_id or "")
        if member is None:
            return E.unknown_member_id
        if member_epoch != member.member_epoch:
            return E.illegal_generation if member.uses_classic_protocol else E.stale_member_epoch
        return None

    # -- deletion, loading and unloading ------------------------------------------------------

    def group_tombstones(self, group: ConsumerGroup) -> list[crec.Record]:
        """An empty group's own records removed (DeleteGroups, expiry)."""
        return crec.group_tombstones(group)

    def replay(self, key_bytes: bytes, value: bytes | None) -> None:
        key = crec.decode_key(key_bytes)
        shell = self.metadata.groups.get(key.group_id)
        if key.record_type == crec.GROUP_METADATA and value is None:
            if shell is not None and shell.consumer is not None:
                shell.consumer = None
                if not shell.offsets and not shell.members:
                    del self.metadata.groups[key.group_id]
            return
        if value is None and (shell is None or shell.consumer is None):
            return  # a converted group's member records removed after the group's own
        if shell is None:
            shell = self.metadata.get_or_create(key.group_id)
        if shell.consumer is None:
            shell.consumer = ConsumerGroup(key.group_id)
        replay_into(shell.consumer, key, value)

    def finish_loading(self, group: ConsumerGroup) -> None:
        """After replay: every member must heartbeat within the session timeout; a member
        still revoking, within its rebalance timeout. The subscribed topics' metadata came
        with the group's records (a group written before they were stored has none: its
        first heartbeat then bumps the epoch once, and the sticky assignors keep the target)."""
        group.static_members = {
            m.instance_id: m.member_id for m in group.members.values() if m.instance_id
        }
        # Regexes resolved before: a new coordinator does not drop their topics meanwhile.
        group.resolved_regexes = _regexes(group)
        for member in group.members.values():
            self.core.schedule_session_timeout(group, member)
            self.core.schedule_rebalance_timeout(group, member)

    @staticmethod
    def unload(group: ConsumerGroup) -> None:
        for member in group.members.values():
            member.cancel_timers()


def _check_epoch(member: ConsumerGroupMember, request: HeartbeatRequest) -> None:
    """FENCED_MEMBER_EPOCH unless the member is at the epoch it sends, or at the previous one
    with nothing beyond its assignment (the response that moved it on was lost)."""
    if request.instance_id is not None and member.instance_id not in (None, request.instance_id):
        raise HeartbeatError(E.fenced_instance_id, "The instance id does not match the member.")
    if request.member_epoch == member.member_epoch:
        return
    lost_response = (
        request.member_epoch == member.previous_member_epoch
        and request.member_epoch < member.member_epoch
        and (request.owned is None or not difference(request.owned, member.assigned))
    )
    if not lost_response:
        raise HeartbeatError(
            E.fenced_member_epoch,
            f"The consumer group member has a greater member epoch ({member.member_epoch}) "
            f"than the one known by the client ({request.member_epoch}); the member must "
            "abandon all its partitions and rejoin."
            if request.member_epoch < member.member_epoch
            else f"Member epoch {request.member_epoch} is ahead of the coordinator's "
            f"{member.member_epoch}.",
        )


def _regexes(group: ConsumerGroup) -> set[str]:
    """The regexes the group's members subscribe to."""
    return {m.subscribed_topic_regex for m in group.members.values() if m.subscribed_topic_regex}
