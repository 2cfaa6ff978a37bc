"""Produce v0-2, Fetch v0-3 and ListOffsets v0 request parsing and response encoding, against
byte layouts written out by hand from Kafka's message schemas."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from odradek.protocol import legacy_codec
from odradek.protocol.api_versions import (
    FETCH_KEY,
    LIST_OFFSETS_KEY,
    PRODUCE_KEY,
    SUPPORTED_APIS,
)
from odradek.protocol.codec import (
    RequestHeader,
    RequestParseError,
    build,
    encode_response,
    parse_request,
    request_module,
    response_module,
)


def string(value: str) -> bytes:
    return struct.pack(">h", len(value)) + value.encode()


def header(
    api_key: int, version: int, correlation_id: int = 42, client_id: str | None = "old-client"
) -> bytes:
    client = struct.pack(">h", -1) if client_id is None else string(client_id)
    return struct.pack(">hhi", api_key, version, correlation_id) + client


def produce_body(records: bytes | None) -> bytes:
    data = struct.pack(">i", -1) if records is None else struct.pack(">i", len(records)) + records
    return (
        struct.pack(">hi", -1, 1500)
        + struct.pack(">i", 1)
        + string("topic")
        + struct.pack(">i", 1)
        + struct.pack(">i", 3)
        + data
    )


def fetch_body(version: int) -> bytes:
    body = struct.pack(">iii", -1, 500, 1)
    if version >= 3:
        body += struct.pack(">i", 65536)
    return (
        body
        + struct.pack(">i", 1)
        + string("topic")
        + struct.pack(">i", 1)
        + struct.pack(">iqi", 2, 77, 1024)
    )


def list_offsets_body(*partitions: tuple[int, int, int], replica_id: int = -1) -> bytes:
    body = struct.pack(">i", replica_id) + struct.pack(">i", 1) + string("topic")
    body += struct.pack(">i", len(partitions))
    return body + b"".join(struct.pack(">iqi", *p) for p in partitions)


def joined(chunks: list[bytes | bytearray | memoryview]) -> bytes:
    return b"".join(bytes(c) for c in chunks)


def test_the_legacy_versions_are_advertised() -> None:
    assert SUPPORTED_APIS[PRODUCE_KEY][0] == 0
    assert SUPPORTED_APIS[FETCH_KEY][0] == 0
    for version in range(3):
        assert request_module(PRODUCE_KEY, version) is legacy_codec
    for version in range(4):
        assert response_module(FETCH_KEY, version) is legacy_codec
    assert response_module(PRODUCE_KEY, 3) is not legacy_codec


def test_list_offsets_v0_is_advertised_and_legacy() -> None:
    """Kafka 3.x serves ListOffsets 0-9; v0 goes through this codec (kio has no schema)."""
    assert SUPPORTED_APIS[LIST_OFFSETS_KEY] == (0, 9)
    assert legacy_codec.is_legacy_version(LIST_OFFSETS_KEY, 0)
    assert not legacy_codec.is_legacy_version(LIST_OFFSETS_KEY, 1)
    assert request_module(LIST_OFFSETS_KEY, 0) is legacy_codec
    assert response_module(LIST_OFFSETS_KEY, 0) is legacy_codec
    assert request_module(LIST_OFFSETS_KEY, 1) is not legacy_codec


@pytest.mark.parametrize("version", [0, 1, 2])
def test_parse_produce(version: int) -> None:
    parsed = parse_request(header(PRODUCE_KEY, version) + produce_body(b"message set"))
    assert parsed.header == RequestHeader(PRODUCE_KEY, version, 42, "old-client")
    body = parsed.body
    assert (body.acks, body.timeout, body.transactional_id) == (-1, timedelta(seconds=1.5), None)
    (topic,) = body.topic_data
    (partition,) = topic.partition_data
    assert (topic.name, partition.index, partition.records) == ("topic", 3, b"message set")
    null_records = parse_request(header(PRODUCE_KEY, version, client_id=None) + produce_body(None))
    assert null_records.header.client_id is None
    assert null_records.body.topic_data[0].partition_data[0].records is None


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_parse_fetch(version: int) -> None:
    body = parse_request(header(FETCH_KEY, version) + fetch_body(version)).body
    assert (body.replica_id, body.max_wait, body.min_bytes) == (-1, timedelta(milliseconds=500), 1)
    assert body.max_bytes == (65536 if version >= 3 else 2**31 - 1)
    assert body.isolation_level == 0
    (topic,) = body.topics
    (partition,) = topic.partitions
    assert (
        topic.topic,
        partition.partition,
        partition.fetch_offset,
        partition.partition_max_bytes,
    ) == ("topic", 2, 77, 1024)


def test_parse_list_offsets_v0() -> None:
    frame = header(LIST_OFFSETS_KEY, 0) + list_offsets_body(
        (0, -1, 1), (5, 1_700_000_000_000, 10), replica_id=3
    )
    parsed = parse_request(frame)
    assert parsed.header == RequestHeader(LIST_OFFSETS_KEY, 0, 42, "old-client")
    assert parsed.body.replica_id == 3
    (topic,) = parsed.body.topics
    assert topic.name == "topic"
    assert [(p.partition_index, p.timestamp, p.max_num_offsets) for p in topic.partitions] == [
        (0, -1, 1),
        (5, 1_700_000_000_000, 10),
    ]


@pytest.mark.parametrize(
    "frame",
    [
        header(LIST_OFFSETS_KEY, 0) + list_offsets_body((0, -2, 1))[:-4],  # no max_num_offsets
        header(LIST_OFFSETS_KEY, 0) + struct.pack(">ii", -1, -1),  # null topics array
        header(LIST_OFFSETS_KEY, 0) + struct.pack(">ii", -1, 1) + struct.pack(">h", -1),
        header(PRODUCE_KEY, 1) + produce_body(b"abc")[:-2],  # records overrun the frame
        header(PRODUCE_KEY, 1) + struct.pack(">hi", 1, 100) + struct.pack(">i", -1),  # null array
        header(PRODUCE_KEY, 1)
        + struct.pack(">hi", 1, 100)
        + struct.pack(">i", 1)
        + struct.pack(">h", -1),  # null topic name
        header(FETCH_KEY, 3) + fetch_body(2),  # v3 needs max_bytes: the frame ends early
        header(FETCH_KEY, 0) + struct.pack(">iii", -1, 0, 1) + struct.pack(">i", 1_000_000),
        header(PRODUCE_KEY, 0)[:9],
    ],
)
def test_malformed_requests_close_the_connection(frame: bytes) -> None:
    with pytest.raises(RequestParseError):
        parse_request(frame)


@pytest.mark.parametrize("version", [0, 1, 2])
def test_produce_response_layout(version: int) -> None:
    module = response_module(PRODUCE_KEY, version)
    append_time = datetime.fromtimestamp(1_700_000_000.123, UTC)
    partition = build(
        module.PartitionProduceResponse,
        index=3,
        error_code=87,
        base_offset=-1,
        log_append_time=append_time,
        log_start_offset=5,
        record_errors=(),
        error_message="ignored before v8",
    )
    body = build(
        module.ProduceResponse,
        responses=(
            build(module.TopicProduceResponse, name="topic", partition_responses=(partition,)),
        ),
        throttle_time=timedelta(milliseconds=9),
    )
    frame = joined(encode_response(RequestHeader(PRODUCE_KEY, version, 42, None), body))
    expected = (
        struct.pack(">i", 42)
        + struct.pack(">i", 1)
        + string("topic")
        + struct.pack(">i", 1)
        + struct.pack(">ihq", 3, 87, -1)
    )
    if version >= 2:
        expected += struct.pack(">q", 1_700_000_000_123)
    if version >= 1:
        expected += struct.pack(">i", 9)
    assert frame == struct.pack(">i", len(expected)) + expected


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_fetch_response_layout_keeps_records_a_separate_chunk(version: int) -> None:
    module = response_module(FETCH_KEY, version)
    records = b"r" * 1000
    partitions = (
        build(
            module.PartitionData,
            partition_index=0,
            error_code=0,
            high_watermark=12,
            last_stable_offset=12,
            log_start_offset=0,
            aborted_transactions=None,
            preferred_read_replica=-1,
            records=records,
        ),
        build(
            module.PartitionData, partition_index=1, error_code=1, high_watermark=-1, records=None
        ),
    )
    body = build(
        module.FetchResponse,
        throttle_time=timedelta(0),
        error_code=0,
        session_id=0,
        responses=(
            build(
                module.FetchableTopicResponse, topic="topic", topic_id=None, partitions=partitions
            ),
        ),
    )
    chunks = encode_response(RequestHeader(FETCH_KEY, version, 42, None), body)
    assert any(c is records for c in chunks)
    expected = struct.pack(">i", 42) + (struct.pack(">i", 0) if version >= 1 else b"")
    expected += struct.pack(">i", 1) + string("topic") + struct.pack(">i", 2)
    expected += struct.pack(">ihqi", 0, 0, 12, len(records)) + records
    expected += struct.pack(">ihqi", 1, 1, -1, -1)
    assert joined(chunks) == struct.pack(">i", len(expected)) + expected


def test_list_offsets_v0_response_layout() -> None:
    """No throttle time, no timestamp/offset/leader epoch: [int64] offsets per partition. The
    handler builds it from the same superset of fields as for v1+."""
    module = response_module(LIST_OFFSETS_KEY, 0)
    partitions = (
        build(
            module.ListOffsetsPartitionResponse,
            partition_index=0,
            error_code=0,
            timestamp=-1,
            offset=-1,
            leader_epoch=0,
            old_style_offsets=(120, 100, 0),
        ),
        build(
            module.ListOffsetsPartitionResponse,
            partition_index=1,
            error_code=6,
            timestamp=-1,
            offset=-1,
            leader_epoch=-1,
            old_style_offsets=(),
        ),
    )
    body = build(
        module.ListOffsetsResponse,
        throttle_time=timedelta(milliseconds=7),
        topics=(build(module.ListOffsetsTopicResponse, name="topic", partitions=partitions),),
    )
    frame = joined(encode_response(RequestHeader(LIST_OFFSETS_KEY, 0, 42, None), body))
    expected = (
        struct.pack(">i", 42)
        + struct.pack(">i", 1)
        + string("topic")
        + struct.pack(">i", 2)
        + struct.pack(">ihi", 0, 0, 3)
        + struct.pack(">qqq", 120, 100, 0)
        + struct.pack(">ihi", 1, 6, 0)
    )
    assert frame == struct.pack(">i", len(expected)) + expected
