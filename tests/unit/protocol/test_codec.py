"""Request parsing and response encoding on top of kio."""

from __future__ import annotations

import io
import struct
import uuid
from datetime import timedelta
from typing import Any

import pytest
from kio.schema.errors import ErrorCode
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i16, i32

from odradek.protocol.api_versions import SUPPORTED_APIS
from odradek.protocol.codec import (
    RequestHeader,
    RequestParseError,
    UnsupportedApiError,
    build,
    encode_response,
    parse_request,
    peek_header,
    request_module,
    response_module,
)
from odradek.protocol.records.codec import encode_batch

API_VERSIONS, METADATA, PRODUCE = 18, 3, 0


def encode_request(
    body: Any,
    correlation_id: int = 42,
    client_id: str | None = "test-client",
) -> bytes:
    """A request frame (without size prefix) as a client writes it."""
    buffer = io.BytesIO()
    header_type = RequestHeaderV2 if body.__flexible__ else RequestHeaderV1
    header = header_type(
        request_api_key=i16(body.__api_key__),
        request_api_version=i16(body.__version__),
        correlation_id=i32(correlation_id),
        client_id=client_id,
    )
    entity_writer(header_type)(buffer, header)
    entity_writer(type(body))(buffer, body)
    return buffer.getvalue()


def api_versions_request(version: int) -> Any:
    module = request_module(API_VERSIONS, version)
    if version >= 3:
        return module.ApiVersionsRequest(
            client_software_name="odradek-tests", client_software_version="1.0"
        )
    return module.ApiVersionsRequest()


def metadata_request(version: int, topics: list[str] | None) -> Any:
    module = request_module(METADATA, version)
    if topics is None:
        entries = None
    elif version >= 10:
        entries = tuple(module.MetadataRequestTopic(topic_id=None, name=t) for t in topics)
    else:
        entries = tuple(module.MetadataRequestTopic(name=t) for t in topics)
    return build(
        module.MetadataRequest,
        topics=entries,
        allow_auto_topic_creation=False,
        include_cluster_authorized_operations=False,
        include_topic_authorized_operations=False,
    )


RECORDS = encode_batch([(b"k", b"v"), (None, b"second")], timestamp=1_700_000_000_000)


def produce_request(version: int) -> Any:
    module = request_module(PRODUCE, version)
    partitions = (
        module.PartitionProduceData(index=i32(0), records=RECORDS),
        module.PartitionProduceData(index=i32(1), records=None),
    )
    topic = module.TopicProduceData(name="orders", partition_data=partitions)
    return module.ProduceRequest(
        transactional_id=None,
        acks=i16(-1),
        timeout=timedelta(milliseconds=1500),
        topic_data=(topic,),
    )


ALL_REQUESTS = (
    [pytest.param(api_versions_request(v), id=f"api_versions_v{v}") for v in range(5)]
    + [pytest.param(metadata_request(v, ["a", "b"]), id=f"metadata_v{v}") for v in (0, 1, 9, 12)]
    + [pytest.param(metadata_request(v, None), id=f"metadata_v{v}_all") for v in (1, 9, 12)]
    + [pytest.param(produce_request(v), id=f"produce_v{v}") for v in (3, 9)]
)


@pytest.mark.parametrize("body", ALL_REQUESTS)
def test_round_trip(body: Any) -> None:
    frame = encode_request(body, correlation_id=12345, client_id="me")
    parsed = parse_request(frame)
    assert parsed.header == RequestHeader(body.__api_key__, body.__version__, 12345, "me")
    assert parsed.body == body
    assert parsed.size == len(frame)


@pytest.mark.parametrize("body", ALL_REQUESTS)
def test_round_trip_from_memoryview(body: Any) -> None:
    frame = encode_request(body)
    parsed = parse_request(memoryview(b"junk" + frame)[4:])
    assert parsed.body == body


@pytest.mark.parametrize("version", range(5))
def test_api_versions_header_flexibility(version: int) -> None:
    body = api_versions_request(version)
    assert body.__flexible__ == (version >= 3)
    frame = encode_request(body, correlation_id=7, client_id=None)
    parsed = parse_request(frame)
    assert parsed.header.correlation_id == 7
    assert parsed.header.client_id is None
    if version >= 3:
        assert parsed.body.client_software_name == "odradek-tests"


@pytest.mark.parametrize("version", [0, 1, 9, 12])
def test_metadata_topics(version: int) -> None:
    parsed = parse_request(encode_request(metadata_request(version, ["a", "b"])))
    assert [t.name for t in parsed.body.topics] == ["a", "b"]
    if version >= 10:
        assert all(t.topic_id is None or t.topic_id == uuid.UUID(int=0) for t in parsed.body.topics)


@pytest.mark.parametrize("version", [3, 9])
def test_produce_records_survive_unchanged(version: int) -> None:
    parsed = parse_request(encode_request(produce_request(version)))
    (topic,) = parsed.body.topic_data
    assert topic.name == "orders"
    assert parsed.body.acks == -1
    assert parsed.body.timeout == timedelta(milliseconds=1500)
    assert bytes(topic.partition_data[0].records) == RECORDS
    assert topic.partition_data[1].records is None


def test_peek_header() -> None:
    frame = encode_request(metadata_request(1, None), correlation_id=-5)
    assert peek_header(frame) == (METADATA, 1, -5)
    with pytest.raises(RequestParseError):
        peek_header(frame[:7])


@pytest.mark.parametrize("body", ALL_REQUESTS)
def test_every_truncation_is_a_parse_error(body: Any) -> None:
    frame = encode_request(body)
    for cut in range(len(frame)):
        with pytest.raises(RequestParseError):
            parse_request(frame[:cut])


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x7f\xff",  # client id length far beyond the frame
        b"\x00\x02\xc3\x28",  # client id of invalid UTF-8
        b"\x00\x00\x00\x00\x00\x05",  # topics array of 5 entries, none present
        b"\x00\x00\xff\xff\xff\xfe",  # topics array of length -2
    ],
)
def test_garbage_v1_body_is_a_parse_error(garbage: bytes) -> None:
    with pytest.raises(RequestParseError):
        parse_request(struct.pack(">hhi", METADATA, 1, 1) + garbage)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x00" + b"\xff" * 12,  # varint that never ends
        b"\x00\x00\x00" + b"\x05",  # compact array of 4 topics, none present
        b"\x00\x00\x03\x01",  # header tagged fields: 3 fields, truncated
    ],
)
def test_garbage_flexible_body_is_a_parse_error(garbage: bytes) -> None:
    with pytest.raises(RequestParseError):
        parse_request(struct.pack(">hhi", METADATA, 12, 1) + garbage)


def test_unknown_api_key() -> None:
    with pytest.raises(UnsupportedApiError):
        parse_request(struct.pack(">hhi", 9999, 0, 1) + b"\x00\x00")
    with pytest.raises(UnsupportedApiError):
        parse_request(struct.pack(">hhi", -1, 0, 1) + b"\x00\x00")


@pytest.mark.parametrize(
    ("api_key", "version"),
    [
        (PRODUCE, -1),
        (PRODUCE, 12),
        (METADATA, 13),
        (API_VERSIONS, 5),
        (API_VERSIONS, -1),
    ],
)
def test_unsupported_version(api_key: int, version: int) -> None:
    with pytest.raises(UnsupportedApiError) as info:
        parse_request(struct.pack(">hhi", api_key, version, 1) + b"\x00\x00")
    assert isinstance(info.value, RequestParseError)


def test_every_advertised_version_has_a_request_schema() -> None:
    for api_key, (low, high) in SUPPORTED_APIS.items():
        for version in range(low, high + 1):
            assert request_module(api_key, version) is not None
            assert response_module(api_key, version) is not None


# -- responses ----------------------------------------------------------------------------------


def split_response(chunks: list[bytes | bytearray | memoryview]) -> tuple[int, int, bytes]:
    data = b"".join(bytes(c) for c in chunks)
    (size,) = struct.unpack_from(">i", data, 0)
    assert size == len(data) - 4
    (correlation_id,) = struct.unpack_from(">i", data, 4)
    return size, correlation_id, data[8:]


def api_versions_response(version: int) -> Any:
    module = response_module(API_VERSIONS, version)
    keys = (build(module.ApiVersion, api_key=i16(18), min_version=i16(0), max_version=i16(4)),)
    return build(
        module.ApiVersionsResponse,
        error_code=ErrorCode.none,
        api_keys=keys,
        throttle_time=timedelta(0),
    )


def metadata_response(version: int) -> Any:
    module = response_module(METADATA, version)
    broker = build(
        module.MetadataResponseBroker, node_id=i32(1), host="localhost", port=i32(9092), rack=None
    )
    return build(
        module.MetadataResponse,
        throttle_time=timedelta(0),
        brokers=(broker,),
        cluster_id="abc",
        controller_id=i32(1),
        topics=(),
    )


def decode_body(response_type: Any, body: bytes) -> Any:
    value, size = entity_reader(response_type)(body, 0)
    assert size == len(body)
    return value


@pytest.mark.parametrize("version", range(5))
def test_api_versions_response_header_never_has_tagged_fields(version: int) -> None:
    response = api_versions_response(version)
    header = RequestHeader(API_VERSIONS, version, 99, "c")
    _, correlation_id, body = split_response(encode_response(header, response))
    assert correlation_id == 99
    assert decode_body(type(response), body) == response


@pytest.mark.parametrize("version", [0, 1, 8])
def test_non_flexible_response_header_is_correlation_id_only(version: int) -> None:
    response = metadata_response(version)
    assert not response.__flexible__
    header = RequestHeader(METADATA, version, -123, "c")
    _, correlation_id, body = split_response(encode_response(header, response))
    assert correlation_id == -123
    assert decode_body(type(response), body) == response


@pytest.mark.parametrize("version", [9, 12])
def test_flexible_response_header_has_empty_tagged_fields(version: int) -> None:
    response = metadata_response(version)
    assert response.__flexible__
    header = RequestHeader(METADATA, version, 2**31 - 1, None)
    _, correlation_id, rest = split_response(encode_response(header, response))
    assert correlation_id == 2**31 - 1
    assert rest[0] == 0  # header v1: no tagged fields
    assert decode_body(type(response), rest[1:]) == response


def test_size_prefix_counts_every_chunk() -> None:
    response = metadata_response(12)
    chunks = encode_response(RequestHeader(METADATA, 12, 1, None), response)
    total = sum(len(c) for c in chunks)
    assert struct.unpack_from(">i", bytes(chunks[0]))[0] == total - 4


def test_build_drops_fields_the_version_lacks() -> None:
    v0 = metadata_response(0)
    assert not hasattr(v0, "cluster_id")
    assert metadata_response(12).cluster_id == "abc"


def test_build_drops_fields_of_other_versions_but_rejects_names_no_version_has(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from odradek.protocol import codec

    monkeypatch.setattr(codec, "STRICT_BUILD", True)
    v0 = codec.response_module(10, 0)  # FindCoordinator v0: no throttle_time, no coordinators
    response = codec.build(
        v0.FindCoordinatorResponse,
        throttle_time=timedelta(0),
        error_code=0,
        error_message=None,
        node_id=1,
        host="h",
        port=9092,
        coordinators=(),
    )
    assert response.node_id == 1
    with pytest.raises(codec.UnknownFieldError, match="node_idd"):
        codec.build(v0.FindCoordinatorResponse, error_code=0, node_idd=1, host="h", port=1)
    monkeypatch.setattr(codec, "STRICT_BUILD", False)
    assert (
        codec.build(
            v0.FindCoordinatorResponse, error_code=0, node_id=1, host="h", port=1, node_idd=1
        ).node_id
        == 1
    )
