"""TransactionCoordinator without a broker: fake ``__transaction_state`` and marker writers,
a fake clock. Kafka's TransactionCoordinator (handleInitProducerId, handleAddPartitions...,
handleEndTransaction, abortTimedOutTransactions) is the reference for every expectation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pytest
from kio.schema.errors import ErrorCode

from odradek.common.clock import FakeClock
from odradek.common.errors import KafkaError
from odradek.common.ids import TopicPartition
from odradek.coordinator.txn import records as rec
from odradek.coordinator.txn.coordinator import (
    MAX_EPOCH,
    TransactionCoordinator,
    TxnConfig,
    TxnState,
)

E = ErrorCode
TID = "app-1"
T1 = TopicPartition("orders", 0)
T2 = TopicPartition("payments", 3)
TIMEOUT = 60_000


@dataclass
class FakeTxnLog:
    """Collects ``__transaction_state`` appends; ``fail`` makes the next appends raise."""

    appended: list[tuple[int, bytes, bytes | None]] = field(default_factory=list)
    fail: KafkaError | None = None

    def append_txn_records(
        self, partition: int, records: Sequence[tuple[bytes, bytes | None]]
    ) -> None:
        if self.fail is not None:
            raise self.fail
        self.appended += [(partition, key, value) for key, value in records]

    def states(self, transactional_id: str) -> list[TxnState]:
        key = rec.txn_key(transactional_id)
        return [
            TxnState(rec.decode_value(v).status)
            for _, k, v in self.appended
            if k == key and v is not None
        ]

    def last(self, transactional_id: str) -> rec.TxnValue:
        key = rec.txn_key(transactional_id)
        values = [v for _, k, v in self.appended if k == key and v is not None]
        return rec.decode_value(values[-1])


@dataclass
class Marker:
    producer_id: int
    producer_epoch: int
    commit: bool
    partitions: tuple[TopicPartition, ...]


@dataclass
class FakeMarkers:
    written: list[Marker] = field(default_factory=list)
    errors: dict[TopicPartition, ErrorCode] = field(default_factory=dict)

    def send_markers(
        self,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        partitions: Iterable[TopicPartition],
        on_done: Callable[[dict[TopicPartition, ErrorCode]], None],
    ) -> None:
        wanted = tuple(partitions)
        results = {tp: self.errors.get(tp, E.none) for tp in wanted}
        if all(e is E.none for e in results.values()):
            self.written.append(Marker(producer_id, producer_epoch, commit, wanted))
        on_done(results)


class Harness:
    def __init__(self, config: TxnConfig | None = None) -> None:
        self.clock = FakeClock()
        self.log = FakeTxnLog()
        self.markers = FakeMarkers()
        self._next_pid = 1000
        self.coordinator = self.make(config or TxnConfig())

    def make(self, config: TxnConfig) -> TransactionCoordinator:
        return TransactionCoordinator(config, self.clock, self.log, self.markers, self._generate)

    def _generate(self) -> int:
        self._next_pid += 1
        return self._next_pid

    def init(
        self,
        transactional_id: str = TID,
        timeout_ms: int = TIMEOUT,
        producer_id: int = -1,
        producer_epoch: int = -1,
    ) -> tuple[ErrorCode, int, int]:
        return self.coordinator.init_producer_id(
            transactional_id, timeout_ms, producer_id, producer_epoch
        )

    def begin(
        self, pid: int, epoch: int, *partitions: TopicPartition, transactional_id: str = TID
    ) -> dict[TopicPartition, ErrorCode]:
        return self.coordinator.add_partitions(
            transactional_id, pid, epoch, list(partitions or (T1,)), lambda tp: True
        )

    def reloaded(self) -> TransactionCoordinator:
        """A new coordinator that replays what this one wrote (a broker restart)."""
        other = self.make(self.coordinator.config)
        for partition, key, value in self.log.appended:
            assert partition == other.partition_for(rec.decode_key(key))
            other.replay(key, value)
        return other


@pytest.fixture
def h() -> Harness:
    return Harness()


# -- InitProducerId ---------------------------------------------------------------------------


def test_first_init_allocates_producer_id_at_epoch_zero(h: Harness) -> None:
    assert h.init() == (E.none, 1001, 0)
    assert h.log.states(TID) == [TxnState.EMPTY]
    stored = h.log.last(TID)
    assert (stored.producer_id, stored.producer_epoch, stored.timeout_ms) == (1001, 0, TIMEOUT)
    assert h.log.appended[0][0] == h.coordinator.partition_for(TID)


def test_reinit_bumps_epoch_of_same_producer_id(h: Harness) -> None:
    h.init()
    assert h.init() == (E.none, 1001, 1)
    assert h.init() == (E.none, 1001, 2)


def test_init_rejects_empty_id_and_bad_timeouts(h: Harness) -> None:
    assert h.init("")[0] is E.invalid_request
    assert h.init(timeout_ms=0)[0] is E.invalid_transaction_timeout
    assert h.init(timeout_ms=TxnConfig().max_timeout_ms + 1)[0] is E.invalid_transaction_timeout
    assert h.log.appended == []


def test_init_with_current_epoch_bumps_and_wrong_pid_is_fenced(h: Harness) -> None:
    _, pid, epoch = h.init()
    assert h.init(producer_id=pid, producer_epoch=epoch) == (E.none, pid, epoch + 1)
    assert h.init(producer_id=pid + 7, producer_epoch=0)[0] is E.producer_fenced


def test_init_retry_after_lost_response_returns_current_epoch(h: Harness) -> None:
    # Kafka's TransactionMetadata.prepareIncrementProducerEpoch: an expected epoch equal to
    # lastProducerEpoch is a retry of a bump whose response was lost: answer the current epoch.
    _, pid, epoch = h.init()
    assert h.init(producer_id=pid, producer_epoch=epoch) == (E.none, pid, epoch + 1)
    assert h.init(producer_id=pid, producer_epoch=epoch) == (E.none, pid, epoch + 1)


def test_epoch_exhaustion_rotates_producer_id(h: Harness) -> None:
    _, pid, _ = h.init()
    h.coordinator.txns[TID].producer_epoch = MAX_EPOCH - 1
    error, new_pid, epoch = h.init()
    assert error is E.none
    assert new_pid != pid
    assert epoch == 0


def test_init_while_ongoing_aborts_with_fenced_epoch(h: Harness) -> None:
    _, pid, epoch = h.init()
    assert h.begin(pid, epoch, T1, T2) == {T1: E.none, T2: E.none}
    error, pid2, epoch2 = h.init()
    assert error is E.none
    assert pid2 == pid
    assert epoch2 > epoch + 1
    (marker,) = h.markers.written
    assert marker == Marker(pid, epoch + 1, False, (T1, T2))
    assert h.coordinator.txns[TID].state is TxnState.EMPTY
    assert TxnState.PREPARE_ABORT in h.log.states(TID)
    assert h.log.states(TID)[-1] is TxnState.EMPTY
    # the old producer is fenced everywhere
    assert h.begin(pid, epoch)[T1] is E.producer_fenced
    assert h.coordinator.end_txn(TID, pid, epoch, True) is E.producer_fenced


@pytest.mark.parametrize("state", ["prepared", "ongoing"])
def test_init_while_markers_pending_is_concurrent_transactions(h: Harness, state: str) -> None:
    # Kafka's prepareInitProducerIdTransit: PrepareCommit/PrepareAbort -> CONCURRENT_TRANSACTIONS;
    # Ongoing -> fence, abort in the background, CONCURRENT_TRANSACTIONS until it completes.
    _, pid, epoch = h.init()
    h.begin(pid, epoch, T1)
    h.markers.errors[T1] = E.not_leader_or_follower
    if state == "prepared":
        h.coordinator.end_txn(TID, pid, epoch, True)
    assert h.init()[0] is E.concurrent_transactions
    h.markers.errors.clear()
    h.coordinator.abort_timed_out()
    error, _, new_epoch = h.init()
    assert error is E.none
    assert new_epoch > epoch


# -- AddPartitionsToTxn -----------------------------------------------------------------------


def test_add_partitions_starts_ongoing_transaction(h: Harness) -> None:
    _, pid, epoch = h.init()
    h.clock.advance(5)
    assert h.begin(pid, epoch, T1) == {T1: E.none}
    assert h.begin(pid, epoch, T2) == {T2: E.none}
    txn = h.coordinator.txns[TID]
    assert txn.state is TxnState.ONGOING
    assert txn.partitions == {T1, T2}
    assert txn.start_ms == h.clock.milliseconds()
    stored = h.log.last(TID)
    assert stored.status == TxnState.ONGOING
    assert set(stored.partitions) == {("orders", 0), ("payments", 3)}
    assert stored.start_ms == txn.start_ms


def test_add_partitions_validates_producer(h: Harness) -> None:
    _, pid, epoch = h.init()
    assert h.begin(pid + 1, epoch) == {T1: E.invalid_producer_id_mapping}
    assert h.begin(pid, epoch + 1) == {T1: E.producer_fenced}
    assert h.begin(pid, epoch, transactional_id="nobody") == {T1: E.invalid_producer_id_mapping}


def test_add_partitions_with_unknown_partition(h: Harness) -> None:
    _, pid, epoch = h.init()
    results = h.coordinator.add_partitions(TID, pid, epoch, [T1, T2], lambda tp: tp == T1)
    assert results == {T1: E.operation_not_attempted, T2: E.unknown_topic_or_partition}
    assert h.coordinator.txns[TID].state is TxnState.EMPTY


def test_add_partitions_during_prepare_is_concurrent(h: Harness) -> None:
    _, pid, epoch = h.init()
    h.begin(pid, epoch)
    h.markers.errors[T1] = E.not_leader_or_follower
    # Kafka answers EndTxn once PREPARE_COMMIT is logged; markers are retried after.
    assert h.coordinator.end_txn(TID, pid, epoch, True) is E.none
    assert h.coordinator.txns[TID].state is TxnState.PREPARE_COMMIT
    assert h.begin(pid, epoch, T2) == {T2: E.concurrent_transactions}


def test_add_partitions_persist_failure_is_a_coordinator_error(h: Harness) -> None:
    _, pid, epoch = h.init()
    h.log.fail = KafkaError("disk")
    assert h.begin(pid, epoch) == {T1: E.coordinator_not_available}


# -- EndTxn -----------------------------------------------------------------------------------


@pytest.mark.parametrize("commit", [True, False])
def test_end_txn_writes_markers_and_completes(h: Harness, commit: bool) -> None:
    _, pid, epoch = h.init()
    h.begin(pid, epoch, T1, T2)
    assert h.coordinator.end_txn(TID, pid, epoch, commit) is E.none
    assert h.markers.written == [Marker(pid, epoch, commit, (T1, T2))]
    prepare, complete = (
        (TxnState.PREPARE_COMMIT, TxnState.COMPLETE_COMMIT)
        if commit
        else (TxnState.PREPARE_ABORT, TxnState.COMPLETE_ABORT)
    )
    assert h.log.states(TID)[-2:] == [prepare, complete]
    txn = h.coordinator.txns[TID]
    assert txn.state is complete
    assert txn.partitions == set()
    assert txn.producer_epoch == epoch  # a client's EndTxn never bumps the epoch


def test_end_txn_retries_and_invalid_transitions(h: Harness) -> None:
    _, pid, epoch = h.init()
    assert h.coordinator.end_txn(TID, pid, epoch, True) is E.invalid_txn_state  # Empty
    h.begin(pid, epoch)
    assert h.coordinator.end_txn(TID, pid, epoch, True) is E.none
    assert h.coordinator.end_txn(TID, pid, epoch, True) is E.none  # a retry
    assert h.coordinator.end_txn(TID, pid, epoch, False) is E.invalid_txn_state
    assert len(h.markers.written) == 1
    h.begin(pid, epoch)
    assert h.coordinator.end_txn(TID, pid, epoch, False) is E.none
    assert h.coordinator.end_txn(TID, pid, epoch, False) is E.none
    assert h.coordinator.end_txn(TID, pid, epoch, True) is E.invalid_txn_state


def test_end_txn_validates_producer(h: Harness) -> None:
    _, pid, epoch = h.init()
    h.begin(pid, epoch)
    assert h.coordinator.end_txn(TID, pid + 1, epoch, True) is E.invalid_producer_id_mapping
    assert h.coordinator.end_txn(TID, pid, epoch - 1, True) is E.producer_fenced
    assert h.coordinator.end_txn("unknown", pid, epoch, True) is E.invalid_producer_id_mapping


def test_failed_markers_leave_prepare_commit_completed_later(h: Harness) -> None:
    _, pid, epoch = h.init()
    h.begin(pid, epoch, T1)
    h.markers.errors[T1] = E.kafka_storage_error
    # Kafka answers EndTxn once PREPARE_COMMIT is logged; markers are retried after.
    assert h.coordinator.end_txn(TID, pid, epoch, True) is E.none
    assert h.coordinator.txns[TID].state is TxnState.PREPARE_COMMIT
    assert h.coordinator.end_txn(TID, pid, epoch, True) is E.concurrent_transactions
    h.markers.errors.clear()
    h.coordinator.abort_timed_out()  # the periodic pass retries the markers
    assert h.coordinator.txns[TID].state is TxnState.COMPLETE_COMMIT
    assert h.markers.written == [Marker(pid, epoch, True, (T1,))]


def test_markers_to_a_deleted_partition_do_not_block(h: Harness) -> None:
    _, pid, epoch = h.init()
    h.begin(pid, epoch, T1, T2)
    h.markers.errors[T2] = E.unknown_topic_or_partition
    h.markers.written.clear()
    assert h.coordinator.end_txn(TID, pid, epoch, False) is E.none
    assert h.coordinator.txns[TID].state is TxnState.COMPLETE_ABORT


# -- timeouts and expiry ----------------------------------------------------------------------


def test_timed_out_transaction_is_aborted_with_bumped_epoch(h: Harness) -> None:
    _, pid, epoch = h.init(timeout_ms=1_000)
    h.begin(pid, epoch)
    h.clock.advance(1_000)
    assert h.coordinator.abort_timed_out() == 0
    h.clock.advance(1)
    assert h.coordinator.abort_timed_out() == 1
    assert h.markers.written == [Marker(pid, epoch + 1, False, (T1,))]
    txn = h.coordinator.txns[TID]
    assert (txn.state, txn.producer_epoch) == (TxnState.COMPLETE_ABORT, epoch + 1)
    # the producer that let it time out is fenced
    assert h.coordinator.end_txn(TID, pid, epoch, True) is E.producer_fenced
    assert h.coordinator.abort_timed_out() == 0


def test_timeout_counts_from_transaction_start_not_last_add(h: Harness) -> None:
    _, pid, epoch = h.init(timeout_ms=1_000)
    h.begin(pid, epoch, T1)
    h.clock.advance(800)
    h.begin(pid, epoch, T2)
    h.clock.advance(300)
    assert h.coordinator.abort_timed_out() == 1


def test_expire_idle_transactional_ids(h: Harness) -> None:
    config = TxnConfig(id_expiration_ms=10_000)
    h.coordinator = h.make(config)
    h.init("idle")
    _, pid, epoch = h.init("busy")
    h.begin(pid, epoch, transactional_id="busy")
    h.clock.advance(10_001)
    # "busy" is Ongoing and times out later; only the idle id expires
    assert h.coordinator.expire_transactional_ids() == 1
    assert set(h.coordinator.txns) == {"busy"}
    assert h.log.appended[-1][1:] == (rec.txn_key("idle"), None)
    # a new producer with the expired id starts from scratch
    error, _, new_epoch = h.init("idle")
    assert error is E.none
    assert new_epoch == 0


# -- loading ----------------------------------------------------------------------------------


def test_replay_restores_every_field(h: Harness) -> None:
    _, pid, epoch = h.init()
    h.clock.advance(3)
    h.begin(pid, epoch, T1, T2)
    other = h.reloaded()
    before, after = h.coordinator.txns[TID], other.txns[TID]
    assert after == before


def test_replay_of_tombstone_forgets_id(h: Harness) -> None:
    h.coordinator = h.make(TxnConfig(id_expiration_ms=1))
    h.init()
    h.clock.advance(2)
    h.coordinator.expire_transactional_ids()
    assert TID not in h.reloaded().txns


@pytest.mark.parametrize("commit", [True, False])
def test_loading_completes_prepared_transaction(h: Harness, commit: bool) -> None:
    _, pid, epoch = h.init()
    h.begin(pid, epoch, T1)
    h.markers.errors[T1] = E.not_leader_or_follower
    h.coordinator.end_txn(TID, pid, epoch, commit)
    h.markers.errors.clear()
    other = h.reloaded()
    other.finish_loading()
    assert h.markers.written == [Marker(pid, epoch, commit, (T1,))]
    assert other.txns[TID].state is (
        TxnState.COMPLETE_COMMIT if commit else TxnState.COMPLETE_ABORT
    )


def test_loaded_ongoing_transaction_times_out(h: Harness) -> None:
    _, pid, epoch = h.init(timeout_ms=5_000)
    h.begin(pid, epoch, T1)
    other = h.reloaded()
    other.finish_loading()
    assert other.txns[TID].state is TxnState.ONGOING
    assert h.markers.written == []
    h.clock.advance(5_001)
    assert other.abort_timed_out() == 1
    assert h.markers.written == [Marker(pid, epoch + 1, False, (T1,))]


def test_transaction_log_value_round_trip() -> None:
    value = rec.TxnValue(
        42,
        7,
        30_000,
        int(TxnState.ONGOING),
        (("a", 0), ("a", 2), ("b", 1)),
        1_700_000_000_123,
        1_700_000_000_001,
    )
    assert rec.decode_value(rec.txn_value(value)) == value
    assert rec.decode_key(rec.txn_key("tx-é")) == "tx-é"
    empty = rec.TxnValue(1, 0, 1, int(TxnState.EMPTY), (), 5, -1)
    assert rec.decode_value(rec.txn_value(empty)) == empty


# -- listing ----------------------------------------------------------------------------------


def test_list_transactions_filters(h: Harness) -> None:
    _, pid_a, epoch_a = h.init("a")
    h.init("b")
    h.begin(pid_a, epoch_a, transactional_id="a")
    assert {t.transactional_id for t in h.coordinator.list_transactions()} == {"a", "b"}
    assert [t.transactional_id for t in h.coordinator.list_transactions(["Ongoing"])] == ["a"]
    assert [t.transactional_id for t in h.coordinator.list_transactions(["Empty"])] == ["b"]
    assert [t.transactional_id for t in h.coordinator.list_transactions(producer_ids=[pid_a])] == [
        "a"
    ]
    assert TxnState.PREPARE_EPOCH_FENCE.label == "PrepareEpochFence"
    assert TxnState.COMPLETE_COMMIT.label == "CompleteCommit"
