"""Group and member state of the classic protocol (Kafka's GroupMetadata, MemberMetadata).

Plain data plus the small derived facts the coordinator asks about; every transition is
made by the coordinator (membership, rebalance, the metadata managers). No I/O, no clocks:
the timer handles kept here are only cancelled."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kio.schema.errors import ErrorCode

from odradek.coordinator.group.consumer.model import ConsumerGroup
from odradek.coordinator.group.records import OffsetValue


class GroupState(enum.Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


@dataclass(slots=True)
class MemberMetadata:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]
    assignment: bytes = b""
    awaiting_join: Callable[[Any], None] | None = None
    awaiting_sync: Callable[[Any], None] | None = None
    is_new: bool = False
    heartbeat_satisfied: bool = False
    expiry_handle: Any = None

    def cancel_expiry(self) -> None:
        """Stop the session timer (Kafka's DelayedHeartbeat) of this member."""
        if self.expiry_handle is not None:
            self.expiry_handle.cancel()
            self.expiry_handle = None

    def metadata_for(self, protocol: str) -> bytes:
        for name, metadata in self.protocols:
            if name == protocol:
                return metadata
        raise KeyError(protocol)

    def matches(self, protocols: list[tuple[str, bytes]]) -> bool:
        return self.protocols == protocols

    @property
    def has_satisfied_heartbeat(self) -> bool:
        if self.is_new:
            return self.heartbeat_satisfied
        return (
            self.awaiting_join is not None
            or self.awaiting_sync is not None
            or self.heartbeat_satisfied
        )


@dataclass(slots=True)
class GroupMetadata:
    group_id: str
    state: GroupState = GroupState.EMPTY
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str | None = None
    members: dict[str, MemberMetadata] = field(default_factory=dict)
    static_members: dict[str, str] = field(default_factory=dict)  # instance id -> member id
    pending_members: set[str] = field(default_factory=set)
    offsets: dict[tuple[str, int], OffsetValue] = field(default_factory=dict)
    state_timestamp: int = -1
    join_deadline_handle: Any = None
    new_member_added: bool = False
    in_initial_delay: bool = False
    # producer id -> offsets committed in its open transaction (visible once it commits)
    pending_txn_offsets: dict[int, dict[tuple[str, int], OffsetValue]] = field(default_factory=dict)
    # Set while this id names a KIP-848 consumer group (the offsets above are then its own).
    consumer: ConsumerGroup | None = None

    @property
    def is_empty(self) -> bool:
        return not self.members

    def has_member(self, member_id: str) -> bool:
        return member_id in self.members

    def validate_member(self, member_id: str, instance_id: str | None) -> ErrorCode | None:
        """FENCED_INSTANCE_ID when a static member's instance id now names another member id,
        UNKNOWN_MEMBER_ID when the member is not in the group; None when it is."""
        if instance_id is not None:
            known = self.static_members.get(instance_id)
            if known is not None and known != member_id:
                return ErrorCode.fenced_instance_id
        if member_id not in self.members:
            return ErrorCode.unknown_member_id
        return None

    def cancel_join_deadline(self) -> None:
        """Stop the rebalance timer (Kafka's DelayedJoin / InitialDelayedJoin)."""
        if self.join_deadline_handle is not None:
            self.join_deadline_handle.cancel()
            self.join_deadline_handle = None

    def all_members_joined(self) -> bool:
        return not self.pending_members and all(
            m.awaiting_join is not None for m in self.members.values()
        )

    def max_rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    def candidate_protocols(self) -> list[str]:
        members = list(self.members.values())
        if not members:
            return []
        common = [name for name, _ in members[0].protocols]
        for member in members[1:]:
            names = {name for name, _ in member.protocols}
            common = [name for name in common if name in names]
        return common

    def supports_protocols(self, protocol_type: str, protocols: list[tuple[str, bytes]]) -> bool:
        if self.is_empty:
            return bool(protocol_type) and bool(protocols)
        if protocol_type != self.protocol_type:
            return False
        names = {name for name, _ in protocols}
        return any(name in names for name in self.candidate_protocols())

    def select_protocol(self) -> str:
        """Each member votes for its most preferred protocol that all members support."""
        candidates = self.candidate_protocols()
        votes = dict.fromkeys(candidates, 0)
        for member in self.members.values():
            for name, _ in member.protocols:
                if name in votes:
                    votes[name] += 1
                    break
        return max(candidates, key=lambda name: votes[name])

    def subscribed_topics(self) -> set[str] | None:
        """Topics the consumer members subscribe to (None when not a consumer group)."""
        if self.protocol_type != "consumer" or self.protocol_name is None:
            return None
        from odradek.coordinator.group.consumer_protocol import subscription_topics

        topics: set[str] = set()
        for member in self.members.values():
            try:
                topics |= subscription_topics(member.metadata_for(self.protocol_name))
            except (KeyError, ValueError):
                return None
        return topics
