"""The cluster metadata store in ZooKeeper, through kazoo — the only module that imports it.

Kafka's znode layout (ZooKeeper mode) and JSON shapes:

* ``/cluster/id`` — ``{"version": "1", "id": ...}``
* ``/brokers/ids/<id>`` (ephemeral) — endpoints, host, port, rack, timestamp
* ``/controller`` (ephemeral) — ``{"version": 2, "brokerid": N, "timestamp": ...}``;
  ``/controller_epoch`` — the epoch, bumped by every new controller
* ``/brokers/topics/<t>`` — ``{"version": 3, "topic_id": ..., "partitions": {"0": [1, 2]}}``
* ``/brokers/topics/<t>/partitions/<p>/state`` — ``{"controller_epoch", "leader",
  "leader_epoch", "isr", "version"}``, updated conditionally on its znode version
* ``/config/topics/<t>``, ``/config/brokers/<id|<default>>`` — ``{"version": 1, "config": {...}}``
* ``/config/users/<u>``, ``/config/clients/<c>``, ``/config/users/<u>/clients/<c>`` — the same
  shape: quotas and SCRAM credentials; each change is announced by a sequential
  ``/config/changes/config_change_<n>`` — ``{"version": 2, "entity_path": "users/<u>"}`` —
  which every broker follows to re-read the entity
* ``/kafka-acl/<Type>/<name>`` (literal), ``/kafka-acl-extended/prefixed/<Type>/<name>``
  (prefixed) — ``{"version": 1, "acls": [...]}``, updated conditionally on the znode version
  and deleted when empty; each change is announced under ``/kafka-acl-changes`` or
  ``/kafka-acl-extended-changes`` (the codec is :mod:`odradek.security.acl`)
* ``/admin/delete_topics/<t>`` — topics being deleted
* ``/latest_producer_id_block`` — producer id blocks, reserved with a conditional update

kazoo calls watch callbacks on its own threads; the store hands them to the asyncio loop with
``call_soon_threadsafe`` so the broker only ever sees them on its loop. The awaitable writes
(``*_async``) run their kazoo calls on a worker thread (``asyncio.to_thread``; the kazoo
client is thread-safe) and update the cache back on the loop, after ZooKeeper accepted them;
the cache is never touched from a worker thread.

The metadata announced by change notifications (user and client configs, ACLs) is written and
re-read under one lock, which also covers handing the result to the loop: one ZooKeeper session
sees changes in the order ZooKeeper made them, so the cache takes them in that order too and a
broker's own write never overtakes a newer change another broker made (Kafka's authorizer and
config handlers serialize the same way).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, KazooException, NodeExistsError, NoNodeError
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

from odradek.cluster.metadata import (
    DEFAULT_ENTITY,
    AclsChanged,
    TopicMetadata,
    check_entity_path,
)
from odradek.cluster.metadata import BrokerRegistration as BrokerRegistration
from odradek.cluster.metadata import PartitionState as PartitionState
from odradek.common.errors import ConfigError, TopicAlreadyExistsError
from odradek.common.ids import TopicPartition, new_cluster_id
from odradek.config.broker import Listener
from odradek.security.acl import (
    ACL_CHANGE_PREFIX,
    EXTENDED_ACL_CHANGES_PATH,
    LITERAL_ACL_CHANGES_PATH,
    LITERAL_ACL_PATH,
    PREFIXED_ACL_PATH,
    AccessControlEntry,
    ResourcePattern,
    acl_store_paths,
    acl_znode_path,
    change_notification,
    decode_acls,
    encode_acls,
    parse_change_notification,
    pattern_from_znode_path,
)
from odradek.storage.topic_id import encode_topic_id, parse_topic_id

log = logging.getLogger(__name__)

BROKERS = "/brokers/ids"
TOPICS = "/brokers/topics"
CONTROLLER = "/controller"
CONTROLLER_EPOCH = "/controller_epoch"
CLUSTER_ID = "/cluster/id"
TOPIC_CONFIGS = "/config/topics"
BROKER_CONFIGS = "/config/brokers"
DELETE_TOPICS = "/admin/delete_topics"
PRODUCER_ID_BLOCK = "/latest_producer_id_block"
CONTROLLED_SHUTDOWN = "/admin/controlled_shutdown"
DEFAULT_BROKER = DEFAULT_ENTITY
CONFIG = "/config"
USER_CONFIGS = "/config/users"
CLIENT_CONFIGS = "/config/clients"
CONFIG_CHANGES = "/config/changes"
CONFIG_CHANGE_PREFIX = "config_change_"
STALE_REGISTRATION_WAIT_FACTOR = 1.5
"""How long a broker waits for another session's ``/brokers/ids/<id>`` to go, in session
timeouts (ZooKeeper expires a session restored on its restart one timeout after it)."""
CHANGE_EXPIRATION_MS = 15 * 60 * 1000  # notifications older than this are deleted


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class ZkMetadataStore:
    """The cluster's metadata in ZooKeeper (a :class:`MetadataStore`), cached in memory and
    kept current by :class:`WatchedMetadata`."""

    def __init__(
        self,
        connect: str,
        session_timeout_ms: int = 18_000,
        connection_timeout_ms: int | None = None,
    ) -> None:
        self.connect = connect
        self.client = KazooClient(hosts=connect, timeout=session_timeout_ms / 1000)
        self.connection_timeout = (connection_timeout_ms or session_timeout_ms) / 1000
        self.session_timeout = session_timeout_ms / 1000
        self.topics: dict[str, TopicMetadata] = {}
        self.by_id: dict[uuid.UUID, TopicMetadata] = {}
        self.broker_configs: dict[str, dict[str, str]] = {}
        self.entity_configs: dict[str, dict[str, str]] = {}
        self.acls: dict[ResourcePattern, frozenset[AccessControlEntry]] = {}
        self.on_acls_changed: AclsChanged | None = None
        self.brokers: dict[int, BrokerRegistration] = {}
        self.states: dict[TopicPartition, PartitionState] = {}
        self.controller: int | None = None
        self.shutting_down: set[int] = set()  # brokers in controlled shutdown
        self.closing = threading.Event()  # watches stop doing ZooKeeper reads once set
        self._loop: asyncio.AbstractEventLoop | None = None
        # Held while notified metadata is written or re-read and its cache update posted.
        self._notified = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        try:
            with warnings.catch_warnings():
                # A new chroot does not exist yet; ensure_path below creates it.
                warnings.filterwarnings("ignore", "No chroot path exists")
                self.client.start(timeout=self.connection_timeout)
        except Exception as exc:  # kazoo raises its own timeout type
            raise ConfigError(f"cannot connect to ZooKeeper at {self.connect}: {exc}") from exc
        for path in (
            BROKERS,
            TOPICS,
            TOPIC_CONFIGS,
            BROKER_CONFIGS,
            USER_CONFIGS,
            CLIENT_CONFIGS,
            CONFIG_CHANGES,
            DELETE_TOPICS,
            "/cluster",
            CONTROLLED_SHUTDOWN,
            *acl_store_paths(),
        ):
            self.client.ensure_path(path)

    def close(self, timeout: float = 10.0) -> None:
        """Close the session (its ephemeral znodes go at once), waiting at most ``timeout``.

        kazoo's stop() joins its callback thread without a limit, and a watch callback that
        issued a read just as the connection closed waits for an answer that never comes, so
        a broker once hung here after SIGTERM. Watches stop reading once ``closing`` is set;
        if the client still does not stop in time it is left to its daemon threads and the
        session simply expires on the server."""
        self.closing.set()
        stopper = threading.Thread(target=self.client.stop, name="zk-close", daemon=True)
        stopper.start()
        stopper.join(timeout)
        if stopper.is_alive():
            log.warning(
                "the ZooKeeper client did not stop within %.0f s; its session will "
                "expire on the server",
                timeout,
            )
            return
        self.client.close()

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def _on_loop(self, callback: Callable[[], None]) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(callback)

    # -- cluster id, brokers, controller -------------------------------------------------------

    def cluster_id(self, proposed: str | None = None) -> str:
        candidate = proposed or new_cluster_id()
        try:
            self.client.create(CLUSTER_ID, _dumps({"version": "1", "id": candidate}))
            return candidate
        except NodeExistsError:
            data, _ = self.client.get(CLUSTER_ID)
            return str(json.loads(data)["id"])

    def register_broker(
        self, registration: BrokerRegistration, protocols: Mapping[str, str]
    ) -> None:
        """Ephemeral ``/brokers/ids/<id>``, with every advertised listener's address in
        ``endpoints`` and its security protocol (``protocols``: by listener name) in
        ``listener_security_protocol_map``; a live broker with the same id is an error."""
        endpoints = {  # Kafka writes an IPv6 address in brackets
            name: (f"[{host}]" if ":" in host else host, port)
            for name, (host, port) in registration.endpoints.items()
        }
        body = {
            "version": 5,
            "host": registration.host,
            "port": registration.port,
            "endpoints": [f"{name}://{host}:{port}" for name, (host, port) in endpoints.items()],
            "listener_security_protocol_map": {name: str(protocols[name]) for name in endpoints},
            "jmx_port": -1,
            "timestamp": str(int(time.time() * 1000)),
            "rack": registration.rack,
            "features": {},
        }
        path = f"{BROKERS}/{registration.broker_id}"
        # A node left by an earlier session of this broker (its ZooKeeper went away before the
        # broker could close it, and came back with the session restored) lasts until that
        # session expires: wait for it, as long as a session lasts, before calling it a
        # live broker.
        deadline = time.monotonic() + self.session_timeout * STALE_REGISTRATION_WAIT_FACTOR
        warned = False
        while True:
            try:
                self.client.create(path, _dumps(body), ephemeral=True)
                return
            except NodeExistsError:
                pass
            gone = threading.Event()
            try:
                stat = self.client.exists(path, watch=lambda _event, done=gone: done.set())
            except NoNodeError:
                continue
            if stat is None:
                continue
            owner = stat.ephemeralOwner
            if owner == self.client.client_id[0]:  # ours already: a create retried
                self.client.set(path, _dumps(body))
                return
            if time.monotonic() >= deadline:
                raise ConfigError(
                    f"broker.id {registration.broker_id} is already registered in ZooKeeper "
                    f"by a live broker (session 0x{owner:x}, not this broker's)"
                )
            if not warned:
                warned = True
                log.warning(
                    "broker.id %d is registered in ZooKeeper by session 0x%x (not this "
                    "broker's; left by its previous run?): waiting up to %.0f s for it to expire",
                    registration.broker_id,
                    owner,
                    deadline - time.monotonic(),
                )
            gone.wait(max(0.0, min(1.0, deadline - time.monotonic())))

    def live_brokers(self) -> dict[int, BrokerRegistration]:
        brokers = {}
        for child in self.client.get_children(BROKERS):
            try:
                data, _ = self.client.get(f"{BROKERS}/{child}")
            except NoNodeError:
                continue
            body = json.loads(data)
            endpoints: dict[str, tuple[str, int]] = {}
            for text in body.get("endpoints") or []:
                try:
                    listener = Listener.parse(text)
                except ConfigError:
                    log.warning("broker %s registered a malformed endpoint %r", child, text)
                    continue
                endpoints[listener.name] = (listener.host, listener.port)
            brokers[int(child)] = BrokerRegistration(
                int(child), body["host"], int(body["port"]), body.get("rack"), endpoints
            )
        return brokers

    def try_become_controller(self, broker_id: int) -> int | None:
        """Create the ephemeral ``/controller``; the new controller epoch, or None."""
        claimed = self.claim_controller(broker_id)
        return None if claimed is None else claimed[0]

    def claim_controller(self, broker_id: int) -> tuple[int, int] | None:
        """Create the ephemeral ``/controller`` and bump ``/controller_epoch``: (the new epoch,
        the epoch znode's version, which fences this controller's writes), or None."""
        body = _dumps(
            {"version": 2, "brokerid": broker_id, "timestamp": str(int(time.time() * 1000))}
        )
        try:
            self.client.create(CONTROLLER, body, ephemeral=True)
        except NodeExistsError:
            return None
        while True:
            try:
                data, stat = self.client.get(CONTROLLER_EPOCH)
            except NoNodeError:
                try:
                    self.client.create(CONTROLLER_EPOCH, b"1")
                    return 1, 0
                except NodeExistsError:
                    continue
            epoch = int(data) + 1
            try:
                new_stat = self.client.set(
                    CONTROLLER_EPOCH, str(epoch).encode(), version=stat.version
                )
                return epoch, int(new_stat.version)
            except BadVersionError:
                continue

    def controller_id(self) -> int | None:
        try:
            data, _ = self.client.get(CONTROLLER)
        except NoNodeError:
            return None
        return int(json.loads(data)["brokerid"])

    # -- topics --------------------------------------------------------------------------------

    def load(self) -> None:
        self.topics.clear()
        self.by_id.clear()
        for name in self.client.get_children(TOPICS):
            topic = self._read_topic(name)
            if topic is not None:
                self.topics[name] = topic
                self.by_id[topic.topic_id] = topic
        self.broker_configs = {}
        for entity in self.client.get_children(BROKER_CONFIGS):
            data, _ = self.client.get(f"{BROKER_CONFIGS}/{entity}")
            key = "" if entity == DEFAULT_BROKER else entity
            self.broker_configs[key] = dict(json.loads(data).get("config", {}))
        self.entity_configs = {}
        for entity_path in self._entity_paths():
            configs = self.read_entity_configs(entity_path)
            if configs:
                self.entity_configs[entity_path] = configs
        self.acls = {}
        for path in self._acl_znode_paths():
            try:
                pattern, entries = pattern_from_znode_path(path), self.read_acls(path)
            except ValueError as exc:  # a resource type we do not know, or malformed
                log.warning("ignoring the ACLs in %s: %s", path, exc)
                continue
            if entries:
                self.acls[pattern] = entries

    def _entity_paths(self) -> list[str]:
        """Every user and client entity with a znode (some may hold no configs)."""
        paths = [f"clients/{c}" for c in self.client.get_children(CLIENT_CONFIGS)]
        for user in self.client.get_children(USER_CONFIGS):
            paths.append(f"users/{user}")
            try:
                clients = self.client.get_children(f"{USER_CONFIGS}/{user}/clients")
            except NoNodeError:
                continue
            paths.extend(f"users/{user}/clients/{c}" for c in clients)
        return paths

    def _acl_znode_paths(self) -> list[str]:
        """The znode of every resource pattern with ACLs."""
        paths: list[str] = []
        for root in (LITERAL_ACL_PATH, PREFIXED_ACL_PATH):
            for type_name in self.client.get_children(root):
                names = self.client.get_children(f"{root}/{type_name}")
                paths.extend(f"{root}/{type_name}/{name}" for name in names)
        return paths

    def read_acls(self, path: str) -> frozenset[AccessControlEntry]:
        """The entries in a resource pattern's ACL znode (none when it has no znode)."""
        try:
            data, _ = self.client.get(path)
        except NoNodeError:
            return frozenset()
        return frozenset(decode_acls(data))

    def read_entity_configs(self, entity_path: str) -> dict[str, str]:
        """A user or client entity's configs in ZooKeeper (empty when it has none)."""
        try:
            data, _ = self.client.get(f"{CONFIG}/{entity_path}")
        except NoNodeError:
            return {}
        if not data:  # a parent created on the way to users/<u>/clients/<c>
            return {}
        return {k: str(v) for k, v in json.loads(data).get("config", {}).items()}

    def _read_topic(self, name: str) -> TopicMetadata | None:
        try:
            data, _ = self.client.get(f"{TOPICS}/{name}")
        except NoNodeError:
            return None
        return parse_topic_body(name, data, self.topic_configs(name))

    def topic_configs(self, name: str) -> dict[str, str]:
        try:
            data, _ = self.client.get(f"{TOPIC_CONFIGS}/{name}")
        except NoNodeError:
            return {}
        return {k: str(v) for k, v in json.loads(data).get("config", {}).items()}

    # The writes: kazoo calls (``_write_*``, thread-safe, no cache) then the cache update on the
    # caller's thread, which for the awaitable forms is the loop.

    async def create_topic_async(self, topic: TopicMetadata) -> None:
        self._check_absent(topic.name)
        await asyncio.to_thread(self._write_new_topic, topic)
        self._cache_topic(topic)

    def create_topic(self, topic: TopicMetadata) -> None:
        self._check_absent(topic.name)
        self._write_new_topic(topic)
        self._cache_topic(topic)

    async def update_topic_async(self, topic: TopicMetadata) -> None:
        await asyncio.to_thread(self._write_topic_update, topic)
        self._cache_topic(topic)

    async def delete_topic_async(self, name: str) -> None:
        """Queued for the controller; the topic watch drops it from the cache."""
        await asyncio.to_thread(self.queue_topic_deletion, name)

    async def set_broker_configs_async(self, broker: str, configs: dict[str, str]) -> None:
        await asyncio.to_thread(self._write_broker_configs, broker, configs)
        self._cache_broker_configs(broker, configs)

    async def set_entity_configs_async(self, entity_path: str, configs: dict[str, str]) -> None:
        check_entity_path(entity_path)
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._write_entity_configs, entity_path, configs, loop)

    async def set_acls_async(
        self, pattern: ResourcePattern, entries: frozenset[AccessControlEntry]
    ) -> None:
        path = acl_znode_path(pattern)  # ValueError unless LITERAL or PREFIXED
        cached = self.acls.get(pattern, frozenset())
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(
            self._write_acls, pattern, path, entries - cached, cached - entries, loop
        )

    async def allocate_producer_id_block_async(self, size: int, broker_id: int = -1) -> int:
        return await asyncio.to_thread(self.allocate_producer_id_block, size, broker_id)

    def _check_absent(self, name: str) -> None:
        if name in self.topics:
            raise TopicAlreadyExistsError(f"Topic '{name}' already exists.")

    def _cache_topic(self, topic: TopicMetadata) -> None:
        old = self.topics.get(topic.name)
        if old is not None and old.topic_id != topic.topic_id:
            self.by_id.pop(old.topic_id, None)
        self.topics[topic.name] = topic
        self.by_id[topic.topic_id] = topic

    def _write_new_topic(self, topic: TopicMetadata) -> None:
        body = {
            "version": 3,
            "topic_id": encode_topic_id(topic.topic_id),
            "partitions": {str(p): r for p, r in sorted(topic.assignment.items())},
            "adding_replicas": {},
            "removing_replicas": {},
        }
        transaction = self.client.transaction()
        transaction.create(
            f"{TOPIC_CONFIGS}/{topic.name}", _dumps({"version": 1, "config": topic.configs})
        )
        transaction.create(f"{TOPICS}/{topic.name}", _dumps(body))
        results = transaction.commit()
        failures = [r for r in results if isinstance(r, Exception)]
        if any(isinstance(f, NodeExistsError) for f in failures):
            raise TopicAlreadyExistsError(f"Topic '{topic.name}' already exists.")
        if failures:
            raise failures[0]

    def _write_topic_update(self, topic: TopicMetadata) -> None:
        self.client.ensure_path(f"{TOPIC_CONFIGS}/{topic.name}")
        self.client.set(
            f"{TOPIC_CONFIGS}/{topic.name}", _dumps({"version": 1, "config": topic.configs})
        )
        data, stat = self.client.get(f"{TOPICS}/{topic.name}")
        body = json.loads(data)
        partitions = {str(p): r for p, r in sorted(topic.assignment.items())}
        # New partitions only (replicas of existing ones move by reassignment). The topic
        # znode is rewritten even when unchanged: its watch makes every broker re-read the
        # topic's configs.
        body["partitions"] = {**partitions, **body.get("partitions", {})}
        self.client.set(f"{TOPICS}/{topic.name}", _dumps(body), version=stat.version)

    def delete_topic(self, name: str) -> TopicMetadata | None:
        topic = self.topics.pop(name, None)
        if topic is not None:
            self.by_id.pop(topic.topic_id, None)
        self.client.delete(f"{TOPICS}/{name}", recursive=True)
        try:
            self.client.delete(f"{TOPIC_CONFIGS}/{name}")
        except NoNodeError:
            pass
        return topic

    def set_broker_configs(self, broker: str, configs: dict[str, str]) -> None:
        self._write_broker_configs(broker, configs)
        self._cache_broker_configs(broker, configs)

    def _write_broker_configs(self, broker: str, configs: dict[str, str]) -> None:
        path = f"{BROKER_CONFIGS}/{broker or DEFAULT_BROKER}"
        self.client.ensure_path(path)
        self.client.set(path, _dumps({"version": 1, "config": configs}))

    def _cache_broker_configs(self, broker: str, configs: dict[str, str]) -> None:
        if configs:
            self.broker_configs[broker] = configs
        else:
            self.broker_configs.pop(broker, None)

    def _write_entity_configs(
        self, entity_path: str, configs: dict[str, str], loop: asyncio.AbstractEventLoop
    ) -> None:
        """Write the entity's znode as Kafka does (an entity without configs keeps its znode,
        with an empty config), announce the change, and post the cache update to ``loop``."""
        path = f"{CONFIG}/{entity_path}"
        body = _dumps({"version": 1, "config": configs})
        with self._notified:
            try:
                self.client.set(path, body)
            except NoNodeError:
                self.client.create(path, body, makepath=True)
            self.client.create(
                f"{CONFIG_CHANGES}/{CONFIG_CHANGE_PREFIX}",
                _dumps({"version": 2, "entity_path": entity_path}),
                sequence=True,
            )
            loop.call_soon_threadsafe(self._cache_entity_configs, entity_path, configs)

    def refresh_entity_configs(self, entity_path: str) -> None:
        """Re-read an entity whose change was announced and post it to the cache."""
        with self._notified:
            configs = self.read_entity_configs(entity_path)
            self._on_loop(lambda: self._cache_entity_configs(entity_path, configs))

    def _cache_entity_configs(self, entity_path: str, configs: dict[str, str]) -> None:
        if configs:
            self.entity_configs[entity_path] = configs
        else:
            self.entity_configs.pop(entity_path, None)

    def _write_acls(
        self,
        pattern: ResourcePattern,
        path: str,
        added: frozenset[AccessControlEntry],
        removed: frozenset[AccessControlEntry],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """Apply the change to the pattern's znode, announce it if anything changed, and post
        the pattern's entries now to ``loop``."""
        with self._notified:
            entries, changed = self._update_acl_znode(path, added, removed)
            if changed:
                prefix, payload = change_notification(pattern)
                self.client.create(prefix, payload, sequence=True)
            loop.call_soon_threadsafe(self._cache_acls, pattern, entries)

    def _update_acl_znode(
        self,
        path: str,
        added: frozenset[AccessControlEntry],
        removed: frozenset[AccessControlEntry],
    ) -> tuple[frozenset[AccessControlEntry], bool]:
        """Kafka's conditional update: read the znode and its version, write the changed
        entries only if that version is still current (create it if absent, delete it once
        empty), else read again. The entries written, and whether anything changed."""
        while True:
            try:
                data, stat = self.client.get(path)
                current, version = frozenset(decode_acls(data)), int(stat.version)
            except NoNodeError:
                current, version = frozenset(), -1
            entries = (current - removed) | added
            if entries == current:
                return entries, False
            try:
                if not entries:
                    self.client.delete(path, version=version)
                elif version < 0:
                    self.client.create(path, encode_acls(entries), makepath=True)
                else:
                    self.client.set(path, encode_acls(entries), version=version)
                return entries, True
            except (BadVersionError, NoNodeError, NodeExistsError):
                # Another broker changed the pattern first: apply the change to theirs.
                log.debug("the ACLs in %s changed meanwhile; updating them again", path)

    def refresh_acls(self, pattern: ResourcePattern) -> None:
        """Re-read a pattern whose change was announced and post it to the cache."""
        with self._notified:
            entries = self.read_acls(acl_znode_path(pattern))
            self._on_loop(lambda: self._cache_acls(pattern, entries))

    def _cache_acls(self, pattern: ResourcePattern, entries: frozenset[AccessControlEntry]) -> None:
        if self.acls.get(pattern, frozenset()) == entries:
            return
        if entries:
            self.acls[pattern] = entries
        else:
            self.acls.pop(pattern, None)
        if self.on_acls_changed is not None:
            self.on_acls_changed(pattern, entries)

    # -- partition state -----------------------------------------------------------------------

    def partition_state(self, topic: str, partition: int) -> PartitionState | None:
        try:
            data, stat = self.client.get(f"{TOPICS}/{topic}/partitions/{partition}/state")
        except NoNodeError:
            return None
        return parse_state(data, stat.version)

    def set_partition_state(self, topic: str, partition: int, state: PartitionState) -> int:
        """Create or conditionally update the state znode; returns its new version.
        Raises kazoo's BadVersionError when someone else updated it first."""
        path = f"{TOPICS}/{topic}/partitions/{partition}/state"
        if state.zk_version < 0:
            self.client.create(path, state_body(state), makepath=True)
            return 0
        stat = self.client.set(path, state_body(state), version=state.zk_version)
        return int(stat.version)

    def update_isr(self, tp: TopicPartition, state: PartitionState) -> int | None:
        """The leader's ISR change, conditional on the state version it knows; the new
        version, or None when the state changed meanwhile (a new leader, the controller)."""
        path = f"{TOPICS}/{tp.topic}/partitions/{tp.partition}/state"
        try:
            stat = self.client.set(path, state_body(state), version=state.zk_version)
        except (BadVersionError, NoNodeError):
            return None
        return int(stat.version)

    def request_controlled_shutdown(self, broker_id: int) -> None:
        try:
            self.client.create(f"{CONTROLLED_SHUTDOWN}/{broker_id}", b"", ephemeral=True)
        except NodeExistsError:
            pass

    def queue_topic_deletion(self, name: str) -> None:
        try:
            self.client.create(f"{DELETE_TOPICS}/{name}", b"")
        except NodeExistsError:
            pass

    # -- producer ids --------------------------------------------------------------------------

    def allocate_producer_id_block(self, size: int, broker_id: int = -1) -> int:
        while True:
            try:
                data, stat = self.client.get(PRODUCER_ID_BLOCK)
            except NoNodeError:
                try:
                    self.client.create(
                        PRODUCER_ID_BLOCK,
                        _dumps(
                            {
                                "version": 1,
                                "broker": broker_id,
                                "block_start": "0",
                                "block_end": str(size - 1),
                            }
                        ),
                    )
                    return 0
                except NodeExistsError:
                    continue
            start = int(json.loads(data)["block_end"]) + 1 if data else 0
            try:
                self.client.set(
                    PRODUCER_ID_BLOCK,
                    _dumps(
                        {
                            "version": 1,
                            "broker": broker_id,
                            "block_start": str(start),
                            "block_end": str(start + size - 1),
                        }
                    ),
                    version=stat.version,
                )
                return start
            except BadVersionError:
                continue

    def raw(self) -> Any:
        return self.client


class MetadataListener:
    """What the broker does when the cluster metadata changes (called on its loop)."""

    def brokers_changed(self) -> None: ...

    def topic_changed(self, name: str) -> None: ...

    def partition_changed(self, tp: TopicPartition) -> None: ...

    def controller_changed(self) -> None: ...


def parse_topic_body(name: str, data: bytes, configs: dict[str, str]) -> TopicMetadata:
    body = json.loads(data)
    assignment = {
        int(p): [int(r) for r in replicas] for p, replicas in body.get("partitions", {}).items()
    }
    topic_id = parse_topic_id(body["topic_id"]) if body.get("topic_id") else uuid.uuid4()
    rf = len(next(iter(assignment.values()), []))
    return TopicMetadata(
        name,
        topic_id,
        len(assignment),
        rf,
        configs,
        internal=name.startswith("__"),
        assignment=assignment,
    )


def parse_state(data: bytes, version: int) -> PartitionState:
    body = json.loads(data)
    return PartitionState(
        int(body["leader"]),
        int(body["leader_epoch"]),
        tuple(int(r) for r in body["isr"]),
        int(body["controller_epoch"]),
        version,
    )


def state_body(state: PartitionState) -> bytes:
    return _dumps(
        {
            "controller_epoch": state.controller_epoch,
            "leader": state.leader,
            "version": 1,
            "leader_epoch": state.leader_epoch,
            "isr": list(state.isr),
        }
    )


class ChangeNotificationListener:
    """Kafka's change notifications: a znode whose sequential children (``<prefix><n>``) each
    announce one change. Every new notification is handed to ``handler`` (its path and data,
    on kazoo's thread) once and in order — all of them at start, as Kafka does, since a change
    may have landed between the store's load and the watch — and the ones older than
    :data:`CHANGE_EXPIRATION_MS` are deleted."""

    def __init__(
        self,
        store: ZkMetadataStore,
        path: str,
        prefix: str,
        handler: Callable[[str, bytes], None],
    ) -> None:
        self.store = store
        self.path = path
        self.prefix = prefix
        self.handler = handler
        self._last_sequence = -1

    def start(self) -> None:
        ChildrenWatch(self.store.client, self.path, self._on_children)

    def _on_children(self, children: list[str]) -> bool | None:
        if self.store.closing.is_set():
            return False
        notifications = sorted(
            (int(child[len(self.prefix) :]), child)
            for child in children
            if child.startswith(self.prefix) and child[len(self.prefix) :].isdigit()
        )
        expired_before = time.time() * 1000 - CHANGE_EXPIRATION_MS
        try:
            for sequence, child in notifications:
                if sequence > self._last_sequence:
                    self._process(f"{self.path}/{child}", expired_before)
                    self._last_sequence = sequence
        except KazooException as exc:  # the rest are read at the next notification
            log.warning("reading the change notifications in %s failed: %r", self.path, exc)
        return None

    def _process(self, path: str, expired_before: float) -> None:
        try:
            data, stat = self.store.client.get(path)
        except NoNodeError:  # purged by another broker: long since processed
            return
        try:
            self.handler(path, data)
        except ValueError as exc:  # JSONDecodeError included
            log.warning("ignoring the malformed change notification %s: %r", path, exc)
        if stat.ctime < expired_before:
            try:
                self.store.client.delete(path)
            except NoNodeError:
                pass


class WatchedMetadata:
    """Keeps a ZkMetadataStore's cache (brokers, topics, partition states, controller, user and
    client configs, ACLs) in step with ZooKeeper through kazoo watches; every change is applied on
    the broker's loop and reported to the listener."""

    def __init__(self, store: ZkMetadataStore, listener: MetadataListener) -> None:
        self.store = store
        self.listener = listener
        self._topic_watches: set[str] = set()
        self._state_watches: set[TopicPartition] = set()

    def start(self) -> None:
        client = self.store.client
        ChildrenWatch(client, BROKERS, self._on_brokers)
        ChildrenWatch(client, TOPICS, self._on_topics)
        DataWatch(client, CONTROLLER, self._on_controller)
        ChildrenWatch(client, CONTROLLED_SHUTDOWN, self._on_shutting_down)
        ChangeNotificationListener(
            self.store, CONFIG_CHANGES, CONFIG_CHANGE_PREFIX, self._on_config_change
        ).start()
        for path in (LITERAL_ACL_CHANGES_PATH, EXTENDED_ACL_CHANGES_PATH):
            ChangeNotificationListener(
                self.store, path, ACL_CHANGE_PREFIX, self._on_acl_change
            ).start()

    def _on_acl_change(self, path: str, data: bytes) -> None:
        """Re-read the resource pattern an ACL change notification names."""
        self.store.refresh_acls(parse_change_notification(path, data))

    def _on_config_change(self, _path: str, data: bytes) -> None:
        """Re-read the user or client entity a ``/config/changes`` notification names (the
        notifications of topics and brokers are not followed here)."""
        body = json.loads(data)
        entity_path = body.get("entity_path") if isinstance(body, dict) else None
        if body.get("version") != 2 or not isinstance(entity_path, str):
            raise ValueError(f"not a version 2 config change notification: {body!r}")
        if entity_path.startswith(("users/", "clients/")):
            check_entity_path(entity_path)
            self.store.refresh_entity_configs(entity_path)

    def _on_shutting_down(self, children: list[str]) -> bool | None:
        if self.store.closing.is_set():
            return False
        ids = {int(c) for c in children}

        def apply() -> None:
            self.store.shutting_down = ids

        self._post(apply)

        # kazoo threads -> loop
        return None

    def _post(self, callback: Callable[[], None]) -> None:
        self.store._on_loop(callback)

    def _on_brokers(self, _children: list[str]) -> bool | None:
        if self.store.closing.is_set():
            return False
        try:
            brokers = self.store.live_brokers()
        except KazooException as exc:  # the watch fires again when the session is back
            log.warning("reading the broker registrations failed: %r", exc)
            return None

        def apply() -> None:
            self.store.brokers = brokers
            self.listener.brokers_changed()

        self._post(apply)
        return None

    def _on_controller(self, data: bytes | None, _stat: Any) -> bool | None:
        if self.store.closing.is_set():
            return False
        controller = int(json.loads(data)["brokerid"]) if data else None

        def apply() -> None:
            self.store.controller = controller
            self.listener.controller_changed()

        self._post(apply)
        return None

    def _on_topics(self, children: list[str]) -> bool | None:
        if self.store.closing.is_set():
            return False
        for name in children:
            if name not in self._topic_watches:
                self._topic_watches.add(name)
                DataWatch(self.store.client, f"{TOPICS}/{name}", self._topic_watcher(name))
        return None

    # kazoo passes a third argument (the event) to callbacks that take three: these take two.

    def _topic_watcher(self, name: str) -> Callable[[bytes | None, Any], bool | None]:
        def watch(data: bytes | None, stat: Any) -> bool | None:
            return self._on_topic(name, data, stat)

        return watch

    def _state_watcher(self, tp: TopicPartition) -> Callable[[bytes | None, Any], bool | None]:
        def watch(data: bytes | None, stat: Any) -> bool | None:
            return self._on_state(tp, data, stat)

        return watch

    def _on_topic(self, name: str, data: bytes | None, _stat: Any) -> bool | None:
        if self.store.closing.is_set():
            return False
        if data is None:
            self._topic_watches.discard(name)

            def removed() -> None:
                topic = self.store.topics.pop(name, None)
                if topic is not None:
                    self.store.by_id.pop(topic.topic_id, None)
                    for p in topic.assignment:
                        self.store.states.pop(TopicPartition(name, p), None)
                self.listener.topic_changed(name)

            self._post(removed)
            return False
        topic = parse_topic_body(name, data, self.store.topic_configs(name))
        for partition in topic.assignment:
            tp = TopicPartition(name, partition)
            if tp not in self._state_watches:
                self._state_watches.add(tp)
                DataWatch(
                    self.store.client,
                    f"{TOPICS}/{name}/partitions/{partition}/state",
                    self._state_watcher(tp),
                )

        def changed() -> None:
            old = self.store.topics.get(name)
            if old is not None and old.topic_id != topic.topic_id:
                self.store.by_id.pop(old.topic_id, None)
            self.store.topics[name] = topic
            self.store.by_id[topic.topic_id] = topic
            self.listener.topic_changed(name)

        self._post(changed)
        return None

    def _on_state(self, tp: TopicPartition, data: bytes | None, stat: Any) -> bool | None:
        if self.store.closing.is_set():
            return False
        if data is None:
            if tp.topic not in self._topic_watches:
                self._state_watches.discard(tp)
                return False
            return None
        state = parse_state(data, stat.version)

        def changed() -> None:
            old = self.store.states.get(tp)
            if old is not None and old.zk_version > state.zk_version:
                return
            self.store.states[tp] = state
            self.listener.partition_changed(tp)

        self._post(changed)
        return None
