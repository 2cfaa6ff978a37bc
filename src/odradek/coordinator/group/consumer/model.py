"""Group and member state of the consumer group protocol (KIP-848; Kafka's ConsumerGroup and
ConsumerGroupMember).

Three epochs drive the protocol: the *group epoch* bumps whenever membership, a subscription
or the subscribed topics' metadata changes; the *assignment epoch* is the group epoch the
target assignment was computed at; each *member epoch* reaches the assignment epoch once the
member has reconciled to its target (revoked what it must give up, received what was freed).

Plain data and the facts derived from it; transitions are made by :mod:`.manager` and
:mod:`.reconciliation`. No I/O and no clocks: timer handles kept here are only cancelled.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from odradek.common.principal import KafkaPrincipal

Assignment = dict[uuid.UUID, frozenset[int]]
"""Partitions by topic id (Kafka's ``Map<Uuid, Set<Integer>>``)."""

LEAVE_GROUP_MEMBER_EPOCH = -1
LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2


@dataclass(frozen=True, slots=True)
class Requester:
    """Who sent a request, as an ACL decision sees it: the principal and the host it
    connected from (Kafka's AuthorizableRequestContext, as the coordinator keeps it)."""

    principal: KafkaPrincipal
    host: str


class MemberState(enum.Enum):
    """Where a member is in its reconciliation (Kafka's MemberState; the value is the byte
    the current-assignment record stores)."""

    STABLE = 1
    UNREVOKED_PARTITIONS = 2
    UNRELEASED_PARTITIONS = 3
    UNKNOWN = 127


class ConsumerGroupState(enum.Enum):
    EMPTY = "Empty"
    ASSIGNING = "Assigning"
    RECONCILING = "Reconciling"
    STABLE = "Stable"
    DEAD = "Dead"


@dataclass(frozen=True, slots=True)
class ClassicMemberMetadata:
    """What a member speaking the classic protocol inside a consumer group joined with
    (Kafka's ConsumerGroupMemberMetadataValue.ClassicMemberMetadata): its session timeout and
    the (name, metadata) protocols of its JoinGroup, most preferred first."""

    session_timeout_ms: int
    supported_protocols: tuple[tuple[str, bytes], ...]

    @property
    def protocol_name(self) -> str:
        """The protocol a JoinGroup response names to this member: its first one."""
        return self.supported_protocols[0][0] if self.supported_protocols else ""


@dataclass(slots=True)
class ConsumerGroupMember:
    member_id: str
    instance_id: str | None = None
    rack_id: str | None = None
    client_id: str = ""
    client_host: str = ""
    subscribed_topic_names: tuple[str, ...] = ()
    subscribed_topic_regex: str | None = None
    rebalance_timeout_ms: int = -1
    server_assignor: str | None = None
    member_epoch: int = 0
    previous_member_epoch: int = -1
    state: MemberState = MemberState.STABLE
    assigned: Assignment = field(default_factory=dict)
    pending_revocation: Assignment = field(default_factory=dict)
    classic: ClassicMemberMetadata | None = None  # set while it speaks the classic protocol
    session_timer: Any = None
    rebalance_timer: Any = None
    classic_timer: Any = None  # a classic member's join or sync timeout

    @property
    def uses_classic_protocol(self) -> bool:
        return self.classic is not None

    def cancel_timers(self) -> None:
        for timer in (self.session_timer, self.rebalance_timer, self.classic_timer):
            if timer is not None:
                timer.cancel()
        self.session_timer = self.rebalance_timer = self.classic_timer = None

    def cancel_classic_timer(self) -> None:
        if self.classic_timer is not None:
            self.classic_timer.cancel()
            self.classic_timer = None

    def cancel_rebalance_timer(self) -> None:
        if self.rebalance_timer is not None:
            self.rebalance_timer.cancel()
            self.rebalance_timer = None

    def owned(self) -> Assignment:
        """Partitions the member may still hold: assigned, or assigned before and not yet
        revoked (a partition in either is not free for another member)."""
        return union(self.assigned, self.pending_revocation)


@dataclass(slots=True)
class ConsumerGroup:
    group_id: str
    group_epoch: int = 0
    assignment_epoch: int = 0
    members: dict[str, ConsumerGroupMember] = field(default_factory=dict)
    static_members: dict[str, str] = field(default_factory=dict)  # instance id -> member id
    target: dict[str, Assignment] = field(default_factory=dict)  # member id -> target
    # topic name -> (topic id, partitions) of the subscribed topics when the epoch last bumped
    subscription_metadata: dict[str, tuple[uuid.UUID, int]] = field(default_factory=dict)
    # Subscribed regexes whose matches count (KIP-848 resolves a new regex asynchronously:
    # the heartbeat that brings it is answered with the literal topics only).
    resolved_regexes: set[str] = field(default_factory=set)
    # With an authorizer, whose DESCRIBE permission filters the regexes' matches: the sender
    # of the heartbeat that last resolved them (Kafka resolves all of a group's regexes in
    # the context of the request that triggered the refresh, and persists the topics, not
    # the principal). None in a group just loaded, until its next heartbeat.
    regex_requester: Requester | None = None
    dead: bool = False

    @property
    def state(self) -> ConsumerGroupState:
        if self.dead:
            return ConsumerGroupState.DEAD
        if not self.members:
            return ConsumerGroupState.EMPTY
        if self.group_epoch > self.assignment_epoch:
            return ConsumerGroupState.ASSIGNING
        if any(
            m.member_epoch != self.assignment_epoch or m.state is not MemberState.STABLE
            for m in self.members.values()
        ):
            return ConsumerGroupState.RECONCILING
        return ConsumerGroupState.STABLE

    def uses_classic_protocol_only(self, except_member: str | None = None) -> bool:
        """Every member (but ``except_member``) speaks the classic protocol."""
        return all(
            m.uses_classic_protocol for m in self.members.values() if m.member_id != except_member
        )

    def subscribed_topic_names(self) -> set[str]:
        names: set[str] = set()
        for member in self.members.values():
            names.update(member.subscribed_topic_names)
        return names

    def owners(self) -> dict[tuple[uuid.UUID, int], str]:
        """Which member holds each partition (assigned or pending revocation)."""
        result: dict[tuple[uuid.UUID, int], str] = {}
        for member in self.members.values():
            for topic_id, partitions in member.owned().items():
                for partition in partitions:
                    result[(topic_id, partition)] = member.member_id
        return result

    def preferred_assignor(self, default: str) -> str:
        """The server assignor most members name (Kafka's computePreferredServerAssignor),
        ``default`` when none does."""
        votes: dict[str, int] = {}
        for member in self.members.values():
            if member.server_assignor:
                votes[member.server_assignor] = votes.get(member.server_assignor, 0) + 1
        if not votes:
            return default
        return max(sorted(votes), key=lambda name: votes[name])


def union(
    a: Mapping[uuid.UUID, frozenset[int]], b: Mapping[uuid.UUID, frozenset[int]]
) -> Assignment:
    result = dict(a)
    for topic_id, partitions in b.items():
        result[topic_id] = result.get(topic_id, frozenset()) | partitions
    return {t: p for t, p in result.items() if p}


def difference(
    a: Mapping[uuid.UUID, frozenset[int]], b: Mapping[uuid.UUID, frozenset[int]]
) -> Assignment:
    result = {t: p - b.get(t, frozenset()) for t, p in a.items()}
    return {t: p for t, p in result.items() if p}


def intersection(
    a: Mapping[uuid.UUID, frozenset[int]], b: Mapping[uuid.UUID, frozenset[int]]
) -> Assignment:
    result = {t: p & b.get(t, frozenset()) for t, p in a.items()}
    return {t: p for t, p in result.items() if p}


def size(assignment: Mapping[uuid.UUID, frozenset[int]]) -> int:
    return sum(len(p) for p in assignment.values())
