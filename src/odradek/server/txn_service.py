"""Wires the transaction coordinator to this broker: ``__transaction_state`` (created on
first use), loading, the marker writer (which also completes transactional offset commits
in ``__consumer_offsets``), and the timers that abort timed-out transactions and expire idle
transactional ids."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from kio.schema.errors import ErrorCode

from odradek.cluster.controller import TopicSpec
from odradek.common.errors import CoordinatorNotAvailableError, KafkaError
from odradek.common.ids import TopicPartition
from odradek.coordinator.txn.coordinator import TransactionCoordinator, TxnConfig
from odradek.protocol.records.codec import decode_batches
from odradek.server.group_service import OFFSETS_TOPIC

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer

log = logging.getLogger(__name__)

TXN_TOPIC = "__transaction_state"


class TxnService:
    def __init__(self, broker: BrokerServer) -> None:
        self.broker = broker
        config = broker.config
        self.partitions = int(config.get("transaction.state.log.num.partitions"))
        self.coordinator = TransactionCoordinator(
            TxnConfig(self.partitions, int(config.get("transaction.max.timeout.ms")),
                      int(config.get("transactional.id.expiration.ms"))),
            broker.clock, self, self, broker.producer_ids.generate_producer_id)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        topic = self.broker.metadata_store.topics.get(TXN_TOPIC)
        if topic is not None:
            self.partitions = topic.partitions
            for partition in range(topic.partitions):
                log_obj = self.broker.replica_manager.get_log(TXN_TOPIC, partition)
                for segment in log_obj.segments:
                    for batch in decode_batches(segment.read(0, segment.size)):
                        for record in batch.records:
                            if record.key is not None and not batch.header.is_control:
                                self.coordinator.replay(record.key, record.value)
            log.info("loaded %d transactional ids", len(self.coordinator.txns))
        self.coordinator.finish_loading()
        loop = asyncio.get_running_loop()
        config = self.broker.config
        self._tasks = [
            loop.create_task(self._every(
                int(config.get("transaction.abort.timed.out.transaction.cleanup.interval.ms")),
                self.coordinator.abort_timed_out)),
            loop.create_task(self._every(
                int(config.get("transaction.remove.expired.transaction.cleanup.interval.ms")),
                self.coordinator.expire_transactional_ids)),
        ]

    async def stop(self) -> None:
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
        spec = TopicSpec(TXN_TOPIC, self.partitions,
                         int(config.get("transaction.state.log.replication.factor")),
                         configs={"cleanup.policy": "compact", "compression.type": "producer",
                                  "segment.bytes":
                                      str(config.get("transaction.state.log.segment.bytes"))})
        try:
            self.broker.controller.create_topic(spec)
        except KafkaError as exc:
            raise CoordinatorNotAvailableError(f"cannot create {TXN_TOPIC}: {exc}") from exc

    # -- TxnLogWriter --------------------------------------------------------------------------

    def append_txn_records(self, partition: int,
                           records: Sequence[tuple[bytes, bytes | None]]) -> None:
        self.ensure_txn_topic()
        self.broker.replica_manager.append_internal(
            TopicPartition(TXN_TOPIC, partition), records, self.broker.clock.milliseconds())

    # -- MarkerWriter --------------------------------------------------------------------------

    def write_markers(self, producer_id: int, producer_epoch: int, commit: bool,
                      partitions: Iterable[TopicPartition]) -> dict[TopicPartition, ErrorCode]:
        results: dict[TopicPartition, ErrorCode] = {}
        now = self.broker.clock.milliseconds()
        for tp in partitions:
            try:
                self.broker.replica_manager.append_marker(tp, producer_id, producer_epoch,
                                                          commit, now)
                results[tp] = ErrorCode.none
            except KafkaError as exc:
                results[tp] = exc.error_code
                continue
            if tp.topic == OFFSETS_TOPIC:
                self.broker.groups.coordinator.complete_txn(tp.partition, producer_id, commit)
        return results
