"""Wires the group coordinator to this broker: the ``__consumer_offsets`` topic (created on
first use, as Kafka does), loading at startup, the writer, and offset expiry."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from odradek.cluster.admin_manager import TopicSpec
from odradek.common.errors import CoordinatorNotAvailableError, KafkaError, NotCoordinatorError
from odradek.common.ids import TopicPartition
from odradek.common.internal_topics import OFFSETS_TOPIC
from odradek.common.writes import InternalWrite
from odradek.coordinator.group import group_configs
from odradek.coordinator.group.consumer.model import Requester
from odradek.coordinator.group.coordinator import GroupConfig, GroupCoordinator
from odradek.coordinator.group.loader import load_partition
from odradek.security.acl import AclOperation, ResourceType
from odradek.security.authorizer import AclAuthorizer
from odradek.server.collaborators import (
    Authorizing,
    HasMetadataStore,
    InternalTopicServiceCollaborators,
)
from odradek.server.owned_partitions import AllPartitions, LedPartitions, OwnedPartitions
from odradek.server.scheduler import LoopScheduler

log = logging.getLogger(__name__)


class GroupServiceCollaborators(InternalTopicServiceCollaborators, Authorizing, Protocol):
    """What the group coordinator's service reads from the broker (its internal topic is
    ``__consumer_offsets``; the authorizer, for the topics a regex subscription may see)."""


class TopicDescribeAuthorizer:
    """The broker's ACL authorizer as the coordinator asks it: which topics a requester
    may DESCRIBE (the topics a consumer group's regex subscriptions resolve to)."""

    def __init__(self, authorizer: AclAuthorizer) -> None:
        self.authorizer = authorizer

    def describable(self, requester: Requester, names: Iterable[str]) -> frozenset[str]:
        authorize = self.authorizer.authorize
        principal, host = requester.principal, requester.host
        return frozenset(
            name
            for name in names
            if authorize(principal, host, AclOperation.DESCRIBE, ResourceType.TOPIC, name)
        )


class BrokerTopics:
    """The broker's topics as consumer groups see them (the coordinator's TopicsView)."""

    def __init__(self, broker: HasMetadataStore) -> None:
        self.broker = broker

    def topic(self, name: str) -> tuple[uuid.UUID, int] | None:
        found = self.broker.metadata_store.topics.get(name)
        return (found.topic_id, found.partitions) if found is not None else None

    def topic_name(self, topic_id: uuid.UUID) -> str | None:
        found = self.broker.metadata_store.by_id.get(topic_id)
        return found.name if found is not None else None

    def topic_names(self) -> Iterable[str]:
        return list(self.broker.metadata_store.topics)


class StoredGroupConfigs:
    """The dynamic configs of the groups (KIP-848's GROUP config resource) as the metadata
    store has them: the ``groups/<group id>`` entity, kept current in a cluster by the
    ZooKeeper config-change notifications every broker follows. Read at each use, so an
    altered value applies from the next heartbeat."""

    def __init__(self, broker: HasMetadataStore) -> None:
        self.broker = broker

    def group_configs(self, group_id: str) -> Mapping[str, str]:
        path = group_configs.entity_path(group_id)
        return self.broker.metadata_store.entity_configs.get(path, {})


class GroupService:
    def __init__(self, broker: GroupServiceCollaborators) -> None:
        self.broker = broker
        config = broker.config
        self.partitions = int(config.get("offsets.topic.num.partitions"))
        self.coordinator = GroupCoordinator(
            GroupConfig(
                offsets_partitions=self.partitions,
                min_session_timeout_ms=int(config.get("group.min.session.timeout.ms")),
                max_session_timeout_ms=int(config.get("group.max.session.timeout.ms")),
                initial_rebalance_delay_ms=int(config.get("group.initial.rebalance.delay.ms")),
                offsets_retention_ms=int(config.get("offsets.retention.minutes")) * 60_000,
                max_group_size=int(config.get("group.max.size")),
                offset_metadata_max_bytes=int(config.get("offset.metadata.max.bytes")),
                rebalance_protocols=tuple(config.get("group.coordinator.rebalance.protocols")),
                consumer_assignors=tuple(config.get("group.consumer.assignors")),
                consumer_session_timeout_ms=int(config.get("group.consumer.session.timeout.ms")),
                consumer_heartbeat_interval_ms=int(
                    config.get("group.consumer.heartbeat.interval.ms")
                ),
                consumer_min_session_timeout_ms=int(
                    config.get("group.consumer.min.session.timeout.ms")
                ),
                consumer_max_session_timeout_ms=int(
                    config.get("group.consumer.max.session.timeout.ms")
                ),
                consumer_min_heartbeat_interval_ms=int(
                    config.get("group.consumer.min.heartbeat.interval.ms")
                ),
                consumer_max_heartbeat_interval_ms=int(
                    config.get("group.consumer.max.heartbeat.interval.ms")
                ),
                consumer_max_size=int(config.get("group.consumer.max.size")),
                consumer_migration_policy=str(
                    config.get("group.consumer.migration.policy")
                ).lower(),
            ),
            broker.clock,
            LoopScheduler(),
            self,
            BrokerTopics(broker),
            StoredGroupConfigs(broker),
        )
        if broker.authorizer is not None:  # Kafka 4.0 (KAFKA-18813, KAFKA-19147)
            self.coordinator.context.topic_authorizer = TopicDescribeAuthorizer(broker.authorizer)
        self._expiry_task: asyncio.Task[None] | None = None
        # The __consumer_offsets partitions whose groups this broker coordinates.
        self.owned: OwnedPartitions = AllPartitions()
        self.append_linger_s = int(config.get("group.coordinator.append.linger.ms")) / 1000
        self._linger_windows: dict[int, float] = {}  # partition -> when its window closes

    def check_coordinator(self, group_id: str) -> None:
        """Raise NOT_COORDINATOR unless this broker leads the group's offsets partition."""
        if not self.owned.coordinates(group_id, self.coordinator.partition_for):
            raise NotCoordinatorError(f"This is not the correct coordinator for {group_id}.")

    def load_partition(self, partition: int) -> None:
        """Cluster mode: this broker became leader of ``__consumer_offsets-<partition>``."""
        if not self.owned.follows_leadership:
            return
        topic = self.broker.metadata_store.topics.get(OFFSETS_TOPIC)
        if topic is not None:
            self.partitions = topic.partitions
            self.coordinator.config = replace(
                self.coordinator.config, offsets_partitions=topic.partitions
            )
        self.coordinator.unload_partition(partition)
        started = time.monotonic()
        log_obj = self.broker.log_manager.logs.get(TopicPartition(OFFSETS_TOPIC, partition))
        records = load_partition(self.coordinator, log_obj, partition) if log_obj else 0
        self.owned.add(partition)
        self.coordinator.finish_loading(partition)
        log.info(
            "loaded %s-%d (%d records) in %.2fs: now coordinating its groups",
            OFFSETS_TOPIC,
            partition,
            records,
            time.monotonic() - started,
        )

    def unload_partition(self, partition: int) -> None:
        if not self.owned.follows_leadership:
            return
        self.owned.discard(partition)
        count = self.coordinator.unload_partition(partition)
        log.info("%s-%d moved away: unloaded %d groups", OFFSETS_TOPIC, partition, count)

    def start(self) -> None:
        """Load existing group state (as the cluster membership says: now, or as leaderships
        arrive); schedule offset expiry."""
        self.broker.cluster.start_group_coordinator(self)
        self.coordinator.finish_loading()
        self._expiry_task = asyncio.get_running_loop().create_task(self._expire_loop())

    def follow_leadership(self) -> None:
        """Cluster mode: load each ``__consumer_offsets`` partition as its leadership arrives
        (``load_partition``), and coordinate only the groups of those led here."""
        self.owned = LedPartitions()

    def load_all(self) -> None:
        """A single node: load every ``__consumer_offsets`` partition now."""
        topic = self.broker.metadata_store.topics.get(OFFSETS_TOPIC)
        if topic is None:
            return
        started = time.monotonic()
        records = sum(
            load_partition(
                self.coordinator, self.broker.replica_manager.get_log(OFFSETS_TOPIC, p), p
            )
            for p in range(topic.partitions)
        )
        self.partitions = topic.partitions
        log.info(
            "loaded %d groups from %d %s records in %.2fs",
            len(self.coordinator.groups),
            records,
            OFFSETS_TOPIC,
            time.monotonic() - started,
        )

    def stop(self) -> None:
        if self._expiry_task is not None:
            self._expiry_task.cancel()

    async def _expire_loop(self) -> None:
        interval = int(self.broker.config.get("offsets.retention.check.interval.ms"))
        while True:
            await asyncio.sleep(interval / 1000)
            try:
                expired = self.coordinator.expire_offsets()
                if expired:
                    log.info("expired %d committed offsets", expired)
            except KafkaError:
                log.exception("expiring offsets failed")

    def ensure_offsets_topic(self) -> None:
        """Create ``__consumer_offsets`` if needed; raises CoordinatorNotAvailableError when
        it cannot be (e.g. offsets.topic.replication.factor above the live brokers)."""
        if OFFSETS_TOPIC in self.broker.metadata_store.topics:
            return
        config = self.broker.config
        spec = TopicSpec(
            OFFSETS_TOPIC,
            self.partitions,
            int(config.get("offsets.topic.replication.factor")),
            configs={
                "cleanup.policy": "compact",
                "segment.bytes": str(config.get("offsets.topic.segment.bytes")),
                "compression.type": "producer",
            },
        )
        try:
            self.broker.admin_manager.create_topic(spec)
        except KafkaError as exc:
            raise CoordinatorNotAvailableError(f"cannot create {OFFSETS_TOPIC}: {exc}") from exc

    # -- OffsetsWriter -------------------------------------------------------------------------

    def append_group_records(
        self,
        partition: int,
        records: Sequence[tuple[bytes, bytes | None]],
        producer_id: int = -1,
        producer_epoch: int = -1,
    ) -> InternalWrite | None:
        self.ensure_offsets_topic()
        tp = TopicPartition(OFFSETS_TOPIC, partition)
        write = self.broker.replica_manager.append_internal(
            tp, records, self.broker.clock.milliseconds(), producer_id, producer_epoch
        )
        if producer_id >= 0 or self.append_linger_s <= 0:
            return write  # Kafka does not accumulate transactional writes
        flush_at = self._linger_window(partition)
        if write is None:
            return InternalWrite(tp, -1, flush_at)
        return replace(write, flush_at=flush_at)

    def _linger_window(self, partition: int) -> float:
        """When the append-linger window of ``partition`` that a write made now falls in
        closes (``group.coordinator.append.linger.ms``, Kafka's default 5 ms): Kafka's
        coordinator accumulates the writes of that window into one batch and answers their
        requests once it is flushed. odradek appends each request's records at once (they
        are durable sooner) and holds the responses until the window closes, so clients see
        Kafka's timing: librdkafka's KIP-848 consumer, for one, can miss a rejoin when a
        heartbeat's answer comes back within the same millisecond as its unsubscribe."""
        now = time.monotonic()
        closes = self._linger_windows.get(partition, 0.0)
        if closes <= now:
            closes = self._linger_windows[partition] = now + self.append_linger_s
        return closes
