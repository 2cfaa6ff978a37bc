"""What the console shows, as plain values read from the cluster (no client objects), so the
pages and the pure computations over them can be tested without a broker."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Broker:
    """A broker of the cluster as DescribeCluster names it."""

    id: int
    host: str
    port: int
    rack: str | None


@dataclass(frozen=True)
class PartitionState:
    """A partition's leader, replicas and in-sync replicas (leader -1: offline)."""

    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    error: str | None = None

    @property
    def offline(self) -> bool:
        return self.leader < 0

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)


@dataclass(frozen=True)
class Topic:
    """A topic and its partitions, in partition order."""

    name: str
    partitions: tuple[PartitionState, ...]
    internal: bool = False
    error: str | None = None

    @property
    def replication_factor(self) -> int:
        return max((len(p.replicas) for p in self.partitions), default=0)


@dataclass(frozen=True)
class ClusterView:
    """The cluster's id, controller, brokers and topics at one moment."""

    cluster_id: str | None
    controller_id: int
    brokers: tuple[Broker, ...]
    topics: dict[str, Topic]

    def partitions(self) -> list[PartitionState]:
        return [p for topic in self.topics.values() for p in topic.partitions]


@dataclass(frozen=True)
class OffsetRange:
    """A partition's log start offset and log end offset (high watermark)."""

    start: int
    end: int

    @property
    def messages(self) -> int:
        return max(self.end - self.start, 0)


@dataclass(frozen=True)
class ConfigValue:
    """A config as DescribeConfigs reports it, with the source of its value."""

    name: str
    value: str | None
    source: str
    read_only: bool
    sensitive: bool
    is_default: bool


@dataclass(frozen=True)
class Health:
    """Partition health counts of the Overview."""

    partitions: int
    under_replicated: int
    offline: int
    under_min_isr: int


@dataclass(frozen=True)
class GroupListing:
    """A group as ListGroups names it."""

    group_id: str
    state: str
    type: str
    simple: bool


@dataclass(frozen=True)
class Member:
    """A group member and the partitions assigned to it."""

    member_id: str
    client_id: str
    host: str
    instance_id: str | None
    assignment: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class PartitionLag:
    """A group's committed offset on a partition, the partition's end offset and the lag."""

    topic: str
    partition: int
    committed: int | None
    end: int | None
    owner: str | None = None

    @property
    def lag(self) -> int | None:
        if self.committed is None or self.end is None:
            return None
        return max(self.end - self.committed, 0)


@dataclass(frozen=True)
class GroupDetail:
    """A consumer group: state, protocol, members, committed offsets and lag."""

    group_id: str
    state: str
    type: str
    protocol: str
    coordinator: int | None
    members: tuple[Member, ...]
    offsets: tuple[PartitionLag, ...] = field(default=())

    @property
    def total_lag(self) -> int:
        return sum(p.lag or 0 for p in self.offsets)

    @property
    def inactive(self) -> bool:
        """No member: offsets may be reset (Kafka's tool requires an Empty or Dead group)."""
        return self.state in ("EMPTY", "DEAD")


@dataclass(frozen=True)
class Record:
    """A record as the message browser shows it (key and value still bytes)."""

    partition: int
    offset: int
    timestamp: int
    timestamp_type: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, order=True)
class AclRow:
    """One ACL binding."""

    resource_type: str
    name: str
    pattern_type: str
    principal: str
    host: str
    operation: str
    permission: str
