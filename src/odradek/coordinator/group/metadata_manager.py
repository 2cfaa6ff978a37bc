"""The groups this coordinator owns and their group-metadata records (Kafka's
GroupMetadataManager: the group cache, ``storeGroup``, loading, listing and describing).

A group's metadata record (key v2, value v3) is a snapshot of the group after a generation
changes hands: protocol type, generation, chosen protocol, leader, state timestamp and every
member with its subscription (for the chosen protocol) and assignment. The live path builds
that snapshot with :func:`group_value`; loading turns it back into a group with
:func:`load_group`, its inverse, right below it. A group tombstone removes the group (the
coordinator writes its offsets' tombstones in the same append, see
:meth:`GroupCoordinator.delete_groups`)."""

from __future__ import annotations

from collections.abc import Iterable

from odradek.common.writes import InternalWrite
from odradek.coordinator.group import records as rec
from odradek.coordinator.group.model import CoordinatorContext, GroupDescription
from odradek.coordinator.group.state import GroupMetadata, GroupState, MemberMetadata


def group_value(group: GroupMetadata, now_ms: int) -> rec.GroupValue:
    """The group-metadata record value of ``group`` as it stands (storeGroup)."""
    protocol = group.protocol_name
    members = tuple(
        rec.MemberValue(
            m.member_id,
            m.group_instance_id,
            m.client_id,
            m.client_host,
            m.rebalance_timeout_ms,
            m.session_timeout_ms,
            m.metadata_for(protocol) if protocol else b"",
            m.assignment,
        )
        for m in group.members.values()
    )
    return rec.GroupValue(
        group.protocol_type or "",
        group.generation_id,
        protocol,
        group.leader_id,
        now_ms,
        members,
    )


def load_group(group: GroupMetadata, value: rec.GroupValue) -> None:
    """The inverse of :func:`group_value`: ``group`` becomes the stored snapshot, Stable with
    its members or Empty without (members are restored without timers; the coordinator
    schedules their session expiry once loading is done)."""
    group.generation_id = value.generation
    group.protocol_type = value.protocol_type or None
    group.protocol_name = value.protocol
    group.leader_id = value.leader
    group.state_timestamp = value.state_timestamp
    for member in group.members.values():
        member.cancel_expiry()
    group.members.clear()
    group.static_members.clear()
    for m in value.members:
        protocols = [(value.protocol or "", m.subscription)]
        group.members[m.member_id] = MemberMetadata(
            m.member_id,
            m.group_instance_id,
            m.client_id,
            m.client_host,
            m.rebalance_timeout_ms,
            m.session_timeout_ms,
            value.protocol_type,
            protocols,
            assignment=m.assignment,
        )
        if m.group_instance_id is not None:
            group.static_members[m.group_instance_id] = m.member_id
    group.state = GroupState.STABLE if group.members else GroupState.EMPTY


class GroupMetadataManager:
    def __init__(self, context: CoordinatorContext) -> None:
        self.context = context
        self.groups: dict[str, GroupMetadata] = {}

    def get_or_create(self, group_id: str) -> GroupMetadata:
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = GroupMetadata(group_id)
        return group

    def groups_in(self, partition: int) -> list[GroupMetadata]:
        """The groups whose records live in offsets partition ``partition``."""
        partition_for = self.context.partition_for
        return [g for g in self.groups.values() if partition_for(g.group_id) == partition]

    # -- the group-metadata record: written live, read back at load -------------------------

    def store_group(self, group: GroupMetadata) -> InternalWrite | None:
        """Append the group's metadata record; returns the write responses wait for."""
        value = group_value(group, self.context.clock.milliseconds())
        return self.context.writer.append_group_records(
            self.context.partition_for(group.group_id),
            [rec.group_metadata_record(group.group_id, value)],
        )

    def replay_group_metadata(self, group_id: str, value_bytes: bytes | None) -> None:
        """Loading: apply a group-metadata record (or its tombstone). A tombstone removes the
        classic group; the id's committed offsets (removed by their own tombstones) and a
        consumer group it became (KIP-848's online upgrade) stay."""
        if value_bytes is None:
            group = self.groups.get(group_id)
            if group is not None and (group.offsets or group.consumer is not None):
                load_group(group, rec.GroupValue("", group.generation_id, None, None, -1, ()))
            elif group is not None:
                self.remove_group(group)
            return
        load_group(self.get_or_create(group_id), rec.decode_group_value(value_bytes))

    def remove_group(self, group: GroupMetadata) -> None:
        """The group is gone (its tombstone was written or read): Dead, and forgotten."""
        group.state = GroupState.DEAD
        group.offsets.clear()
        del self.groups[group.group_id]

    # -- ListGroups, DescribeGroups ---------------------------------------------------------

    def list_groups(
        self, states: Iterable[str] | None = None, types: Iterable[str] | None = None
    ) -> list[tuple[str, str, str, str]]:
        wanted = {s.lower() for s in states} if states else None
        wanted_types = {t.lower() for t in types} if types else None
        listed = []
        for g in self.groups.values():
            if g.consumer is not None:
                entry = (g.group_id, "consumer", g.consumer.state.value, "consumer")
            elif g.state is not GroupState.DEAD:
                entry = (g.group_id, g.protocol_type or "", g.state.value, "classic")
            else:
                continue
            if (wanted is None or entry[2].lower() in wanted) and (
                wanted_types is None or entry[3] in wanted_types
            ):
                listed.append(entry)
        return listed

    def describe_group(self, group_id: str) -> GroupDescription:
        group = self.groups.get(group_id)
        if group is None:
            return GroupDescription(group_id, GroupState.DEAD.value, "", "")
        protocol = group.protocol_name if group.state is GroupState.STABLE else ""
        return GroupDescription(
            group_id,
            group.state.value,
            group.protocol_type or "",
            protocol or "",
            list(group.members.values()),
        )
