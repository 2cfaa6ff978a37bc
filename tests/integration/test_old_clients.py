"""Old clients (pre-0.11 protocol: Produce v0-2, Fetch v0-3, ListOffsets v0, magic v0/v1 message
sets) against a real broker process: Debian's kcat (librdkafka 2.0.2) in its default mode and
forced to the 0.10 and 0.9 protocols, and kafka-python pinned to api_version 0.10 / 0.9 / 0.8.2.
The stored batches are checked with ``odradek dump-log``: magic v2, with the client's codec."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka import TopicPartition as CkTopicPartition
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from odradek.protocol.records.legacy import LegacyMessage, inner_messages, read_messages
from tests.integration.clients import unique_topic
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient

pytestmark = pytest.mark.integration

KCAT_TIMEOUT = 60.0
NEEDS_KCAT = pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
# librdkafka without ApiVersions: the request versions a broker of that release offers.
OLD_PROTOCOL = {
    "0.10": ("-X", "api.version.request=false", "-X", "broker.version.fallback=0.10.0.0"),
    "0.9": ("-X", "api.version.request=false", "-X", "broker.version.fallback=0.9.0.0"),
}


def run_kcat(broker: BrokerProcess, *args: str, stdin: str | None = None) -> str:
    cmd = ["kcat", "-b", broker.bootstrap, *args]
    try:
        proc = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=KCAT_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{cmd} hung; stderr: {exc.stderr!r}\n{broker.log()}") from exc
    assert proc.returncode == 0, f"{cmd}: {proc.stderr}\n--- broker log ---\n{broker.log()}"
    assert "not compressing" not in proc.stderr, proc.stderr
    return proc.stdout


def stored_batches(broker: BrokerProcess, topic: str) -> list[tuple[int, str, int]]:
    """(magic, codec, record count) of every stored batch, as ``odradek dump-log`` prints."""
    files = sorted((broker.data_dir / f"{topic}-0").glob("*.log"))
    assert files, f"no segment for {topic}"
    proc = subprocess.run(
        [sys.executable, "-m", "odradek", "dump-log", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [
        (int(m["magic"]), m["codec"], int(m["count"]))
        for m in re.finditer(
            r"count: (?P<count>\d+) .*?magic: (?P<magic>\d+) compresscodec: (?P<codec>\w+)",
            proc.stdout,
        )
    ]


def assert_stored_with(broker: BrokerProcess, topic: str, codec: str, count: int) -> None:
    batches = stored_batches(broker, topic)
    assert batches, "dump-log printed no batch"
    assert {(magic, name) for magic, name, _ in batches} == {(2, codec)}, batches
    assert sum(n for _, _, n in batches) == count


def delete_records_before(broker: BrokerProcess, topic: str, offset: int) -> None:
    """Move partition 0's log start offset, so that "earliest" is not offset 0."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    tp = CkTopicPartition(topic, 0, offset)
    assert admin.delete_records([tp])[tp].result(timeout=30).low_watermark == offset


def lines(n: int) -> list[str]:
    # Compressible even alone: librdkafka sends a batch uncompressed when compressing does not
    # make it smaller.
    return [f"key{i}:value-{i}-{'x' * 300}" for i in range(n)]


# -- kcat ------------------------------------------------------------------------------------------


@NEEDS_KCAT
@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4"])
def test_kcat_compresses(shared_broker: BrokerProcess, codec: str) -> None:
    """Debian's librdkafka decides codec support from the Produce/Fetch versions offered."""
    topic = unique_topic(f"old-kcat-{codec}")
    sent = lines(100)
    run_kcat(
        shared_broker,
        "-P",
        "-t",
        topic,
        "-K:",
        "-z",
        codec,
        "-d",
        "feature",
        stdin="\n".join(sent) + "\n",
    )
    assert_stored_with(shared_broker, topic, codec, len(sent))
    out = run_kcat(
        shared_broker, "-C", "-t", topic, "-e", "-q", "-o", "beginning", "-f", r"%k:%s\n"
    )
    assert out.splitlines() == sent


@NEEDS_KCAT
@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4"])
@pytest.mark.parametrize("protocol", sorted(OLD_PROTOCOL))
def test_kcat_old_protocol(shared_broker: BrokerProcess, protocol: str, codec: str) -> None:
    """librdkafka speaking 0.10 (magic 1) or 0.9 (magic 0, LZ4 with KAFKA-3160's checksum)."""
    topic = unique_topic(f"old-kcat-{protocol}-{codec}")
    sent = lines(60)
    old = OLD_PROTOCOL[protocol]
    run_kcat(
        shared_broker, "-P", "-t", topic, "-K:", "-z", codec, *old, stdin="\n".join(sent) + "\n"
    )
    assert_stored_with(shared_broker, topic, codec, len(sent))
    out = run_kcat(
        shared_broker,
        "-C",
        "-t",
        topic,
        "-p",
        "0",
        "-o",
        "beginning",
        "-e",
        "-q",
        "-f",
        r"%k:%s:%o\n",
        *old,
    )
    assert out.splitlines() == [f"{line}:{i}" for i, line in enumerate(sent)]


@NEEDS_KCAT
@pytest.mark.parametrize("protocol", sorted(OLD_PROTOCOL))
def test_kcat_old_protocol_offset_reset(shared_broker: BrokerProcess, protocol: str) -> None:
    """Without ApiVersions, librdkafka below 0.10.1 resolves beginning/end/tail offsets with
    ListOffsets v0 (earliest -2, latest -1, one offset)."""
    topic = unique_topic(f"old-kcat-reset-{protocol}")
    old = OLD_PROTOCOL[protocol]
    run_kcat(
        shared_broker,
        "-P",
        "-t",
        topic,
        "-p",
        "0",
        *old,
        stdin="\n".join(f"m{i}" for i in range(10)) + "\n",
    )
    delete_records_before(shared_broker, topic, 3)

    def consume_from(offset: str) -> list[str]:
        return run_kcat(
            shared_broker,
            "-C",
            "-t",
            topic,
            "-p",
            "0",
            "-o",
            offset,
            "-e",
            "-q",
            "-f",
            r"%o:%s\n",
            *old,
        ).splitlines()

    assert consume_from("beginning") == [f"{i}:m{i}" for i in range(3, 10)]
    assert consume_from("end") == []
    assert consume_from("-4") == [f"{i}:m{i}" for i in range(6, 10)]  # 4 before the end


# -- kafka-python ----------------------------------------------------------------------------------


@pytest.fixture
def closing() -> Iterator[list[Any]]:
    clients: list[Any] = []
    yield clients
    for client in clients:
        client.close()


def old_consumer(
    broker: BrokerProcess,
    topic: str,
    api_version: tuple[int, ...],
    closing: list[Any],
    reset: str = "earliest",
) -> Any:
    """A consumer assigned partition 0, with no committed offset: its position comes from
    ListOffsets (v0 for these API versions) with the reset policy."""
    consumer = KafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        api_version=api_version,
        auto_offset_reset=reset,
        consumer_timeout_ms=2000,
    )
    closing.append(consumer)
    consumer.assign([TopicPartition(topic, 0)])
    return consumer


def poll_records(consumer: Any, expected: int) -> list[tuple[int, bytes | None, bytes | None]]:
    got: list[tuple[int, bytes | None, bytes | None]] = []
    deadline = time.monotonic() + 30
    while len(got) < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            got.extend((r.offset, r.key, r.value) for r in records)
    return got


def consume(
    broker: BrokerProcess,
    topic: str,
    api_version: tuple[int, ...],
    expected: int,
    closing: list[Any],
) -> list[tuple[int, bytes | None, bytes | None]]:
    return poll_records(old_consumer(broker, topic, api_version, closing), expected)


KAFKA_PYTHON_CASES = [
    ((0, 10), "gzip"),
    ((0, 10), "snappy"),
    ((0, 10), "lz4"),
    ((0, 10), None),
    ((0, 9), "gzip"),
    ((0, 9), "snappy"),
    ((0, 9), None),
    ((0, 8, 2), "gzip"),
    ((0, 8, 2), "snappy"),
    # magic 0 LZ4 needs the xxhash package in kafka-python (for KAFKA-3160); kcat covers it.
]


@pytest.mark.parametrize(
    ("api_version", "codec"),
    KAFKA_PYTHON_CASES,
    ids=[f"{'.'.join(map(str, v))}-{c}" for v, c in KAFKA_PYTHON_CASES],
)
def test_kafka_python_old_api(
    shared_broker: BrokerProcess,
    closing: list[Any],
    api_version: tuple[int, ...],
    codec: str | None,
) -> None:
    topic = unique_topic(f"old-kp-{'-'.join(map(str, api_version))}-{codec}")
    producer = KafkaProducer(
        bootstrap_servers=shared_broker.bootstrap,
        api_version=api_version,
        compression_type=codec,
        linger_ms=100,
    )
    closing.append(producer)
    sent = [(f"k{i}".encode(), f"value {i} ".encode() * (i % 7 + 1)) for i in range(40)]
    futures = [producer.send(topic, key=k, value=v, partition=0) for k, v in sent]
    producer.flush(timeout=30)
    offsets = [f.get(timeout=30).offset for f in futures]
    assert offsets == list(range(len(sent)))
    assert_stored_with(shared_broker, topic, codec or "none", len(sent))
    got = consume(shared_broker, topic, api_version, len(sent), closing)
    assert got == [(i, k, v) for i, (k, v) in enumerate(sent)]


OLD_CONSUMER_VERSIONS = [(0, 10), (0, 9)]


@pytest.mark.parametrize("api_version", OLD_CONSUMER_VERSIONS, ids=["0.10", "0.9"])
def test_kafka_python_old_api_offset_reset(
    shared_broker: BrokerProcess, closing: list[Any], api_version: tuple[int, ...]
) -> None:
    """auto_offset_reset with ListOffsets v0: 'earliest' starts at the log start offset (not
    0, after DeleteRecords), 'latest' at the high watermark and sees only what comes after."""
    topic = unique_topic(f"old-kp-reset-{'-'.join(map(str, api_version))}")
    producer = KafkaProducer(bootstrap_servers=shared_broker.bootstrap, api_version=api_version)
    closing.append(producer)

    def send(values: range) -> None:
        futures = [producer.send(topic, value=f"v{i}".encode(), partition=0) for i in values]
        producer.flush(timeout=30)
        assert [f.get(timeout=30).offset for f in futures] == list(values)

    send(range(10))
    delete_records_before(shared_broker, topic, 4)
    tp = TopicPartition(topic, 0)
    earliest = old_consumer(shared_broker, topic, api_version, closing, reset="earliest")
    assert earliest.position(tp) == 4
    latest = old_consumer(shared_broker, topic, api_version, closing, reset="latest")
    assert latest.position(tp) == 10
    send(range(10, 15))
    assert [(o, v) for o, _, v in poll_records(earliest, 11)] == [
        (i, f"v{i}".encode()) for i in range(4, 15)
    ]
    assert [(o, v) for o, _, v in poll_records(latest, 5)] == [
        (i, f"v{i}".encode()) for i in range(10, 15)
    ]


def test_idempotent_and_transactional_batches_are_down_converted(
    shared_broker: BrokerProcess, closing: list[Any]
) -> None:
    """As Kafka 3.x: v2 batches with producer ids (and transaction markers) reach old
    consumers as plain messages; the markers are dropped, their offsets skipped."""
    topic = unique_topic("old-downconvert-eos")
    idempotent = Producer(
        {
            "bootstrap.servers": shared_broker.bootstrap,
            "enable.idempotence": True,
            "compression.type": "lz4",
        }
    )
    for i in range(10):
        idempotent.produce(topic, key=b"k", value=f"idem-{i}".encode(), partition=0)
    assert idempotent.flush(30) == 0
    txn = Producer(
        {"bootstrap.servers": shared_broker.bootstrap, "transactional.id": unique_topic("old-txn")}
    )
    txn.init_transactions(30)
    txn.begin_transaction()
    for i in range(5):
        txn.produce(topic, key=b"k", value=f"txn-{i}".encode(), partition=0)
    txn.commit_transaction(30)
    assert txn.flush(30) == 0
    got = consume(shared_broker, topic, (0, 10), 15, closing)
    assert [v for _, _, v in got] == [f"idem-{i}".encode() for i in range(10)] + [
        f"txn-{i}".encode() for i in range(5)
    ]
    assert [o for o, _, _ in got] == list(range(15))  # the marker comes after them
    if shutil.which("kcat"):
        # -c, not -e: the dropped marker at the log end keeps an old client short of the high
        # watermark (as with Kafka), so it would never see the end of the partition.
        out = run_kcat(
            shared_broker,
            "-C",
            "-t",
            topic,
            "-p",
            "0",
            "-o",
            "beginning",
            "-c",
            "15",
            "-q",
            "-f",
            r"%s\n",
            *OLD_PROTOCOL["0.9"],
        )
        assert out.splitlines() == [(v or b"").decode() for _, _, v in got]


# -- raw requests: what the conformance sweep (kio-based) cannot send ----------------------------


def _string(value: str) -> bytes:
    return struct.pack(">h", len(value)) + value.encode()


def _request(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    payload = struct.pack(">hhi", api_key, version, correlation_id) + _string("raw-old") + body
    return struct.pack(">i", len(payload)) + payload


def legacy_message_set(values: list[bytes], magic: int) -> bytes:
    from odradek.protocol.records.legacy import encode_message_set

    return encode_message_set(
        [(i, int(time.time() * 1000), b"k", v) for i, v in enumerate(values)], magic=magic
    )


def raw_produce(
    client: RawClient, version: int, topic: str, records: bytes, correlation_id: int
) -> tuple[int, int]:
    body = (
        struct.pack(">hi", 1, 10_000)
        + struct.pack(">i", 1)
        + _string(topic)
        + struct.pack(">i", 1)
        + struct.pack(">ii", 0, len(records))
        + records
    )
    client.send_bytes(_request(0, version, correlation_id, body))
    response = client.receive_frame()
    got_id, topics = struct.unpack_from(">ii", response, 0)
    assert (got_id, topics) == (correlation_id, 1)
    position = 8 + 2 + len(topic.encode())
    partitions, index, error, base_offset = struct.unpack_from(">iihq", response, position)
    expected_size = position + 18 + (8 if version >= 2 else 0) + (4 if version >= 1 else 0)
    assert (partitions, index, len(response)) == (1, 0, expected_size)
    return error, base_offset


def raw_fetch(
    client: RawClient,
    version: int,
    topic: str,
    offset: int,
    partition_max: int,
    correlation_id: int,
) -> tuple[int, int, bytes]:
    body = struct.pack(">iii", -1, 100, 1)
    if version >= 3:
        body += struct.pack(">i", 10_000_000)
    body += (
        struct.pack(">i", 1)
        + _string(topic)
        + struct.pack(">i", 1)
        + struct.pack(">iqi", 0, offset, partition_max)
    )
    client.send_bytes(_request(1, version, correlation_id, body))
    response = client.receive_frame()
    position = 4 + (4 if version >= 1 else 0)
    assert struct.unpack_from(">i", response, 0)[0] == correlation_id
    position += 4 + 2 + len(topic.encode()) + 4
    index, error, high_watermark, size = struct.unpack_from(">ihqi", response, position)
    position += 18
    assert index == 0 and len(response) == position + max(size, 0)
    return error, high_watermark, response[position : position + max(size, 0)]


def shallow(data: bytes) -> list[LegacyMessage]:
    return [m for m, _ in read_messages(data)]


@pytest.mark.parametrize("version", [0, 1, 2])
def test_raw_produce_and_fetch_every_legacy_version(
    shared_broker: BrokerProcess, version: int
) -> None:
    topic = unique_topic(f"old-raw-v{version}")
    magic = 1 if version == 2 else 0
    with RawClient.to(shared_broker.bootstrap) as client:
        client.create_topic(topic)
        assert raw_produce(client, version, topic, legacy_message_set([b"a", b"b"], magic), 1) == (
            0,
            0,
        )
        assert raw_produce(client, version, topic, legacy_message_set([b"c"], magic), 2) == (0, 2)
        for fetch_version in range(4):
            error, high_watermark, data = raw_fetch(
                client, fetch_version, topic, 1, 1 << 20, 3 + fetch_version
            )
            assert (error, high_watermark) == (0, 3)
            got = shallow(data)
            assert [(m.offset, m.value) for m in got] == [(1, b"b"), (2, b"c")]
            assert {m.magic for m in got} == {0 if fetch_version <= 1 else 1}
        assert client.api_versions().error_code == 0  # the connection is still in use


def test_fetch_limits_of_old_versions(shared_broker: BrokerProcess) -> None:
    """v0-2 have a hard partition limit: a bigger message arrives partial (the client reports
    it too large); v3 returns at least one whole message to the first partition (KIP-74)."""
    topic = unique_topic("old-raw-limits")
    with RawClient.to(shared_broker.bootstrap) as client:
        client.create_topic(topic)
        assert raw_produce(client, 2, topic, legacy_message_set([b"x" * 5000], 1), 1) == (0, 0)
        assert raw_produce(client, 2, topic, legacy_message_set([b"y" * 10], 1), 5) == (0, 1)
        error, _, data = raw_fetch(client, 2, topic, 0, 1000, 2)
        assert error == 0 and len(data) == 1000 and shallow(data) == []
        error, _, data = raw_fetch(client, 3, topic, 0, 1000, 3)
        assert error == 0
        assert [(m.offset, len(m.value or b"")) for m in shallow(data)] == [(0, 5000)]
        error, _, data = raw_fetch(client, 3, topic, 1, 1000, 4)
        assert [(m.offset, m.value) for m in shallow(data)] == [(1, b"y" * 10)]


def test_compressed_wrapper_fetched_from_the_middle(
    shared_broker: BrokerProcess, closing: list[Any]
) -> None:
    """A compressed v2 batch goes out whole (as Kafka's down-conversion): the client skips
    the records before its fetch offset."""
    topic = unique_topic("old-raw-wrapper")
    producer = KafkaProducer(
        bootstrap_servers=shared_broker.bootstrap,
        api_version=(0, 10),
        compression_type="gzip",
        linger_ms=200,
    )
    closing.append(producer)
    futures = [producer.send(topic, value=f"v{i}".encode(), partition=0) for i in range(10)]
    producer.flush(30)
    assert [f.get(30).offset for f in futures] == list(range(10))
    with RawClient.to(shared_broker.bootstrap) as client:
        _, _, data = raw_fetch(client, 2, topic, 4, 1 << 20, 1)
    wrappers = shallow(data)
    assert wrappers and all(w.compression == 1 for w in wrappers)
    inner = [m for w in wrappers for m in inner_messages(w)]
    assert [m.offset for m in inner if m.offset >= 4] == list(range(4, 10))


def raw_list_offsets_v0(
    client: RawClient, topic: str, partitions: list[tuple[int, int, int]], correlation_id: int
) -> list[tuple[int, int, list[int]]]:
    """(partition, error code, offsets) per (partition, timestamp, max_num_offsets) asked."""
    body = (
        struct.pack(">i", -1)
        + struct.pack(">i", 1)
        + _string(topic)
        + struct.pack(">i", len(partitions))
        + b"".join(struct.pack(">iqi", *partition) for partition in partitions)
    )
    client.send_bytes(_request(2, 0, correlation_id, body))
    response = client.receive_frame()
    got_id, topics = struct.unpack_from(">ii", response, 0)
    assert (got_id, topics) == (correlation_id, 1)
    position = 8 + 2 + len(topic.encode())
    assert response[8:position] == _string(topic)
    (count,) = struct.unpack_from(">i", response, position)
    position += 4
    result = []
    for _ in range(count):
        index, error, n = struct.unpack_from(">ihi", response, position)
        position += 10
        result.append((index, error, list(struct.unpack_from(f">{n}q", response, position))))
        position += 8 * n
    assert position == len(response), "ListOffsets v0 response has trailing bytes"
    return result


def test_raw_list_offsets_v0(shared_broker: BrokerProcess) -> None:
    """Kafka 3.x's v0 answers: segment start offsets (by segment file time) and the log end,
    newest first, up to max_num_offsets; errors per partition."""
    topic = unique_topic("old-raw-list-offsets")
    with RawClient.to(shared_broker.bootstrap) as client:
        # Each append but the first rolls a new segment: bases 0, 2, 3; log end 6.
        client.create_topic(topic, configs={"segment.bytes": "100"})
        for correlation_id, values in enumerate([[b"a", b"b"], [b"c"], [b"d", b"e", b"f"]]):
            assert (
                raw_produce(client, 2, topic, legacy_message_set(values, 1), correlation_id)[0] == 0
            )
        segments = sorted(
            int(p.stem) for p in (shared_broker.data_dir / f"{topic}-0").glob("*.log")
        )
        assert segments == [0, 2, 3]
        future = int(time.time() * 1000) + 3_600_000
        assert raw_list_offsets_v0(
            client,
            topic,
            [
                (0, -1, 1),
                (0, -2, 1),
                (0, -1, 10),
                (0, -2, 10),
                (0, -1, 0),
                (0, 0, 10),
                (0, future, 2),
                (0, future, 10),
                (1, -1, 1),
                (0, -1, -1),
            ],
            10,
        ) == [
            (0, 0, [6]),
            (0, 0, [0]),
            (0, 0, [6, 3, 2, 0]),
            (0, 0, [0]),
            (0, 0, []),
            (0, 0, []),
            (0, 0, [6, 3]),
            (0, 0, [6, 3, 2, 0]),
            (1, 3, []),  # UNKNOWN_TOPIC_OR_PARTITION
            (0, -1, []),  # UNKNOWN_SERVER_ERROR, as Kafka's negative array size
        ]
        assert raw_list_offsets_v0(client, unique_topic("old-raw-missing"), [(0, -1, 1)], 11) == [
            (0, 3, [])
        ]
        assert client.api_versions().error_code == 0  # the connection is still in use
