"""The metadata model — topics, their ids, partition counts and config overrides, broker
registrations and partition states, the configs of users and clients (quotas, SCRAM
credentials), the ACLs — the :class:`MetadataStore` protocol every broker reads and writes it
through, and the single-node store that keeps it in a snapshot and an append-only log of
changes. The cluster store (ZooKeeper) is :class:`odradek.cluster.zk_store.ZkMetadataStore`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from odradek.cluster.metadata_log import MIN_LOG_BYTES, MetadataLog, State
from odradek.cluster.metadata_records import MetadataRecord
from odradek.cluster.metadata_writer import MetadataWriter
from odradek.common.errors import TopicAlreadyExistsError
from odradek.common.ids import TopicPartition
from odradek.security.acl import (
    AccessControlEntry,
    ResourcePattern,
    acl_znode_path,
    decode_acls,
    encode_acls,
    pattern_from_znode_path,
)
from odradek.storage.files import fsync_dir

METADATA_FILE = "odradek-metadata.json"  # an earlier version's whole metadata, read once
# The single-node store's namespaces (and the key of the producer id counter).
TOPICS = "topics"
BROKER_CONFIGS = "broker_configs"
ENTITY_CONFIGS = "entity_configs"
ACLS = "acls"
PRODUCER_IDS = "producer_ids"
NEXT_BLOCK = "next_block"
AclsChanged = Callable[[ResourcePattern, frozenset[AccessControlEntry]], None]
DEFAULT_ENTITY = "<default>"  # the entity name of a default user or client-id


def check_entity_path(entity_path: str) -> None:
    """Raise ValueError unless ``entity_path`` is one of Kafka's user and client entity paths:
    ``users/<user>``, ``clients/<client-id>`` or ``users/<user>/clients/<client-id>``, each
    name sanitized as Kafka does (no ``/``) or :data:`DEFAULT_ENTITY`, a KIP-714 client
    metrics resource, ``client-metrics/<name>``, or a KIP-848 group's configs,
    ``groups/<sanitized group id>``."""
    parts = entity_path.split("/")
    kinds = parts[0::2]
    if (
        kinds not in (["users"], ["clients"], ["users", "clients"], ["client-metrics"], ["groups"])
        or len(parts) != 2 * len(kinds)
        or not all(parts[1::2])
    ):
        raise ValueError(f"not a user or client entity path: {entity_path!r}")


@dataclass(slots=True)
class TopicMetadata:
    name: str
    topic_id: uuid.UUID
    partitions: int
    replication_factor: int = 1
    configs: dict[str, str] = field(default_factory=dict)
    internal: bool = False
    assignment: dict[int, list[int]] = field(default_factory=dict)  # partition -> replicas


@dataclass(frozen=True, slots=True)
class BrokerRegistration:
    """A live broker as registered in ``/brokers/ids/<id>``."""

    broker_id: int
    host: str  # host and port: the inter-broker listener's address
    port: int
    rack: str | None
    # Every advertised listener's address by listener name (empty: only host and port known).
    endpoints: Mapping[str, tuple[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartitionState:
    """A partition's leader and ISR (``/brokers/topics/<t>/partitions/<p>/state``), with the
    znode version its conditional updates are fenced on."""

    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    controller_epoch: int
    zk_version: int = -1


class MetadataStore(Protocol):
    """What the broker reads and writes of the cluster metadata, whichever store keeps it.

    The reads are the store's cache, read on the broker's event loop. A single node has no
    broker registrations, partition states or controller znode: ``brokers`` and ``states``
    are empty and ``controller`` is None there; callers read them in cluster mode only.

    The writes are awaitable and never block the loop: the ZooKeeper store runs its kazoo
    calls on a worker thread and updates its cache on the loop once they succeed; so does the
    single-node store with the append to its log. A write updates the cache with the object
    it was given, so callers write a changed copy of a topic, not the cached one.

    The blocking forms (``create_topic``, ``delete_topic``, ``allocate_producer_id_block``)
    are for callers that are not coroutines: Metadata's topic auto-creation, the internal
    topics' creation, the transaction coordinator's timers, and the single-node tools and
    tests. In a cluster they wait for ZooKeeper on the caller's thread."""

    @property
    def topics(self) -> dict[str, TopicMetadata]: ...

    @property
    def by_id(self) -> dict[uuid.UUID, TopicMetadata]: ...

    @property
    def broker_configs(self) -> dict[str, dict[str, str]]:
        """Dynamic broker configs: ``""`` is the cluster-wide default, else a broker id."""
        ...

    @property
    def entity_configs(self) -> dict[str, dict[str, str]]:
        """The configs of users and clients — quotas (``producer_byte_rate``, ...) and SCRAM
        credentials (``SCRAM-SHA-256``, ...) — by Kafka's entity path (``users/alice``,
        ``clients/app1``, ``users/alice/clients/app1``, ``users/<default>``); an entity
        without configs is absent."""
        ...

    @property
    def acls(self) -> dict[ResourcePattern, frozenset[AccessControlEntry]]:
        """The ACLs by LITERAL or PREFIXED resource pattern; a pattern without any is absent."""
        ...

    # Called on the loop each time a pattern's cached ACLs change, whoever changed them (a
    # write through this store, or in a cluster another broker): the pattern and its entries
    # now (empty: it has none left). The broker sets it to keep its authorizer current.
    on_acls_changed: AclsChanged | None

    @property
    def brokers(self) -> dict[int, BrokerRegistration]: ...

    @property
    def states(self) -> dict[TopicPartition, PartitionState]: ...

    @property
    def controller(self) -> int | None: ...

    def load(self) -> None:
        """Fill the cache from the store."""

    async def create_topic_async(self, topic: TopicMetadata) -> None:
        """Raises TopicAlreadyExistsError when the topic exists (in a cluster, also when
        another broker created it first)."""
        ...

    async def update_topic_async(self, topic: TopicMetadata) -> None:
        """An existing topic's new partitions or config overrides."""
        ...

    async def delete_topic_async(self, name: str) -> None:
        """A single node deletes the topic at once. In a cluster the deletion is queued in
        ``/admin/delete_topics``: the controller deletes its znodes (the watches then drop it
        from every broker's cache) and the replicas their logs."""
        ...

    async def set_broker_configs_async(self, broker: str, configs: dict[str, str]) -> None:
        """Replace the dynamic configs of ``broker`` (``""``: the cluster-wide default)."""
        ...

    async def set_entity_configs_async(self, entity_path: str, configs: dict[str, str]) -> None:
        """Replace the configs of a user or client entity (empty: the entity is removed). In a
        cluster every broker's cache has the change within a second (Kafka's config change
        notification). Raises ValueError for a path :func:`check_entity_path` rejects."""
        ...

    async def set_acls_async(
        self, pattern: ResourcePattern, entries: frozenset[AccessControlEntry]
    ) -> None:
        """Make ``entries`` the ACLs of a LITERAL or PREFIXED ``pattern`` (empty: none).

        In a cluster the change from the cached entries — those added and those removed — is
        applied to what ZooKeeper holds, conditionally on its version and again on a
        conflict, so a change another broker made meanwhile is kept, as Kafka's authorizer
        does; the cache then has the result, and every broker has it within a second."""
        ...

    async def allocate_producer_id_block_async(self, size: int) -> int:
        """Reserve ``size`` producer ids durably, never handed out again; the first one."""
        ...

    def create_topic(self, topic: TopicMetadata) -> None:
        """The blocking form of :meth:`create_topic_async`."""
        ...

    def delete_topic(self, name: str) -> TopicMetadata | None:
        """Delete the topic's metadata at once (in ZooKeeper its znodes, which in a running
        cluster is the controller's job: brokers use :meth:`delete_topic_async`)."""
        ...

    def allocate_producer_id_block(self, size: int) -> int:
        """The blocking form of :meth:`allocate_producer_id_block_async`."""
        ...


class LocalMetadataStore:
    """Single-node metadata in the first log dir: a snapshot and an append-only log of changes
    (:mod:`odradek.cluster.metadata_log`), one record per write, so a write costs the same
    whatever the number of topics. The awaitable writes append and fsync on the store's writer
    thread and update the cache once the record is durable; the blocking forms wait on the
    caller's thread (:mod:`odradek.cluster.metadata_writer`). A write that cannot be made
    raises the OSError and leaves the cache unchanged.

    A directory written by an earlier version holds ``odradek-metadata.json`` instead: it is
    read once, written as the first snapshot, and removed."""

    def __init__(self, directory: Path, min_log_bytes: int = MIN_LOG_BYTES) -> None:
        self.directory = directory
        self.topics: dict[str, TopicMetadata] = {}
        self.by_id: dict[uuid.UUID, TopicMetadata] = {}
        self.next_producer_id_block = 0
        self.broker_configs: dict[str, dict[str, str]] = {}
        self.entity_configs: dict[str, dict[str, str]] = {}
        self.acls: dict[ResourcePattern, frozenset[AccessControlEntry]] = {}
        self.on_acls_changed: AclsChanged | None = None
        # A single node registers nowhere and leads every partition itself.
        self.brokers: dict[int, BrokerRegistration] = {}
        self.states: dict[TopicPartition, PartitionState] = {}
        self.controller: int | None = None
        self._log = MetadataLog(directory, min_log_bytes)
        self._writer: MetadataWriter | None = None
        self._creating: set[str] = set()  # topics whose creation is being written

    def load(self) -> None:
        """Read the metadata once (writing the first snapshot of a new or earlier-format
        directory); later calls keep the state in memory."""
        if self._writer is not None:
            return
        legacy = self.directory / METADATA_FILE
        if self._log.exists():
            state = self._log.recover()
        else:
            state = _read_metadata_file(legacy) if legacy.exists() else {}
            self._log.create(state)
        if legacy.exists():  # in the snapshot now
            legacy.unlink()
            fsync_dir(self.directory)
        self._fill(state)
        self._writer = MetadataWriter(self._log)

    def _fill(self, state: State) -> None:
        producer_ids = state.get(PRODUCER_IDS, {})
        self.next_producer_id_block = int(producer_ids.get(NEXT_BLOCK, 0))
        self.broker_configs = {k: dict(v) for k, v in state.get(BROKER_CONFIGS, {}).items()}
        self.entity_configs = {k: dict(v) for k, v in state.get(ENTITY_CONFIGS, {}).items()}
        # Kept as Kafka keeps them in ZooKeeper: each pattern's znode path and JSON.
        self.acls = {
            pattern_from_znode_path(path): frozenset(decode_acls(json.dumps(body).encode()))
            for path, body in state.get(ACLS, {}).items()
        }
        for item in state.get(TOPICS, {}).values():
            self._index(_topic_from_json(item))

    def close(self) -> None:
        """Finish the writes under way and close the log (a later write reopens it)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _index(self, topic: TopicMetadata) -> None:
        self.topics[topic.name] = topic
        self.by_id[topic.topic_id] = topic

    def _unindex(self, name: str) -> None:
        topic = self.topics.pop(name, None)
        if topic is not None:
            self.by_id.pop(topic.topic_id, None)

    def _opened(self) -> MetadataWriter:
        if self._writer is None:
            self.load()
        assert self._writer is not None
        return self._writer

    # -- the changes: each is one record, and what it does to the cache once durable -------------

    def _creation(self, topic: TopicMetadata) -> tuple[MetadataRecord, Callable[[], None]]:
        if topic.name in self.topics or topic.name in self._creating:
            raise TopicAlreadyExistsError(f"Topic '{topic.name}' already exists.")
        self._creating.add(topic.name)

        def created() -> None:
            self._creating.discard(topic.name)
            self._index(topic)

        return MetadataRecord.of(TOPICS, topic.name, _topic_to_json(topic)), created

    def _deletion(self, name: str) -> tuple[MetadataRecord, Callable[[], None]]:
        return MetadataRecord.of(TOPICS, name, None), lambda: self._unindex(name)

    def _configs_change(
        self, namespace: str, cache: dict[str, dict[str, str]], key: str, configs: dict[str, str]
    ) -> tuple[MetadataRecord, Callable[[], None]]:
        def changed() -> None:
            if configs:
                cache[key] = configs
            else:
                cache.pop(key, None)

        return MetadataRecord.of(namespace, key, configs or None), changed

    def _acls_change(
        self, pattern: ResourcePattern, entries: frozenset[AccessControlEntry]
    ) -> tuple[MetadataRecord, Callable[[], None]]:
        path = acl_znode_path(pattern)  # ValueError unless LITERAL or PREFIXED

        def changed() -> None:
            if entries:
                self.acls[pattern] = entries
            else:
                self.acls.pop(pattern, None)
            if self.on_acls_changed is not None:
                self.on_acls_changed(pattern, entries)

        body = json.loads(encode_acls(entries)) if entries else None
        return MetadataRecord.of(ACLS, path, body), changed

    def _block_allocation(self, size: int) -> tuple[MetadataRecord, Callable[[], None], int]:
        """The next block after those allocated or being allocated: the cache moves on at
        once, so concurrent allocations never overlap, and the record holds the new end."""
        start = self.next_producer_id_block
        self.next_producer_id_block = start + size
        record = MetadataRecord.of(PRODUCER_IDS, NEXT_BLOCK, start + size)
        return record, lambda: None, start

    # -- writes ------------------------------------------------------------------------------------

    async def create_topic_async(self, topic: TopicMetadata) -> None:
        writer = self._opened()
        record, created = self._creation(topic)
        await writer.write(record, created, lambda: self._creating.discard(topic.name))

    async def update_topic_async(self, topic: TopicMetadata) -> None:
        record = MetadataRecord.of(TOPICS, topic.name, _topic_to_json(topic))
        await self._opened().write(record, lambda: self._index(topic))

    async def delete_topic_async(self, name: str) -> None:
        if name in self.topics:
            await self._opened().write(*self._deletion(name))

    async def set_broker_configs_async(self, broker: str, configs: dict[str, str]) -> None:
        writer = self._opened()
        await writer.write(
            *self._configs_change(BROKER_CONFIGS, self.broker_configs, broker, configs)
        )

    async def set_entity_configs_async(self, entity_path: str, configs: dict[str, str]) -> None:
        check_entity_path(entity_path)
        writer = self._opened()
        await writer.write(
            *self._configs_change(ENTITY_CONFIGS, self.entity_configs, entity_path, configs)
        )

    async def set_acls_async(
        self, pattern: ResourcePattern, entries: frozenset[AccessControlEntry]
    ) -> None:
        record, changed = self._acls_change(pattern, entries)
        if self.acls.get(pattern, frozenset()) == entries:
            return
        await self._opened().write(record, changed)

    async def allocate_producer_id_block_async(self, size: int) -> int:
        writer = self._opened()
        record, allocated, start = self._block_allocation(size)
        await writer.write(record, allocated)
        return start

    def create_topic(self, topic: TopicMetadata) -> None:
        writer = self._opened()
        record, created = self._creation(topic)
        writer.write_blocking(record, created, lambda: self._creating.discard(topic.name))

    def delete_topic(self, name: str) -> TopicMetadata | None:
        topic = self.topics.get(name)
        if topic is not None:
            self._opened().write_blocking(*self._deletion(name))
        return topic

    def allocate_producer_id_block(self, size: int) -> int:
        """Reserve ``size`` producer ids durably; returns the first of them."""
        writer = self._opened()
        record, allocated, start = self._block_allocation(size)
        writer.write_blocking(record, allocated)
        return start


def _topic_to_json(topic: TopicMetadata) -> dict[str, Any]:
    return {
        "name": topic.name,
        "topic_id": str(topic.topic_id),
        "partitions": topic.partitions,
        "replication_factor": topic.replication_factor,
        "configs": dict(topic.configs),
        "internal": topic.internal,
    }


def _topic_from_json(item: Mapping[str, Any]) -> TopicMetadata:
    return TopicMetadata(
        item["name"],
        uuid.UUID(item["topic_id"]),
        int(item["partitions"]),
        int(item.get("replication_factor", 1)),
        dict(item.get("configs", {})),
        bool(item.get("internal")),
    )


def _read_metadata_file(path: Path) -> State:
    """The state an earlier version's ``odradek-metadata.json`` holds, by namespace."""
    data = json.loads(path.read_text())
    return {
        TOPICS: {item["name"]: item for item in data.get("topics", [])},
        BROKER_CONFIGS: dict(data.get("broker_configs", {})),
        ENTITY_CONFIGS: dict(data.get("entity_configs", {})),
        ACLS: dict(data.get("acls", {})),
        PRODUCER_IDS: {NEXT_BLOCK: int(data.get("next_producer_id_block", 0))},
    }
