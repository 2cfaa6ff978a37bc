"""Produce v0-2, Fetch v0-3 and ListOffsets v0: the request/response versions of pre-0.11
clients, which kio (0.6) has no schemas for. Non-flexible layouts from Kafka's ProduceRequest/
ProduceResponse/FetchRequest/FetchResponse/ListOffsetsRequest/ListOffsetsResponse JSON message
schemas (as of Kafka 3.x; 4.0 dropped ListOffsets v0):

    ProduceRequest v0-2    acks int16, timeout_ms int32,
                           [name string, [index int32, records nullable bytes]]
    ProduceResponse v0     [name string, [index int32, error_code int16, base_offset int64
                                          (v2+: log_append_time_ms int64)]]
                           (v1+: throttle_time_ms int32)
    FetchRequest v0-3      replica_id int32, max_wait_ms int32, min_bytes int32,
                           (v3: max_bytes int32),
                           [topic string, [partition int32, fetch_offset int64,
                                           partition_max_bytes int32]]
    FetchResponse v0-3     (v1+: throttle_time_ms int32),
                           [topic string, [partition_index int32, error_code int16,
                                           high_watermark int64, records nullable bytes]]
    ListOffsetsRequest v0  replica_id int32,
                           [name string, [partition_index int32, timestamp int64,
                                          max_num_offsets int32]]
    ListOffsetsResponse v0 [name string, [partition_index int32, error_code int16,
                                          old_style_offsets [int64]]]

The entities have the field names of kio's later versions, so the handlers (which build
responses with ``codec.build`` from a superset of fields) serve these versions unchanged;
this module is also the "response module" the handlers look classes up in.
"""

from __future__ import annotations

import struct
import typing
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

_T = TypeVar("_T")

PRODUCE_KEY = 0
FETCH_KEY = 1
LIST_OFFSETS_KEY = 2
LEGACY_MAX_VERSION = {PRODUCE_KEY: 2, FETCH_KEY: 3, LIST_OFFSETS_KEY: 0}
FETCH_DEFAULT_MAX_BYTES = 2**31 - 1  # Fetch v0-2 have no response limit

_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
_INT64 = struct.Struct(">q")


def is_legacy_version(api_key: int, version: int) -> bool:
    high = LEGACY_MAX_VERSION.get(api_key)
    return high is not None and 0 <= version <= high


class LegacyParseError(ValueError):
    """A malformed legacy request."""


# -- requests --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionProduceData:
    index: int
    records: bytes | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicProduceData:
    name: str
    partition_data: tuple[PartitionProduceData, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProduceRequest:
    acks: int
    timeout: timedelta
    topic_data: tuple[TopicProduceData, ...]
    transactional_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchPartition:
    partition: int
    fetch_offset: int
    partition_max_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchTopic:
    topic: str
    partitions: tuple[FetchPartition, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchRequest:
    replica_id: int
    max_wait: timedelta
    min_bytes: int
    max_bytes: int
    topics: tuple[FetchTopic, ...]
    isolation_level: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ListOffsetsPartition:
    partition_index: int
    timestamp: int
    max_num_offsets: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ListOffsetsTopic:
    name: str
    partitions: tuple[ListOffsetsPartition, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ListOffsetsRequest:  # v0 has no isolation level and no leader epochs
    replica_id: int
    topics: tuple[ListOffsetsTopic, ...]


class _Reader:
    __slots__ = ("data", "position")

    def __init__(self, data: bytes | memoryview, position: int) -> None:
        self.data = data
        self.position = position

    def _unpack(self, fmt: struct.Struct) -> int:
        if self.position + fmt.size > len(self.data):
            raise LegacyParseError("request truncated")
        (value,) = fmt.unpack_from(self.data, self.position)
        self.position += fmt.size
        return int(value)

    def int16(self) -> int:
        return self._unpack(_INT16)

    def int32(self) -> int:
        return self._unpack(_INT32)

    def int64(self) -> int:
        return self._unpack(_INT64)

    def nullable_string(self) -> str | None:
        length = self.int16()
        if length < 0:
            return None
        end = self.position + length
        if end > len(self.data):
            raise LegacyParseError("string overruns the request")
        try:
            text = bytes(self.data[self.position : end]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LegacyParseError("string is not UTF-8") from exc
        self.position = end
        return text

    def string(self) -> str:
        text = self.nullable_string()
        if text is None:
            raise LegacyParseError("non-nullable string was serialized as null")
        return text

    def nullable_bytes(self) -> bytes | None:
        length = self.int32()
        if length < 0:
            return None
        end = self.position + length
        if end > len(self.data):
            raise LegacyParseError("bytes overrun the request")
        value = bytes(self.data[self.position : end])
        self.position = end
        return value

    def array_length(self) -> int:
        length = self.int32()
        if length < 0:
            raise LegacyParseError("non-nullable array was serialized as null")
        # Every element takes at least one byte: a length beyond the frame is malformed.
        if length > len(self.data) - self.position:
            raise LegacyParseError("array length exceeds the request")
        return length


def parse_request_header(frame: bytes | memoryview) -> tuple[int, int, int, str | None, int]:
    """Request header v1: (api_key, api_version, correlation_id, client_id, body offset)."""
    reader = _Reader(frame, 0)
    api_key, version, correlation_id = reader.int16(), reader.int16(), reader.int32()
    client_id = reader.nullable_string()
    return api_key, version, correlation_id, client_id, reader.position


def parse_body(api_key: int, version: int, frame: bytes | memoryview, offset: int) -> Any:
    reader = _Reader(frame, offset)
    if api_key == PRODUCE_KEY:
        return _produce_request(reader)
    if api_key == FETCH_KEY:
        return _fetch_request(reader, version)
    if api_key == LIST_OFFSETS_KEY:
        return _list_offsets_request(reader)
    raise LegacyParseError(f"api key {api_key} has no legacy codec")


def _produce_request(reader: _Reader) -> ProduceRequest:
    acks = reader.int16()
    timeout_ms = reader.int32()
    topics = []
    for _ in range(reader.array_length()):
        name = reader.string()
        partitions = tuple(
            PartitionProduceData(index=reader.int32(), records=reader.nullable_bytes())
            for _ in range(reader.array_length())
        )
        topics.append(TopicProduceData(name=name, partition_data=partitions))
    return ProduceRequest(
        acks=acks, timeout=timedelta(milliseconds=timeout_ms), topic_data=tuple(topics)
    )


def _fetch_request(reader: _Reader, version: int) -> FetchRequest:
    replica_id = reader.int32()
    max_wait_ms = reader.int32()
    min_bytes = reader.int32()
    max_bytes = reader.int32() if version >= 3 else FETCH_DEFAULT_MAX_BYTES
    topics = []
    for _ in range(reader.array_length()):
        topic = reader.string()
        partitions = tuple(
            FetchPartition(
                partition=reader.int32(),
                fetch_offset=reader.int64(),
                partition_max_bytes=reader.int32(),
            )
            for _ in range(reader.array_length())
        )
        topics.append(FetchTopic(topic=topic, partitions=partitions))
    return FetchRequest(
        replica_id=replica_id,
        max_wait=timedelta(milliseconds=max_wait_ms),
        min_bytes=min_bytes,
        max_bytes=max_bytes,
        topics=tuple(topics),
    )


def _list_offsets_request(reader: _Reader) -> ListOffsetsRequest:
    replica_id = reader.int32()
    topics = []
    for _ in range(reader.array_length()):
        name = reader.string()
        partitions = tuple(
            ListOffsetsPartition(
                partition_index=reader.int32(),
                timestamp=reader.int64(),
                max_num_offsets=reader.int32(),
            )
            for _ in range(reader.array_length())
        )
        topics.append(ListOffsetsTopic(name=name, partitions=partitions))
    return ListOffsetsRequest(replica_id=replica_id, topics=tuple(topics))


# -- responses -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionProduceResponse:
    __flexible__: ClassVar[bool] = False
    index: int
    error_code: int
    base_offset: int
    log_append_time: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicProduceResponse:
    __flexible__: ClassVar[bool] = False
    name: str
    partition_responses: tuple[PartitionProduceResponse, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProduceResponse:
    __flexible__: ClassVar[bool] = False
    __legacy__: ClassVar[bool] = True
    responses: tuple[TopicProduceResponse, ...]
    throttle_time: timedelta = field(default=timedelta(0))


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionData:
    __flexible__: ClassVar[bool] = False
    partition_index: int
    error_code: int
    high_watermark: int
    records: bytes | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchableTopicResponse:
    __flexible__: ClassVar[bool] = False
    topic: str
    partitions: tuple[PartitionData, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchResponse:
    __flexible__: ClassVar[bool] = False
    __legacy__: ClassVar[bool] = True
    responses: tuple[FetchableTopicResponse, ...]
    throttle_time: timedelta = field(default=timedelta(0))


@dataclass(frozen=True, slots=True, kw_only=True)
class AbortedTransaction:  # never written (v4+ only); here so handlers can build it
    producer_id: int
    first_offset: int


def _resolved_types(cls: type[_T]) -> type[_T]:
    """Give the dataclass fields their types, not the strings of postponed annotations: the
    ErrorsPerSec metric finds nested error codes by ``Field.type`` (Produce and Fetch count
    their own errors, ListOffsets relies on that walk)."""
    hints = typing.get_type_hints(cls)
    for item in fields(cls):  # type: ignore[arg-type]
        item.type = hints[item.name]
    return cls


@_resolved_types
@dataclass(frozen=True, slots=True, kw_only=True)
class ListOffsetsPartitionResponse:
    __flexible__: ClassVar[bool] = False
    partition_index: int
    error_code: int
    old_style_offsets: tuple[int, ...]


@_resolved_types
@dataclass(frozen=True, slots=True, kw_only=True)
class ListOffsetsTopicResponse:
    __flexible__: ClassVar[bool] = False
    name: str
    partitions: tuple[ListOffsetsPartitionResponse, ...]


@_resolved_types
@dataclass(frozen=True, slots=True, kw_only=True)
class ListOffsetsResponse:  # v0 has no throttle time (v2+); kept so handlers can pass it
    __flexible__: ClassVar[bool] = False
    __legacy__: ClassVar[bool] = True
    topics: tuple[ListOffsetsTopicResponse, ...]
    throttle_time: timedelta = field(default=timedelta(0))


def _string(value: str) -> bytes:
    data = value.encode()
    return _INT16.pack(len(data)) + data


def _millis(value: timedelta) -> int:
    return round(value.total_seconds() * 1000)


def is_legacy_response(body: Any) -> bool:
    return bool(getattr(body, "__legacy__", False))


def encode_body(version: int, body: Any) -> list[bytes]:
    """The response body as chunks; record data stays a chunk of its own (not copied)."""
    if isinstance(body, ProduceResponse):
        return [_produce_response(version, body)]
    if isinstance(body, FetchResponse):
        return _fetch_response(version, body)
    if isinstance(body, ListOffsetsResponse):
        return [_list_offsets_response(body)]
    raise TypeError(f"not a legacy response: {type(body).__name__}")


def _produce_response(version: int, body: ProduceResponse) -> bytes:
    out = bytearray(_INT32.pack(len(body.responses)))
    for topic in body.responses:
        out += _string(topic.name) + _INT32.pack(len(topic.partition_responses))
        for p in topic.partition_responses:
            out += struct.pack(">ihq", p.index, int(p.error_code), p.base_offset)
            if version >= 2:
                append_time = (
                    -1 if p.log_append_time is None else round(p.log_append_time.timestamp() * 1000)
                )
                out += _INT64.pack(append_time)
    if version >= 1:
        out += _INT32.pack(_millis(body.throttle_time))
    return bytes(out)


def _fetch_response(version: int, body: FetchResponse) -> list[bytes]:
    chunks: list[bytes] = []
    head = bytearray(_INT32.pack(_millis(body.throttle_time)) if version >= 1 else b"")
    head += _INT32.pack(len(body.responses))
    for topic in body.responses:
        head += _string(topic.topic) + _INT32.pack(len(topic.partitions))
        for p in topic.partitions:
            head += struct.pack(">ihq", p.partition_index, int(p.error_code), p.high_watermark)
            if p.records is None:
                head += _INT32.pack(-1)
                continue
            head += _INT32.pack(len(p.records))
            chunks.append(bytes(head))
            chunks.append(p.records)
            head = bytearray()
    if head:
        chunks.append(bytes(head))
    return chunks


def _list_offsets_response(body: ListOffsetsResponse) -> bytes:
    out = bytearray(_INT32.pack(len(body.topics)))
    for topic in body.topics:
        out += _string(topic.name) + _INT32.pack(len(topic.partitions))
        for p in topic.partitions:
            out += struct.pack(
                ">ihi", p.partition_index, int(p.error_code), len(p.old_style_offsets)
            )
            for offset in p.old_style_offsets:
                out += _INT64.pack(offset)
    return bytes(out)
