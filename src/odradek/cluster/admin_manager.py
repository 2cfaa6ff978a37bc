"""Topic administration (Kafka's ZkAdminManager): topic lifecycle against the metadata store
and the logs — create (with validation), delete, create partitions, auto-create. It is not
the controller. What follows a write depends on where the partitions live
(``cluster/topic_hosting.py``): a single node opens and deletes the logs itself; in a
cluster the topic is written to ZooKeeper and the controller (cluster/zk_controller.py) elects
leaders and carries out deletions.

The request handlers use the awaitable forms (``create_topic_async``, ``delete_topic_async``,
``create_partitions``): their ZooKeeper writes never block the event loop. ``create_topic``
and ``delete_topic`` are the blocking forms for callers that are not coroutines (the internal
topics, the single-node tools and tests).

Metadata's auto-creation (``auto_create``, Kafka's AutoTopicCreationManager) only queues the
topics: a background task creates them one step per turn of the event loop, and Metadata
answers LEADER_NOT_AVAILABLE for them meanwhile, as Kafka does."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from odradek.cluster.assignment import assign_replicas
from odradek.cluster.metadata import MetadataStore, TopicMetadata
from odradek.cluster.topic_hosting import LocalTopicHosting, TopicHosting
from odradek.cluster.topic_names import collision_key, validate_topic_name
from odradek.common.errors import (
    InvalidConfigError,
    InvalidPartitionsError,
    InvalidReplicaAssignmentError,
    InvalidReplicationFactorError,
    InvalidRequestError,
    InvalidTopicError,
    KafkaError,
    TopicAlreadyExistsError,
    TopicDeletionDisabledError,
    UnknownTopicIdError,
    UnknownTopicOrPartitionError,
)
from odradek.common.ids import new_topic_id
from odradek.common.internal_topics import INTERNAL_TOPICS
from odradek.config.broker import BrokerConfig
from odradek.config.topic import validate_topic_configs
from odradek.storage.log_manager import LogManager

log = logging.getLogger(__name__)
MAX_PARTITIONS = 100_000
MAX_AUTO_CREATIONS_PER_REQUEST = 100
"""Unknown topics one Metadata request may have queued for auto-creation; it answers
LEADER_NOT_AVAILABLE for the others too, and a later request (clients retry) queues them."""
MAX_PENDING_AUTO_CREATIONS = 1000
"""Topics queued for auto-creation at most, over all requests."""
MAX_COLLISION_VARIANTS_SEPARATORS = 10
"""A new name with at most this many '.' or '_' is checked for collisions by looking up its
2^n spellings; one with more by comparing with every topic."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    num_partitions: int = -1
    replication_factor: int = -1
    assignments: Mapping[int, list[int]] | None = None
    configs: Mapping[str, str | None] | None = None


class AdminManager:
    def __init__(
        self,
        node_id: int,
        config: BrokerConfig,
        store: MetadataStore,
        log_manager: LogManager,
        hosting: TopicHosting | None = None,
    ) -> None:
        """``hosting``: where the partitions live; by default on this single node."""
        self.node_id = node_id
        self.config = config
        self.store = store
        self.log_manager = log_manager
        self.hosting: TopicHosting = hosting or LocalTopicHosting(
            node_id, config.get("broker.rack"), store, log_manager, self.log_config
        )
        # Auto-creation: the topics queued or being created, in order; the task creating them.
        self._auto_created: dict[str, TopicMetadata] = {}
        self._auto_creator: asyncio.Task[None] | None = None

    def brokers(self) -> dict[int, str | None]:
        return self.hosting.brokers()

    def load(self) -> None:
        """At startup: open the logs this broker hosts itself (a single node: all)."""
        self.hosting.load()

    def log_config(self, topic: TopicMetadata) -> Any:
        return self.config.log_config(validate_topic_configs(topic.configs))

    def validate(self, spec: TopicSpec) -> TopicMetadata:
        """Check a creation request; raises the matching Kafka error."""
        name = validate_topic_name(spec.name)
        if name in self.store.topics:
            raise TopicAlreadyExistsError(f"Topic '{name}' already exists.")
        existing = self._colliding(name)
        if existing is not None:
            raise InvalidTopicError(f"Topic '{name}' collides with existing topic: {existing}")
        partitions, replication = spec.num_partitions, spec.replication_factor
        if spec.assignments:
            if partitions != -1 or replication != -1:
                raise InvalidRequestError(
                    "Both numPartitions or replicationFactor and "
                    "replicasAssignments were set. Both cannot be used "
                    "at the same time."
                )
            partitions = self._check_assignments(spec.assignments)
            replication = len(next(iter(spec.assignments.values())))
        if partitions == -1:
            partitions = int(self.config.get("num.partitions"))
        if replication == -1:
            replication = int(self.config.get("default.replication.factor"))
        if partitions <= 0 or partitions > MAX_PARTITIONS:
            raise InvalidPartitionsError(
                f"Number of partitions must be larger than 0 "
                f"(and at most {MAX_PARTITIONS}), got {partitions}."
            )
        if replication <= 0:
            raise InvalidReplicationFactorError("Replication factor must be larger than 0.")
        brokers = self.brokers()
        if replication > len(brokers):
            raise InvalidReplicationFactorError(
                f"Unable to replicate the partition {replication} time(s): The target "
                "replication factor of "
                f"{replication} cannot be reached because only "
                f"{len(brokers)} broker(s) are registered."
            )
        assignment = (
            {p: list(r) for p, r in spec.assignments.items()}
            if spec.assignments
            else assign_replicas(brokers, partitions, replication)
        )
        configs = dict(spec.configs or {})
        nulls = [k for k, v in configs.items() if v is None]
        if nulls:
            raise InvalidConfigError(
                f"Null value not supported for topic configs: {','.join(nulls)}"
            )
        validate_topic_configs(configs)
        return TopicMetadata(
            name,
            new_topic_id(),
            partitions,
            replication,
            {k: str(v) for k, v in configs.items()},
            internal=name in INTERNAL_TOPICS,
            assignment=assignment,
        )

    def _colliding(self, name: str) -> str | None:
        """An existing topic whose name differs from ``name`` only in '.' versus '_'. Its
        possible spellings are looked up (a few dict lookups for most names); only a name with
        very many separators is compared with every topic."""
        topics = self.store.topics
        separators = [i for i, c in enumerate(name) if c in "._"]
        if len(separators) > MAX_COLLISION_VARIANTS_SEPARATORS:
            key = collision_key(name)
            return next((t for t in topics if collision_key(t) == key and t != name), None)
        chars = list(name)
        for spelling in itertools.product("._", repeat=len(separators)):
            for index, char in zip(separators, spelling, strict=True):
                chars[index] = char
            variant = "".join(chars)
            if variant != name and variant in topics:
                return variant
        return None

    def _check_assignments(self, assignments: Mapping[int, list[int]]) -> int:
        expected = set(range(len(assignments)))
        if set(assignments) != expected:
            raise InvalidReplicaAssignmentError("Partitions should be consecutive and start at 0.")
        sizes = {len(replicas) for replicas in assignments.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise InvalidReplicaAssignmentError(
                "All partitions should have the same number of replicas."
            )
        for partition, replicas in assignments.items():
            if len(set(replicas)) != len(replicas):
                raise InvalidReplicaAssignmentError(
                    f"Duplicate brokers not allowed in replica assignment: {replicas} for "
                    f"partition id {partition}."
                )
            unknown = [r for r in replicas if r not in self.brokers()]
            if unknown:
                raise InvalidReplicaAssignmentError(
                    f"Unknown broker(s) in replica assignment: {unknown}."
                )
        return len(assignments)

    async def create_topic_async(
        self, spec: TopicSpec, validate_only: bool = False
    ) -> TopicMetadata:
        """CreateTopics: validate, then write the topic without blocking the loop."""
        topic = self.validate(spec)
        if not validate_only:
            await self.store.create_topic_async(topic)
            await self.hosting.topic_created(topic)
            self._log_created(topic)
        return topic

    def create_topic(self, spec: TopicSpec, validate_only: bool = False) -> TopicMetadata:
        """The blocking form of :meth:`create_topic_async` (in a cluster it waits for
        ZooKeeper on the caller's thread)."""
        topic = self.validate(spec)
        if not validate_only:
            self.store.create_topic(topic)
            self.hosting.topic_created_now(topic)
            self._log_created(topic)
        return topic

    @staticmethod
    def _log_created(topic: TopicMetadata) -> None:
        log.info(
            "created topic %s (%d partitions, id %s)", topic.name, topic.partitions, topic.topic_id
        )

    async def delete_topic_async(
        self, name: str | None = None, topic_id: uuid.UUID | None = None
    ) -> TopicMetadata:
        """DeleteTopics. A single node deletes the topic and its logs at once; in a cluster
        the deletion is queued for the controller."""
        topic = self._deletable(name, topic_id)
        await self.hosting.delete_topic(topic)
        return topic

    def delete_topic(
        self, name: str | None = None, topic_id: uuid.UUID | None = None
    ) -> TopicMetadata:
        """The blocking form of :meth:`delete_topic_async`, for a single node only: in a
        cluster only the controller deletes a topic's znodes."""
        topic = self._deletable(name, topic_id)
        self.hosting.delete_topic_now(topic)
        return topic

    def _deletable(self, name: str | None, topic_id: uuid.UUID | None) -> TopicMetadata:
        """The topic a DeleteTopics entry names; raises the matching Kafka error."""
        topic = (
            self.store.topics.get(name)
            if name
            else self.store.by_id.get(topic_id)
            if topic_id
            else None
        )
        if topic is None:
            if not name and topic_id is not None:
                raise UnknownTopicIdError(f"Topic id {topic_id} does not exist.")
            raise UnknownTopicOrPartitionError("This server does not host this topic.")
        if topic.internal:
            raise InvalidRequestError(f"Cannot delete internal topic {topic.name}")
        if not self.config.get("delete.topic.enable"):
            raise TopicDeletionDisabledError("Topic deletion is disabled.")
        return topic

    async def create_partitions(
        self, name: str, count: int, assignments: list[list[int]] | None, validate_only: bool
    ) -> None:
        """Grow a topic to ``count`` partitions (Kafka never shrinks one). The store gets a
        grown copy of the topic: the cached one changes only once the write succeeded."""
        topic = self.store.topics.get(name)
        if topic is None:
            raise UnknownTopicOrPartitionError(f"The topic '{name}' does not exist.")
        if count < topic.partitions:
            raise InvalidPartitionsError(
                f"Topic currently has {topic.partitions} partitions, "
                f"which is higher than the requested {count}."
            )
        if count == topic.partitions:
            raise InvalidPartitionsError(f"Topic already has {topic.partitions} partitions.")
        if count > MAX_PARTITIONS:
            raise InvalidPartitionsError(f"Number of partitions must be at most {MAX_PARTITIONS}.")
        if assignments is not None:
            if len(assignments) != count - topic.partitions:
                raise InvalidReplicaAssignmentError(
                    f"Increasing the number of partitions by {count - topic.partitions} but "
                    f"{len(assignments)} assignments provided."
                )
            live = self.brokers()
            for replicas in assignments:
                if len(replicas) != topic.replication_factor or any(
                    r not in live for r in replicas
                ):
                    raise InvalidReplicaAssignmentError(
                        f"Invalid replica assignment {replicas}: unknown broker or wrong "
                        "replication factor."
                    )
        new_assignment = (
            {topic.partitions + i: list(r) for i, r in enumerate(assignments)}
            if assignments is not None
            else assign_replicas(
                self.brokers(),
                count - topic.partitions,
                topic.replication_factor,
                first_partition=topic.partitions,
            )
        )
        if validate_only:
            return
        grown = replace(topic, partitions=count, assignment={**new_assignment, **topic.assignment})
        await self.store.update_topic_async(grown)
        await self.hosting.topic_created(grown, first=topic.partitions)
        log.info("topic %s now has %d partitions", name, count)

    # -- auto-creation ---------------------------------------------------------------------------

    @property
    def auto_creating(self) -> Collection[str]:
        """The topics queued for auto-creation or being created (Metadata answers
        LEADER_NOT_AVAILABLE for them, even once their metadata is written)."""
        return self._auto_created.keys()

    def auto_create(self, names: Iterable[str]) -> dict[str, KafkaError]:
        """Queue unknown topics for creation with the broker's defaults (Metadata with
        auto-creation on); returns those refused and why (an invalid or colliding name, a
        replication factor above the live brokers). Of ``names`` (read lazily), at most
        MAX_AUTO_CREATIONS_PER_REQUEST not already queued are looked at, and the queue holds
        MAX_PENDING_AUTO_CREATIONS at most: the others are left for a later request. Call it
        on the event loop, which the creation then runs on in the background."""
        refused: dict[str, KafkaError] = {}
        queued = self._auto_created
        fresh = (name for name in names if name not in queued)
        room = MAX_PENDING_AUTO_CREATIONS - len(queued)
        for name in itertools.islice(fresh, max(min(MAX_AUTO_CREATIONS_PER_REQUEST, room), 0)):
            try:
                queued[name] = self.validate(TopicSpec(name))
            except KafkaError as exc:
                refused[name] = exc
        if queued and self._auto_creator is None:
            self._auto_creator = asyncio.get_running_loop().create_task(self._create_queued())
        return refused

    async def _create_queued(self) -> None:
        """Create the queued topics one at a time, oldest first, yielding the event loop
        after each write (a metadata write, one partition's log files)."""
        queued = self._auto_created
        try:
            while queued:
                name, topic = next(iter(queued.items()))
                try:
                    await self._auto_create_one(topic)
                except TopicAlreadyExistsError:
                    pass  # created by a CreateTopics meanwhile
                except KafkaError as exc:
                    log.warning("not auto-creating topic %s: %s", name, exc)
                except Exception:
                    log.exception("auto-creating topic %s failed", name)
                finally:
                    queued.pop(name, None)
                await asyncio.sleep(0)
        finally:
            self._auto_creator = None

    async def _auto_create_one(self, topic: TopicMetadata) -> None:
        """Write the topic, then (a single node) open its logs, one partition per turn. Its
        name is checked again: a topic created since it was queued may collide with it."""
        existing = self._colliding(topic.name)
        if existing is not None:
            raise InvalidTopicError(
                f"Topic '{topic.name}' collides with existing topic: {existing}"
            )
        await self.store.create_topic_async(topic)
        await self.hosting.topic_created(topic)
        log.info(
            "auto-created topic %s (%d partitions, id %s)",
            topic.name,
            topic.partitions,
            topic.topic_id,
        )

    async def stop(self) -> None:
        """Stop auto-creating (at shutdown, before the logs are closed); the topics still
        queued are not created."""
        task = self._auto_creator
        self._auto_created.clear()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
