"""The transaction coordinator (Kafka's TransactionCoordinator and TransactionStateManager).

Sans-IO and synchronous: state is written to ``__transaction_state`` through ``TxnLogWriter``
and markers to the data partitions through ``MarkerWriter``, both of which return once the
records are in the logs; the state writes a request makes go to its ``writes``, so that its
response waits until the in-sync replicas have them. A commit or abort therefore goes
Ongoing -> Prepare* -> Complete* within one EndTxn; after a restart, a transaction found in
a Prepare state is completed again and an Ongoing one is aborted when its timeout passes."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kio.schema.errors import ErrorCode

from odradek.common.clock import Clock
from odradek.common.errors import KafkaError
from odradek.common.ids import TopicPartition
from odradek.common.writes import InternalWrite, PendingWrites
from odradek.coordinator.group.records import partition_for
from odradek.coordinator.txn import records as rec

log = logging.getLogger(__name__)
E = ErrorCode
MAX_EPOCH = 32767


class TxnState(enum.IntEnum):
    EMPTY = 0
    ONGOING = 1
    PREPARE_COMMIT = 2
    PREPARE_ABORT = 3
    COMPLETE_COMMIT = 4
    COMPLETE_ABORT = 5
    DEAD = 6
    PREPARE_EPOCH_FENCE = 7

    @property
    def label(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_"))


class TxnLogWriter(Protocol):
    def append_txn_records(
        self, partition: int, records: Sequence[tuple[bytes, bytes | None]]
    ) -> InternalWrite | None: ...


class MarkerWriter(Protocol):
    def send_markers(
        self,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        partitions: Iterable[TopicPartition],
        on_done: Callable[[dict[TopicPartition, ErrorCode]], None],
    ) -> None:
        """Write the markers (at once when every partition is local, else over the network)
        and call ``on_done`` with each partition's result."""
        ...


@dataclass(frozen=True, slots=True)
class TxnConfig:
    partitions: int = 50
    max_timeout_ms: int = 900_000
    id_expiration_ms: int = 7 * 24 * 3600 * 1000


@dataclass(slots=True)
class TransactionMetadata:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    state: TxnState = TxnState.EMPTY
    partitions: set[TopicPartition] = field(default_factory=set)
    start_ms: int = -1
    last_update_ms: int = -1
    last_producer_epoch: int = -1  # the epoch before the last bump (KIP-360 retries)


class TransactionCoordinator:
    def __init__(
        self,
        config: TxnConfig,
        clock: Clock,
        log_writer: TxnLogWriter,
        markers: MarkerWriter,
        generate_producer_id: Callable[[], int],
    ) -> None:
        self.config = config
        self.clock = clock
        self.log_writer = log_writer
        self.markers = markers
        self._sending: set[str] = set()  # transactional ids whose markers are in flight
        self.generate_producer_id = generate_producer_id
        self.txns: dict[str, TransactionMetadata] = {}

    def partition_for(self, transactional_id: str) -> int:
        return partition_for(transactional_id, self.config.partitions)

    # -- InitProducerId ------------------------------------------------------------------------

    def init_producer_id(
        self,
        transactional_id: str,
        timeout_ms: int,
        producer_id: int = -1,
        producer_epoch: int = -1,
        writes: PendingWrites | None = None,
    ) -> tuple[ErrorCode, int, int]:
        if not transactional_id:
            return E.invalid_request, -1, -1
        if timeout_ms <= 0 or timeout_ms > self.config.max_timeout_ms:
            return E.invalid_transaction_timeout, -1, -1
        txn = self.txns.get(transactional_id)
        now = self.clock.milliseconds()
        if txn is None or txn.state is TxnState.DEAD:
            txn = TransactionMetadata(
                transactional_id, self.generate_producer_id(), 0, timeout_ms, last_update_ms=now
            )
            return self._store_initialized(txn, writes)
        if producer_id >= 0:
            if (
                producer_id == txn.producer_id
                and producer_epoch == txn.last_producer_epoch
                and txn.state is TxnState.EMPTY
            ):
                return E.none, txn.producer_id, txn.producer_epoch  # a retried bump
            if (producer_id, producer_epoch) != (txn.producer_id, txn.producer_epoch):
                return E.producer_fenced, -1, -1
        try:
            if txn.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
                self._complete(txn, txn.state is TxnState.PREPARE_COMMIT)
            if txn.state is TxnState.ONGOING:
                self._abort_fencing(txn, "a new producer initialised with the same id", writes)
        except KafkaError:
            return E.concurrent_transactions, -1, -1  # retriable: markers still pending
        if txn.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
            return E.concurrent_transactions, -1, -1  # retriable: markers still pending
        txn.last_producer_epoch = txn.producer_epoch
        self._bump_epoch(txn)
        txn.timeout_ms = timeout_ms
        txn.state = TxnState.EMPTY
        txn.partitions.clear()
        txn.start_ms = -1
        txn.last_update_ms = now
        return self._store_initialized(txn, writes)

    def _store_initialized(
        self, txn: TransactionMetadata, writes: PendingWrites | None
    ) -> tuple[ErrorCode, int, int]:
        try:
            self._persist(txn, writes)
        except KafkaError as exc:
            return _coordinator_error(exc.error_code), -1, -1
        self.txns[txn.transactional_id] = txn
        return E.none, txn.producer_id, txn.producer_epoch

    def _bump_epoch(self, txn: TransactionMetadata) -> None:
        if txn.producer_epoch >= MAX_EPOCH - 1:
            txn.producer_id = self.generate_producer_id()
            txn.producer_epoch = 0
        else:
            txn.producer_epoch += 1

    # -- AddPartitionsToTxn, AddOffsetsToTxn --------------------------------------------------

    def _validate(
        self, transactional_id: str, producer_id: int, producer_epoch: int
    ) -> tuple[ErrorCode, TransactionMetadata | None]:
        txn = self.txns.get(transactional_id)
        if txn is None or txn.producer_id != producer_id:
            return E.invalid_producer_id_mapping, None
        if producer_epoch != txn.producer_epoch:
            return E.producer_fenced, None
        if txn.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
            return E.concurrent_transactions, None
        return E.none, txn

    def add_partitions(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partitions: list[TopicPartition],
        exists: Callable[[TopicPartition], bool],
        writes: PendingWrites | None = None,
    ) -> dict[TopicPartition, ErrorCode]:
        error, txn = self._validate(transactional_id, producer_id, producer_epoch)
        if txn is None:
            return dict.fromkeys(partitions, error)
        unknown = [tp for tp in partitions if not exists(tp)]
        if unknown:
            results = dict.fromkeys(partitions, E.operation_not_attempted)
            results.update(dict.fromkeys(unknown, E.unknown_topic_or_partition))
            return results
        now = self.clock.milliseconds()
        if txn.state is not TxnState.ONGOING:
            txn.start_ms = now
            txn.partitions.clear()
        txn.state = TxnState.ONGOING
        txn.partitions.update(partitions)
        txn.last_update_ms = now
        try:
            self._persist(txn, writes)
        except KafkaError as exc:
            return dict.fromkeys(partitions, _coordinator_error(exc.error_code))
        return dict.fromkeys(partitions, E.none)

    # -- EndTxn --------------------------------------------------------------------------------

    def end_txn(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        writes: PendingWrites | None = None,
    ) -> ErrorCode:
        error, txn = self._validate(transactional_id, producer_id, producer_epoch)
        if txn is None:
            return error
        if txn.state is TxnState.ONGOING:
            try:
                self._prepare(txn, commit, writes)
                self._complete(txn, commit)
            except KafkaError as exc:
                return _coordinator_error(exc.error_code)
            return E.none
        done = TxnState.COMPLETE_COMMIT if commit else TxnState.COMPLETE_ABORT
        if txn.state is done:
            return E.none  # a retried EndTxn
        return E.invalid_txn_state

    def _prepare(
        self, txn: TransactionMetadata, commit: bool, writes: PendingWrites | None = None
    ) -> None:
        txn.state = TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT
        txn.last_update_ms = self.clock.milliseconds()
        self._persist(txn, writes)

    def _complete(self, txn: TransactionMetadata, commit: bool) -> None:
        """Send the markers; once all are written, the transaction is complete. Until then
        it stays in PREPARE_* (retried by the timer, or by the next coordinator)."""
        if txn.transactional_id in self._sending:
            return
        self._sending.add(txn.transactional_id)
        epoch = txn.producer_epoch

        def done(results: dict[TopicPartition, ErrorCode]) -> None:
            self._sending.discard(txn.transactional_id)
            if (
                self.txns.get(txn.transactional_id) is not txn
                or txn.producer_epoch != epoch
                or txn.state is not (TxnState.PREPARE_COMMIT if commit else TxnState.PREPARE_ABORT)
            ):
                return  # unloaded (coordinator moved) or already completed
            failed = {
                tp: e
                for tp, e in results.items()
                if e not in (E.none, E.unknown_topic_or_partition)
            }
            if failed:
                log.warning(
                    "writing %s markers for %s failed: %s",
                    "COMMIT" if commit else "ABORT",
                    txn.transactional_id,
                    failed,
                )
                return
            txn.state = TxnState.COMPLETE_COMMIT if commit else TxnState.COMPLETE_ABORT
            txn.partitions.clear()
            txn.last_update_ms = self.clock.milliseconds()
            try:
                self._persist(txn)
            except KafkaError:
                log.exception("persisting the completion of %s failed", txn.transactional_id)

        self.markers.send_markers(txn.producer_id, epoch, commit, sorted(txn.partitions), done)

    def _abort_fencing(
        self, txn: TransactionMetadata, reason: str, writes: PendingWrites | None = None
    ) -> None:
        """Abort an ongoing transaction with a bumped epoch, fencing its producer."""
        log.info("aborting transaction %s: %s", txn.transactional_id, reason)
        self._bump_epoch(txn)
        self._prepare(txn, commit=False, writes=writes)
        self._complete(txn, commit=False)

    # -- timers --------------------------------------------------------------------------------

    def abort_timed_out(self) -> int:
        now = self.clock.milliseconds()
        aborted = 0
        for txn in list(self.txns.values()):
            if txn.state is TxnState.ONGOING and now - txn.start_ms > txn.timeout_ms:
                try:
                    self._abort_fencing(txn, f"timed out after {txn.timeout_ms} ms")
                    aborted += 1
                except KafkaError:
                    log.exception("aborting %s failed", txn.transactional_id)
            elif txn.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
                try:
                    self._complete(txn, txn.state is TxnState.PREPARE_COMMIT)
                except KafkaError:
                    log.exception("completing %s failed", txn.transactional_id)
        return aborted

    def expire_transactional_ids(self) -> int:
        now = self.clock.milliseconds()
        expired = [
            txn
            for txn in self.txns.values()
            if txn.state in (TxnState.EMPTY, TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT)
            and now - txn.last_update_ms > self.config.id_expiration_ms
        ]
        for txn in expired:
            self.log_writer.append_txn_records(
                self.partition_for(txn.transactional_id),
                [(rec.txn_key(txn.transactional_id), None)],
            )
            del self.txns[txn.transactional_id]
        return len(expired)

    # -- describe and list ---------------------------------------------------------------------

    def list_transactions(
        self, states: Iterable[str] = (), producer_ids: Iterable[int] = ()
    ) -> list[TransactionMetadata]:
        wanted_states = {s.lower() for s in states}
        wanted_pids = set(producer_ids)
        return [
            t
            for t in self.txns.values()
            if (not wanted_states or t.state.label.lower() in wanted_states)
            and (not wanted_pids or t.producer_id in wanted_pids)
        ]

    # -- persistence ---------------------------------------------------------------------------

    def _persist(self, txn: TransactionMetadata, writes: PendingWrites | None = None) -> None:
        value = rec.TxnValue(
            txn.producer_id,
            txn.producer_epoch,
            txn.timeout_ms,
            int(txn.state),
            tuple(sorted(txn.partitions)),
            txn.last_update_ms,
            txn.start_ms,
        )
        write = self.log_writer.append_txn_records(
            self.partition_for(txn.transactional_id),
            [(rec.txn_key(txn.transactional_id), rec.txn_value(value))],
        )
        if writes is not None:
            writes.add(write)

    def replay(self, key: bytes, value: bytes | None) -> None:
        transactional_id = rec.decode_key(key)
        if value is None:
            self.txns.pop(transactional_id, None)
            return
        stored = rec.decode_value(value)
        self.txns[transactional_id] = TransactionMetadata(
            transactional_id,
            stored.producer_id,
            stored.producer_epoch,
            stored.timeout_ms,
            TxnState(stored.status),
            {TopicPartition(t, p) for t, p in stored.partitions},
            stored.start_ms,
            stored.last_update_ms,
        )

    def finish_loading(self, loaded: Iterable[TransactionMetadata] | None = None) -> None:
        """Complete transactions that were between prepare and complete at the crash."""
        for txn in list(self.txns.values() if loaded is None else loaded):
            if txn.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
                try:
                    self._complete(txn, txn.state is TxnState.PREPARE_COMMIT)
                except KafkaError:
                    log.exception("completing %s after loading failed", txn.transactional_id)


def _coordinator_error(error: ErrorCode) -> ErrorCode:
    if error in (
        E.unknown_topic_or_partition,
        E.not_enough_replicas,
        E.not_enough_replicas_after_append,
        E.request_timed_out,
    ):
        return E.coordinator_not_available
    if error in (E.not_leader_or_follower, E.kafka_storage_error):
        return E.not_coordinator
    return error if error is not E.unknown_server_error else E.coordinator_not_available
