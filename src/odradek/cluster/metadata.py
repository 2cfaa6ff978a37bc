"""The metadata model — topics, their ids, partition counts and config overrides, broker
registrations and partition states, the configs of users and clients (quotas, SCRAM
credentials), the ACLs — the :class:`MetadataStore` protocol every broker reads and writes it
through, and the single-node store that keeps it in one atomically written JSON file. The
cluster store (ZooKeeper) is :class:`odradek.cluster.zk_store.ZkMetadataStore`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

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
from odradek.storage.files import atomic_write

METADATA_FILE = "odradek-metadata.json"
AclsChanged = Callable[[ResourcePattern, frozenset[AccessControlEntry]], None]
DEFAULT_ENTITY = "<default>"  # the entity name of a default user or client-id


def check_entity_path(entity_path: str) -> None:
    """Raise ValueError unless ``entity_path`` is one of Kafka's user and client entity paths:
    ``users/<user>``, ``clients/<client-id>`` or ``users/<user>/clients/<client-id>``, each
    name sanitized as Kafka does (no ``/``) or :data:`DEFAULT_ENTITY`."""
    parts = entity_path.split("/")
    kinds = parts[0::2]
    if (
        kinds not in (["users"], ["clients"], ["users", "clients"])
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
    calls on a worker thread and updates its cache on the loop once they succeed; the
    single-node store rewrites its file at once. A write updates the cache with the object
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
    """Single-node metadata: a JSON file in the first log dir, rewritten atomically."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / METADATA_FILE
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
        self._loaded = False

    def load(self) -> None:
        """Read the file once; later calls keep the state in memory."""
        if self._loaded:
            return
        self._loaded = True
        if not self.path.exists():
            return
        data = json.loads(self.path.read_text())
        self.next_producer_id_block = int(data.get("next_producer_id_block", 0))
        self.broker_configs = {k: dict(v) for k, v in data.get("broker_configs", {}).items()}
        self.entity_configs = {k: dict(v) for k, v in data.get("entity_configs", {}).items()}
        # Kept as Kafka keeps them in ZooKeeper: each pattern's znode path and JSON.
        self.acls = {
            pattern_from_znode_path(path): frozenset(decode_acls(json.dumps(body).encode()))
            for path, body in data.get("acls", {}).items()
        }
        for item in data.get("topics", []):
            topic = TopicMetadata(
                item["name"],
                uuid.UUID(item["topic_id"]),
                int(item["partitions"]),
                int(item.get("replication_factor", 1)),
                dict(item.get("configs", {})),
                bool(item.get("internal")),
            )
            self._index(topic)

    def _index(self, topic: TopicMetadata) -> None:
        self.topics[topic.name] = topic
        self.by_id[topic.topic_id] = topic

    def _save(self) -> None:
        data = {
            "version": 1,
            "next_producer_id_block": self.next_producer_id_block,
            "broker_configs": self.broker_configs,
            "entity_configs": self.entity_configs,
            "acls": {
                acl_znode_path(pattern): json.loads(encode_acls(entries))
                for pattern, entries in self.acls.items()
            },
            "topics": [
                {
                    "name": t.name,
                    "topic_id": str(t.topic_id),
                    "partitions": t.partitions,
                    "replication_factor": t.replication_factor,
                    "configs": t.configs,
                    "internal": t.internal,
                }
                for t in self.topics.values()
            ],
        }
        atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True).encode())

    # -- writes: the file is rewritten at once, so the awaitable forms never wait ---------------

    async def create_topic_async(self, topic: TopicMetadata) -> None:
        self.create_topic(topic)

    async def update_topic_async(self, topic: TopicMetadata) -> None:
        self._index(topic)
        self._save()

    async def delete_topic_async(self, name: str) -> None:
        self.delete_topic(name)

    async def set_broker_configs_async(self, broker: str, configs: dict[str, str]) -> None:
        if configs:
            self.broker_configs[broker] = configs
        else:
            self.broker_configs.pop(broker, None)
        self._save()

    async def set_entity_configs_async(self, entity_path: str, configs: dict[str, str]) -> None:
        check_entity_path(entity_path)
        if configs:
            self.entity_configs[entity_path] = configs
        else:
            self.entity_configs.pop(entity_path, None)
        self._save()

    async def set_acls_async(
        self, pattern: ResourcePattern, entries: frozenset[AccessControlEntry]
    ) -> None:
        acl_znode_path(pattern)  # ValueError unless LITERAL or PREFIXED
        if self.acls.get(pattern, frozenset()) == entries:
            return
        if entries:
            self.acls[pattern] = entries
        else:
            self.acls.pop(pattern, None)
        self._save()
        if self.on_acls_changed is not None:
            self.on_acls_changed(pattern, entries)

    async def allocate_producer_id_block_async(self, size: int) -> int:
        return self.allocate_producer_id_block(size)

    def create_topic(self, topic: TopicMetadata) -> None:
        if topic.name in self.topics:
            raise TopicAlreadyExistsError(f"Topic '{topic.name}' already exists.")
        self._index(topic)
        self._save()

    def delete_topic(self, name: str) -> TopicMetadata | None:
        topic = self.topics.pop(name, None)
        if topic is not None:
            self.by_id.pop(topic.topic_id, None)
            self._save()
        return topic

    def allocate_producer_id_block(self, size: int) -> int:
        """Reserve ``size`` producer ids durably; returns the first of them."""
        start = self.next_producer_id_block
        self.next_producer_id_block = start + size
        self._save()
        return start
