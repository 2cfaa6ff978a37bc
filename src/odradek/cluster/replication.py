"""This broker's side of replication in cluster mode.

Kafka's ReplicaManager.becomeLeaderOrFollower: the partition state znodes (odradek's
LeaderAndIsr) make this broker the leader or a follower of each replica it hosts — a leader
tracks its followers, a follower fetches from its leader (the replica fetchers). The leader
keeps the ISR (Kafka's Partition.maybeShrinkIsr / maybeExpandIsr) and writes ISR changes to
ZooKeeper conditionally on the state's version (Kafka's ZooKeeper-mode AlterIsr path). The
high watermark moves through ``Partition`` and ``Log`` only; when it moves, delayed fetches
are woken. The group and transaction coordinators follow the leadership of their internal
partitions through two hooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from odradek.cluster.partition import NO_LEADER, Partition
from odradek.cluster.replica_fetcher import ReplicaFetcherManager
from odradek.cluster.zk_store import PartitionState, ZkMetadataStore
from odradek.common.clock import Clock
from odradek.common.errors import KafkaStorageError
from odradek.common.ids import TopicPartition
from odradek.observability import metrics
from odradek.storage.log import Log
from odradek.storage.log_manager import LogManager

if TYPE_CHECKING:
    from odradek.cluster.metadata import TopicMetadata
    from odradek.cluster.purgatory import FetchPurgatory
    from odradek.config.broker import BrokerConfig

log = logging.getLogger(__name__)

PartitionHook = Callable[[TopicPartition], None]


class ReplicationManager:
    def __init__(
        self,
        node_id: int,
        config: BrokerConfig,
        clock: Clock,
        store: ZkMetadataStore,
        log_manager: LogManager,
        log_config_of: Callable[[TopicMetadata], Any],
        fetch_purgatory: FetchPurgatory,
        endpoint_of: Callable[[int], tuple[str, int] | None],
        leader_elected: PartitionHook,
        leader_resigned: PartitionHook,
    ) -> None:
        self.node_id = node_id
        self.clock = clock
        self.store = store
        self.log_manager = log_manager
        self.log_config_of = log_config_of
        self.fetch_purgatory = fetch_purgatory
        self.leader_elected = leader_elected
        self.leader_resigned = leader_resigned
        self.lag_time_max_ms = int(config.get("replica.lag.time.max.ms"))
        self.partitions: dict[TopicPartition, Partition] = {}
        self.fetchers = ReplicaFetcherManager(node_id, config, self._follower_log, endpoint_of)
        self._isr_writes: set[asyncio.Task[None]] = set()

    # -- becoming leader or follower ------------------------------------------------------

    def topic_changed(self, name: str) -> None:
        """A topic was created, changed or deleted: take each hosted replica's role again."""
        topic = self.store.topics.get(name)
        hosted = {tp for tp in self.partitions if tp.topic == name}
        if topic is None:
            for tp in hosted:
                self._remove_replica(tp, delete=True)
            for tp in [tp for tp in self.log_manager.logs if tp.topic == name]:
                self.log_manager.delete_log(tp)  # orphans of a deletion made while we were away
            return
        for partition in topic.assignment:
            self.partition_changed(TopicPartition(name, partition))
        for tp in hosted:
            if tp.partition not in topic.assignment:
                self._remove_replica(tp, delete=True)

    def partition_changed(self, tp: TopicPartition) -> None:
        try:
            self._apply(tp)
        except (KafkaStorageError, OSError):
            log.exception("%s: cannot take the role ZooKeeper gives", tp)

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
            log_obj = self.log_manager.get_or_create_log(
                tp, topic.topic_id, self.log_config_of(topic)
            )
            log_obj.replicated = True
            if log_obj.append_listeners == []:
                log_obj.append_listeners.append(self.fetch_purgatory.on_append)
            checkpointed = self.log_manager.checkpointed_high_watermark(tp)
            log_obj.update_high_watermark(checkpointed if checkpointed is not None else 0)
            partition = self.partitions[tp] = Partition(tp, log_obj, self.node_id)
            log_obj.append_listeners.append(self._on_append)
        partition.min_insync_replicas = int(self.log_config_of(topic)["min.insync.replicas"])
        if state is None:
            partition.replicas = tuple(replicas)
            return
        self._take_role(partition, state, tuple(replicas))

    def _take_role(
        self, partition: Partition, state: PartitionState, replicas: tuple[int, ...]
    ) -> None:
        tp = partition.tp
        if state.zk_version < partition.zk_version and state.leader_epoch <= partition.leader_epoch:
            return
        now = self.clock.milliseconds()
        if state.leader == self.node_id:
            new_role = not partition.is_leader or state.leader_epoch != partition.leader_epoch
            if new_role:
                self.fetchers.remove(tp)
            partition.make_leader(state.leader_epoch, state.isr, replicas, state.zk_version, now)
            shrunk = partition.isr_shrink(now, self.lag_time_max_ms)
            if shrunk is not None:  # e.g. a replica a reassignment removed
                self._propose_isr(partition, shrunk)
            if new_role:
                log.info("%s: leader (epoch %d, ISR %s)", tp, state.leader_epoch, list(state.isr))
                self.leader_elected(tp)
                self._notify_data(tp)
            return
        changed = (
            partition.is_leader
            or state.leader != partition.leader
            or state.leader_epoch != partition.leader_epoch
        )
        was_leader = partition.is_leader
        partition.make_follower(
            state.leader, state.leader_epoch, state.isr, replicas, state.zk_version
        )
        if was_leader:
            self.leader_resigned(tp)
        if changed:
            self.fetchers.remove(tp)
            if state.leader != NO_LEADER:
                self.fetchers.add(tp, state.leader, state.leader_epoch)
            log.info("%s: follower of %d (epoch %d)", tp, state.leader, state.leader_epoch)
            self._notify_data(tp)

    def _remove_replica(self, tp: TopicPartition, delete: bool) -> None:
        partition = self.partitions.pop(tp, None)
        self.fetchers.remove(tp)
        if partition is not None:
            if partition.is_leader:
                self.leader_resigned(tp)
            partition.make_follower(NO_LEADER, partition.leader_epoch, (), (), -1)
        if delete:
            self.log_manager.delete_log(tp)
            log.info("%s: replica removed from this broker", tp)

    def _follower_log(self, tp: TopicPartition) -> Log | None:
        partition = self.partitions.get(tp)
        if partition is None or partition.is_leader or self.log_manager.is_offline(tp):
            return None  # (an offline log dir's replica: its fetcher drops it, KIP-112)
        return partition.log

    # -- leader side: followers, high watermark, ISR ----------------------------------------

    def on_follower_fetch(self, tp: TopicPartition, replica: int, fetch_offset: int) -> None:
        partition = self.partitions.get(tp)
        if partition is None or not partition.is_leader:
            return
        now = self.clock.milliseconds()
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
        if (
            partition is not None
            and partition.is_leader
            and partition.maybe_increment_high_watermark()
        ):
            self._notify_data(tp)

    def _notify_data(self, tp: TopicPartition) -> None:
        """The high watermark or the role moved: wake delayed fetches."""
        self.fetch_purgatory.on_append(tp, 1)

    async def isr_expiry_loop(self) -> None:
        """Shrink the ISR of every partition led here by followers that fell behind."""
        interval = max(self.lag_time_max_ms / 2, 50) / 1000
        while True:
            await asyncio.sleep(interval)
            now = self.clock.milliseconds()
            for partition in list(self.partitions.values()):
                shrunk = partition.isr_shrink(now, self.lag_time_max_ms)
                if shrunk is not None:
                    self._propose_isr(partition, shrunk)

    def _propose_isr(self, partition: Partition, isr: tuple[int, ...]) -> None:
        """Write the leader's ISR change to ZooKeeper, conditional on the state version."""
        if self.node_id not in isr or set(isr) == set(partition.isr):
            return
        partition.pending_isr = isr
        state = PartitionState(
            self.node_id,
            partition.leader_epoch,
            isr,
            self._controller_epoch_of(partition.tp),
            partition.zk_version,
        )

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

    def movable_leaderships(self) -> list[Partition]:
        """Partitions led here that another live in-sync replica could take over (what a
        controlled shutdown waits to see moved)."""
        return [
            p
            for p in self.partitions.values()
            if p.is_leader and any(r != self.node_id and r in self.store.brokers for r in p.isr)
        ]

    async def stop(self) -> None:
        await self.fetchers.stop()
