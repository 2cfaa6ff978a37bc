"""Wires the transaction coordinator to this broker: ``__transaction_state`` (created on
first use), loading, the marker writer (which also completes transactional offset commits
in ``__consumer_offsets``), and the timers that abort timed-out transactions and expire idle
transactional ids."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from kio.schema.errors import ErrorCode

from odradek.cluster.admin_manager import TopicSpec
from odradek.cluster.txn_marker_channel import TransactionMarkerChannelManager
from odradek.common.errors import CoordinatorNotAvailableError, KafkaError, NotCoordinatorError
from odradek.common.ids import TopicPartition
from odradek.common.internal_topics import OFFSETS_TOPIC, TXN_TOPIC
from odradek.common.writes import InternalWrite, PendingWrites
from odradek.coordinator.txn.coordinator import TransactionCoordinator, TxnConfig
from odradek.protocol.records.codec import decode_batches
from odradek.server.collaborators import InternalTopicServiceCollaborators
from odradek.server.owned_partitions import AllPartitions, LedPartitions, OwnedPartitions
from odradek.storage.log import Log

if TYPE_CHECKING:
    from odradek.coordinator.producer_ids import ProducerIdManager
    from odradek.server.group_service import GroupService

log = logging.getLogger(__name__)


class TxnServiceCollaborators(InternalTopicServiceCollaborators, Protocol):
    """What the transaction coordinator's service reads from the broker (its internal topic
    is ``__transaction_state``), with the producer id blocks and the group coordinator
    (which completes transactional offset commits when the markers are written)."""

    @property
    def producer_ids(self) -> ProducerIdManager: ...

    @property
    def groups(self) -> GroupService: ...


class TxnService:
    def __init__(self, broker: TxnServiceCollaborators) -> None:
        self.broker = broker
        config = broker.config
        self.partitions = int(config.get("transaction.state.log.num.partitions"))
        self.coordinator = TransactionCoordinator(
            TxnConfig(
                self.partitions,
                int(config.get("transaction.max.timeout.ms")),
                int(config.get("transactional.id.expiration.ms")),
            ),
            broker.clock,
            self,
            self,
            broker.producer_ids.generate_producer_id,
        )
        self._tasks: list[asyncio.Task[None]] = []
        # The __transaction_state partitions whose transactional ids this broker coordinates.
        self.owned: OwnedPartitions = AllPartitions()
        self._markers: TransactionMarkerChannelManager | None = None  # cluster mode

    def check_coordinator(self, transactional_id: str) -> None:
        if not self.owned.coordinates(transactional_id, self.coordinator.partition_for):
            raise NotCoordinatorError(
                f"This is not the correct coordinator for {transactional_id}."
            )

    def load_partition(self, partition: int) -> None:
        """Cluster mode: this broker became leader of ``__transaction_state-<partition>``:
        replay it, then finish the transactions that were between prepare and complete."""
        if not self.owned.follows_leadership:
            return
        topic = self.broker.metadata_store.topics.get(TXN_TOPIC)
        if topic is not None and topic.partitions != self.coordinator.config.partitions:
            self.coordinator.config = replace(self.coordinator.config, partitions=topic.partitions)
            self.partitions = topic.partitions
        self.unload_partition(partition, quiet=True)
        log_obj = self.broker.log_manager.logs.get(TopicPartition(TXN_TOPIC, partition))
        if log_obj is not None:
            self._replay(log_obj)
        self.owned.add(partition)
        mine = [
            t
            for t in self.coordinator.txns.values()
            if self.coordinator.partition_for(t.transactional_id) == partition
        ]
        log.info("loaded %s-%d: coordinating %d transactional ids", TXN_TOPIC, partition, len(mine))
        self.coordinator.finish_loading(mine)

    def unload_partition(self, partition: int, quiet: bool = False) -> None:
        if not self.owned.follows_leadership:
            return
        self.owned.discard(partition)
        doomed = [
            tid for tid in self.coordinator.txns if self.coordinator.partition_for(tid) == partition
        ]
        for tid in doomed:
            del self.coordinator.txns[tid]
        if not quiet:
            log.info(
                "%s-%d moved away: unloaded %d transactional ids", TXN_TOPIC, partition, len(doomed)
            )

    def _replay(self, log_obj: Log) -> None:
        for segment in log_obj.segments:
            for batch in decode_batches(segment.read(0, segment.size)):
                for record in batch.records:
                    if record.key is not None and not batch.header.is_control:
                        self.coordinator.replay(record.key, record.value)

    def follow_leadership(self, markers: TransactionMarkerChannelManager) -> None:
        """Cluster mode: load each ``__transaction_state`` partition as its leadership
        arrives (``load_partition``); send markers to other brokers through ``markers``."""
        self.owned = LedPartitions()
        self._markers = markers

    def load_all(self) -> None:
        """A single node: replay every ``__transaction_state`` partition now."""
        topic = self.broker.metadata_store.topics.get(TXN_TOPIC)
        if topic is None:
            return
        self.partitions = topic.partitions
        for partition in range(topic.partitions):
            self._replay(self.broker.replica_manager.get_log(TXN_TOPIC, partition))
        log.info("loaded %d transactional ids", len(self.coordinator.txns))

    def start(self) -> None:
        """Load the transactions (as the cluster membership says: now, or as leaderships
        arrive); schedule the timed-out aborts and the expiry of transactional ids."""
        self.broker.cluster.start_txn_coordinator(self)
        self.coordinator.finish_loading(list(self.coordinator.txns.values()))
        loop = asyncio.get_running_loop()
        config = self.broker.config
        self._tasks = [
            loop.create_task(
                self._every(
                    int(config.get("transaction.abort.timed.out.transaction.cleanup.interval.ms")),
                    self.coordinator.abort_timed_out,
                )
            ),
            loop.create_task(
                self._every(
                    int(config.get("transaction.remove.expired.transaction.cleanup.interval.ms")),
                    self.coordinator.expire_transactional_ids,
                )
            ),
        ]

    async def stop(self) -> None:
        if self._markers is not None:
            await self._markers.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _every(self, interval_ms: int, action: object) -> None:
        while True:
            await asyncio.sleep(interval_ms / 1000)
            try:
                action()  # type: ignore[operator]
            except KafkaError:
                log.exception("transaction coordinator timer failed")

    def ensure_txn_topic(self) -> None:
        if TXN_TOPIC in self.broker.metadata_store.topics:
            return
        config = self.broker.config
        spec = TopicSpec(
            TXN_TOPIC,
            self.partitions,
            int(config.get("transaction.state.log.replication.factor")),
            configs={
                "cleanup.policy": "compact",
                "compression.type": "producer",
                "min.insync.replicas": str(
                    min(
                        int(config.get("transaction.state.log.min.isr")),
                        int(config.get("transaction.state.log.replication.factor")),
                    )
                ),
                "segment.bytes": str(config.get("transaction.state.log.segment.bytes")),
            },
        )
        try:
            self.broker.admin_manager.create_topic(spec)
        except KafkaError as exc:
            raise CoordinatorNotAvailableError(f"cannot create {TXN_TOPIC}: {exc}") from exc

    # -- TxnLogWriter --------------------------------------------------------------------------

    def append_txn_records(
        self, partition: int, records: Sequence[tuple[bytes, bytes | None]]
    ) -> InternalWrite | None:
        self.ensure_txn_topic()
        return self.broker.replica_manager.append_internal(
            TopicPartition(TXN_TOPIC, partition), records, self.broker.clock.milliseconds()
        )

    # -- MarkerWriter --------------------------------------------------------------------------

    def send_markers(
        self,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        partitions: Iterable[TopicPartition],
        on_done: Callable[[dict[TopicPartition, ErrorCode]], None],
    ) -> None:
        """Single node: write every marker now. Cluster: through the marker channel (local
        ones written here, the others sent to their leaders), then call back."""
        if self._markers is None:
            on_done(self.write_markers(producer_id, producer_epoch, commit, partitions))
            return
        self._markers.send(producer_id, producer_epoch, commit, partitions, on_done)

    def write_markers(
        self,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        partitions: Iterable[TopicPartition],
        writes: PendingWrites | None = None,
    ) -> dict[TopicPartition, ErrorCode]:
        results: dict[TopicPartition, ErrorCode] = {}
        now = self.broker.clock.milliseconds()
        for tp in partitions:
            try:
                write = self.broker.replica_manager.append_marker(
                    tp, producer_id, producer_epoch, commit, now
                )
                results[tp] = ErrorCode.none
                if writes is not None:
                    writes.add(write)
            except KafkaError as exc:
                results[tp] = exc.error_code
                continue
            if tp.topic == OFFSETS_TOPIC:
                self.broker.groups.coordinator.complete_txn(tp.partition, producer_id, commit)
        return results
