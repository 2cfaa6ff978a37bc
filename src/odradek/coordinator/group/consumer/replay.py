"""Loading a consumer group from its ``__consumer_offsets`` records (Kafka's replay of the
ConsumerGroup* records): the latest record of each key wins and a tombstone removes what its
key names. The live path writes these records with :mod:`.records`; replaying them rebuilds
the same group, classic members (a member-metadata record with ClassicMemberMetadata)
included."""

from __future__ import annotations

from odradek.coordinator.group.consumer import records as crec
from odradek.coordinator.group.consumer.model import (
    ConsumerGroup,
    ConsumerGroupMember,
    MemberState,
)


def replay_into(group: ConsumerGroup, key: crec.RecordKey, value: bytes | None) -> None:
    """Apply one record to ``group``."""
    record_type, member_id = key.record_type, key.member_id or ""
    if record_type == crec.GROUP_METADATA and value is not None:
        group.group_epoch = crec.decode_epoch(value)
    elif record_type == crec.PARTITION_METADATA:
        group.subscription_metadata = (
            crec.decode_partition_metadata(value) if value is not None else {}
        )
    elif record_type == crec.TARGET_ASSIGNMENT_METADATA:
        if value is not None:
            group.assignment_epoch = crec.decode_epoch(value)
    elif record_type == crec.TARGET_ASSIGNMENT_MEMBER:
        if value is None:
            group.target.pop(member_id, None)
        else:
            group.target[member_id] = crec.decode_target_assignment(value)
    elif record_type == crec.MEMBER_METADATA:
        if value is None:
            group.members.pop(member_id, None)
        else:
            _replay_member_metadata(group, member_id, value)
    elif record_type == crec.CURRENT_MEMBER_ASSIGNMENT and value is not None:
        assignment = crec.decode_current_assignment(value)
        member = group.members.setdefault(member_id, ConsumerGroupMember(member_id))
        member.member_epoch = assignment.member_epoch
        member.previous_member_epoch = assignment.previous_member_epoch
        member.state = MemberState(assignment.state)
        member.assigned = assignment.assigned
        member.pending_revocation = assignment.pending_revocation


def _replay_member_metadata(group: ConsumerGroup, member_id: str, value: bytes) -> None:
    meta = crec.decode_member_metadata(value)
    member = group.members.setdefault(member_id, ConsumerGroupMember(member_id))
    member.instance_id, member.rack_id = meta.instance_id, meta.rack_id
    member.client_id, member.client_host = meta.client_id, meta.client_host
    member.subscribed_topic_names = meta.subscribed_topic_names
    member.subscribed_topic_regex = meta.subscribed_topic_regex
    member.rebalance_timeout_ms = meta.rebalance_timeout_ms
    member.server_assignor = meta.server_assignor
    member.classic = meta.classic
