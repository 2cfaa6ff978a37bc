"""What the classic group coordinator is given and what it answers.

Given: the group coordinator configuration (``group.*`` and ``offsets.*`` broker settings), a
clock, a scheduler for its timers (DelayedJoin, DelayedHeartbeat in Kafka's purgatories) and
a writer that appends records to a ``__consumer_offsets`` partition and returns the
:class:`InternalWrite` a response has to wait for (Kafka appends them with acks=all).
:class:`CoordinatorContext` bundles these for the managers, so that a configuration replaced
at runtime (the number of offsets partitions, learnt when the topic is found) is seen by all.

Answered: JoinGroup and SyncGroup results, which are delayed (they are handed to callbacks)
and carry the group-metadata write every member's response waits for; the offsets a commit
carries; what DescribeGroups reports.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kio.schema.errors import ErrorCode

from odradek.common.clock import Clock
from odradek.common.writes import InternalWrite
from odradek.coordinator.group import records as rec
from odradek.coordinator.group.consumer.model import Requester
from odradek.coordinator.group.state import MemberMetadata

Protocols = list[tuple[str, bytes]]
TopicPartitionKey = tuple[str, int]


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> TimerHandle: ...


class OffsetsWriter(Protocol):
    def append_group_records(
        self,
        partition: int,
        records: Sequence[tuple[bytes, bytes | None]],
        producer_id: int = -1,
        producer_epoch: int = -1,
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
    # KIP-848 consumer groups (group.coordinator.rebalance.protocols, group.consumer.*)
    rebalance_protocols: tuple[str, ...] = ("classic", "consumer")
    consumer_assignors: tuple[str, ...] = ("uniform", "range")
    consumer_session_timeout_ms: int = 45_000
    consumer_heartbeat_interval_ms: int = 5000
    # The bounds of a group's own consumer.* configs (KIP-848 group configs: group_configs)
    consumer_min_session_timeout_ms: int = 45_000
    consumer_max_session_timeout_ms: int = 60_000
    consumer_min_heartbeat_interval_ms: int = 5000
    consumer_max_heartbeat_interval_ms: int = 15_000
    consumer_max_size: int = 2**31 - 1
    # group.consumer.migration.policy: bidirectional, upgrade, downgrade or disabled
    consumer_migration_policy: str = "bidirectional"


class GroupConfigLookup(Protocol):
    """The dynamic configs a group overrides (KIP-848's GROUP config resource: empty for a
    group that sets none; :mod:`.group_configs`)."""

    def group_configs(self, group_id: str) -> Mapping[str, str]: ...


class NoGroupConfigs:
    """A lookup where no group overrides anything."""

    def group_configs(self, group_id: str) -> Mapping[str, str]:
        return {}


class TopicsView(Protocol):
    """The topics a consumer group can subscribe to, as the broker's metadata has them."""

    def topic(self, name: str) -> tuple[uuid.UUID, int] | None:
        """The topic's id and partition count, None when it does not exist."""
        ...

    def topic_name(self, topic_id: uuid.UUID) -> str | None: ...

    def topic_names(self) -> Iterable[str]: ...


class NoTopics:
    """A TopicsView without topics (a coordinator that is given none)."""

    def topic(self, name: str) -> tuple[uuid.UUID, int] | None:
        return None

    def topic_name(self, topic_id: uuid.UUID) -> str | None:
        return None

    def topic_names(self) -> Iterable[str]:
        return ()


class TopicAuthorizer(Protocol):
    """The broker's topic DESCRIBE decisions, for what the coordinator decides on its own:
    the topics a consumer group's regex subscriptions resolve to (Kafka 4.0, KAFKA-18813).
    A coordinator given none (no ``authorizer.class.name``) filters nothing."""

    def describable(self, requester: Requester, names: Iterable[str]) -> frozenset[str]:
        """Those of ``names`` the requester may DESCRIBE."""
        ...


@dataclass(slots=True)
class CoordinatorContext:
    """What the membership protocol and the metadata managers share."""

    config: GroupConfig
    clock: Clock
    scheduler: Scheduler
    writer: OffsetsWriter
    topics: TopicsView = field(default_factory=NoTopics)
    group_configs: GroupConfigLookup = field(default_factory=NoGroupConfigs)
    topic_authorizer: TopicAuthorizer | None = None

    def partition_for(self, group_id: str) -> int:
        """The ``__consumer_offsets`` partition that holds the group's records."""
        return rec.partition_for(group_id, self.config.offsets_partitions)

    def consumer_session_timeout_ms(self, group_id: str) -> int:
        """The group's ``consumer.session.timeout.ms``, else the broker's
        ``group.consumer.session.timeout.ms`` (read at every use: an altered value applies
        from the member's next heartbeat)."""
        return self._group_value(
            group_id, "consumer.session.timeout.ms", self.config.consumer_session_timeout_ms
        )

    def consumer_heartbeat_interval_ms(self, group_id: str) -> int:
        """The group's ``consumer.heartbeat.interval.ms``, else the broker's."""
        return self._group_value(
            group_id, "consumer.heartbeat.interval.ms", self.config.consumer_heartbeat_interval_ms
        )

    def _group_value(self, group_id: str, name: str, default: int) -> int:
        text = self.group_configs.group_configs(group_id).get(name)
        if text is None:
            return default
        try:
            return int(text.strip())
        except ValueError:  # validated when set: not expected
            return default


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
