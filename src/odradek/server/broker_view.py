"""The broker describing itself to the metrics endpoint: the implementation behind
``odradek.observability.view.BrokerView``, read from the broker's own structures at scrape
time (nothing here is updated on the hot path): partitions and their logs, partition health,
consumer groups and their lag, connections, queues and the fetch purgatory, and readiness.

``BrokerServer`` answers ``BrokerView`` by calling these functions with itself; they read it
through ``BrokerViewCollaborators``. They live in the server layer because they read its
internals (its cluster membership, the group coordinator, the connections); observability
sees only the protocol. Everything runs on the broker's event
loop (the endpoint is served there), so these reads see a consistent state, except the
per-partition log gauges of a scrape, read over several turns of the loop
(``log_gauges_in_slices``)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import TYPE_CHECKING, Protocol
from weakref import WeakKeyDictionary

from odradek.common.ids import TopicPartition
from odradek.coordinator.group.consumer.model import ConsumerGroupState
from odradek.observability.view import Gauge, GroupLag
from odradek.server.collaborators import (
    HasCluster,
    HasConfig,
    HasLogManager,
    HasMetadataStore,
    HasReplicaManager,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from odradek.server.group_service import GroupService
    from odradek.storage.log_manager import LogManager


class ConnectionView(Protocol):
    """What these figures read of a client connection (``KafkaConnection``)."""

    @property
    def transport(self) -> asyncio.Transport | None: ...

    def queue_sizes(self) -> tuple[int, int]: ...


class BrokerViewCollaborators(
    HasCluster, HasConfig, HasLogManager, HasMetadataStore, HasReplicaManager, Protocol
):
    """What the metrics endpoint's figures are read from: the partitions, their logs and
    health, the group coordinator, the connections, the listeners and the lifecycle."""

    @property
    def groups(self) -> GroupService: ...

    @property
    def connections(self) -> Iterable[ConnectionView]: ...

    @property
    def bound_ports(self) -> list[int]: ...

    @property
    def servers(self) -> tuple[asyncio.Server, ...]: ...

    @property
    def shutting_down(self) -> bool: ...

    @property
    def stopping(self) -> bool: ...


GROUP_STATES = ("PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Empty")
RUNNING, PENDING_CONTROLLED_SHUTDOWN = 3, 6  # Kafka's BrokerState values


LogFigures = tuple[int, int, int, int]
"""One partition log's gauge values: log end offset, log start offset, size, segments."""

LOG_GAUGE_NAMES = ("LogEndOffset", "LogStartOffset", "Size", "NumLogSegments")

_reported: WeakKeyDictionary[LogManager, dict[TopicPartition, tuple[LogFigures, list[Gauge]]]]
_reported = WeakKeyDictionary()
"""Per log manager, each partition's figures at the last collection and the gauges built
from them: a partition whose figures are unchanged reports the same gauges again, so an idle
partition allocates nothing (with many partitions, building them again was most of the
collection's time, much of it the garbage collector's)."""


_order: WeakKeyDictionary[LogManager, tuple[list[TopicPartition], list[TopicPartition]]]
_order = WeakKeyDictionary()
"""Per log manager, its logs' keys in the dict's order at the last collection and sorted:
sorted again only when the keys changed (comparing the lists is ~20 times cheaper)."""

SLICE_SECONDS = 0.002
"""How long ``log_gauges_in_slices`` reads logs before it lets the event loop run."""
_CLOCK_EVERY = 64  # logs read between two looks at the clock (one read is ~1 us)


def log_gauges(broker: BrokerViewCollaborators) -> list[Gauge]:
    """The ``kafka.log:type=Log`` gauges of every partition log, by topic and partition,
    read in one go (Jolokia's reads; the metrics endpoint reads ``log_gauges_in_slices``)."""
    reading = _LogReading(broker.log_manager)
    reading.read(None)
    return reading.done()


async def log_gauges_in_slices(broker: BrokerViewCollaborators) -> list[Gauge]:
    """``log_gauges``, read ``SLICE_SECONDS`` at a time: between two slices the event loop
    runs whatever is ready (requests, the loop-lag monitor), so that a scrape never holds it
    for long however many partitions there are.

    The figures are therefore not one instant's: requests served between two slices move the
    logs not yet read. That is what a JMX scrape of Kafka sees too (each MBean's attribute is
    read on its own, while the broker runs). A log deleted before its turn is left out, one
    created after the read began is in the next scrape; neither fails the read."""
    reading = _LogReading(broker.log_manager)
    while True:
        if reading.read(time.monotonic() + SLICE_SECONDS):
            return reading.done()
        await asyncio.sleep(0)  # one turn of the loop: what is ready runs, then the next slice


class _LogReading:
    """One collection of the log gauges, possibly over several turns of the event loop."""

    def __init__(self, manager: LogManager) -> None:
        self.manager = manager
        self.logs = manager.logs
        keys = list(self.logs)
        known = _order.get(manager)
        if known is not None and known[0] == keys:
            self.order = known[1]
        else:
            self.order = sorted(keys)
            _order[manager] = (keys, self.order)
        self.previous = _reported.get(manager, {})
        self.current: dict[TopicPartition, tuple[LogFigures, list[Gauge]]] = {}
        self.result: list[Gauge] = []
        self.next = 0

    def read(self, deadline: float | None) -> bool:
        """Read logs until ``deadline`` (``time.monotonic()``) has passed, or all of them if
        it is None; True once every log is read."""
        logs, order, previous = self.logs, self.order, self.previous
        current, result = self.current, self.result
        index, end = self.next, len(order)
        while index < end:
            stop = min(index + _CLOCK_EVERY, end)
            for tp in order[index:stop]:
                log = logs.get(tp)
                if log is None:
                    continue  # deleted since the read began
                segments = log.segments
                figures = (
                    segments[-1].next_offset if segments else 0,
                    log.log_start_offset,
                    sum(s.size for s in segments),
                    len(segments),
                )
                # Taken out, so that what is left of the previous collection when it is
                # dropped (at the end of the read: every entry at once) is only the deleted
                # logs' (dropping 100,000 entries held the loop some 7 ms). A collection read
                # meanwhile (a concurrent scrape, Jolokia) builds the taken ones anew.
                known = previous.pop(tp, None)
                if known is None or known[0] != figures:
                    where = (("topic", tp.topic), ("partition", str(tp.partition)))
                    built: list[Gauge] = [
                        ("kafka.log", (("type", "Log"), ("name", name), *where), value)
                        for name, value in zip(LOG_GAUGE_NAMES, figures, strict=True)
                    ]
                    known = (figures, built)
                current[tp] = known
                result += known[1]
            index = stop
            if deadline is not None and time.monotonic() >= deadline:
                break
        self.next = index
        return index >= end

    def done(self) -> list[Gauge]:
        _reported[self.manager] = self.current
        return self.result


def live_topics(broker: BrokerViewCollaborators) -> set[str]:
    return set(broker.metadata_store.topics)


def partition_count(broker: BrokerViewCollaborators) -> int:
    return sum(t.partitions for t in broker.metadata_store.topics.values())


def offline_partitions(broker: BrokerViewCollaborators) -> int:
    """Partitions without a leader. Single node: those whose log it does not host; cluster:
    the controller reports them (leader -1 or not alive), other brokers 0 (as in Kafka)."""
    return broker.cluster.offline_partition_count()


def under_replicated_partitions(broker: BrokerViewCollaborators) -> int:
    """Partitions led here whose ISR is smaller than their replica set. A single node is
    every partition's only replica and in its ISR, so none is under-replicated there."""
    return broker.cluster.under_replicated_count()


def under_min_isr_partitions(broker: BrokerViewCollaborators) -> int:
    return broker.cluster.under_min_isr_count()


def leader_count(broker: BrokerViewCollaborators) -> int:
    return broker.cluster.leader_count()


def active_controller_count(broker: BrokerViewCollaborators) -> int:
    """A single node is its own controller; in a cluster, the one holding /controller."""
    return int(broker.cluster.is_active_controller() and not broker.shutting_down)


def not_ready_reason(broker: BrokerViewCollaborators) -> str | None:
    """Why the broker should not be sent traffic (``/ready`` answers 503 with it), or None.

    Ready once its logs are recovered and loaded, its listeners accept connections and, in a
    cluster, it is registered in ZooKeeper: its ephemeral ``/brokers/ids/<id>`` is in its
    watched copy of that path and its session is connected. Not ready from the moment
    shutdown begins (in a cluster, the controlled shutdown that moves leaderships away)."""
    if broker.shutting_down:
        return "shutting down"
    if broker.stopping:
        return broker.cluster.stopping_reason()
    servers = broker.servers  # bound once the logs are recovered and loaded
    if not servers:
        return "starting"
    if not all(server.is_serving() for server in servers):
        return "listeners not accepting"
    return broker.cluster.not_ready_reason()


def broker_state(broker: BrokerViewCollaborators) -> int:
    return PENDING_CONTROLLED_SHUTDOWN if broker.shutting_down else RUNNING


def group_states(broker: BrokerViewCollaborators) -> dict[str, int]:
    """Classic groups by state (Kafka's NumGroups<State>)."""
    groups = broker.groups.coordinator.groups.values()
    counts = Counter(group.state.value for group in groups if group.consumer is None)
    return {state: counts.get(state, 0) for state in GROUP_STATES}


def consumer_group_states(broker: BrokerViewCollaborators) -> dict[str, int]:
    """KIP-848 consumer groups by state (Kafka's consumer-group-count, state=...)."""
    groups = broker.groups.coordinator.groups.values()
    counts = Counter(g.consumer.state.value for g in groups if g.consumer is not None)
    return {state.value: counts.get(state.value, 0) for state in ConsumerGroupState}


def group_members(broker: BrokerViewCollaborators) -> dict[str, int]:
    return {
        group_id: len(group.consumer.members if group.consumer is not None else group.members)
        for group_id, group in sorted(broker.groups.coordinator.groups.items())
    }


def consumer_lag(broker: BrokerViewCollaborators) -> list[GroupLag]:
    """Committed offset against the partition's high watermark, per group and partition
    (what kafka-consumer-groups --describe shows as LAG)."""
    logs = broker.log_manager.logs
    result = []
    for group_id, group in sorted(broker.groups.coordinator.groups.items()):
        for (topic, partition), value in sorted(group.offsets.items()):
            log = logs.get(TopicPartition(topic, partition))
            if log is not None:
                result.append(
                    GroupLag(group_id, topic, partition, value.offset, log.high_watermark)
                )
    return result


def connections_by_listener(broker: BrokerViewCollaborators) -> dict[str, int]:
    names = [listener.name for listener in broker.config.listeners] or ["PLAINTEXT"]
    by_port: dict[int, str] = dict(zip(broker.bound_ports, names, strict=False))
    counts = dict.fromkeys(names, 0)
    for connection in broker.connections:
        transport = connection.transport
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        port = sockname[1] if isinstance(sockname, tuple) and len(sockname) > 1 else -1
        name = by_port.get(port, names[0])
        counts[name] = counts.get(name, 0) + 1
    return counts


def queue_sizes(broker: BrokerViewCollaborators) -> tuple[int, int]:
    """(requests in flight, responses ready but queued behind an earlier one), summed over
    connections: odradek's request and response queues."""
    in_flight = ready = 0
    for connection in broker.connections:
        waiting, queued = connection.queue_sizes()
        in_flight += waiting
        ready += queued
    return in_flight, ready


def purgatory_size(broker: BrokerViewCollaborators) -> int:
    """Delayed fetches watched, counted once per partition watched (Kafka's PurgatorySize)."""
    return broker.replica_manager.fetch_purgatory.size


# -- every gauge MBean, for both views (Prometheus and Jolokia) ----------------------------------


def gauges(broker: BrokerViewCollaborators) -> list[Gauge]:
    """Every gauge MBean, read in one go (Jolokia)."""
    return log_gauges(broker) + _broker_gauges(broker)


async def gauges_in_slices(broker: BrokerViewCollaborators) -> list[Gauge]:
    """``gauges``, the per-partition log gauges read a slice at a time (the metrics
    endpoint's scrapes, see ``log_gauges_in_slices``); the others, a few per broker, in one."""
    return await log_gauges_in_slices(broker) + _broker_gauges(broker)


def _broker_gauges(broker: BrokerViewCollaborators) -> list[Gauge]:
    """The gauges other than the per-partition log ones (partition health, controller,
    groups, queues, purgatory)."""
    result: list[Gauge] = []

    def add(domain: str, kind: str, name: str, value: float, *extra: tuple[str, str]) -> None:
        result.append((domain, (("type", kind), ("name", name), *extra), value))

    offline_dirs = broker.log_manager.offline_dirs
    add("kafka.log", "LogManager", "OfflineLogDirectoryCount", len(offline_dirs))
    for directory in broker.log_manager.log_dirs:
        where_dir = ("logDirectory", str(directory))
        add(
            "kafka.log",
            "LogManager",
            "LogDirectoryOffline",
            int(directory in offline_dirs),
            where_dir,
        )
    offline = offline_partitions(broker)
    add(
        "kafka.server",
        "ReplicaManager",
        "UnderReplicatedPartitions",
        under_replicated_partitions(broker),
    )
    add("kafka.server", "ReplicaManager", "PartitionCount", len(broker.log_manager.logs))
    add("kafka.server", "ReplicaManager", "LeaderCount", leader_count(broker))
    add(
        "kafka.server",
        "ReplicaManager",
        "UnderMinIsrPartitionCount",
        under_min_isr_partitions(broker),
    )
    add("kafka.server", "ReplicaManager", "OfflineReplicaCount", offline)
    add(
        "kafka.controller",
        "KafkaController",
        "ActiveControllerCount",
        active_controller_count(broker),
    )
    add("kafka.controller", "KafkaController", "OfflinePartitionsCount", offline)
    add(
        "kafka.controller", "KafkaController", "GlobalTopicCount", len(broker.metadata_store.topics)
    )
    add("kafka.controller", "KafkaController", "GlobalPartitionCount", partition_count(broker))
    add("kafka.server", "KafkaServer", "BrokerState", broker_state(broker))
    states, consumer_states = group_states(broker), consumer_group_states(broker)
    classic, consumer = sum(states.values()), sum(consumer_states.values())
    add("kafka.coordinator.group", "GroupMetadataManager", "NumGroups", classic + consumer)
    for state, count in states.items():
        add("kafka.coordinator.group", "GroupMetadataManager", f"NumGroups{state}", count)
    for protocol, count in (("classic", classic), ("consumer", consumer)):
        add(
            "kafka.server",
            "group-coordinator-metrics",
            "group-count",
            count,
            ("protocol", protocol),
        )
    for state, count in consumer_states.items():
        add(
            "kafka.server",
            "group-coordinator-metrics",
            "consumer-group-count",
            count,
            ("state", state.lower()),
        )
    add(
        "kafka.coordinator.group",
        "GroupMetadataManager",
        "NumOffsets",
        sum(len(g.offsets) for g in broker.groups.coordinator.groups.values()),
    )
    in_flight, ready = queue_sizes(broker)
    add("kafka.network", "RequestChannel", "RequestQueueSize", in_flight)
    add("kafka.network", "RequestChannel", "ResponseQueueSize", ready)
    add(
        "kafka.server",
        "DelayedOperationPurgatory",
        "PurgatorySize",
        purgatory_size(broker),
        ("delayedOperation", "Fetch"),
    )
    return result
