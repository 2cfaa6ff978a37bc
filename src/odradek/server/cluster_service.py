"""Cluster mode on one broker (``zookeeper.connect`` set): registration in ZooKeeper, the
controller thread, and this broker's side of replication — taking the leader or follower
role the partition state znodes give it, feeding the replica fetchers, tracking followers,
shrinking and expanding the ISR, completing acks=all produces, and moving the group and
transaction coordinators with the leadership of their internal partitions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from kazoo.protocol.states import KazooState

from odradek.cluster.partition import NO_LEADER, Partition
from odradek.cluster.replica_fetcher import ReplicaFetcherManager
from odradek.cluster.zk_controller import ZkController
from odradek.cluster.zk_store import (
    BrokerRegistration,
    MetadataListener,
    PartitionState,
    WatchedMetadata,
    ZkMetadataStore,
)
from odradek.common.errors import ConfigError, KafkaStorageError
from odradek.common.ids import TopicPartition
from odradek.common.internal_topics import OFFSETS_TOPIC, TXN_TOPIC
from odradek.observability import metrics
from odradek.storage.log import Log

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer

log = logging.getLogger(__name__)



class ClusterService(MetadataListener):
    def __init__(self, broker: BrokerServer, store: ZkMetadataStore) -> None:
        self.broker = broker
        self.store = store
        self.config = broker.config
        self.node_id = broker.node_id
        self.partitions: dict[TopicPartition, Partition] = {}
        self.fetchers = ReplicaFetcherManager(self.node_id, self.config, self._follower_log,
                                              self.endpoint_of)
        self.controller = ZkController(
            store, self.node_id,
            unclean_default=bool(self.config.get("unclean.leader.election.enable")),
            auto_rebalance=bool(self.config.get("auto.leader.rebalance.enable")),
            imbalance_check_s=float(self.config.get("leader.imbalance.check.interval.seconds")),
            imbalance_pct=int(self.config.get("leader.imbalance.per.broker.percentage")))
        self.watched = WatchedMetadata(store, self)
        self.lag_time_max_ms = int(self.config.get("replica.lag.time.max.ms"))
        self._tasks: list[asyncio.Task[None]] = []
        self._isr_writes: set[asyncio.Task[None]] = set()
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
            raise ConfigError(f"The cluster id {cluster_id} in ZooKeeper does not match the "
                              f"stored cluster id {local} in meta.properties; the broker is "
                              "trying to join the wrong cluster")
        await asyncio.to_thread(self.store.load)
        return cluster_id

    async def start(self) -> None:
        """After the listeners are bound: register, watch, and start the controller."""
        host, port = self.broker.advertised_endpoint
        registration = BrokerRegistration(self.node_id, host, port, self.broker.rack)
        await asyncio.to_thread(self.store.register_broker, registration,
                                self.config.listeners[0].name)
        self.broker.replica_manager.partitions = self.partitions
        self._registration = registration
        self.store.client.add_listener(self._session_state)
        self.watched.start()
        self.controller.start()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._isr_expiry_loop())]
        self.started = True
        log.info("registered broker %d at %s:%d in ZooKeeper", self.node_id, host, port)

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
                await asyncio.to_thread(self.store.register_broker, registration,
                                        self.config.listeners[0].name)
                log.warning("ZooKeeper session expired: registered broker %d again",
                            self.node_id)
            except Exception:
                log.exception("registering again after a session expiry failed")

        task = asyncio.get_running_loop().create_task(register())
        self._isr_writes.add(task)
        task.add_done_callback(self._isr_writes.discard)

    async def controlled_shutdown(self) -> None:
        """Ask the controller to move our leaderships away, and wait (bounded) for it."""
        if not self.config.get("controlled.shutdown.enable") or not self.started:
            return
        others = set(self.store.brokers) - {self.node_id}
        if not others:
            return
        await asyncio.to_thread(self.store.request_controlled_shutdown, self.node_id)
        retries = max(1, int(self.config.get("controlled.shutdown.max.retries")))
        deadline = time.monotonic() + min(30.0, 5.0 * retries)
        while time.monotonic() < deadline:
            movable = [p for p in self.partitions.values() if p.is_leader and
                       any(r != self.node_id and r in self.store.brokers for r in p.isr)]
            if not movable:
                log.info("controlled shutdown: no leaderships left to move")
                return
            self.metadata_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.metadata_changed.wait(), 0.5)
        log.warning("controlled shutdown did not move every leadership in time")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.fetchers.stop()
        await asyncio.to_thread(self.controller.stop)
        await asyncio.to_thread(self.store.close)

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
        hosted = {tp for tp in self.partitions if tp.topic == name}
        if topic is None:
            for tp in hosted:
                self._remove_replica(tp, delete=True)
            self._forget_orphan_logs(name)
        else:
            self.broker._apply_topic_config(topic)
            for partition in topic.assignment:
                self.partition_changed(TopicPartition(name, partition))
            for tp in hosted:
                if tp.partition not in topic.assignment:
                    self._remove_replica(tp, delete=True)
        self.metadata_changed.set()

    def _forget_orphan_logs(self, name: str) -> None:
        for tp in [tp for tp in self.broker.log_manager.logs if tp.topic == name]:
            self.broker.log_manager.delete_log(tp)

    def partition_changed(self, tp: TopicPartition) -> None:
        try:
            self._apply(tp)
        except (KafkaStorageError, OSError):
            log.exception("%s: cannot take the role ZooKeeper gives", tp)
        self.metadata_changed.set()

    def _apply(self, tp: TopicPartition) -> None:
        topic = self.store.topics.get(tp.topic)
        replicas = topic.assignment.get(tp.partition) if topic is not None else None
        if topic is None or not replicas or self.node_id not in replicas:
            if tp in self.partitions:
                self._remove_replica(tp, delete=topic is None or bool(replicas))
            return
        state = self.store.states.get(tp)
        partition = self.partitions.get(tp)
        if partition is None:
            log_obj = self.broker.log_manager.get_or_create_log(
                tp, topic.topic_id, self.broker.controller.log_config(topic))
            log_obj.replicated = True
            if log_obj.append_listeners == []:
                log_obj.append_listeners.append(
                    self.broker.replica_manager.fetch_purgatory.on_append)
            checkpointed = self.broker.log_manager.checkpointed_high_watermark(tp)
            log_obj.update_high_watermark(checkpointed if checkpointed is not None else 0)
            partition = self.partitions[tp] = Partition(tp, log_obj, self.node_id)
            log_obj.append_listeners.append(self._on_append)
        partition.min_insync_replicas = int(
            self.broker.controller.log_config(topic)["min.insync.replicas"])
        if state is None:
            partition.replicas = tuple(replicas)
            return
        self._take_role(partition, state, tuple(replicas))

    def _take_role(self, partition: Partition, state: PartitionState,
                   replicas: tuple[int, ...]) -> None:
        tp = partition.tp
        if state.zk_version < partition.zk_version and \
                state.leader_epoch <= partition.leader_epoch:
            return
        now = self.broker.clock.milliseconds()
        if state.leader == self.node_id:
            new_role = not partition.is_leader or state.leader_epoch != partition.leader_epoch
            if new_role:
                self.fetchers.remove(tp)
            partition.make_leader(state.leader_epoch, state.isr, replicas, state.zk_version,
                                  now)
            shrunk = partition.isr_shrink(now, self.lag_time_max_ms)
            if shrunk is not None:  # e.g. a replica a reassignment removed
                self._propose_isr(partition, shrunk)
            if new_role:
                log.info("%s: leader (epoch %d, ISR %s)", tp, state.leader_epoch,
                         list(state.isr))
                self._coordinator_elected(tp)
                self._notify_data(tp)
            return
        changed = partition.is_leader or state.leader != partition.leader or \
            state.leader_epoch != partition.leader_epoch
        was_leader = partition.is_leader
        partition.make_follower(state.leader, state.leader_epoch, state.isr, replicas,
                                state.zk_version)
        if was_leader:
            self._coordinator_resigned(tp)
        if changed:
            self.fetchers.remove(tp)
            if state.leader != NO_LEADER:
                self.fetchers.add(tp, state.leader, state.leader_epoch)
            log.info("%s: follower of %d (epoch %d)", tp, state.leader, state.leader_epoch)
            self.broker.replica_manager.fetch_purgatory.on_append(tp, 1)

    def _remove_replica(self, tp: TopicPartition, delete: bool) -> None:
        partition = self.partitions.pop(tp, None)
        self.fetchers.remove(tp)
        if partition is not None:
            if partition.is_leader:
                self._coordinator_resigned(tp)
            partition.make_follower(NO_LEADER, partition.leader_epoch, (), (), -1)
        if delete:
            self.broker.log_manager.delete_log(tp)
            log.info("%s: replica removed from this broker", tp)

    def _follower_log(self, tp: TopicPartition) -> Log | None:
        partition = self.partitions.get(tp)
        if partition is None or partition.is_leader:
            return None
        return partition.log

    # -- leader side of replication -------------------------------------------------------

    def on_follower_fetch(self, tp: TopicPartition, replica: int, fetch_offset: int) -> None:
        partition = self.partitions.get(tp)
        if partition is None or not partition.is_leader:
            return
        now = self.broker.clock.milliseconds()
        partition.record_follower_fetch(replica, fetch_offset, now)
        if partition.maybe_increment_high_watermark():
            self._notify_data(tp)
        # Only the fetching follower may join, and only while it is a live broker that is
        # not shutting down (a broker in controlled shutdown still fetches briefly).
        if replica not in self.store.brokers or replica in self.store.shutting_down:
            return
        expanded = partition.isr_expansion(now, self.lag_time_max_ms, only=(replica,))
        if expanded is not None:
            self._propose_isr(partition, expanded)

    def _on_append(self, tp: TopicPartition, _size: int) -> None:
        """A leader with no other in-sync replica moves its high watermark on append."""
        partition = self.partitions.get(tp)
        if partition is not None and partition.is_leader and \
                partition.maybe_increment_high_watermark():
            self._notify_data(tp)

    def _notify_data(self, tp: TopicPartition) -> None:
        """The high watermark moved: wake consumers' delayed fetches."""
        self.broker.replica_manager.fetch_purgatory.on_append(tp, 1)

    async def _isr_expiry_loop(self) -> None:
        interval = max(self.lag_time_max_ms / 2, 50) / 1000
        while True:
            await asyncio.sleep(interval)
            now = self.broker.clock.milliseconds()
            for partition in list(self.partitions.values()):
                shrunk = partition.isr_shrink(now, self.lag_time_max_ms)
                if shrunk is not None:
                    self._propose_isr(partition, shrunk)

    def _propose_isr(self, partition: Partition, isr: tuple[int, ...]) -> None:
        """Write the leader's ISR change to ZooKeeper, conditional on the state version."""
        if self.node_id not in isr or set(isr) == set(partition.isr):
            return
        partition.pending_isr = isr
        state = PartitionState(self.node_id, partition.leader_epoch, isr,
                               self._controller_epoch_of(partition.tp), partition.zk_version)

        async def write() -> None:
            version = await asyncio.to_thread(self.store.update_isr, partition.tp, state)
            current = self.partitions.get(partition.tp)
            if current is not partition or partition.leader_epoch != state.leader_epoch:
                return
            if version is None:
                partition.pending_isr = None  # the watch brings the state that won
                return
            log.info("%s: ISR %s -> %s", partition.tp, list(partition.isr), list(isr))
            if len(isr) < len(partition.isr):
                metrics.COUNTERS.isr_shrinks += 1
            else:
                metrics.COUNTERS.isr_expands += 1
            partition.update_isr(isr, version)
            self._notify_data(partition.tp)

        task = asyncio.get_running_loop().create_task(write())
        self._isr_writes.add(task)
        task.add_done_callback(self._isr_writes.discard)

    def _controller_epoch_of(self, tp: TopicPartition) -> int:
        state = self.store.states.get(tp)
        return state.controller_epoch if state is not None else 0

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
