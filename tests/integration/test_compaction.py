"""Log compaction against a broker process, with confluent-kafka (librdkafka) clients.

Seed 004's guarantees (Kafka's "compaction guarantees"):

* a consumer that keeps up with the head of the log sees every record, at consecutive offsets;
* order is kept and offsets never change: each surviving record keeps its original offset;
* a consumer reading from the beginning sees at least the latest value of each key;
* a tombstone stays for delete.retention.ms after the cleaning that first saw it, then goes.

Plus: keyless records are rejected (INVALID_RECORD), a SIGKILL in the middle of cleaning or
retention leaves a consistent log, and ``__consumer_offsets`` is cleaned by the same cleaner.
Cleaning is always observed: the broker's "cleaned up to offset" lines and fewer records.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from odradek.protocol.records.codec import decode_batches
from tests.integration.clients import unique_topic
from tests.support import processes
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TIMEOUT = 15.0
BROKER_OVERRIDES = {"log.cleaner.backoff.ms": "200", "log.retention.check.interval.ms": "500"}
Entry = tuple[bytes | None, bytes | None]  # key, value


def compact_configs(**extra: str) -> dict[str, str]:
    return {
        "cleanup.policy": "compact",
        "segment.bytes": "4096",
        "min.cleanable.dirty.ratio": "0.01",
        "segment.ms": "500",
        "delete.retention.ms": "60000",
        **extra,
    }


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compaction_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(
        tmp_path_factory.mktemp("compaction") / "data", overrides=BROKER_OVERRIDES
    ).start()
    yield broker
    broker.kill()


def create_topic(
    broker: BrokerProcess, name: str, configs: dict[str, str], partitions: int = 1
) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1, config=configs)]).values():
        future.result(TIMEOUT)


def full_log(broker: BrokerProcess) -> str:
    return broker.log_path.read_text(errors="replace")


def cleaned_up_to(broker: BrokerProcess, topic: str, partition: int = 0) -> int:
    """The highest "cleaned up to offset" the broker logged for the partition (-1: none)."""
    pattern = re.compile(rf" {re.escape(topic)}-{partition}: cleaned up to offset (\d+)")
    return max((int(m.group(1)) for m in pattern.finditer(full_log(broker))), default=-1)


def wait_for(
    condition: Callable[[], bool], what: str, broker: BrokerProcess, timeout: float = TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}\n--- broker log ---\n{broker.log()}", pytrace=False)


class Acked:
    """Delivery callback: acknowledged offset -> (key, value); errors kept apart."""

    def __init__(self) -> None:
        self.records: dict[int, Entry] = {}
        self.errors: list[KafkaError] = []
        self.lock = threading.Lock()

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        with self.lock:
            if err is not None:
                self.errors.append(err)
            else:
                offset = msg.offset()
                assert offset is not None  # acknowledged (acks >= 1): it has an offset
                self.records[offset] = (msg.key(), msg.value())


def produce(broker: BrokerProcess, topic: str, entries: Sequence[Entry], **conf: Any) -> Acked:
    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "linger.ms": 5,
            "acks": "all",
            "message.timeout.ms": 15_000,
            **conf,
        }
    )
    acked = Acked()
    for key, value in entries:
        producer.produce(topic, key=key, value=value, partition=0, on_delivery=acked)
        producer.poll(0)
    assert producer.flush(TIMEOUT) == 0, "deliveries still pending"
    assert not acked.errors, f"delivery errors {acked.errors[:3]}\n{broker.log()}"
    return acked


def read_from(
    broker: BrokerProcess,
    topic: str,
    offset: int = OFFSET_BEGINNING,
    until: int | None = None,
    idle: float = 2.0,
    timeout: float = TIMEOUT,
) -> list[tuple[int, bytes | None, bytes | None]]:
    """Records from ``offset`` until one at or past ``until`` (default: the high watermark
    - 1), or until nothing came for ``idle`` seconds."""
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": unique_topic("rd"),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 50,
        }
    )
    try:
        if until is None:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), TIMEOUT)
            until = high - 1
        consumer.assign([TopicPartition(topic, 0, offset)])
        got: list[tuple[int, bytes | None, bytes | None]] = []
        deadline, last = time.monotonic() + timeout, time.monotonic()
        while time.monotonic() < deadline and (not got or got[-1][0] < until):
            msg = consumer.poll(0.1)
            if msg is None:
                if time.monotonic() - last > idle:
                    break
                continue
            assert msg.error() is None, msg.error()
            record_offset = msg.offset()
            assert record_offset is not None  # a record has an offset
            got.append((record_offset, msg.key(), msg.value()))
            last = time.monotonic()
        return got
    finally:
        consumer.close()


def assert_ordered_originals(
    got: list[tuple[int, bytes | None, bytes | None]], produced: dict[int, Entry]
) -> None:
    offsets = [o for o, _, _ in got]
    assert offsets == sorted(set(offsets)), "offsets must strictly increase"
    changed = [(o, k, v) for o, k, v in got if produced.get(o) != (k, v)]
    assert not changed, f"records not at their original offsets: {changed[:5]}"


def latest_by_key(produced: dict[int, Entry]) -> dict[bytes | None, tuple[int, bytes | None]]:
    latest: dict[bytes | None, tuple[int, bytes | None]] = {}
    for offset in sorted(produced):
        key, value = produced[offset]
        latest[key] = (offset, value)
    return latest


def partition_dir(broker: BrokerProcess, topic: str, partition: int = 0) -> Path:
    return broker.data_dir / f"{topic}-{partition}"


def log_start_offset(broker: BrokerProcess, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique_topic("ls")})
    try:
        low, _ = consumer.get_watermark_offsets(TopicPartition(topic, 0), TIMEOUT)
        return int(low)
    finally:
        consumer.close()


def records_on_disk(directory: Path) -> tuple[int, int]:
    """(records, bytes) in the partition's .log files. Raises FileNotFoundError when the
    cleaner or retention removed a file between listing and reading it (poll again)."""
    count = size = 0
    for path in directory.glob("*.log"):
        data = path.read_bytes()
        size += len(data)
        count += sum(batch.header.records_count for batch in decode_batches(data))
    return count, size


def records_on_disk_between_swaps(directory: Path) -> tuple[int, int]:
    """records_on_disk, read again when the cleaner swapped a segment out meanwhile."""
    for _ in range(50):
        try:
            return records_on_disk(directory)
        except FileNotFoundError:
            time.sleep(0.05)
    return records_on_disk(directory)


def dump_log_ok(*directories: Path) -> None:
    logs = sorted(str(p) for d in directories for p in d.glob("*.log"))
    result = subprocess.run(
        [sys.executable, "-m", "odradek", "dump-log", *logs],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [
        line
        for line in result.stdout.splitlines()
        if line.startswith(("Dumping", "Problem", "odradek dump-log")) or "INCONSISTENT" in line
    ]
    bad = [
        p
        for i, p in enumerate(problems)
        if not p.startswith("Dumping")
        or (i + 1 < len(problems) and not problems[i + 1].startswith("Dumping"))
    ]
    assert result.returncode == 0, (
        f"dump-log exited {result.returncode}:\n" + "\n".join(bad[:20]) + result.stderr[-2000:]
    )


class TailConsumer(threading.Thread):
    """A consumer that keeps up with the head of the log from offset 0."""

    def __init__(self, broker: BrokerProcess, topic: str) -> None:
        super().__init__(daemon=True)
        self.seen: list[tuple[int, bytes | None, bytes | None]] = []
        self.errors: list[str] = []
        self.target = -1
        self.stop_event = threading.Event()
        self.consumer = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": unique_topic("tail"),
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 20,
            }
        )
        self.consumer.assign([TopicPartition(topic, 0, 0)])

    def run(self) -> None:
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                if self.stop_event.is_set() and self.seen and self.seen[-1][0] >= self.target:
                    return
                msg = self.consumer.poll(0.05)
                if msg is None:
                    continue
                if msg.error() is not None:
                    self.errors.append(str(msg.error()))
                    continue
                offset = msg.offset()
                assert offset is not None  # a record has an offset
                self.seen.append((offset, msg.key(), msg.value()))
        finally:
            self.consumer.close()

    def finish(self, last_offset: int, timeout: float = TIMEOUT) -> None:
        self.target = last_offset
        self.stop_event.set()
        self.join(timeout)
        assert not self.is_alive(), f"tail consumer stuck at {self.seen[-1:]}"


# -- guarantees --------------------------------------------------------------------------------


def test_compaction_guarantees(compaction_broker: BrokerProcess) -> None:
    broker = compaction_broker
    topic = unique_topic("compact")
    create_topic(broker, topic, compact_configs())
    keys = [f"key-{i:02d}".encode() for i in range(40)]
    tail = TailConsumer(broker, topic)
    tail.start()
    produced: dict[int, Entry] = {}
    seq = 0
    for _ in range(6):  # in bursts, so that cleanings run between and during them
        burst = []
        for _ in range(500):
            burst.append((keys[seq % len(keys)], f"{seq:06d}|".encode().ljust(100, b".")))
            seq += 1
        produced.update(produce(broker, topic, burst).records)
        time.sleep(0.3)
    produced.update(produce(broker, topic, [(b"the-end", b"sentinel")]).records)
    end = max(produced)
    assert sorted(produced) == list(range(end + 1))

    # A consumer that keeps up sees every record, in order, at consecutive offsets.
    tail.finish(end)
    assert not tail.errors
    assert tail.seen == [(o, *produced[o]) for o in range(end + 1)]

    # Cleaning happens (the tail segment rolls by segment.ms and gets cleaned too).
    wait_for(lambda: cleaned_up_to(broker, topic) >= end, f"cleaning up to {end}", broker)
    count, size = records_on_disk_between_swaps(partition_dir(broker, topic))
    assert count < (end + 1) / 10 and size < 150 * (end + 1) / 10, (count, size)

    # From the beginning: original records at original offsets, the latest of every key.
    got = read_from(broker, topic, until=end)
    assert_ordered_originals(got, produced)
    assert len(got) < (end + 1) / 10
    present = {(o, k) for o, k, _ in got}
    missing = [(k, o) for k, (o, _) in latest_by_key(produced).items() if (o, k) not in present]
    assert not missing, f"latest values missing: {missing[:5]}"


def test_tombstone_removed_after_delete_retention_and_not_before(
    compaction_broker: BrokerProcess,
) -> None:
    broker = compaction_broker
    retention_s = 4.0
    topic = unique_topic("tombstone")
    create_topic(
        broker, topic, compact_configs(**{"delete.retention.ms": str(int(retention_s * 1000))})
    )
    produced = produce(
        broker,
        topic,
        [(b"doomed", f"v{i}".encode()) for i in range(5)]
        + [(f"other-{i}".encode(), b"x" * 50) for i in range(30)],
    ).records
    acked = produce(broker, topic, [(b"doomed", None)])
    produced.update(acked.records)
    (tombstone,) = acked.records
    produced_at = time.monotonic()

    def filler(tag: str) -> int:
        records = produce(
            broker, topic, [(f"other-{i}".encode(), tag.encode()) for i in range(30)]
        ).records
        produced.update(records)
        return max(records)

    def cleaning_through(offset: int, what: str) -> float:
        wait_for(lambda: cleaned_up_to(broker, topic) > offset, what, broker)
        return time.monotonic()

    # The first cleaning that covers the tombstone keeps it and removes the older values.
    last = filler("a")
    first_cleaning = cleaning_through(last, "the first cleaning over the tombstone")
    got = read_from(broker, topic, until=last)
    assert_ordered_originals(got, produced)
    doomed = [(o, v) for o, k, v in got if k == b"doomed"]
    assert doomed == [(tombstone, None)]

    # A later cleaning before delete.retention.ms has passed keeps it too.
    last = filler("b")
    second = cleaning_through(last, "a second cleaning")
    if second - produced_at < retention_s:
        got = read_from(broker, topic, until=last)
        assert [(o, v) for o, k, v in got if k == b"doomed"] == [(tombstone, None)]
    else:  # (only if this machine is very slow; the horizon is still ahead of the first one)
        print(f"second cleaning {second - produced_at:.1f}s after the tombstone: not checked")

    # After the horizon, the next cleaning removes it.
    time.sleep(max(0.0, first_cleaning + retention_s + 0.5 - time.monotonic()))
    last = filler("c")
    cleaning_through(last, "a cleaning after the horizon")
    got = read_from(broker, topic, until=last)
    assert_ordered_originals(got, produced)
    assert [o for o, k, _ in got if k == b"doomed"] == []
    assert {k for _, k, _ in got} == {f"other-{i}".encode() for i in range(30)}


def test_keyless_records_are_rejected(compaction_broker: BrokerProcess) -> None:
    broker = compaction_broker
    topic = unique_topic("keyless")
    create_topic(broker, topic, compact_configs())
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "retries": 0})
    acked = Acked()
    producer.produce(topic, value=b"no key", partition=0, on_delivery=acked)
    assert producer.flush(TIMEOUT) == 0
    assert [e.code() for e in acked.errors] == [KafkaError.INVALID_RECORD], acked.errors
    producer.produce(topic, key=b"k", value=b"keyed", partition=0, on_delivery=acked)
    assert producer.flush(TIMEOUT) == 0
    assert acked.records == {0: (b"k", b"keyed")}


# -- crashes -----------------------------------------------------------------------------------


class Firehose(threading.Thread):
    """Produces to a compacted and a delete-policy topic (acks=1) until stopped."""

    def __init__(
        self, broker: BrokerProcess, compacted: str, deleted: str, round_no: int, keys: int
    ) -> None:
        super().__init__(daemon=True)
        self.compacted, self.deleted, self.round_no, self.keys = compacted, deleted, round_no, keys
        self.acked = {compacted: Acked(), deleted: Acked()}
        self.stop_event = threading.Event()
        self.producer = Producer(
            {
                "bootstrap.servers": broker.bootstrap,
                "acks": 1,
                "linger.ms": 5,
                "retries": 0,
                "message.timeout.ms": 5_000,
                "queue.buffering.max.messages": 50_000,
            }
        )

    def run(self) -> None:
        seq = 0
        deadline = time.monotonic() + 30
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            for _ in range(150):  # at most ~15k records/s
                key = f"key-{seq % self.keys:05d}".encode()
                value = (
                    None
                    if seq % 23 == 0
                    else f"r{self.round_no}-{seq:07d}|".encode().ljust(150, b".")
                )
                try:
                    self.producer.produce(
                        self.compacted,
                        key=key,
                        value=value,
                        partition=0,
                        on_delivery=self.acked[self.compacted],
                    )
                    if seq % 3 == 0:
                        self.producer.produce(
                            self.deleted,
                            key=key,
                            value=b"d" * 100,
                            partition=0,
                            on_delivery=self.acked[self.deleted],
                        )
                except BufferError:
                    self.producer.poll(0.01)
                seq += 1
            self.producer.poll(0)
            time.sleep(0.01)

    def stop(self) -> None:
        """After the broker died: what was acknowledged is in ``acked``; the rest is dropped."""
        self.stop_event.set()
        self.join(10)
        self.producer.flush(0.5)
        self.producer.purge()
        self.producer.flush(1)


def wait_for_files(directory: Path, suffixes: tuple[str, ...], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(p.name.endswith(suffixes) for p in directory.iterdir()):
                return True
        except FileNotFoundError:
            pass
        time.sleep(0.003)
    return False


@pytest.mark.slow
def test_sigkill_during_cleaning_and_retention_leaves_consistent_logs(broker_factory: Any) -> None:
    broker: BrokerProcess = broker_factory(
        overrides={
            **BROKER_OVERRIDES,
            "log.cleaner.dedupe.buffer.size": str(2000 * 24 * 10 // 9),
            "log.flush.offset.checkpoint.interval.ms": "1000",
        }
    )
    compacted, deleted = unique_topic("crash-compact"), unique_topic("crash-retention")
    create_topic(
        broker,
        compacted,
        compact_configs(**{"segment.bytes": str(128 * 1024), "delete.retention.ms": "1000"}),
    )
    create_topic(
        broker,
        deleted,
        {
            "segment.bytes": str(32 * 1024),
            "retention.bytes": str(128 * 1024),
            "file.delete.delay.ms": "100",
        },
    )
    compact_dir, delete_dir = partition_dir(broker, compacted), partition_dir(broker, deleted)
    rng = random.Random(20240604)
    produced: dict[int, Entry] = {}
    produced_deleted: dict[int, Entry] = {}
    mid_cleaning_kills = 0
    for round_no, trigger in enumerate(["cleaned", "random", "swap", "cleaned", "random"]):
        hose = Firehose(broker, compacted, deleted, round_no, keys=3000)
        hose.start()
        if trigger == "random":
            time.sleep(rng.uniform(0.5, 2.5))
        else:  # kill as soon as the cleaner has files in flight (then a little later)
            time.sleep(0.3)
            suffixes = (".cleaned",) if trigger == "cleaned" else (".swap",)
            wait_for_files(compact_dir, suffixes, timeout=4.0)
            time.sleep(rng.uniform(0, 0.05))
        broker.kill()
        leftovers = [
            p.name for p in compact_dir.iterdir() if p.name.endswith((".cleaned", ".swap"))
        ]
        mid_cleaning_kills += bool(leftovers)
        hose.stop()
        produced.update(hose.acked[compacted].records)
        produced_deleted.update(hose.acked[deleted].records)

        # Recovery runs when the logs load, before the broker listens; kill it again so that
        # dump-log sees files no cleaning or retention is changing, then start it for good.
        broker.start()
        broker.kill()
        dump_log_ok(compact_dir, delete_dir)
        broker.start()
        got = read_from(broker, compacted, idle=3.0, timeout=30)
        offsets = [o for o, _, _ in got]
        assert offsets == sorted(set(offsets)), f"round {round_no}: offsets out of order"
        wrong = [(o, k, v) for o, k, v in got if o in produced and produced[o] != (k, v)]
        assert not wrong, f"round {round_no}: changed records {wrong[:3]}"
        newest = {key: offset for offset, key, _ in got}  # (in offset order: the last wins)
        lost = [
            (k, o)
            for k, (o, v) in latest_by_key(produced).items()
            if v is not None and newest.get(k, -1) < o
        ]
        assert not lost, f"round {round_no} ({trigger}): latest values lost {lost[:5]}"

        got_deleted = read_from(broker, deleted, idle=3.0, timeout=30)
        # Retention may delete the oldest segments while the consumer reads them (it then
        # resets to the new log start): the log from its start offset must have no holes.
        start = log_start_offset(broker, deleted)
        offsets = [o for o, _, _ in got_deleted if o >= start]
        assert offsets and offsets[0] == start, f"round {round_no}: log start {start} not read"
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), (
            f"round {round_no}: gaps in the delete-policy log"
        )
        missing = [o for o in produced_deleted if o >= offsets[0] and o > offsets[-1]]
        assert not missing, f"round {round_no}: acknowledged records missing {missing[:5]}"
    assert cleaned_up_to(broker, compacted) > 0
    assert mid_cleaning_kills >= 2, f"only {mid_cleaning_kills} kills hit a cleaning"


@pytest.mark.slow
def test_clean_shutdown_does_not_wait_for_a_long_cleaning(broker_factory: Any) -> None:
    broker: BrokerProcess = broker_factory(overrides=BROKER_OVERRIDES)
    topic = unique_topic("long-clean")
    create_topic(broker, topic, {"segment.bytes": str(2**30), "retention.ms": "-1"})
    records = 500_000
    producer = Producer(
        {"bootstrap.servers": broker.bootstrap, "acks": 1, "linger.ms": 20, "batch.size": 1_000_000}
    )
    value = b"v" * 1000
    for seq in range(records):
        while True:
            try:
                producer.produce(topic, key=f"k{seq % 50_000}".encode(), value=value, partition=0)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    resource = ConfigResource(
        "topic",
        topic,
        incremental_configs=[
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in (
                ("segment.ms", "500"),
                ("cleanup.policy", "compact"),
                ("min.cleanable.dirty.ratio", "0.01"),
            )
        ],
    )
    admin.incremental_alter_configs([resource])[resource].result(TIMEOUT)
    wait_for(
        lambda: (partition_dir(broker, topic) / f"{records:020d}.log").exists(),
        "the tail segment to roll",
        broker,
    )
    time.sleep(1.5)  # the cleaning (about 10 s for this log here) is under way
    if cleaned_up_to(broker, topic) >= 0:
        pytest.fail("precondition: the cleaning finished too soon to test this")
    started = time.monotonic()
    broker.stop(timeout=60)
    took = time.monotonic() - started
    assert took < 3.0, f"the clean shutdown took {took:.1f}s"


# -- __consumer_offsets --------------------------------------------------------------------------


def test_consumer_offsets_is_compacted(broker_factory: Any) -> None:
    broker: BrokerProcess = broker_factory(
        overrides={
            **BROKER_OVERRIDES,
            "offsets.topic.num.partitions": "1",
            "offsets.topic.segment.bytes": "4096",
        }
    )
    topic, group = unique_topic("committed"), unique_topic("group")
    create_topic(broker, topic, {}, partitions=2)
    commits = 1500
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    try:
        for i in range(1, commits + 1):
            consumer.commit(
                offsets=[TopicPartition(topic, 0, i), TopicPartition(topic, 1, 2 * i)],
                asynchronous=False,
            )
    finally:
        consumer.close()
    offsets_dir = partition_dir(broker, "__consumer_offsets")
    written = cleaned = 0

    def shrunk() -> bool:
        nonlocal written, cleaned
        cleaned = cleaned_up_to(broker, "__consumer_offsets")
        try:
            written = records_on_disk(offsets_dir)[0]
        except FileNotFoundError:  # a segment swapped out while we read: look again
            return False
        return cleaned >= commits * 2 - 100 and written < commits / 10

    wait_for(shrunk, "__consumer_offsets-0 to be cleaned", broker)
    assert written < commits / 10 and cleaned > 0

    broker.restart()
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    try:
        committed = consumer.committed(
            [TopicPartition(topic, 0), TopicPartition(topic, 1)], TIMEOUT
        )
    finally:
        consumer.close()
    assert [(tp.partition, tp.offset) for tp in committed] == [(0, commits), (1, 2 * commits)]


def test_cleaner_workers_end_with_a_killed_broker(broker_factory: Any) -> None:
    """A SIGKILLed broker cannot stop its cleaner pool: its worker processes (and
    multiprocessing's resource tracker) must notice and exit rather than live on as orphans."""
    broker: BrokerProcess = broker_factory(overrides=BROKER_OVERRIDES)
    topic = unique_topic("orphans")
    create_topic(broker, topic, compact_configs())
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    deadline = time.monotonic() + 60
    workers: list[processes.ProcessInfo] = []
    while not workers and time.monotonic() < deadline:
        for i in range(200):
            producer.produce(topic, key=f"k{i % 20}".encode(), value=b"v" * 100, partition=0)
        producer.flush(TIMEOUT)
        workers = [p for p in processes.descendants(broker.pid) if "spawn_main" in p.cmdline]
    assert workers, f"no cleaner worker started\n{broker.log()}"
    family = processes.descendants(broker.pid)
    broker.kill()
    alive = processes.wait_gone([p.pid for p in family], timeout=15)
    assert not alive, [p for p in family if p.pid in alive]
