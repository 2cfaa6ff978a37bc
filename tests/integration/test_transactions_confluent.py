"""Transactions with confluent-kafka (librdkafka) against a real broker process.

What Kafka documents and these tests hold the broker to:

* a read_committed consumer gets exactly the records of committed transactions, a
  read_uncommitted one every record; transaction markers are never delivered as records;
* an open transaction holds the last stable offset (LSO) back: ListOffsets/latest with
  read_committed answers the LSO, with read_uncommitted the high watermark, and
  read_committed consumers stop at the LSO;
* a second producer with the same transactional.id fences the first, whose next
  transactional operation fails fatally;
* offsets sent with send_offsets_to_transaction become visible to the group when the
  transaction commits, never when it aborts;
* a broker killed mid-transaction comes back with the transaction completed or aborted:
  read_committed consumers are not held behind it longer than the transaction timeout.

librdkafka purges unsent messages on abort, so aborted records are flushed first: they really
reach the broker.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
    OffsetSpec,
)

from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient, request_module

pytestmark = pytest.mark.integration

OVERRIDES = {
    "group.initial.rebalance.delay.ms": "0",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
}
CLEANUP_INTERVAL_S = 1.0
TXN_TIMEOUT_MS = 10_000
CALL_TIMEOUT = 20.0
OFFSET_FETCH, DESCRIBE_TRANSACTIONS = 9, 65
UNSTABLE_OFFSET_COMMIT = 88
FENCED_CODES = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def txn_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(tmp_path_factory.mktemp("txn") / "data", overrides=OVERRIDES)
    broker.start()
    yield broker
    broker.kill()


# -- client helpers -----------------------------------------------------------------------------


def create_topics(bootstrap: str, *names: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(n, partitions, 1) for n in names], operation_timeout=10)
    for future in futures.values():
        future.result(timeout=CALL_TIMEOUT)


def txn_producer(bootstrap: str, transactional_id: str, **extra: Any) -> Producer:
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "transactional.id": transactional_id,
        "transaction.timeout.ms": TXN_TIMEOUT_MS,
        "linger.ms": 5,
    }
    conf.update(extra)
    producer = Producer(conf)
    producer.init_transactions(CALL_TIMEOUT)
    return producer


def discard(producer: Producer) -> None:
    """Drop a producer that may be broken (fenced, or its broker gone) without blocking."""
    with contextlib.suppress(Exception):
        producer.purge()
    with contextlib.suppress(Exception):
        producer.flush(0.5)


def read_all(
    bootstrap: str, topics: list[str], isolation: str, partitions: int = 1, timeout: float = 15.0
) -> dict[str, list[tuple[int, bytes | None]]]:
    """(offset, value) of every record a consumer with ``isolation`` gets from the start up
    to the end it reports (the LSO for read_committed): partition EOF on all partitions."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("reader"),
            "isolation.level": isolation,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    wanted = [TopicPartition(t, p, 0) for t in topics for p in range(partitions)]
    consumer.assign(wanted)
    got: dict[str, list[tuple[int, bytes | None]]] = {t: [] for t in topics}
    at_end: set[tuple[str, int]] = set()
    deadline = time.monotonic() + timeout
    try:
        while len(at_end) < len(wanted):
            assert time.monotonic() < deadline, f"no EOF on {set(map(str, wanted)) - at_end}"
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                assert error.code() == KafkaError._PARTITION_EOF, error
                topic, partition = message.topic(), message.partition()
                assert topic is not None and partition is not None  # EOF events name both
                at_end.add((topic, partition))
                continue
            topic, offset = message.topic(), message.offset()
            assert topic is not None and offset is not None  # a record names both
            got[topic].append((offset, message.value()))
    finally:
        consumer.close()
    return got


def values(records: list[tuple[int, bytes | None]]) -> list[bytes | None]:
    return [value for _, value in records]


def latest(bootstrap: str, topic: str, committed: bool) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    level = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
    tp = TopicPartition(topic, 0)
    result = admin.list_offsets(
        {tp: OffsetSpec.latest()}, isolation_level=level, request_timeout=10
    )
    return int(result[tp].result(timeout=CALL_TIMEOUT).offset)


def wait_until(condition: Any, timeout: float, what: str) -> float:
    """Poll ``condition`` every 100 ms; the seconds it took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"{what}: not within {timeout}s"
        time.sleep(0.1)
    return time.monotonic() - start


def describe_transaction(bootstrap: str, transactional_id: str) -> Any:
    with RawClient.to(bootstrap) as client:
        mod = request_module(DESCRIBE_TRANSACTIONS, 0)
        response = client.call(
            mod.DescribeTransactionsRequest(transactional_ids=(transactional_id,))
        )
        return response.transaction_states[0]


# -- commit, abort, isolation ---------------------------------------------------------------------


def test_commit_and_abort_across_two_topics(txn_broker: BrokerProcess) -> None:
    bootstrap = txn_broker.bootstrap
    t1, t2 = unique("txn-a"), unique("txn-b")
    create_topics(bootstrap, t1, t2)
    producer = txn_producer(bootstrap, unique("tid"))
    producer.begin_transaction()
    for i in range(5):
        producer.produce(t1, b"commit-1-%d" % i)
        producer.produce(t2, b"commit-2-%d" % i)
    producer.commit_transaction(CALL_TIMEOUT)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(t1, b"abort-1-%d" % i)
        producer.produce(t2, b"abort-2-%d" % i)
    assert producer.flush(CALL_TIMEOUT) == 0  # the aborted records are in the logs
    producer.abort_transaction(CALL_TIMEOUT)
    producer.begin_transaction()
    producer.produce(t1, b"commit-1-last")
    producer.commit_transaction(CALL_TIMEOUT)

    committed = read_all(bootstrap, [t1, t2], "read_committed")
    uncommitted = read_all(bootstrap, [t1, t2], "read_uncommitted")
    assert values(committed[t1]) == [b"commit-1-%d" % i for i in range(5)] + [b"commit-1-last"]
    assert values(committed[t2]) == [b"commit-2-%d" % i for i in range(5)]
    assert values(uncommitted[t1]) == (
        [b"commit-1-%d" % i for i in range(5)]
        + [b"abort-1-%d" % i for i in range(3)]
        + [b"commit-1-last"]
    )
    assert values(uncommitted[t2]) == (
        [b"commit-2-%d" % i for i in range(5)] + [b"abort-2-%d" % i for i in range(3)]
    )
    # Markers take offsets (5 after the first transaction, 9 after the aborted one) but are
    # never delivered.
    assert [o for o, _ in uncommitted[t1]] == [0, 1, 2, 3, 4, 6, 7, 8, 10]
    assert [o for o, _ in committed[t1]] == [0, 1, 2, 3, 4, 10]
    assert latest(bootstrap, t1, committed=True) == latest(bootstrap, t1, committed=False) == 12


def test_open_transaction_holds_last_stable_offset(txn_broker: BrokerProcess) -> None:
    bootstrap = txn_broker.bootstrap
    topic = unique("txn-lso")
    create_topics(bootstrap, topic)
    plain = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    plain.produce(topic, b"before")
    assert plain.flush(CALL_TIMEOUT) == 0
    producer = txn_producer(bootstrap, unique("tid"))
    producer.begin_transaction()
    producer.produce(topic, b"open-0")
    producer.produce(topic, b"open-1")
    assert producer.flush(CALL_TIMEOUT) == 0
    plain.produce(topic, b"after")  # a committed record behind the open transaction
    assert plain.flush(CALL_TIMEOUT) == 0

    assert latest(bootstrap, topic, committed=False) == 4
    assert latest(bootstrap, topic, committed=True) == 1  # the open transaction's first offset
    assert values(read_all(bootstrap, [topic], "read_committed")[topic]) == [b"before"]
    assert values(read_all(bootstrap, [topic], "read_uncommitted")[topic]) == [
        b"before",
        b"open-0",
        b"open-1",
        b"after",
    ]

    producer.commit_transaction(CALL_TIMEOUT)
    assert (
        latest(bootstrap, topic, committed=True) == latest(bootstrap, topic, committed=False) == 5
    )
    assert values(read_all(bootstrap, [topic], "read_committed")[topic]) == [
        b"before",
        b"open-0",
        b"open-1",
        b"after",
    ]


def test_read_committed_consumer_resumes_when_transaction_commits(
    txn_broker: BrokerProcess,
) -> None:
    """A live read_committed consumer waiting at the LSO gets the transaction's records as
    soon as it commits, without re-assigning."""
    bootstrap = txn_broker.bootstrap
    topic = unique("txn-live")
    create_topics(bootstrap, topic)
    producer = txn_producer(bootstrap, unique("tid"))
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("live"),
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        producer.begin_transaction()
        for i in range(10):
            producer.produce(topic, b"r%d" % i)
        assert producer.flush(CALL_TIMEOUT) == 0
        early = consumer.poll(1.0)
        assert early is None or early.error() is not None, "read an uncommitted record"
        producer.commit_transaction(CALL_TIMEOUT)
        got: list[bytes | None] = []
        deadline = time.monotonic() + 10
        while len(got) < 10 and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                got.append(message.value())
        assert got == [b"r%d" % i for i in range(10)]
    finally:
        consumer.close()


# -- fencing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("next_operation", ["commit", "produce-and-commit", "abort"])
def test_second_producer_fences_the_first(txn_broker: BrokerProcess, next_operation: str) -> None:
    bootstrap = txn_broker.bootstrap
    topic = unique("txn-fence")
    create_topics(bootstrap, topic)
    tid = unique("tid")
    first = txn_producer(bootstrap, tid)
    first.begin_transaction()
    first.produce(topic, b"zombie-0")
    assert first.flush(CALL_TIMEOUT) == 0

    second = txn_producer(bootstrap, tid)  # aborts the first one's transaction
    with pytest.raises(KafkaException) as raised:
        if next_operation == "produce-and-commit":
            first.produce(topic, b"zombie-1")
            first.flush(5)
        if next_operation == "abort":
            first.abort_transaction(CALL_TIMEOUT)
        else:
            first.commit_transaction(CALL_TIMEOUT)
    error = raised.value.args[0]
    assert error.fatal(), error
    assert error.code() in FENCED_CODES, error
    discard(first)

    second.begin_transaction()
    second.produce(topic, b"second")
    second.commit_transaction(CALL_TIMEOUT)
    assert values(read_all(bootstrap, [topic], "read_committed")[topic]) == [b"second"]
    assert b"zombie-1" not in values(read_all(bootstrap, [topic], "read_uncommitted")[topic])


# -- offsets in transactions ------------------------------------------------------------------


def group_offset(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offset for partition 0, as OffsetFetch without require_stable
    answers it (-1001 when none)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])
    result = admin.list_consumer_group_offsets([request], request_timeout=10)
    (tp,) = result[group].result(timeout=CALL_TIMEOUT).topic_partitions
    return int(tp.offset)


def offset_fetch_stable(bootstrap: str, group: str, topic: str) -> tuple[int, int]:
    """(error code, offset) of OffsetFetch v8 with require_stable for partition 0."""
    mod = request_module(OFFSET_FETCH, 8)
    with RawClient.to(bootstrap) as client:
        response = client.call(
            mod.OffsetFetchRequest(
                require_stable=True,
                groups=(
                    mod.OffsetFetchRequestGroup(
                        group_id=group,
                        topics=(mod.OffsetFetchRequestTopics(name=topic, partition_indexes=(0,)),),
                    ),
                ),
            )
        )
    part = response.groups[0].topics[0].partitions[0]
    return int(part.error_code), int(part.committed_offset)


def test_offsets_visible_to_group_only_on_commit(txn_broker: BrokerProcess) -> None:
    bootstrap = txn_broker.bootstrap
    source, sink = unique("txn-src"), unique("txn-sink")
    create_topics(bootstrap, source, sink)
    group = unique("eos-group")
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    producer = txn_producer(bootstrap, unique("tid"))
    try:
        consumer.subscribe([source])
        wait_until(lambda: (consumer.poll(0.1), consumer.assignment())[1], 15, "group assignment")
        metadata = consumer.consumer_group_metadata()

        producer.begin_transaction()
        producer.produce(sink, b"out-1")
        producer.send_offsets_to_transaction(
            [TopicPartition(source, 0, 10)], metadata, CALL_TIMEOUT
        )
        assert producer.flush(CALL_TIMEOUT) == 0
        assert group_offset(bootstrap, group, source) == -1001
        assert offset_fetch_stable(bootstrap, group, source) == (UNSTABLE_OFFSET_COMMIT, -1)
        producer.commit_transaction(CALL_TIMEOUT)
        assert group_offset(bootstrap, group, source) == 10
        assert offset_fetch_stable(bootstrap, group, source) == (0, 10)
        (committed,) = consumer.committed([TopicPartition(source, 0)], timeout=CALL_TIMEOUT)
        assert committed.offset == 10

        producer.begin_transaction()
        producer.produce(sink, b"out-2")
        producer.send_offsets_to_transaction(
            [TopicPartition(source, 0, 20)], metadata, CALL_TIMEOUT
        )
        assert producer.flush(CALL_TIMEOUT) == 0
        producer.abort_transaction(CALL_TIMEOUT)
        assert group_offset(bootstrap, group, source) == 10
        assert offset_fetch_stable(bootstrap, group, source) == (0, 10)
        (committed,) = consumer.committed([TopicPartition(source, 0)], timeout=CALL_TIMEOUT)
        assert committed.offset == 10
    finally:
        consumer.close()
    assert values(read_all(bootstrap, [sink], "read_committed")[sink]) == [b"out-1"]


def test_transactional_offsets_survive_restart(broker_factory: Any) -> None:
    """Committed transactional offsets are loaded from __consumer_offsets after a crash;
    pending ones of a transaction aborted meanwhile are not."""
    broker = broker_factory(overrides=OVERRIDES)
    bootstrap = broker.bootstrap
    source = unique("txn-src")
    create_topics(bootstrap, source)
    group = unique("group")
    metadata_consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    metadata = metadata_consumer.consumer_group_metadata()
    producer = txn_producer(bootstrap, unique("tid"), **{"transaction.timeout.ms": 3000})
    producer.begin_transaction()
    producer.send_offsets_to_transaction([TopicPartition(source, 0, 7)], metadata, CALL_TIMEOUT)
    producer.commit_transaction(CALL_TIMEOUT)
    producer.begin_transaction()
    producer.send_offsets_to_transaction([TopicPartition(source, 0, 99)], metadata, CALL_TIMEOUT)
    metadata_consumer.close()
    broker.kill()
    discard(producer)
    broker.start()
    assert group_offset(bootstrap, group, source) == 7
    # the open transaction times out; its offsets never become visible
    wait_until(
        lambda: offset_fetch_stable(bootstrap, group, source)[0] == 0,
        15,
        "the pending offsets to be aborted",
    )
    assert offset_fetch_stable(bootstrap, group, source) == (0, 7)


# -- timeouts and crashes -----------------------------------------------------------------------


def test_timed_out_transaction_is_aborted(txn_broker: BrokerProcess) -> None:
    bootstrap = txn_broker.bootstrap
    topic = unique("txn-timeout")
    create_topics(bootstrap, topic)
    tid = unique("tid")
    timeout_ms = 2000
    producer = txn_producer(bootstrap, tid, **{"transaction.timeout.ms": timeout_ms})
    producer.begin_transaction()
    # The coordinator starts the clock at AddPartitionsToTxn, which comes after this moment.
    started = time.monotonic()
    producer.produce(topic, b"never")
    assert producer.flush(CALL_TIMEOUT) == 0
    open_lso = latest(bootstrap, topic, committed=True)
    if time.monotonic() - started < timeout_ms / 1000:  # (a slow machine may get here later)
        assert open_lso == 0, "the open transaction was aborted before its timeout"
    wait_until(
        lambda: latest(bootstrap, topic, committed=True) == 2,
        timeout_ms / 1000 + 2 * CLEANUP_INTERVAL_S + 3,
        "LSO past the timed-out txn",
    )
    assert time.monotonic() - started >= timeout_ms / 1000 - 0.1
    state = describe_transaction(bootstrap, tid)
    assert state.transaction_state == "CompleteAbort"
    with pytest.raises(KafkaException):
        producer.commit_transaction(CALL_TIMEOUT)
    discard(producer)
    assert values(read_all(bootstrap, [topic], "read_committed")[topic]) == []


def test_broker_killed_mid_transaction(broker_factory: Any) -> None:
    broker = broker_factory(overrides=OVERRIDES)
    bootstrap = broker.bootstrap
    topic = unique("txn-crash")
    create_topics(bootstrap, topic)
    tid = unique("tid")
    timeout_ms = 3000
    producer = txn_producer(bootstrap, tid, **{"transaction.timeout.ms": timeout_ms})
    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic, b"open-%d" % i)
    assert producer.flush(CALL_TIMEOUT) == 0
    started = time.monotonic()
    broker.kill()
    discard(producer)
    broker.start()
    # 5 records, and a 6th offset when the restart outlasted the transaction's timeout and
    # the coordinator already wrote the abort marker (a loaded machine).
    assert latest(bootstrap, topic, committed=False) in (5, 6)
    plain = Producer({"bootstrap.servers": bootstrap})
    plain.produce(topic, b"after-restart")
    assert plain.flush(CALL_TIMEOUT) == 0
    # never held back longer than the transaction timeout (plus the abort timer's period)
    wait_until(
        lambda: latest(bootstrap, topic, committed=True) == 7,
        timeout_ms / 1000 + 2 * CLEANUP_INTERVAL_S + 5,
        "LSO past the open txn",
    )
    assert time.monotonic() - started < timeout_ms / 1000 + 2 * CLEANUP_INTERVAL_S + 10
    assert describe_transaction(bootstrap, tid).transaction_state == "CompleteAbort"
    assert values(read_all(bootstrap, [topic], "read_committed")[topic]) == [b"after-restart"]
    assert len(read_all(bootstrap, [topic], "read_uncommitted")[topic]) == 6
    # the transactional id is usable again
    again = txn_producer(bootstrap, tid)
    again.begin_transaction()
    again.produce(topic, b"new")
    again.commit_transaction(CALL_TIMEOUT)
    assert values(read_all(bootstrap, [topic], "read_committed")[topic]) == [
        b"after-restart",
        b"new",
    ]


def test_committed_records_readable_after_broker_crash(broker_factory: Any) -> None:
    broker = broker_factory(overrides=OVERRIDES)
    bootstrap = broker.bootstrap
    topic = unique("txn-recover")
    create_topics(bootstrap, topic)
    producer = txn_producer(bootstrap, unique("tid"))
    producer.begin_transaction()
    producer.produce(topic, b"aborted")
    assert producer.flush(CALL_TIMEOUT) == 0
    producer.abort_transaction(CALL_TIMEOUT)
    for i in range(2):
        producer.begin_transaction()
        producer.produce(topic, b"committed-%d" % i)
        producer.commit_transaction(CALL_TIMEOUT)
    expected = [b"committed-0", b"committed-1"]
    assert values(read_all(bootstrap, [topic], "read_committed")[topic]) == expected
    broker.kill()
    discard(producer)
    broker.start()
    with RawClient.to(bootstrap) as client:
        fetched = client.call(_read_committed_fetch(topic))
    aborted = fetched.responses[0].partitions[0].aborted_transactions
    assert len(aborted) == 1, aborted
    assert values(read_all(bootstrap, [topic], "read_committed")[topic]) == expected


def _read_committed_fetch(topic: str) -> Any:
    mod = request_module(1, 12)
    return mod.FetchRequest(
        replica_id=-1,
        max_wait=timedelta(0),
        min_bytes=1,
        max_bytes=1 << 20,
        isolation_level=1,
        session_id=0,
        session_epoch=-1,
        topics=(
            mod.FetchTopic(
                topic=topic,
                partitions=(
                    mod.FetchPartition(partition=0, fetch_offset=0, partition_max_bytes=1 << 20),
                ),
            ),
        ),
        forgotten_topics_data=(),
        rack_id="",
    )


def test_committed_transaction_survives_crash(broker_factory: Any, tmp_path: Path) -> None:
    """Crash right after commit: the COMMIT is durable, nothing is re-aborted."""
    broker = broker_factory(overrides=OVERRIDES)
    bootstrap = broker.bootstrap
    topic = unique("txn-durable")
    create_topics(bootstrap, topic, partitions=3)
    tid = unique("tid")
    producer = txn_producer(bootstrap, tid)
    producer.begin_transaction()
    for i in range(30):
        producer.produce(topic, b"v%d" % i, partition=i % 3)
    producer.commit_transaction(CALL_TIMEOUT)
    broker.kill()
    discard(producer)
    broker.start()
    got = read_all(bootstrap, [topic], "read_committed", partitions=3)[topic]
    # key: a null value sorts first (and fails the comparison) instead of failing sorted()
    assert sorted(values(got), key=lambda v: v or b"") == sorted(b"v%d" % i for i in range(30))
    assert describe_transaction(bootstrap, tid).transaction_state == "CompleteCommit"


# -- compaction -----------------------------------------------------------------------------------

CLEANER_OVERRIDES = {**OVERRIDES, "log.cleaner.backoff.ms": "200"}
COMPACTED = {
    "cleanup.policy": "compact",
    "segment.bytes": "2048",
    "segment.ms": "300",
    "min.cleanable.dirty.ratio": "0.01",
    "delete.retention.ms": "60000",
}


def create_compacted(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, 1, 1, config=COMPACTED)])
    for future in futures.values():
        future.result(timeout=CALL_TIMEOUT)


def cleaned_up_to(broker: BrokerProcess, topic: str) -> int:
    """The highest "cleaned up to offset" the broker logged for partition 0 (-1: none)."""
    pattern = re.compile(rf" {re.escape(topic)}-0: cleaned up to offset (\d+)")
    text = broker.log_path.read_text(errors="replace")
    return max((int(m.group(1)) for m in pattern.finditer(text)), default=-1)


def fill(bootstrap: str, topic: str, count: int, tag: str) -> None:
    """Plain records with distinct keys: they roll segments so the cleaner can run."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for i in range(count):
        producer.produce(topic, key=f"{tag}-{i}".encode(), value=b"x" * 200)
        producer.flush(CALL_TIMEOUT)
        time.sleep(0.02)


def committed_value(bootstrap: str, topic: str, key: bytes) -> list[bytes | None]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("reader"),
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    found: list[bytes | None] = []
    deadline = time.monotonic() + 15
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                break
            if message.key() == key:
                found.append(message.value())
    finally:
        consumer.close()
    return found


def test_compaction_never_keeps_aborted_over_committed(broker_factory: Any) -> None:
    broker = broker_factory(overrides=CLEANER_OVERRIDES)
    bootstrap = broker.bootstrap
    topic = unique("txn-compact")
    create_compacted(bootstrap, topic)
    producer = txn_producer(bootstrap, unique("tid"))
    producer.begin_transaction()
    producer.produce(topic, key=b"K", value=b"committed")
    producer.commit_transaction(CALL_TIMEOUT)
    producer.begin_transaction()
    producer.produce(topic, key=b"K", value=b"aborted")
    assert producer.flush(CALL_TIMEOUT) == 0
    producer.abort_transaction(CALL_TIMEOUT)
    assert committed_value(bootstrap, topic, b"K") == [b"committed"]
    fill(bootstrap, topic, 30, "after")
    wait_until(lambda: cleaned_up_to(broker, topic) > 3, 20, "the cleaner to pass the txns")
    assert committed_value(bootstrap, topic, b"K") == [b"committed"]


def test_compaction_stops_at_last_stable_offset(broker_factory: Any) -> None:
    broker = broker_factory(overrides=CLEANER_OVERRIDES)
    bootstrap = broker.bootstrap
    topic = unique("txn-compact-lso")
    create_compacted(bootstrap, topic)
    producer = txn_producer(bootstrap, unique("tid"), **{"transaction.timeout.ms": 60_000})
    producer.begin_transaction()
    producer.produce(topic, key=b"K", value=b"committed")
    producer.commit_transaction(CALL_TIMEOUT)
    producer.begin_transaction()
    producer.produce(topic, key=b"K", value=b"undecided")
    assert producer.flush(CALL_TIMEOUT) == 0
    fill(bootstrap, topic, 30, "during")
    # A broker that respects the LSO never cleans past offset 2; give a wrong one the time to.
    with contextlib.suppress(AssertionError):
        wait_until(lambda: cleaned_up_to(broker, topic) > 3, 6, "the cleaner")
    assert committed_value(bootstrap, topic, b"K") == [b"committed"]  # below the LSO
    producer.abort_transaction(CALL_TIMEOUT)
    assert committed_value(bootstrap, topic, b"K") == [b"committed"]


def test_committed_txn_offset_survives_offsets_compaction(broker_factory: Any) -> None:
    broker = broker_factory(
        overrides={
            **CLEANER_OVERRIDES,
            "offsets.topic.num.partitions": "1",
            "offsets.topic.segment.bytes": "2048",
        }
    )
    bootstrap = broker.bootstrap
    source = unique("txn-src")
    create_topics(bootstrap, source)
    group = unique("group")
    metadata_consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    metadata = metadata_consumer.consumer_group_metadata()
    metadata_consumer.close()
    producer = txn_producer(bootstrap, unique("tid"))
    producer.begin_transaction()
    producer.send_offsets_to_transaction([TopicPartition(source, 0, 10)], metadata, CALL_TIMEOUT)
    producer.commit_transaction(CALL_TIMEOUT)
    producer.begin_transaction()
    producer.send_offsets_to_transaction([TopicPartition(source, 0, 20)], metadata, CALL_TIMEOUT)
    producer.abort_transaction(CALL_TIMEOUT)
    discard(producer)
    # other groups' commits roll __consumer_offsets segments so the cleaner gets to work
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for i in range(40):
        request = ConsumerGroupTopicPartitions(f"filler-{i}", [TopicPartition(source, 0, i)])
        admin.alter_consumer_group_offsets([request])[f"filler-{i}"].result(CALL_TIMEOUT)
    wait_until(
        lambda: cleaned_up_to(broker, "__consumer_offsets") > 4,
        20,
        "the cleaner to pass the transactional commits",
    )
    assert group_offset(bootstrap, group, source) == 10
    broker.restart()
    assert group_offset(bootstrap, group, source) == 10


# -- fetch long-polling ---------------------------------------------------------------------------


def test_read_committed_long_poll_ignores_uncommitted_appends(txn_broker: BrokerProcess) -> None:
    bootstrap = txn_broker.bootstrap
    topic = unique("txn-poll")
    create_topics(bootstrap, topic)
    producer = txn_producer(bootstrap, unique("tid"))
    producer.begin_transaction()
    producer.produce(topic, b"open")
    assert producer.flush(CALL_TIMEOUT) == 0
    max_wait = 3.0
    mod = request_module(1, 12)
    request = mod.FetchRequest(
        replica_id=-1,
        max_wait=timedelta(seconds=max_wait),
        min_bytes=1,
        max_bytes=1 << 20,
        isolation_level=1,
        session_id=0,
        session_epoch=-1,
        topics=(
            mod.FetchTopic(
                topic=topic,
                partitions=(
                    mod.FetchPartition(partition=0, fetch_offset=0, partition_max_bytes=1 << 20),
                ),
            ),
        ),
        forgotten_topics_data=(),
        rack_id="",
    )

    def append_more() -> None:
        producer.produce(topic, b"more")
        producer.flush(CALL_TIMEOUT)

    appender = threading.Timer(0.3, append_more)
    try:
        with RawClient.to(bootstrap) as client:
            appender.start()
            started = time.monotonic()
            response = client.call(request)
            elapsed = time.monotonic() - started
    finally:
        appender.join()
        producer.abort_transaction(CALL_TIMEOUT)
    part = response.responses[0].partitions[0]
    assert part.records == b""  # nothing is stable
    assert elapsed >= max_wait - 0.5, f"answered after {elapsed:.2f}s"
