"""Cluster mode on one broker (``zookeeper.connect`` set): connecting and registering in
ZooKeeper (again after a session expiry), the controller thread, controlled shutdown, the
metadata watches — whose partition changes go to this broker's side of replication
(``cluster/replication.py``) — and moving the group and transaction coordinators with the
leadership of their internal partitions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from kazoo.protocol.states import KazooState

from odradek.cluster.partition import NO_LEADER, Partition
from odradek.cluster.replication import ReplicationManager
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

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer

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


class ClusterService(MetadataListener):
    def __init__(self, broker: BrokerServer, store: ZkMetadataStore) -> None:
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

    async def start(self) -> None:
        """After the listeners are bound: register, watch, and start the controller."""
        endpoints = dict(self.broker.advertised_endpoints)
        host, port = endpoints[self.inter_broker.listener]
        registration = BrokerRegistration(self.node_id, host, port, self.broker.rack, endpoints)
        await asyncio.to_thread(self.store.register_broker, registration, self._protocols())
        self.broker.replica_manager.partitions = self.partitions
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
            self.broker._apply_topic_config(topic)
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
