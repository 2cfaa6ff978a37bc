"""Malformed, hostile and edge-case input over raw sockets against one broker process.

After every case the broker must still serve a fresh connection (ApiVersions + Metadata), and a
connection that was already open — with a long-poll Fetch in flight during the case — must be
unaffected: its Fetch is answered and it keeps serving requests.
"""

from __future__ import annotations

import random
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from odradek.protocol.records.codec import decode_batches, encode_batch
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import (
    API_VERSIONS,
    CREATE_TOPICS,
    DELETE_TOPICS,
    FETCH,
    LIST_OFFSETS,
    METADATA,
    PRODUCE,
    ConnectionClosedError,
    RawClient,
    frame,
    header_bytes,
    request_bytes,
    request_module,
    response_class,
)

pytestmark = pytest.mark.integration

MAX_REQUEST_BYTES = 1_048_576
TOPIC_MAX_MESSAGE_BYTES = 4096

NONE = 0
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
INVALID_REQUIRED_ACKS = 21
UNSUPPORTED_VERSION = 35
UNSUPPORTED_FOR_MESSAGE_FORMAT = 43

BYSTANDER_TOPIC = "bystander"
BYSTANDER_WAIT_MS = 300


@pytest.fixture(scope="module")
def bad_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One broker for the whole module (what ``broker_factory(overrides=...)`` starts, but
    shared, so that every case also proves the earlier ones left it healthy)."""
    broker = BrokerProcess(
        tmp_path_factory.mktemp("bad-input") / "data",
        overrides={"socket.request.max.bytes": str(MAX_REQUEST_BYTES)},
    )
    broker.start()
    with RawClient.to(broker.bootstrap) as client:
        client.create_topic(BYSTANDER_TOPIC)
    yield broker
    broker.kill()


@pytest.fixture
def client(bad_broker: BrokerProcess) -> Iterator[RawClient]:
    with RawClient.to(bad_broker.bootstrap) as raw:
        yield raw


@dataclass
class Bystander:
    """An established connection with a long-poll Fetch (on an empty partition) in flight
    while a case runs; ``log_mark`` is where the broker log stood when the case began."""

    client: RawClient
    fetch_id: int
    log_mark: int


@pytest.fixture
def bystander(bad_broker: BrokerProcess) -> Iterator[Bystander]:
    with RawClient.to(bad_broker.bootstrap) as raw:
        raw.api_versions()
        end = raw.latest_offset(BYSTANDER_TOPIC)
        correlation_id = raw.send(
            raw.fetch_request(BYSTANDER_TOPIC, 0, end, max_wait_ms=BYSTANDER_WAIT_MS)
        )
        yield Bystander(raw, correlation_id, bad_broker.log_path.stat().st_size)


def broker_log_since(broker: BrokerProcess, mark: int) -> str:
    with open(broker.log_path, "rb") as log_file:
        log_file.seek(mark)
        return log_file.read().decode(errors="replace")


def assert_still_serving(broker: BrokerProcess, bystander: Bystander) -> None:
    """The broker is alive, serves a fresh connection, the bystander connection is unaffected,
    and nothing the client sent was treated as an internal error (a handler exception)."""
    assert broker.proc is not None and broker.proc.poll() is None, f"broker died:\n{broker.log()}"
    with RawClient.to(broker.bootstrap, timeout=5) as fresh:
        versions = fresh.api_versions()
        assert versions.error_code == NONE
        assert fresh.metadata([BYSTANDER_TOPIC]).topics[0].error_code == NONE
    raw = bystander.client
    got, body = raw.receive(FETCH, 12)
    assert got == bystander.fetch_id
    assert body.responses[0].partitions[0].error_code == NONE
    assert raw.api_versions().error_code == NONE
    assert raw.metadata([BYSTANDER_TOPIC]).topics[0].error_code == NONE
    log_text = broker_log_since(broker, bystander.log_mark)
    internal = [
        line
        for line in log_text.splitlines()
        if "unexpected error" in line or "Traceback" in line or "Error:" in line
    ]
    assert not internal, "client input caused an internal error in the broker:\n" + log_text


def expect_error_or_close(raw: RawClient, correlation_id: int | None, timeout: float = 2.0) -> str:
    """The broker must answer ``correlation_id`` or close the connection within ``timeout``;
    silence (a broker waiting for more bytes, or stuck) fails. Returns what happened."""
    raw.sock.settimeout(timeout)
    try:
        payload = raw.receive_frame()
    except (ConnectionClosedError, ConnectionResetError):
        return "closed"
    except TimeoutError:
        pytest.fail(f"no response and no close within {timeout}s")
    (got,) = struct.unpack_from(">i", payload)
    assert correlation_id is not None and got == correlation_id, (
        f"unexpected response with correlation id {got}"
    )
    return "response"


def unique(prefix: str) -> str:
    return f"{prefix}-{random.randrange(16**8):08x}"


# -- framing -----------------------------------------------------------------------------------


def test_oversized_frame_closes_connection_promptly(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander
) -> None:
    header = header_bytes(METADATA, 12, 7, flexible=True)
    client.send_bytes(struct.pack(">i", 2**30) + header)  # announce 1 GiB, send ~30 bytes
    started = time.monotonic()
    assert client.closed_by_peer(timeout=2.0), "connection not closed within 2s"
    assert time.monotonic() - started < 2.0
    assert_still_serving(bad_broker, bystander)


def test_frame_just_over_the_limit_is_refused(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander
) -> None:
    client.send_bytes(struct.pack(">i", MAX_REQUEST_BYTES + 1))
    assert client.closed_by_peer(timeout=2.0)
    assert_still_serving(bad_broker, bystander)


def test_negative_frame_size(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander
) -> None:
    client.send_bytes(struct.pack(">i", -5) + b"\x00" * 16)
    assert client.closed_by_peer(timeout=2.0)
    assert_still_serving(bad_broker, bystander)


def test_http_request_is_not_kafka(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander
) -> None:
    # "GET " read as a frame size is ~1.2 GB: refused without buffering.
    client.send_bytes(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert client.closed_by_peer(timeout=2.0)
    assert_still_serving(bad_broker, bystander)


@pytest.mark.parametrize("seed", range(8))
def test_random_garbage_frames(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, seed: int
) -> None:
    rng = random.Random(seed)
    payload = rng.randbytes(rng.randrange(1, 300))
    (correlation_id,) = struct.unpack_from(">i", payload.ljust(8, b"\x00"), 4)
    client.send_bytes(frame(payload))
    expect_error_or_close(client, correlation_id)
    assert_still_serving(bad_broker, bystander)


@pytest.mark.parametrize("seed", range(4))
def test_random_garbage_after_valid_header(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, seed: int
) -> None:
    rng = random.Random(1000 + seed)
    api_key, version = rng.choice([(PRODUCE, 9), (FETCH, 12), (METADATA, 12), (METADATA, 1)])
    payload = header_bytes(api_key, version, 42, flexible=version >= 9) + rng.randbytes(
        rng.randrange(0, 200)
    )
    client.send_bytes(frame(payload))
    expect_error_or_close(client, 42)
    assert_still_serving(bad_broker, bystander)


# -- request headers -----------------------------------------------------------------------------


def test_unknown_api_key(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander
) -> None:
    client.send_bytes(frame(header_bytes(999, 0, 5)))
    expect_error_or_close(client, 5)
    assert_still_serving(bad_broker, bystander)


def test_unsupported_metadata_version(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander
) -> None:
    body = request_module(METADATA, 12).MetadataRequest(
        topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False
    )
    client.send_bytes(frame(request_bytes(body, 6, version=99)))
    expect_error_or_close(client, 6)
    assert_still_serving(bad_broker, bystander)


def test_request_shorter_than_its_header(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander
) -> None:
    client.send_bytes(frame(b"\x00\x03\x00"))
    assert expect_error_or_close(client, None) == "closed"
    assert_still_serving(bad_broker, bystander)


def test_truncated_request_body(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander
) -> None:
    request = client.produce_request(BYSTANDER_TOPIC, 0, encode_batch([(b"k", b"v" * 100)]))
    whole = request_bytes(request, 9)
    header_size = len(header_bytes(PRODUCE, 9, 9, flexible=True))
    truncated = whole[: header_size + (len(whole) - header_size) // 2]
    before = client.latest_offset(BYSTANDER_TOPIC)
    client.send_bytes(frame(truncated))
    expect_error_or_close(client, 9)
    assert_still_serving(bad_broker, bystander)
    with RawClient.to(bad_broker.bootstrap) as fresh:
        assert fresh.latest_offset(BYSTANDER_TOPIC) == before


def test_api_versions_unknown_version_gets_v0_unsupported_version(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander
) -> None:
    body = request_module(API_VERSIONS, 3).ApiVersionsRequest(
        client_software_name="future-client", client_software_version="9.9"
    )
    correlation_id = 77
    client.send_bytes(frame(request_bytes(body, correlation_id, version=99)))
    got, response = client.receive(API_VERSIONS, 0)  # v0 layout: asserts no trailing bytes
    assert got == correlation_id
    assert response.error_code == UNSUPPORTED_VERSION
    ranges = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
    assert API_VERSIONS in ranges and ranges[API_VERSIONS][0] == 0
    assert METADATA in ranges and PRODUCE in ranges
    # The connection stays usable: the client retries with a version from the list.
    assert client.api_versions(version=min(3, ranges[API_VERSIONS][1])).error_code == NONE
    assert_still_serving(bad_broker, bystander)


# -- produce ---------------------------------------------------------------------------------


@pytest.fixture
def topic(client: RawClient) -> str:
    name = unique("bad-produce")
    client.create_topic(name, 1, {"max.message.bytes": str(TOPIC_MAX_MESSAGE_BYTES)})
    assert client.produce(name, 0, encode_batch([(b"seed", b"seed")])).error_code == NONE
    return name


def test_produce_corrupted_crc(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, topic: str
) -> None:
    before = client.latest_offset(topic)
    batch = bytearray(encode_batch([(b"k1", b"value-1"), (b"k2", b"value-2")]))
    batch[-3] ^= 0xFF  # inside the last record's value: under the CRC
    result = client.produce(topic, 0, bytes(batch))
    assert result.error_code == CORRUPT_MESSAGE
    assert client.latest_offset(topic) == before
    assert_still_serving(bad_broker, bystander)


def test_produce_corrupted_crc_field(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, topic: str
) -> None:
    before = client.latest_offset(topic)
    batch = bytearray(encode_batch([(b"k", b"v")]))
    batch[17] ^= 0x01  # the stored CRC itself
    assert client.produce(topic, 0, bytes(batch)).error_code == CORRUPT_MESSAGE
    assert client.latest_offset(topic) == before
    assert_still_serving(bad_broker, bystander)


def magic_v1_message(key: bytes, value: bytes, timestamp: int = 1_700_000_000_000) -> bytes:
    """A legacy (magic 1) message set of one message."""
    body = struct.pack(">bbq", 1, 0, timestamp)
    body += struct.pack(">i", len(key)) + key + struct.pack(">i", len(value)) + value
    message = struct.pack(">I", zlib.crc32(body)) + body
    return struct.pack(">qi", 0, len(message)) + message


def test_produce_magic_1_is_unsupported(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, topic: str
) -> None:
    before = client.latest_offset(topic)
    result = client.produce(topic, 0, magic_v1_message(b"key", b"legacy value"))
    assert result.error_code == UNSUPPORTED_FOR_MESSAGE_FORMAT
    assert client.latest_offset(topic) == before
    assert_still_serving(bad_broker, bystander)


def test_produce_to_missing_partition(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, topic: str
) -> None:
    result = client.produce(topic, 7, encode_batch([(b"k", b"v")]))
    assert result.error_code == UNKNOWN_TOPIC_OR_PARTITION
    assert_still_serving(bad_broker, bystander)


def test_produce_to_missing_topic(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander
) -> None:
    name = unique("never-created")
    result = client.produce(name, 0, encode_batch([(b"k", b"v")]))
    assert result.error_code == UNKNOWN_TOPIC_OR_PARTITION
    # Produce does not create topics (only Metadata with auto-creation allowed does).
    assert client.metadata([name]).topics[0].error_code == UNKNOWN_TOPIC_OR_PARTITION
    assert_still_serving(bad_broker, bystander)


def test_produce_batch_over_max_message_bytes(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, topic: str
) -> None:
    before = client.latest_offset(topic)
    batch = encode_batch([(b"big", random.randbytes(TOPIC_MAX_MESSAGE_BYTES + 100))])
    assert len(batch) > TOPIC_MAX_MESSAGE_BYTES
    assert client.produce(topic, 0, batch).error_code == MESSAGE_TOO_LARGE
    assert client.latest_offset(topic) == before
    # A batch just under the limit is fine.
    fits = encode_batch([(b"ok", b"x" * (TOPIC_MAX_MESSAGE_BYTES - 200))])
    assert len(fits) <= TOPIC_MAX_MESSAGE_BYTES
    assert client.produce(topic, 0, fits).error_code == NONE
    assert client.latest_offset(topic) == before + 1
    assert_still_serving(bad_broker, bystander)


def test_produce_acks_0_gets_no_response_but_appends(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, topic: str
) -> None:
    before = client.latest_offset(topic)
    batch = encode_batch([(b"k0", b"fire"), (b"k1", b"and-forget")])
    client.send(client.produce_request(topic, 0, batch, acks=0))
    # The next response on this connection must be the ApiVersions one: nothing for acks=0.
    assert client.api_versions().error_code == NONE
    assert client.latest_offset(topic) == before + 2
    data = client.fetch(topic, 0, before)
    assert data.error_code == NONE
    values = [
        r.value for b in decode_batches(data.records) for r in b.records if r.offset >= before
    ]
    assert values == [b"fire", b"and-forget"]
    assert_still_serving(bad_broker, bystander)


def test_failed_acks_0_produce_closes_the_connection(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, topic: str
) -> None:
    """acks=0 has no response to carry an error, so the broker closes the connection (as Kafka
    does) and appends nothing."""
    before = client.latest_offset(topic)
    batch = bytearray(encode_batch([(b"k", b"v")]))
    batch[-2] ^= 0xFF
    client.send(client.produce_request(topic, 0, bytes(batch), acks=0))
    assert client.closed_by_peer(timeout=2.0)
    with RawClient.to(bad_broker.bootstrap) as fresh:
        assert fresh.latest_offset(topic) == before
    assert_still_serving(bad_broker, bystander)


def test_produce_invalid_acks(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, topic: str
) -> None:
    before = client.latest_offset(topic)
    result = client.produce(topic, 0, encode_batch([(b"k", b"v")]), acks=2)
    assert result.error_code == INVALID_REQUIRED_ACKS
    assert client.latest_offset(topic) == before
    assert_still_serving(bad_broker, bystander)


# -- fetch and pipelining --------------------------------------------------------------------


def test_fetch_past_log_end(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, topic: str
) -> None:
    end = client.latest_offset(topic)
    assert client.fetch(topic, 0, end).error_code == NONE  # the log end itself is valid
    result = client.fetch(topic, 0, end + 10)
    assert result.error_code == OFFSET_OUT_OF_RANGE
    assert result.records in (b"", None)
    assert client.fetch(topic, 0, end + 1).error_code == OFFSET_OUT_OF_RANGE
    assert client.fetch(topic, 0, -5).error_code == OFFSET_OUT_OF_RANGE  # below log start
    assert_still_serving(bad_broker, bystander)


def test_pipelined_responses_come_back_in_request_order(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander
) -> None:
    empty = unique("pipeline-empty")
    client.create_topic(empty)
    api_versions = request_module(API_VERSIONS, 3).ApiVersionsRequest(
        client_software_name="pipeline", client_software_version="1"
    )
    metadata = request_module(METADATA, 12).MetadataRequest(
        topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False
    )
    slow_fetch = client.fetch_request(empty, 0, 0, max_wait_ms=200)
    rng = random.Random(7)
    requests = [rng.choice([api_versions, metadata, slow_fetch]) for _ in range(50)]
    requests[0] = slow_fetch  # a delayed response first: everything else must wait for it
    expected: list[tuple[int, Any]] = []
    wire = bytearray()
    for request in requests:
        correlation_id = client.next_correlation_id()
        expected.append((correlation_id, request))
        wire += frame(request_bytes(request, correlation_id))
    started = time.monotonic()
    client.send_bytes(bytes(wire))
    for correlation_id, request in expected:
        got, body = client.receive(request.__api_key__, request.__version__)
        assert got == correlation_id, "responses out of request order"
        assert isinstance(body, response_class(request.__api_key__, request.__version__))
        if request is slow_fetch:
            assert body.responses[0].partitions[0].error_code == NONE
    elapsed = time.monotonic() - started
    fetches = sum(r is slow_fetch for r in requests)
    # Delayed fetches wait concurrently, not one after another.
    assert elapsed < 0.2 * fetches / 2, f"{fetches} pipelined fetches took {elapsed:.2f}s"
    assert_still_serving(bad_broker, bystander)


def test_half_closed_client_still_gets_its_response(
    bad_broker: BrokerProcess, bystander: Bystander
) -> None:
    host, port = bad_broker.bootstrap.rsplit(":", 1)
    raw = RawClient(host, int(port))
    try:
        correlation_id = raw.send(
            request_module(API_VERSIONS, 3).ApiVersionsRequest(
                client_software_name="half-close", client_software_version="1"
            )
        )
        raw.sock.shutdown(socket.SHUT_WR)
        raw.sock.settimeout(2)
        try:
            got, _ = raw.receive(API_VERSIONS, 3)
            assert got == correlation_id
        except (ConnectionClosedError, ConnectionResetError):
            pass  # Kafka closes half-closed connections too; either is acceptable
    finally:
        raw.close()
    assert_still_serving(bad_broker, bystander)


# -- null where the schema forbids it, and mutated requests ------------------------------------

# Request bodies whose first non-nullable array is encoded as null (compact length 0 in flexible
# versions, -1 in older ones). Kafka's parser rejects these ("non-nullable field ... was
# serialized as null") and closes the connection; it must not reach a handler.
NULL_ARRAY_BODIES: dict[str, tuple[int, int, bytes]] = {
    # transactional_id null, acks 1, timeout, topic_data null, no tagged fields
    "produce-v9-topic_data": (PRODUCE, 9, b"\x00" + struct.pack(">hi", 1, 1000) + b"\x00\x00"),
    "produce-v3-topic_data": (PRODUCE, 3, struct.pack(">hhii", -1, 1, 1000, -1)),
    "fetch-v12-topics": (
        FETCH,
        12,
        struct.pack(">iiiibii", -1, 0, 1, 1000, 0, 0, -1) + b"\x00\x01\x01\x00",
    ),
    "fetch-v4-topics": (FETCH, 4, struct.pack(">iiiibi", -1, 0, 1, 1000, 0, -1)),
    "list-offsets-v7-topics": (LIST_OFFSETS, 7, struct.pack(">ib", -1, 0) + b"\x00\x00"),
    "create-topics-v7-topics": (CREATE_TOPICS, 7, b"\x00" + struct.pack(">ib", 1000, 0) + b"\x00"),
    "delete-topics-v6-topics": (DELETE_TOPICS, 6, b"\x00" + struct.pack(">i", 1000) + b"\x00"),
}


@pytest.mark.parametrize("case", sorted(NULL_ARRAY_BODIES))
def test_null_non_nullable_array_closes_connection(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, case: str
) -> None:
    api_key, version, body = NULL_ARRAY_BODIES[case]
    flexible = (
        version
        >= {PRODUCE: 9, FETCH: 12, LIST_OFFSETS: 6, CREATE_TOPICS: 5, DELETE_TOPICS: 4}[api_key]
    )
    client.send_bytes(frame(header_bytes(api_key, version, 11, flexible=flexible) + body))
    assert expect_error_or_close(client, 11) == "closed"
    assert_still_serving(bad_broker, bystander)


def test_produce_null_partition_data(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander
) -> None:
    # Produce v9 with one topic whose partition_data array is null.
    body = (
        b"\x00"
        + struct.pack(">hi", 1, 1000)
        + b"\x02"  # one topic
        + b"\x0a"
        + BYSTANDER_TOPIC.encode()
        + b"\x00\x00"
        + b"\x00"
    )
    client.send_bytes(frame(header_bytes(PRODUCE, 9, 12, flexible=True) + body))
    assert expect_error_or_close(client, 12) == "closed"
    assert_still_serving(bad_broker, bystander)


@pytest.mark.parametrize("seed", range(3))
def test_mutated_requests(
    bad_broker: BrokerProcess, client: RawClient, bystander: Bystander, seed: int
) -> None:
    """Valid requests with 1-3 random bytes of the body overwritten: each is answered or its
    connection closed within 2 s, and none is treated as an internal error."""
    name = unique("mutate")
    client.create_topic(name, 2)
    assert client.produce(name, 0, encode_batch([(b"k", b"v")] * 3)).error_code == NONE
    metadata = request_module(METADATA, 12)
    templates = [
        client.produce_request(
            name, 0, encode_batch([(b"k", b"v" * 20), (None, b"x")], timestamp=1_700_000_000_000)
        ),
        client.fetch_request(name, 0, 0, max_wait_ms=10),
        client.fetch_request(name, 1, 0, max_wait_ms=10),
        metadata.MetadataRequest(
            topics=(metadata.MetadataRequestTopic(topic_id=None, name=name),),
            allow_auto_topic_creation=False,
            include_topic_authorized_operations=False,
        ),
        client.list_offsets_request(name, 0),
    ]
    rng = random.Random(seed)
    outcomes = {"closed": 0, "response": 0}
    for _ in range(150):
        template = rng.choice(templates)
        payload = bytearray(request_bytes(template, 1234))
        start = len(
            header_bytes(
                template.__api_key__, template.__version__, 1234, flexible=template.__flexible__
            )
        )
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(start, len(payload))
            if template.__api_key__ == FETCH and start + 4 <= position < start + 8:
                continue  # max_wait: a mutated one is a legitimately long poll
            payload[position] = rng.randrange(256)
        with RawClient.to(bad_broker.bootstrap) as raw:
            raw.send_bytes(frame(bytes(payload)))
            outcomes[expect_error_or_close(raw, 1234)] += 1
    assert outcomes["closed"] and outcomes["response"], outcomes
    assert_still_serving(bad_broker, bystander)
