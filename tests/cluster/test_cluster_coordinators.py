"""Group and transaction coordinators across a coordinator crash (issue 8).

A coordinator is the leader of its ``__consumer_offsets`` / ``__transaction_state`` partition
(``abs(hashCode(key)) % partitions``); when that broker dies, the partition's new leader loads
the state from the replicated log and becomes the coordinator. Running while coordinators are
killed (SIGKILL), with all internal topics replicated three times:

* an idempotent producer writing the input topic continuously;
* a confluent-kafka consumer group reading the input and committing offsets synchronously;
* a transactional consume-transform-produce loop (input -> output, ``transactional.id``,
  ``send_offsets_to_transaction``, ``read_committed``), handling errors as confluent-kafka
  documents: retriable -> retry the call, abortable -> abort and rewind to the committed
  offsets, fatal -> the test fails. One client bug is worked around as an application must:
  librdkafka's ``send_offsets_to_transaction`` can block far past its timeout when the group
  coordinator it cached was removed from the metadata (confluentinc/librdkafka#5511, #5456;
  seen here: the TxnOffsetCommit was never sent for 111 s). The copier then replaces the
  producer, fencing the hung one.

The broker to kill is found with FindCoordinator: first the transaction coordinator, then,
if the groups' coordinators were elsewhere, theirs. After each failover both applications make
progress again. At the end the output, read with read_committed, holds every input record
exactly once, and both groups' committed offsets are at the end of the input.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Producer,
    TopicPartition,
)

from tests.support.cluster import (
    CLIENT_LOG,
    AckedProducer,
    Cluster,
    read_partitions,
    wait_until,
)
from tests.support.raw_client import ConnectionClosedError, request_module

FIND_COORDINATOR = 10
GROUP, TRANSACTION = 0, 1
PARTITIONS = 3
INTERNAL_PARTITIONS = 4  # offsets.topic.num.partitions, transaction.state.log.num.partitions
SESSION_TIMEOUT_MS = 4000
CALL_TIMEOUT = 30.0
OVERRIDES = {
    "zookeeper.session.timeout.ms": str(SESSION_TIMEOUT_MS),
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000",
}
FAILOVER_TIMEOUT = SESSION_TIMEOUT_MS / 1000 + 45


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def find_coordinator(c: Cluster, key: str, key_type: int) -> int | None:
    """The coordinator's id as a live broker answers FindCoordinator v4 (None: an error)."""
    mod = request_module(FIND_COORDINATOR, 4)
    for broker_id in c.live_ids():
        try:
            with c.raw(broker_id, timeout=5) as client:
                response = client.call(
                    mod.FindCoordinatorRequest(key_type=key_type, coordinator_keys=(key,))
                )
        except (OSError, ConnectionClosedError):
            continue
        [coordinator] = response.coordinators
        if coordinator.error_code == 0:
            return int(coordinator.node_id)
        return None
    return None


class Worker(threading.Thread):
    """A client loop in a thread; records progress (monotonic times) and its failure."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.stopping = threading.Event()
        self.progress: list[float] = []  # times of successful commits
        self.errors: list[str] = []  # retried or handled errors
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self.loop()
        except BaseException as exc:  # the test reports it
            self.failure = exc

    def loop(self) -> None:
        raise NotImplementedError

    def progressed_since(self, moment: float) -> bool:
        return any(t > moment for t in list(self.progress))

    def where(self) -> str:
        """The thread's current Python stack: where a stuck client call is waiting."""
        frame = sys._current_frames().get(self.ident or -1)
        if frame is None:
            return f"{self.name}: not running"
        last = time.monotonic() - self.progress[-1] if self.progress else None
        since = f"{last:.1f} s since its last progress" if last is not None else "no progress"
        return f"{self.name} ({since}) is at:\n" + "".join(traceback.format_stack(frame)[-6:])

    def stop(self, timeout: float = 60.0) -> None:
        self.stopping.set()
        self.join(timeout)


class GroupReader(Worker):
    """A consumer group member reading the input, committing synchronously every ~0.3 s."""

    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        super().__init__("group-reader")
        self.seen: set[bytes | None] = set()
        self.config = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 30_000,
            **CLIENT_LOG,
        }
        self.topic = topic

    def loop(self) -> None:
        consumer = Consumer(self.config)
        consumer.subscribe([self.topic])
        last_commit = 0.0
        dirty = False
        try:
            while not self.stopping.is_set():
                for message in consumer.consume(200, timeout=0.1):
                    if message.error() is None:
                        self.seen.add(message.value())
                        dirty = True
                if dirty and time.monotonic() - last_commit > 0.3:
                    try:
                        consumer.commit(asynchronous=False)
                        self.progress.append(time.monotonic())
                        dirty = False
                    except KafkaException as exc:
                        error = exc.args[0]
                        if error.fatal():
                            raise
                        self.errors.append(str(error))
                    last_commit = time.monotonic()
        finally:
            consumer.close()


class TxnCopier(Worker):
    """Consume-transform-produce in transactions: input value v -> output (key v, value v)."""

    def __init__(self, bootstrap: str, source: str, sink: str, group: str, tid: str) -> None:
        super().__init__("txn-copier")
        self.bootstrap, self.source, self.sink = bootstrap, source, sink
        self.group, self.tid = group, tid
        self.aborted = 0
        self.copied = 0
        self.hung_producers: list[Producer] = []

    def consumer(self) -> Consumer:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": self.group,
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 30_000,
                **CLIENT_LOG,
            }
        )
        consumer.subscribe([self.source])
        return consumer

    def producer(self) -> Producer:
        producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "transactional.id": self.tid,
                "transaction.timeout.ms": 30_000,
                "linger.ms": 5,
                **CLIENT_LOG,
            }
        )
        self.retry(lambda: producer.init_transactions(CALL_TIMEOUT))
        return producer

    def loop(self) -> None:
        producer = self.producer()
        consumer = self.consumer()
        try:
            while not self.stopping.is_set():
                records = [m for m in consumer.consume(100, timeout=0.1) if m.error() is None]
                if not records:
                    continue
                producer.begin_transaction()
                try:
                    for message in records:
                        producer.produce(self.sink, key=message.value(), value=message.value())
                    positions = [
                        tp for tp in consumer.position(consumer.assignment()) if tp.offset >= 0
                    ]
                    metadata = consumer.consumer_group_metadata()
                    # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
                    self.retry(
                        lambda p=positions, m=metadata, pr=producer: bounded(  # type: ignore[misc]
                            lambda: pr.send_offsets_to_transaction(p, m, CALL_TIMEOUT),
                            CALL_TIMEOUT + 10,
                        )
                    )
                    # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
                    self.retry(lambda pr=producer: pr.commit_transaction(CALL_TIMEOUT))  # type: ignore[misc]
                except ClientHung as hung:
                    # librdkafka #5511/#5456: send_offsets_to_transaction can wait past its
                    # timeout for a group coordinator that was removed from the metadata.
                    # As an application would: drop that producer, fence it with a new one
                    # (same transactional.id: its open transaction is aborted), redo.
                    self.errors.append(f"replaced a hung producer: {hung}")
                    self.hung_producers.append(producer)  # still inside the C call
                    producer = self.producer()
                    self.aborted += 1
                    consumer = self.rewind(consumer)
                except KafkaException as exc:
                    # abortable (or retried in vain): abort, which confluent-kafka allows in
                    # any state but a fatal one, and redo from the committed offsets
                    if exc.args[0].fatal():
                        raise
                    self.errors.append(f"abort: {exc.args[0]}")
                    # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
                    self.retry(lambda pr=producer: pr.abort_transaction(CALL_TIMEOUT))  # type: ignore[misc]
                    self.aborted += 1
                    consumer = self.rewind(consumer)
                    continue
                else:
                    self.copied += len(records)
                    self.progress.append(time.monotonic())
        finally:
            consumer.close()

    def retry(self, call: Callable[[], Any], attempts: int = 20) -> Any:
        """Retry a transactional call while its error is retriable (confluent-kafka's rule)."""
        for attempt in range(attempts):
            try:
                return call()
            except KafkaException as exc:
                error = exc.args[0]
                if not error.retriable() or attempt == attempts - 1:
                    raise
                self.errors.append(f"retry: {error}")
                time.sleep(0.1)
        raise AssertionError("unreachable")

    def rewind(self, consumer: Consumer) -> Consumer:
        """Back to the group's committed offsets (after an abort)."""
        for _ in range(20):
            try:
                committed = consumer.committed(consumer.assignment(), timeout=10)
                for tp in committed:
                    offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
                    consumer.seek(TopicPartition(tp.topic, tp.partition, offset))
                return consumer
            except KafkaException as exc:
                self.errors.append(f"rewind: {exc.args[0]}")
                time.sleep(0.2)
        consumer.close()  # a fresh member starts from the committed offsets
        return self.consumer()


class ClientHung(Exception):
    """A client call did not return within its own timeout (plus a margin)."""


def bounded(call: Callable[[], Any], seconds: float) -> Any:
    """Run ``call`` on a helper thread; ClientHung if it has not returned after ``seconds``
    (the call itself cannot be interrupted and is left to finish on its own)."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True, name="bounded-call")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise ClientHung(f"no return after {seconds:.0f} s")
    if failure:
        raise failure[0]
    return result[0] if result else None


def java_hash_code(text: str) -> int:
    """Java's String.hashCode (over UTF-16 code units), as a signed 32-bit int."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i : i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def coordinator_partition(key: str, key_type: int) -> tuple[str, int]:
    """The internal partition whose leader is the coordinator for ``key``: Kafka's
    ``Utils.abs(key.hashCode) % partitions`` of __consumer_offsets or __transaction_state."""
    h = java_hash_code(key)
    index = 0 if h == -(1 << 31) else abs(h)
    topic = "__consumer_offsets" if key_type == GROUP else "__transaction_state"
    return topic, index % INTERNAL_PARTITIONS


def coordinator_is_leader(c: Cluster, key: str, key_type: int) -> bool:
    topic, partition = coordinator_partition(key, key_type)
    state = c.agreed_state(topic, partition)
    return state is not None and find_coordinator(c, key, key_type) == state.leader


def committed_offsets(c: Cluster, group: str, topic: str) -> dict[int, int]:
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, p) for p in range(PARTITIONS)]
    )
    admin = c.admin()
    result = admin.list_consumer_group_offsets([request], request_timeout=10)
    return {tp.partition: tp.offset for tp in result[group].result(timeout=15).topic_partitions}


def kill_coordinator(
    c: Cluster,
    keys: dict[str, tuple[str, int]],
    target: str,
    all_progress: Callable[[float], bool],
    healthy: Callable[[], str],
) -> tuple[list[str], str]:
    """Kill the broker that is the ``target`` coordinator; wait until every coordinator it
    was has moved and the applications make progress; start it again and wait for full ISRs
    and progress. Returns (the coordinators that moved, a line for the report)."""
    # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
    coordinators = {
        name: wait_until(
            lambda k=k: find_coordinator(c, *k),  # type: ignore[misc]
            30,
            f"no {name}",
            context=c.logs,
        )
        for name, k in keys.items()
    }
    for name, k in keys.items():
        # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
        wait_until(
            lambda k=k: coordinator_is_leader(c, *k),  # type: ignore[misc]
            30,
            lambda n=name, k=k: (
                f"the {n} {find_coordinator(c, *k)} is not the leader of "  # type: ignore[misc]
                f"{coordinator_partition(*k)}"
            ),
            context=c.logs,
        )
    victim = coordinators[target]
    moved = [name for name, node in coordinators.items() if node == victim]
    survivors = [b for b in c.ids if b != victim]

    killed_at = time.monotonic()
    c.kill(victim)
    for name in moved:
        # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
        wait_until(
            lambda k=keys[name]: find_coordinator(c, *k) in survivors,  # type: ignore[misc]
            FAILOVER_TIMEOUT,
            f"the {name} did not move off broker {victim}",
            context=c.logs,
        )
        # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
        wait_until(
            lambda k=keys[name]: coordinator_is_leader(c, *k),  # type: ignore[misc]
            15,
            f"the new {name} is not the new leader of {coordinator_partition(*keys[name])}",
            context=c.logs,
        )
    wait_until(
        lambda: all_progress(killed_at),
        FAILOVER_TIMEOUT,
        lambda: f"no progress after killing broker {victim} ({moved}): {healthy()}",
        context=c.logs,
    )
    text = (
        f"broker {victim} ({', '.join(moved)}): progress again after "
        f"{time.monotonic() - killed_at:.1f} s"
    )

    c.start_broker(victim)
    c.wait_registered(c.ids, timeout=30)
    c.wait_all_isr_full(timeout=60)
    restarted = time.monotonic()
    wait_until(
        lambda: all_progress(restarted),
        60,
        lambda: f"no progress after restarting broker {victim}: {healthy()}",
        context=c.logs,
    )
    return moved, text


def test_group_and_txn_across_coordinator_failover(cluster: Callable[..., Cluster]) -> None:
    c = cluster(3, overrides=OVERRIDES)
    source, sink = unique("txn-in"), unique("txn-out")
    c.create_topic(source, PARTITIONS, 3)
    c.create_topic(sink, PARTITIONS, 3)
    eos_group, plain_group, tid = unique("eos-group"), unique("plain-group"), unique("tid")

    feeder = AckedProducer(c.bootstrap, source, range(PARTITIONS), interval=0.03)
    copier = TxnCopier(c.bootstrap, source, sink, eos_group, tid)
    reader = GroupReader(c.bootstrap, source, plain_group)
    workers: list[Worker] = [copier, reader]
    feeder.start()
    for worker in workers:
        worker.start()

    def healthy() -> str:
        failures = {w.name: repr(w.failure) for w in workers if w.failure is not None}
        return (
            f"failures {failures}; copier errors {copier.errors[-8:]}; reader errors "
            f"{reader.errors[-8:]}; feeder errors {feeder.errors[-5:]} "
            f"{feeder.failures[-3:]} {feeder.fatal}\n" + "\n".join(w.where() for w in workers)
        )

    def all_progress(moment: float) -> bool:
        assert all(w.failure is None for w in workers), healthy()
        return (
            copier.progressed_since(moment)
            and reader.progressed_since(moment)
            and len(feeder.acks_after(moment)) == PARTITIONS
        )

    recovery: list[str] = []
    try:
        wait_until(
            lambda: all_progress(0),
            60,
            lambda: f"no progress at start: {healthy()}",
            context=c.logs,
        )
        keys = {
            "transaction coordinator": (tid, TRANSACTION),
            "eos group coordinator": (eos_group, GROUP),
            "plain group coordinator": (plain_group, GROUP),
        }
        uncovered = list(keys)
        while uncovered:
            covered, text = kill_coordinator(c, keys, uncovered[0], all_progress, healthy)
            uncovered = [name for name in uncovered if name not in covered]
            recovery.append(text)
        feeder.stop()
        print("\ncoordinator failovers: " + "; ".join(recovery))
        assert (
            not feeder.is_alive()
            and not feeder.fatal
            and not feeder.failures
            and feeder.unflushed == 0
        ), healthy()
        inputs = feeder.snapshot()
        end = {p: 1 + max(a.offset for a in inputs if a.partition == p) for p in range(PARTITIONS)}

        def drained() -> bool:
            assert all(w.failure is None for w in workers), healthy()
            return (
                committed_offsets(c, eos_group, source) == end
                and committed_offsets(c, plain_group, source) == end
            )

        wait_until(
            drained,
            90,
            lambda: (
                f"groups not at the input's end {end}: eos "
                f"{committed_offsets(c, eos_group, source)}, plain "
                f"{committed_offsets(c, plain_group, source)}; "
                f"{healthy()}"
            ),
            interval=0.5,
            context=c.logs,
        )
    finally:
        feeder.stop(flush_timeout=1)  # at once when already stopped
        for worker in workers:
            worker.stop()
    assert all(w.failure is None and not w.is_alive() for w in workers), healthy()

    values = [a.value for a in inputs]
    assert reader.seen == set(values), (
        f"the group reader missed {len(set(values) - reader.seen)} input records"
    )
    output = read_partitions(c.bootstrap, sink, range(PARTITIONS), isolation="read_committed")
    copied = Counter(value for records in output.values() for _, _, value in records)
    duplicated = {v: n for v, n in copied.items() if n > 1}
    missing = set(values) - set(copied)
    unexpected = set(copied) - set(values)
    assert not duplicated and not missing and not unexpected, (
        f"output is not the input exactly once: {len(duplicated)} duplicated (e.g. "
        f"{list(duplicated.items())[:5]}), {len(missing)} missing (e.g. {sorted(missing)[:5]}), "
        f"{len(unexpected)} unexpected; copier aborted {copier.aborted} transactions; "
        f"{healthy()}"
    )
    print(
        f"copied {len(values)} records exactly once; {copier.aborted} transactions aborted, "
        f"{len(copier.errors)} copier errors handled ({len(copier.hung_producers)} hung "
        f"producers replaced), {len(reader.errors)} commit errors"
    )
