"""A tiny raw-socket Kafka client for tests that need to send exactly what they choose:
malformed frames, unsupported versions, pipelined requests, hand-built record batches.

Requests and responses are kio entities, encoded with ``entity_writer``/``entity_reader``;
the request header is v1 (or v2 for flexible versions), the response header v0 (or v1 for
flexible versions, except ApiVersions, which always answers with header v0).
"""

from __future__ import annotations

import io
import socket
import struct
import time
from datetime import timedelta
from functools import cache
from types import ModuleType
from typing import Any, Literal

from kio.index import load_payload_module
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.serial import entity_reader, entity_writer
from kio.static.constants import EntityType
from kio.static.primitive import i16, i32

PRODUCE, FETCH, LIST_OFFSETS, METADATA = 0, 1, 2, 3
API_VERSIONS, CREATE_TOPICS, DELETE_TOPICS = 18, 19, 20

LATEST = -1
EARLIEST = -2

_INT32 = struct.Struct(">i")
_Kind = Literal[EntityType.request, EntityType.response]


@cache
def module(api_key: int, version: int, kind: _Kind) -> ModuleType:
    return load_payload_module(api_key, version, kind)


def request_module(api_key: int, version: int) -> ModuleType:
    return module(api_key, version, EntityType.request)


def response_module(api_key: int, version: int) -> ModuleType:
    return module(api_key, version, EntityType.response)


@cache
def _top_level(api_key: int, version: int, kind: _Kind) -> Any:
    mod = module(api_key, version, kind)
    return next(
        value
        for value in vars(mod).values()
        if getattr(value, "__type__", None) is kind
        and getattr(value, "__module__", None) == mod.__name__
    )


def response_class(api_key: int, version: int) -> Any:
    return _top_level(api_key, version, EntityType.response)


def encode(entity: Any) -> bytes:
    buffer = io.BytesIO()
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def request_bytes(
    entity: Any,
    correlation_id: int,
    client_id: str | None = "raw-client",
    version: int | None = None,
) -> bytes:
    """A request frame's payload (no size prefix): header then body. ``version`` overrides the
    version written in the header (the body stays that of the entity's own version)."""
    header_class = RequestHeaderV2 if entity.__flexible__ else RequestHeaderV1
    header = header_class(
        request_api_key=i16(entity.__api_key__),
        request_api_version=i16(entity.__version__ if version is None else version),
        correlation_id=i32(correlation_id),
        client_id=client_id,
    )
    return encode(header) + encode(entity)


def header_bytes(
    api_key: int,
    version: int,
    correlation_id: int,
    flexible: bool = False,
    client_id: str | None = "raw-client",
) -> bytes:
    header_class = RequestHeaderV2 if flexible else RequestHeaderV1
    return encode(
        header_class(
            request_api_key=i16(api_key),
            request_api_version=i16(version),
            correlation_id=i32(correlation_id),
            client_id=client_id,
        )
    )


def frame(payload: bytes) -> bytes:
    return _INT32.pack(len(payload)) + payload


class ConnectionClosedError(Exception):
    """The broker closed the connection."""


class RawClient:
    """One blocking TCP connection. ``send`` returns the correlation id; ``receive`` reads
    the next response frame; ``call`` does both and decodes the body."""

    def __init__(
        self, host: str, port: int, timeout: float = 10.0, client_id: str | None = "raw-client"
    ) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client_id = client_id
        self._next_id = 1
        self._buffer = bytearray()

    @classmethod
    def to(cls, bootstrap: str, timeout: float = 10.0) -> RawClient:
        host, port = bootstrap.rsplit(":", 1)
        return cls(host, int(port), timeout)

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def next_correlation_id(self) -> int:
        correlation_id = self._next_id
        self._next_id += 1
        return correlation_id

    # -- sending ------------------------------------------------------------------------------

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, entity: Any, version: int | None = None) -> int:
        correlation_id = self.next_correlation_id()
        self.send_bytes(frame(request_bytes(entity, correlation_id, self.client_id, version)))
        return correlation_id

    # -- receiving ----------------------------------------------------------------------------

    def _read_exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            chunk = self.sock.recv(max(65536, count - len(self._buffer)))
            if not chunk:
                raise ConnectionClosedError(
                    f"connection closed after {len(self._buffer)} of {count} bytes"
                )
            self._buffer += chunk
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def receive_frame(self) -> bytes:
        (size,) = _INT32.unpack(self._read_exactly(4))
        return self._read_exactly(size)

    def receive(self, api_key: int, version: int) -> tuple[int, Any]:
        """(correlation_id, decoded body) of the next response."""
        payload = self.receive_frame()
        body_class = response_class(api_key, version)
        if body_class.__flexible__ and api_key != API_VERSIONS:
            header, offset = entity_reader(ResponseHeaderV1)(payload, 0)
            correlation_id = header.correlation_id
        else:
            (correlation_id,), offset = _INT32.unpack_from(payload, 0), 4
        body, size = entity_reader(body_class)(payload, offset)  # size: bytes consumed
        trailing = len(payload) - offset - size
        assert trailing == 0, f"{trailing} trailing bytes in response"
        return correlation_id, body

    def call(self, entity: Any) -> Any:
        correlation_id = self.send(entity)
        got, body = self.receive(entity.__api_key__, entity.__version__)
        assert got == correlation_id, f"correlation id {got}, expected {correlation_id}"
        return body

    def closed_by_peer(self, timeout: float = 2.0) -> bool:
        """True when the broker closes the connection (recv returns b"" or the connection is
        reset) within ``timeout`` seconds; any bytes received before are discarded."""
        deadline = time.monotonic() + timeout
        previous = self.sock.gettimeout()
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.sock.settimeout(remaining)
                try:
                    if not self.sock.recv(65536):
                        return True
                except TimeoutError:
                    return False
                except ConnectionResetError:
                    return True
        finally:
            self.sock.settimeout(previous)

    # -- convenience requests -----------------------------------------------------------------

    def api_versions(self, version: int = 3) -> Any:
        mod = request_module(API_VERSIONS, version)
        return self.call(
            mod.ApiVersionsRequest(
                client_software_name="odradek-raw-client", client_software_version="0.1"
            )
            if version >= 3
            else mod.ApiVersionsRequest()
        )

    def metadata(self, topics: list[str] | None = None, auto_create: bool = False) -> Any:
        mod = request_module(METADATA, 12)
        wanted = (
            None
            if topics is None
            else tuple(mod.MetadataRequestTopic(topic_id=None, name=name) for name in topics)
        )
        return self.call(
            mod.MetadataRequest(
                topics=wanted,
                allow_auto_topic_creation=auto_create,
                include_topic_authorized_operations=False,
            )
        )

    def create_topic(
        self, name: str, partitions: int = 1, configs: dict[str, str] | None = None
    ) -> Any:
        mod = request_module(CREATE_TOPICS, 7)
        topic = mod.CreatableTopic(
            name=name,
            num_partitions=partitions,
            replication_factor=1,
            assignments=(),
            configs=tuple(
                mod.CreatableTopicConfig(name=k, value=v) for k, v in (configs or {}).items()
            ),
        )
        response = self.call(
            mod.CreateTopicsRequest(topics=(topic,), timeout=timedelta(seconds=10))
        )
        result = response.topics[0]
        assert result.error_code == 0, f"create {name}: {result.error_code} {result.error_message}"
        return response

    def produce_request(
        self, topic: str, partition: int, records: bytes | None, acks: int = 1
    ) -> Any:
        mod = request_module(PRODUCE, 9)
        return mod.ProduceRequest(
            transactional_id=None,
            acks=acks,
            timeout=timedelta(seconds=10),
            topic_data=(
                mod.TopicProduceData(
                    name=topic,
                    partition_data=(mod.PartitionProduceData(index=partition, records=records),),
                ),
            ),
        )

    def produce(self, topic: str, partition: int, records: bytes | None, acks: int = 1) -> Any:
        """The partition's ProduceResponse entry (acks must not be 0)."""
        response = self.call(self.produce_request(topic, partition, records, acks))
        return response.responses[0].partition_responses[0]

    def list_offsets_request(self, topic: str, partition: int, timestamp: int = LATEST) -> Any:
        mod = request_module(LIST_OFFSETS, 7)
        return mod.ListOffsetsRequest(
            replica_id=-1,
            isolation_level=0,
            topics=(
                mod.ListOffsetsTopic(
                    name=topic,
                    partitions=(
                        mod.ListOffsetsPartition(
                            partition_index=partition, current_leader_epoch=-1, timestamp=timestamp
                        ),
                    ),
                ),
            ),
        )

    def list_offsets(self, topic: str, partition: int, timestamp: int = LATEST) -> Any:
        response = self.call(self.list_offsets_request(topic, partition, timestamp))
        return response.topics[0].partitions[0]

    def latest_offset(self, topic: str, partition: int = 0) -> int:
        result = self.list_offsets(topic, partition, LATEST)
        assert result.error_code == 0, f"ListOffsets {topic}-{partition}: {result.error_code}"
        return int(result.offset)

    def fetch_request(
        self,
        topic: str,
        partition: int,
        offset: int,
        max_wait_ms: int = 0,
        min_bytes: int = 1,
        max_bytes: int = 1_048_576,
    ) -> Any:
        mod = request_module(FETCH, 12)
        return mod.FetchRequest(
            replica_id=-1,
            max_wait=timedelta(milliseconds=max_wait_ms),
            min_bytes=min_bytes,
            max_bytes=max_bytes,
            isolation_level=0,
            session_id=0,
            session_epoch=-1,
            topics=(
                mod.FetchTopic(
                    topic=topic,
                    partitions=(
                        mod.FetchPartition(
                            partition=partition, fetch_offset=offset, partition_max_bytes=max_bytes
                        ),
                    ),
                ),
            ),
            forgotten_topics_data=(),
            rack_id="",
        )

    def fetch(
        self,
        topic: str,
        partition: int,
        offset: int,
        max_wait_ms: int = 0,
        max_bytes: int = 1_048_576,
    ) -> Any:
        """The partition's PartitionData of a Fetch v12 response."""
        response = self.call(
            self.fetch_request(topic, partition, offset, max_wait_ms, max_bytes=max_bytes)
        )
        return response.responses[0].partitions[0]
