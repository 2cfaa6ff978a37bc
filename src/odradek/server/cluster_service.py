"""A broker of a ZooKeeper cluster (``zookeeper.connect`` set), its ``ClusterMembership``:
connecting and registering in ZooKeeper (again after a session expiry), the controller
thread, controlled shutdown, the metadata watches — whose partition changes go to this
broker's side of replication (``cluster/replication.py``) — and moving the group and
transaction coordinators with the leadership of their internal partitions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from kazoo.protocol.states import KazooState
from kio.schema.errors import ErrorCode

from odradek.cluster.elections import ElectionResult
from odradek.cluster.leadership import ReplicatedLeadership
from odradek.cluster.partition import NO_LEADER, Partition
from odradek.cluster.reassignment import OngoingReassignment
from odradek.cluster.replication import ReplicationManager
from odradek.cluster.txn_marker_channel import TransactionMarkerChannelManager
from odradek.cluster.zk_controller import ZkController
from odradek.cluster.zk_store import (
    BrokerRegistration,
    MetadataListener,
    WatchedMetadata,
    ZkMetadataStore,
)
from odradek.common.errors import ConfigError
from odradek.common.ids import TopicPartition
from odradek.common.internal_topics import OFFSETS_TOPIC, TXN_TOPIC
from odradek.security.inter_broker import inter_broker_security
from odradek.server.cluster_membership import BrokerEndpoint, TopicDescriber
from odradek.server.collaborators import (
    HasAdminManager,
    HasClock,
    HasConfig,
    HasLogManager,
    HasMetadataStore,
    HasNodeId,
    HasReplicaManager,
)

if TYPE_CHECKING:
    from odradek.cluster.metadata import TopicMetadata
    from odradek.security.listener_security import BrokerSecurity
    from odradek.server.group_service import GroupService
    from odradek.server.txn_service import TxnService

log = logging.getLogger(__name__)

STOP_STEP_TIMEOUT_S = 12.0  # the ZooKeeper client's own close waits at most 10 s
T = TypeVar("T")


def on_daemon_thread(fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
    """Run a blocking ZooKeeper call on a daemon thread (asyncio.to_thread's executor threads
    are joined when the process exits; one stuck in kazoo's retries would keep it alive)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = fn(*args), None
        except BaseException as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop may be closed by now
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name=f"zk-{fn.__name__}", daemon=True).start()
    return future


class ClusterServiceCollaborators(
    HasAdminManager,
    HasClock,
    HasConfig,
    HasLogManager,
    HasMetadataStore,
    HasNodeId,
    HasReplicaManager,
    Protocol,
):
    """What a broker of a ZooKeeper cluster reads from the broker it is part of: the logs
    and replica manager it replicates, the listeners it registers, and the coordinators it
    moves with their partitions' leaderships."""

    @property
    def security(self) -> BrokerSecurity: ...

    @property
    def rack(self) -> str | None: ...

    @property
    def cluster_id(self) -> str: ...

    @property
    def advertised_endpoints(self) -> dict[str, tuple[str, int]]: ...

    @property
    def groups(self) -> GroupService: ...

    @property
    def txns(self) -> TxnService: ...

    def apply_topic_config(self, topic: TopicMetadata) -> None: ...


class ClusterService(MetadataListener):
    def __init__(self, broker: ClusterServiceCollaborators, store: ZkMetadataStore) -> None:
        self.broker = broker
        self.store = store
        self.config = broker.config
        self.node_id = broker.node_id
        self.replication = ReplicationManager(
            self.node_id,
            self.config,
            broker.clock,
            store,
            broker.log_manager,
            broker.admin_manager.log_config,
            broker.replica_manager.fetch_purgatory,
            self.endpoint_of,
            self._coordinator_elected,
            self._coordinator_resigned,
        )
        self.controller = ZkController(
            store,
            self.node_id,
            unclean_default=bool(self.config.get("unclean.leader.election.enable")),
            auto_rebalance=bool(self.config.get("auto.leader.rebalance.enable")),
            imbalance_check_s=float(self.config.get("leader.imbalance.check.interval.seconds")),
            imbalance_pct=int(self.config.get("leader.imbalance.per.broker.percentage")),
        )
        # How replica fetchers and the transaction marker channel reach other brokers.
        self.inter_broker = inter_broker_security(self.config, broker.security)
        self.replication.fetchers.security = self.inter_broker
        self.watched = WatchedMetadata(store, self)
        self._tasks: list[asyncio.Task[None]] = []
        self._registrations: set[asyncio.Task[None]] = set()
        self.metadata_changed = asyncio.Event()
        self.started = False
        self._session_lost = False
        self._registration: BrokerRegistration | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def connect(self) -> str:
        """Connect to ZooKeeper; the cluster id (created by the first broker)."""
        await asyncio.to_thread(self.store.start)
        self.store.bind_loop(asyncio.get_running_loop())
        local = self.broker.cluster_id or None
        cluster_id = await asyncio.to_thread(self.store.cluster_id, local)
        if local is not None and cluster_id != local:
            raise ConfigError(
                f"The cluster id {cluster_id} in ZooKeeper does not match the "
                f"stored cluster id {local} in meta.properties; the broker is "
                "trying to join the wrong cluster"
            )
        await asyncio.to_thread(self.store.load)
        return cluster_id

    async def prepare(self) -> str:
        """Connect to ZooKeeper, then prepare the log dirs for its cluster id."""
        zk_cluster_id = await self.connect()
        cluster_id = self.broker.log_manager.startup(self.node_id, zk_cluster_id)
        if cluster_id != zk_cluster_id:
            raise ConfigError(
                f"The cluster id {zk_cluster_id} in ZooKeeper does not match the stored "
                f"cluster id {cluster_id} in meta.properties: the broker is trying "
                "to join the wrong cluster"
            )
        return cluster_id

    async def start(self) -> None:
        """After the listeners are bound: register, watch, and start the controller."""
        endpoints = dict(self.broker.advertised_endpoints)
        host, port = endpoints[self.inter_broker.listener]
        registration = BrokerRegistration(self.node_id, host, port, self.broker.rack, endpoints)
        await asyncio.to_thread(self.store.register_broker, registration, self._protocols())
        self.broker.replica_manager.leadership = ReplicatedLeadership(self.partitions, self.store)
        self._registration = registration
        self.store.client.add_listener(self._session_state)
        self.watched.start()
        self.controller.start()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.replication.isr_expiry_loop())]
        self.started = True
        log.info(
            "registered broker %d in ZooKeeper, inter-broker listener %s at %s:%d",
            self.node_id,
            self.inter_broker.listener,
            host,
            port,
        )

    def _protocols(self) -> dict[str, str]:
        """Each listener's security protocol, for the registration."""
        return {name: str(ls.protocol) for name, ls in self.broker.security.listeners.items()}

    def _session_state(self, state: KazooState) -> None:
        """kazoo thread: after an expired session our ephemeral registration is gone;
        register again once a new session is established."""
        if state == KazooState.LOST:
            self._session_lost = True
        elif state == KazooState.CONNECTED and self._session_lost:
            self._session_lost = False
            self.store._on_loop(self._reregister)

    def _reregister(self) -> None:
        registration = self._registration
        if registration is None:
            return

        async def register() -> None:
            try:
                await asyncio.to_thread(self.store.register_broker, registration, self._protocols())
                log.warning("ZooKeeper session expired: registered broker %d again", self.node_id)
            except Exception:
                log.exception("registering again after a session expiry failed")

        task = asyncio.get_running_loop().create_task(register())
        self._registrations.add(task)
        task.add_done_callback(self._registrations.discard)

    async def controlled_shutdown(self) -> None:
        """Ask the controller to move our leaderships away, and wait (bounded) for it."""
        if not self.config.get("controlled.shutdown.enable") or not self.started:
            return
        others = set(self.store.brokers) - {self.node_id}
        if not others:
            return
        retries = max(1, int(self.config.get("controlled.shutdown.max.retries")))
        deadline = time.monotonic() + min(30.0, 5.0 * retries)
        try:
            # With ZooKeeper unreachable kazoo retries for ever: bounded, and on a daemon
            # thread, so that neither this wait nor the process's exit hangs on it.
            await asyncio.wait_for(
                on_daemon_thread(self.store.request_controlled_shutdown, self.node_id),
                deadline - time.monotonic(),
            )
        except TimeoutError:
            log.warning("controlled shutdown: ZooKeeper did not take the request in time")
            return
        while time.monotonic() < deadline:
            if not self.replication.movable_leaderships():
                log.info("controlled shutdown: no leaderships left to move")
                return
            self.metadata_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.metadata_changed.wait(), 0.5)
        log.warning("controlled shutdown did not move every leadership in time")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.replication.stop()
        for step in (self.controller.stop, self.store.close):
            try:
                await asyncio.wait_for(on_daemon_thread(step), STOP_STEP_TIMEOUT_S)
            except TimeoutError:
                log.warning("%s did not return in time (ZooKeeper unreachable?)", step.__qualname__)

    # -- metadata -------------------------------------------------------------------------

    def endpoint_of(self, broker_id: int) -> tuple[str, int] | None:
        registration = self.store.brokers.get(broker_id)
        return None if registration is None else (registration.host, registration.port)

    def brokers_changed(self) -> None:
        self.metadata_changed.set()

    def controller_changed(self) -> None:
        self.metadata_changed.set()

    def topic_changed(self, name: str) -> None:
        topic = self.store.topics.get(name)
        if topic is not None:
            self.broker.apply_topic_config(topic)
        self.replication.topic_changed(name)
        self.metadata_changed.set()

    def partition_changed(self, tp: TopicPartition) -> None:
        self.replication.partition_changed(tp)
        self.metadata_changed.set()

    def on_follower_fetch(self, tp: TopicPartition, replica: int, fetch_offset: int) -> None:
        self.replication.on_follower_fetch(tp, replica, fetch_offset)

    @property
    def partitions(self) -> dict[TopicPartition, Partition]:
        return self.replication.partitions

    # -- coordinators follow their partitions ---------------------------------------------

    def _coordinator_elected(self, tp: TopicPartition) -> None:
        if tp.topic == OFFSETS_TOPIC:
            self.broker.groups.load_partition(tp.partition)
        elif tp.topic == TXN_TOPIC:
            self.broker.txns.load_partition(tp.partition)

    def _coordinator_resigned(self, tp: TopicPartition) -> None:
        if tp.topic == OFFSETS_TOPIC:
            self.broker.groups.unload_partition(tp.partition)
        elif tp.topic == TXN_TOPIC:
            self.broker.txns.unload_partition(tp.partition)

    def leader_of(self, tp: TopicPartition) -> int:
        state = self.store.states.get(tp)
        return state.leader if state is not None else NO_LEADER

    def start_group_coordinator(self, groups: GroupService) -> None:
        groups.follow_leadership()

    def start_txn_coordinator(self, txns: TxnService) -> None:
        broker = self.broker
        txns.follow_leadership(
            TransactionMarkerChannelManager(
                self.node_id,
                broker.replica_manager,
                lambda name: name in broker.metadata_store.topics,
                self.leader_of,
                self.endpoint_of,
                txns.write_markers,
                self.inter_broker,
            )
        )

    # -- what clients are told ------------------------------------------------------------

    def broker_endpoints(self, listener_name: str) -> list[BrokerEndpoint]:
        found = []
        for b in sorted(self.store.brokers.values(), key=lambda b: b.broker_id):
            address = b.endpoints.get(listener_name) if b.endpoints else (b.host, b.port)
            if address is not None:
                found.append(BrokerEndpoint(b.broker_id, address[0], address[1], b.rack))
        return found

    def broker_endpoint(self, broker_id: int, listener_name: str) -> tuple[str, int] | None:
        for endpoint in self.broker_endpoints(listener_name):
            if endpoint.broker_id == broker_id:
                return endpoint.host, endpoint.port
        return None

    def controller_id(self) -> int:
        controller = self.store.controller
        return controller if controller is not None else -1

    def known_leader(self, tp: TopicPartition) -> tuple[int, int] | None:
        state = self.store.states.get(tp)
        if state is None or state.leader < 0:
            return None
        return state.leader, state.leader_epoch

    def describe_topic(self, describer: TopicDescriber, topic: TopicMetadata) -> Any:
        return describer.replicated_topic(topic)

    async def wait_for_metadata(self, ready: Callable[[], bool], timeout_s: float) -> None:
        """Kafka answers CreateTopics and DeleteTopics once the change has propagated: here,
        once the watches brought it to this broker."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout_s, 0.0)
        changed = self.metadata_changed
        while not ready() and loop.time() < deadline:
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(0.1, deadline - loop.time()))

    def is_follower(self, replica_id: int) -> bool:
        return replica_id >= 0

    # -- the controller's requests (on its thread; NOT_CONTROLLER on any other broker) ----

    async def _on_controller(self, action: Callable[[], T]) -> T:
        return await asyncio.wrap_future(self.controller.submit(action))

    async def elect_leaders(
        self, wanted: list[TopicPartition] | None, unclean: bool
    ) -> list[ElectionResult]:
        controller = self.controller
        return await self._on_controller(lambda: controller.elect_leaders(wanted, unclean))

    async def alter_reassignments(
        self, wanted: Mapping[TopicPartition, list[int] | None]
    ) -> dict[TopicPartition, tuple[ErrorCode, str | None]]:
        controller = self.controller
        return await self._on_controller(lambda: controller.alter_reassignments(wanted))

    async def list_reassignments(
        self, wanted: list[TopicPartition] | None
    ) -> list[OngoingReassignment]:
        controller = self.controller
        return await self._on_controller(lambda: controller.list_reassignments(wanted))

    # -- what the metrics view reads ------------------------------------------------------

    def offline_partition_count(self) -> int:
        """Reported by the controller (leader -1 or not alive); other brokers report 0, as
        in Kafka."""
        if not self.controller.active:
            return 0
        store = self.store
        return sum(
            1
            for tp, state in store.states.items()
            if tp.topic in store.topics and state.leader not in store.brokers
        )

    def under_replicated_count(self) -> int:
        return sum(
            1 for p in self.partitions.values() if p.is_leader and len(p.isr) < len(p.replicas)
        )

    def under_min_isr_count(self) -> int:
        return sum(
            1
            for p in self.partitions.values()
            if p.is_leader and len(p.isr) < p.min_insync_replicas
        )

    def leader_count(self) -> int:
        return sum(1 for p in self.partitions.values() if p.is_leader)

    def is_active_controller(self) -> bool:
        return self.controller.active

    def not_ready_reason(self) -> str | None:
        """Not ready until registered: its ephemeral ``/brokers/ids/<id>`` is in its watched
        copy of that path and its session is connected."""
        if not self.started:
            return "starting: not registered in ZooKeeper yet"
        if not self.store.client.connected:
            return "ZooKeeper session not connected"
        if self.node_id not in self.store.brokers:
            return "not registered in ZooKeeper"
        return None

    def stopping_reason(self) -> str:
        return "controlled shutdown"
