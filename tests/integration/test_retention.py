"""Retention against a broker process, with confluent-kafka clients: by time (retention.ms), by
size (retention.bytes) and by log start offset (DeleteRecords). Each is shown by the earliest
offset ListOffsets reports, by what a consumer from the beginning gets, and by the files on
disk: the segments go, and their ``*.deleted`` files stay for file.delete.delay.ms, then go."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
    OffsetSpec,
)

from tests.integration.clients import unique_topic
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

TIMEOUT = 15.0
CHECK_INTERVAL_S = 0.5  # log.retention.check.interval.ms
DELETE_DELAY_MS = 1500  # file.delete.delay.ms of the topics


@pytest.fixture(scope="module")
def retention_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(
        tmp_path_factory.mktemp("retention") / "data",
        overrides={
            "log.retention.check.interval.ms": str(int(CHECK_INTERVAL_S * 1000)),
            "log.cleaner.backoff.ms": "200",
        },
    ).start()
    yield broker
    broker.kill()


def create_topic(broker: BrokerProcess, configs: dict[str, str]) -> str:
    name = unique_topic("retention")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic = NewTopic(
        name,
        1,
        1,
        config={"segment.bytes": "4096", "file.delete.delay.ms": str(DELETE_DELAY_MS), **configs},
    )
    for future in admin.create_topics([topic]).values():
        future.result(TIMEOUT)
    return name


def produce(
    broker: BrokerProcess, topic: str, count: int, size: int = 200, timestamp: int = 0
) -> list[int]:
    """``count`` records of ``size`` bytes, one batch each."""
    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "linger.ms": 0,
            "acks": "all",
            "batch.num.messages": 1,
        }
    )
    offsets: list[int] = []

    def acked(err: object, msg: object) -> None:
        assert err is None, err
        offsets.append(msg.offset())  # type: ignore[attr-defined]

    for i in range(count):
        producer.produce(
            topic,
            key=f"k{i}".encode(),
            value=b"v" * size,
            partition=0,
            timestamp=timestamp,
            on_delivery=acked,
        )
        producer.poll(0)
    assert producer.flush(TIMEOUT) == 0
    return sorted(offsets)


def earliest(broker: BrokerProcess, topic: str) -> int:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    tp = TopicPartition(topic, 0)
    return int(admin.list_offsets({tp: OffsetSpec.earliest()})[tp].result(TIMEOUT).offset)


def first_consumed(broker: BrokerProcess, topic: str) -> int:
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": unique_topic("g"),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None:
                assert msg.error() is None, msg.error()
                offset = msg.offset()
                assert offset is not None  # a record has an offset
                return offset
        raise AssertionError("nothing consumed")
    finally:
        consumer.close()


def partition_dir(broker: BrokerProcess, topic: str) -> Path:
    return broker.data_dir / f"{topic}-0"


def segment_bases(directory: Path) -> list[int]:
    return sorted(int(p.name.split(".")[0]) for p in directory.glob("*.log"))


def deleted_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.deleted"))


class DeletionWatch(threading.Thread):
    """Polls a partition dir every 10 ms: when ``*.deleted`` files first appeared, which, and
    when none were left again."""

    def __init__(self, directory: Path) -> None:
        super().__init__(daemon=True)
        self.directory = directory
        self.first_seen: float | None = None
        self.gone: float | None = None
        self.seen: set[str] = set()
        self.deadline = time.monotonic() + 3 * TIMEOUT
        self.start()

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            names = deleted_files(self.directory)
            now = time.monotonic()
            if names:
                self.seen.update(names)
                self.first_seen = self.first_seen or now
            elif self.first_seen is not None:
                self.gone = now
                return
            time.sleep(0.01)

    def wait_until_gone(self, broker: BrokerProcess, timeout: float = TIMEOUT) -> float:
        """Seconds from the first ``*.deleted`` file to none left."""
        self.join(timeout)
        if self.gone is None or self.first_seen is None:
            problems = [
                line
                for line in broker.log_path.read_text().splitlines()
                if "Traceback" in line or "Error" in line or "deleted" in line
            ]
            pytest.fail(
                f"*.deleted files: seen={sorted(self.seen)[:6]} still="
                f"{deleted_files(self.directory)[:6]}\n" + "\n".join(problems[-30:]),
                pytrace=False,
            )
        return self.gone - self.first_seen


def wait_for_earliest(broker: BrokerProcess, topic: str, expected: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if earliest(broker, topic) == expected:
            return
        time.sleep(0.05)
    pytest.fail(
        f"earliest offset stayed {earliest(broker, topic)}, expected {expected}\n{broker.log()}",
        pytrace=False,
    )


def assert_deleted_files_lived_for_the_delay(
    watch: DeletionWatch, gone_after: float, bases: list[int]
) -> None:
    assert gone_after >= DELETE_DELAY_MS / 1000 - 0.05, gone_after
    deleted_logs = {int(n.split(".")[0]) for n in watch.seen if n.endswith(".log.deleted")}
    assert deleted_logs >= set(bases), (sorted(deleted_logs), bases)


def test_retention_ms(retention_broker: BrokerProcess) -> None:
    broker = retention_broker
    topic = create_topic(broker, {"retention.ms": "600000"})
    directory = partition_dir(broker, topic)
    old = int(time.time() * 1000) - 3_600_000  # an hour old: past retention.ms (10 minutes)
    assert produce(broker, topic, 100, timestamp=old) == list(range(100))
    old_bases = segment_bases(directory)
    assert len(old_bases) > 3

    watch = DeletionWatch(directory)
    wait_for_earliest(broker, topic, 100)  # everything expired, the active segment too
    gone_after = watch.wait_until_gone(broker)
    assert_deleted_files_lived_for_the_delay(watch, gone_after, old_bases)
    assert segment_bases(directory) == [100]

    assert produce(broker, topic, 20) == list(range(100, 120))  # current timestamps: kept
    time.sleep(3 * CHECK_INTERVAL_S)
    assert earliest(broker, topic) == 100
    assert first_consumed(broker, topic) == 100
    assert deleted_files(directory) == []


def test_retention_bytes(retention_broker: BrokerProcess) -> None:
    broker = retention_broker
    limit = 12_000
    topic = create_topic(broker, {"retention.bytes": str(limit)})
    directory = partition_dir(broker, topic)
    watch = DeletionWatch(directory)
    produce(broker, topic, 250)
    before = segment_bases(directory)

    def sizes() -> list[int]:
        found = []
        for base in segment_bases(directory):
            with contextlib.suppress(FileNotFoundError):  # (renamed meanwhile)
                found.append((directory / f"{base:020d}.log").stat().st_size)
        return found

    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and sum(sizes()) - sizes()[0] >= limit:
        time.sleep(0.05)
    total = sum(sizes())
    assert total - sizes()[0] < limit <= total  # Kafka keeps the newest segments that fit
    start = segment_bases(directory)[0]
    assert start > 0
    wait_for_earliest(broker, topic, start)
    assert first_consumed(broker, topic) == start
    gone_after = watch.wait_until_gone(broker)
    assert_deleted_files_lived_for_the_delay(watch, gone_after, [b for b in before if b < start])
    assert segment_bases(directory)[0] == start


def test_delete_records(retention_broker: BrokerProcess) -> None:
    broker = retention_broker
    topic = create_topic(broker, {})
    directory = partition_dir(broker, topic)
    produce(broker, topic, 300)
    before = segment_bases(directory)
    cut = 150
    following = min(b for b in before if b > cut)
    holding = max(b for b in before if b <= cut)

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    tp = TopicPartition(topic, 0, cut)
    watch = DeletionWatch(directory)
    assert admin.delete_records([tp])[tp].result(TIMEOUT).low_watermark == cut
    assert earliest(broker, topic) == cut
    assert first_consumed(broker, topic) == cut
    assert segment_bases(directory)[0] == holding  # only whole segments below 150 go
    gone_after = watch.wait_until_gone(broker)
    assert_deleted_files_lived_for_the_delay(watch, gone_after, [b for b in before if b < holding])
    assert segment_bases(directory) == [b for b in before if b >= holding]
    assert following > cut
