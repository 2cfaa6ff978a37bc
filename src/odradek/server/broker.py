"""The Broker: wires config, storage, metadata, replica manager and listeners; owns the
lifecycle (start, background tasks, clean shutdown)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from odradek.cluster.admin_manager import AdminManager
from odradek.cluster.configs import ConfigManager
from odradek.cluster.metadata import LocalMetadataStore, MetadataStore, TopicMetadata
from odradek.cluster.replica_manager import ReplicaManager
from odradek.cluster.topic_hosting import TopicHosting, ZkTopicHosting
from odradek.common.clock import Clock, SystemClock
from odradek.common.ids import TopicPartition
from odradek.config.broker import BrokerConfig
from odradek.coordinator.producer_ids import ProducerIdManager
from odradek.observability.http import MetricsEndpoint, start_metrics_endpoint
from odradek.observability.view import Gauge, GroupLag
from odradek.security.authorizer import AclAuthorizer, parse_super_users
from odradek.security.client_quotas import sanitize
from odradek.security.listener_security import broker_security, is_security_setting
from odradek.security.scram import ScramCredential, parse_credential
from odradek.server import broker_view
from odradek.server.cluster_membership import BrokerEndpoint, ClusterMembership
from odradek.server.connection_quotas import ConnectionQuotas
from odradek.server.group_service import GroupService
from odradek.server.log_maintenance import LogMaintenance
from odradek.server.quotas import ClientQuotas
from odradek.server.single_node import SingleNodeCluster
from odradek.server.txn_service import TxnService
from odradek.storage.log_manager import LogManager

if TYPE_CHECKING:
    from odradek.cluster.zk_store import ZkMetadataStore
    from odradek.server.connection import KafkaConnection

log = logging.getLogger(__name__)

TIME_ROLL_CHECK_SECONDS = 1.0
SHUTDOWN_DRAIN_SECONDS = 5.0


__all__ = ["BrokerEndpoint", "BrokerServer"]


class BrokerServer:
    def __init__(self, config: BrokerConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.node_id = config.node_id
        self.rack: str | None = config.get("broker.rack")
        # Fails here, before any file is touched, on a security setting it cannot honour.
        self.security = broker_security(config, cluster=bool(config.get("zookeeper.connect")))
        self.authorizer: AclAuthorizer | None = None
        if self.security.authorizer_enabled:
            self.authorizer = AclAuthorizer(
                parse_super_users(config.get("super.users")),
                bool(config.get("allow.everyone.if.no.acl.found")),
            )
        self.log_manager = LogManager(config.log_dirs, self.clock)
        self.log_manager.failure_channel.listeners.append(self._log_dir_failed)
        # Set when the broker must stop because no log dir is left online (KIP-112); the
        # ``on_fatal`` callbacks (``odradek serve``'s shutdown) are called then.
        self.fatal_error: str | None = None
        self.on_fatal: list[Callable[[], None]] = []
        # The cluster this broker is one of: chosen here, once; nothing else asks which.
        self.cluster: ClusterMembership
        self.metadata_store: MetadataStore
        zk_connect = config.get("zookeeper.connect")
        zk_store: ZkMetadataStore | None = None
        hosting: TopicHosting | None = None  # the admin manager's default: a single node's
        if zk_connect:
            from odradek.cluster.zk_store import ZkMetadataStore

            zk_store = ZkMetadataStore(
                zk_connect,
                int(config.get("zookeeper.session.timeout.ms")),
                config.get("zookeeper.connection.timeout.ms"),
            )
            self.metadata_store = zk_store
            hosting = ZkTopicHosting(zk_store)
        else:
            local_store = LocalMetadataStore(self.log_manager.log_dirs[0])
            self.metadata_store = local_store
            self.cluster = SingleNodeCluster(self, local_store)
        self.admin_manager = AdminManager(
            self.node_id, config, self.metadata_store, self.log_manager, hosting
        )
        self.replica_manager = ReplicaManager(self.log_manager, self.metadata_store)
        self.quotas = ClientQuotas(config, self.metadata_store)
        # Connection limits; inter-broker connections are exempt from max.connections.
        exempt = self.security.inter_broker_listener if config.get("zookeeper.connect") else None
        self.connection_quotas = ConnectionQuotas(config, exempt)
        self.waiting_connections: list[KafkaConnection] = []  # not admitted, or no memory
        self.producer_ids = ProducerIdManager(self.metadata_store)
        self.groups = GroupService(self)
        self.maintenance = LogMaintenance(self)
        self.txns = TxnService(self)
        self.configs = ConfigManager(
            self.node_id,
            config,
            self.metadata_store,
            self.apply_topic_config,
            self._apply_all_configs,
        )
        self.cluster_id = ""
        self.connections: set[KafkaConnection] = set()
        # The first advertised listener's address, and every advertised listener's.
        self.advertised_endpoint: tuple[str, int] = ("", 0)
        self.advertised_endpoints: dict[str, tuple[str, int]] = {}
        self.bound_ports: list[int] = []
        self.shutting_down = False
        self._stopping = False
        self._controlled_shutdown: asyncio.Task[None] | None = None
        self._servers: list[asyncio.Server] = []
        self._background: list[asyncio.Task[None]] = []
        self.metrics_endpoint: MetricsEndpoint | None = None
        if zk_store is not None:
            from odradek.server.cluster_service import ClusterService

            self.cluster = ClusterService(self, zk_store)

    # -- lifecycle state, read-only ----------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """``stop()`` has begun (in a cluster, first the controlled shutdown that moves
        leaderships away; ``shutting_down`` is set after it)."""
        return self._stopping

    @property
    def servers(self) -> tuple[asyncio.Server, ...]:
        """The client listeners' servers: empty until the logs are recovered and loaded."""
        return tuple(self._servers)

    # -- what the metrics endpoint reads (observability.view.BrokerView) ---------------------------

    def not_ready_reason(self) -> str | None:
        return broker_view.not_ready_reason(self)

    def live_topics(self) -> set[str]:
        return broker_view.live_topics(self)

    def gauges(self) -> list[Gauge]:
        return broker_view.gauges(self)

    async def gauges_in_slices(self) -> list[Gauge]:
        """The same gauges, the per-partition ones read a few milliseconds at a time so a
        scrape never holds the event loop for long (the metrics endpoint uses this)."""
        return await broker_view.gauges_in_slices(self)

    def connections_by_listener(self) -> dict[str, int]:
        return broker_view.connections_by_listener(self)

    def consumer_lag(self) -> list[GroupLag]:
        return broker_view.consumer_lag(self)

    def group_members(self) -> dict[str, int]:
        return broker_view.group_members(self)

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        started = time.monotonic()
        for name, value in sorted(self.config.unknown_valid.items()):
            if is_security_setting(name):
                continue  # honoured (broker_security refused the others)
            log.info(
                "config %s=%s is a Kafka config that has no effect in odradek yet", name, value
            )
        self.cluster_id = await self.cluster.prepare()
        self.metadata_store.load()
        self._load_acls()
        self.configs.load_dynamic_broker_configs()
        self.admin_manager.load()
        self.groups.start()
        self.txns.start()
        self.maintenance.start()
        await self._start_listeners()
        await self.cluster.start()
        self.metrics_endpoint = await start_metrics_endpoint(self)
        loop = asyncio.get_running_loop()
        self._background = [
            loop.create_task(self._time_roll_loop()),
            loop.create_task(self._checkpoint_loop()),
            loop.create_task(self._idle_connections_loop()),
        ]
        log.info(
            "odradek broker %d started in %.2fs (cluster %s), listening on %s",
            self.node_id,
            time.monotonic() - started,
            self.cluster_id,
            ", ".join(f"{h}:{p}" for h, p in [self.advertised_endpoint]),
        )

    def _load_acls(self) -> None:
        """The stored ACLs into the authorizer, which then follows the store's changes
        (made here or, in a cluster, on any broker)."""
        authorizer = self.authorizer
        if authorizer is None:
            return
        for pattern, entries in self.metadata_store.acls.items():
            authorizer.replace_resource(pattern, entries)
        self.metadata_store.on_acls_changed = authorizer.replace_resource

    async def _start_listeners(self) -> None:
        from odradek.server.connection import KafkaConnection

        loop = asyncio.get_running_loop()
        advertised = {adv.name: adv for adv in self.config.advertised_listeners}
        explicit = self.config.is_set("advertised.listeners")
        for listener in self.config.listeners:
            name = listener.name
            security = self.security.listeners[name]
            server = await loop.create_server(
                lambda security=security: KafkaConnection(self, security),
                listener.host or None,
                listener.port,
                reuse_address=True,
                backlog=1024,
                ssl=security.ssl_context,
            )
            self._servers.append(server)
            port = server.sockets[0].getsockname()[1]
            self.bound_ports.append(port)
            adv = advertised.get(name)
            if adv is None:  # not advertised: clients cannot be sent to this listener
                continue
            adv_host = adv.host
            if not adv_host or adv_host in ("0.0.0.0", "::"):
                adv_host = socket.getfqdn()
            self.advertised_endpoints[name] = (
                adv_host,
                adv.port if explicit and adv.port else port,
            )
        first = self.config.advertised_listeners[0].name
        self.advertised_endpoint = self.advertised_endpoints[first]

    def endpoint_for(self, listener_name: str) -> tuple[str, int] | None:
        """This broker's advertised address on ``listener_name`` (clients are answered with
        the addresses of the listener they came in on)."""
        return self.advertised_endpoints.get(listener_name)

    def scram_credential(self, mechanism: str, user: str) -> ScramCredential | None:
        """``user``'s credential for a SCRAM mechanism, from the ``users/<user>`` entity
        configs (ZooKeeper's ``/config/users/<user>`` in a cluster)."""
        path = f"users/{sanitize(user)}"
        text = self.metadata_store.entity_configs.get(path, {}).get(mechanism)
        if text is None:
            return None
        try:
            return parse_credential(text)
        except ValueError:
            log.warning("ignoring the malformed %s credential of user %s", mechanism, user)
            return None

    def broker_endpoints(self, listener_name: str) -> list[BrokerEndpoint]:
        """Every live broker's address on ``listener_name``, by id, as Metadata and
        DescribeCluster give them to a client of that listener (a broker without that
        listener is left out, as in Kafka)."""
        return self.cluster.broker_endpoints(listener_name)

    def broker_endpoint(self, broker_id: int, listener_name: str) -> tuple[str, int] | None:
        """One live broker's address for a client of ``listener_name``; None if unknown."""
        return self.cluster.broker_endpoint(broker_id, listener_name)

    async def stop(self) -> None:
        """Clean shutdown: stop accepting, answer in-flight requests, flush, checkpoint, and
        leave the clean-shutdown marker so the next start skips recovery."""
        if self.shutting_down or self._stopping:
            return
        self._stopping = True
        log.info("shutting down")
        task = self._controlled_shutdown = asyncio.ensure_future(self.cluster.controlled_shutdown())
        await asyncio.wait({task})  # returns also when skip_controlled_shutdown cancels it
        if not task.cancelled() and task.exception() is not None:
            log.error("controlled shutdown failed", exc_info=task.exception())
        self.shutting_down = True
        for server in self._servers:
            server.close()
        self.replica_manager.fetch_purgatory.complete_all()
        deadline = time.monotonic() + SHUTDOWN_DRAIN_SECONDS
        # Polling is fine here: it runs once, for at most a few seconds, at shutdown.
        while any(not c.idle for c in self.connections) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        for connection in list(self.connections):
            connection.close("broker shutting down")
        await self.admin_manager.stop()  # the auto-creations still queued
        self.groups.stop()
        await self.txns.stop()
        await self.maintenance.stop()
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.metrics_endpoint is not None:
            await self.metrics_endpoint.stop()
        await self.cluster.stop()  # leaves the cluster and closes its metadata store
        self.log_manager.shutdown()
        if self.fatal_error is None:
            log.info("shut down cleanly")

    def _log_dir_failed(self, _directory: Path) -> None:
        """A log dir went offline (its logs are closed already): with none left online, the
        broker stops, as Kafka's ReplicaManager.handleLogDirFailure halts it."""
        if self.log_manager.online_dirs or self.fatal_error is not None:
            return
        dirs = ", ".join(str(d) for d in self.log_manager.log_dirs)
        self.fatal_error = f"all log dirs in {dirs} have failed"
        log.critical("Shutdown broker because %s", self.fatal_error)
        for callback in self.on_fatal:
            callback()

    def skip_controlled_shutdown(self) -> None:
        """A second SIGTERM/SIGINT: stop waiting for the controller to move this broker's
        leaderships and go on with the rest of the clean shutdown."""
        task = self._controlled_shutdown
        if task is not None and not task.done():
            log.warning("second signal: skipping the rest of the controlled shutdown")
            task.cancel()

    # -- configs applied live -------------------------------------------------------------------

    def apply_topic_config(self, topic: TopicMetadata) -> None:
        """``topic``'s configs applied to its open logs (ConfigManager's and, in a cluster,
        the ZooKeeper watch's callback)."""
        log_config = self.admin_manager.log_config(topic)
        for partition in range(topic.partitions):
            log_obj = self.log_manager.logs.get(TopicPartition(topic.name, partition))
            if log_obj is not None:
                log_obj.update_config(log_config)

    def _apply_all_configs(self) -> None:
        for topic in list(self.metadata_store.topics.values()):
            self.apply_topic_config(topic)

    # -- background tasks ----------------------------------------------------------------------

    async def _time_roll_loop(self) -> None:
        while True:
            await asyncio.sleep(TIME_ROLL_CHECK_SECONDS)
            self.log_manager.maybe_roll_and_flush_for_time()

    def retry_waiting_connections(self) -> None:
        """A connection closed or freed request memory: serve the waiting ones that now fit."""
        if self.waiting_connections:
            self.waiting_connections = [c for c in self.waiting_connections if not c.retry()]

    async def _idle_connections_loop(self) -> None:
        """``connections.max.idle.ms``: close connections with no traffic for that long."""
        while True:
            idle_s = int(self.config.get("connections.max.idle.ms")) / 1000
            await asyncio.sleep(min(max(idle_s / 4, 0.05), 10.0))
            if idle_s <= 0:
                continue
            now = time.monotonic()
            for connection in [*self.connections, *self.waiting_connections]:
                if connection.idle and now - connection.last_active > idle_s:
                    connection.close(f"idle for more than {idle_s:g} s (connections.max.idle.ms)")

    async def _checkpoint_loop(self) -> None:
        interval = max(int(self.config.get("log.flush.offset.checkpoint.interval.ms")), 1000)
        while True:
            await asyncio.sleep(interval / 1000)
            try:  # the fsyncs in a worker thread; the values read and failures seen here
                manager = self.log_manager
                snapshot = manager.checkpoint_snapshot()
                failures = await asyncio.to_thread(manager.write_checkpoints, snapshot)
                manager.report_checkpoint_failures(failures)
            except OSError:
                log.exception("writing checkpoints failed")
