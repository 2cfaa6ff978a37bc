"""A canned Kafka broker on a loopback socket for the client tools' unit tests: it decodes
each request with kio (header v1/v2 and body) and answers with what a handler returns."""

from __future__ import annotations

import io
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kio.schema.errors import ErrorCode
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.schema.response_header.v0.header import ResponseHeader as ResponseHeaderV0
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i32

from odradek.protocol.client import API_VERSIONS, request_class, response_module

Handler = Callable[[Any], Any]  # request body -> response body


def encode(entity: Any) -> bytes:
    buffer = io.BytesIO()
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def api_versions_response(versions: dict[int, tuple[int, int]], version: int = 0) -> Any:
    """ApiVersions at ``version`` (0 or 3, the versions the tools send)."""
    module = response_module(API_VERSIONS, version)
    extra: dict[str, Any] = {"throttle_time": timedelta(0)} if version >= 1 else {}
    return module.ApiVersionsResponse(
        error_code=ErrorCode(0),
        api_keys=tuple(
            module.ApiVersion(api_key=k, min_version=lo, max_version=hi)
            for k, (lo, hi) in sorted(versions.items())
        ),
        **extra,
    )


@dataclass
class FakeBroker:
    """Answers ApiVersions with ``versions`` and other requests with ``handlers``."""

    versions: dict[int, tuple[int, int]]
    handlers: dict[int, Handler]
    received: list[tuple[Any, Any]] = field(default_factory=list)  # (header, body)

    def __post_init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            # A client may hold one connection open while it opens another (the
            # transactions tool keeps its bootstrap connection): each has its own thread.
            threading.Thread(target=self._serve_connection, args=(conn,), daemon=True).start()

    def _serve_connection(self, conn: socket.socket) -> None:
        with conn:
            try:
                while self._answer(conn):
                    pass
            except OSError:
                pass

    def _answer(self, conn: socket.socket) -> bool:
        prefix = _read(conn, 4)
        if prefix is None:
            return False
        payload = _read(conn, struct.unpack(">i", prefix)[0]) or b""
        api_key, version = struct.unpack_from(">hh", payload)
        body_class = request_class(api_key, version)
        header_class: type[RequestHeaderV1 | RequestHeaderV2] = (
            RequestHeaderV2 if body_class.__flexible__ else RequestHeaderV1
        )
        header, offset = entity_reader(header_class)(payload, 0)
        body, size = entity_reader(body_class)(payload, offset)
        assert offset + size == len(payload), "trailing bytes in a request"
        self.received.append((header, body))
        if api_key == API_VERSIONS:
            response = api_versions_response(self.versions, version)
        else:
            response = self.handlers[api_key](body)
        flexible = response.__flexible__ and api_key != API_VERSIONS
        response_header = (ResponseHeaderV1 if flexible else ResponseHeaderV0)(
            correlation_id=i32(header.correlation_id)
        )
        frame = encode(response_header) + encode(response)
        conn.sendall(struct.pack(">i", len(frame)) + frame)
        return True


def _read(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# -- a stand-in for common.Admin ---------------------------------------------------------------


def done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


@dataclass
class Node:
    id: int
    host: str = "127.0.0.1"
    port: int = 0
    rack: str | None = None


@dataclass
class ClusterDescription:
    nodes: list[Node]
    controller: Node | None


@dataclass
class PartitionMetadata:
    id: int
    replicas: list[int]


@dataclass
class TopicMetadata:
    partitions: dict[int, PartitionMetadata]
    error: Any = None


@dataclass
class Metadata:
    topics: dict[str, TopicMetadata]


def metadata(assignment: dict[str, dict[int, list[int]]]) -> Metadata:
    return Metadata(
        {
            name: TopicMetadata({p: PartitionMetadata(p, r) for p, r in parts.items()})
            for name, parts in assignment.items()
        }
    )


class FakeClient:
    def __init__(self, admin: FakeAdmin) -> None:
        self.admin = admin

    def describe_cluster(self, request_timeout: float = 0) -> Future[Any]:
        self.admin.describe_calls += 1
        controller = (
            self.admin.controllers.pop(0)
            if len(self.admin.controllers) > 1
            else self.admin.controllers[0]
        )
        return done(ClusterDescription(self.admin.nodes, controller))

    def incremental_alter_configs(
        self, resources: list[Any], request_timeout: float = 0
    ) -> dict[Any, Future[Any]]:
        self.admin.altered.extend(resources)
        return {r: done(None) for r in resources}

    def elect_leaders(self, kind: Any, partitions: Any) -> Future[Any]:
        # No keyword arguments, as confluent-kafka 2.16's binding (it fails on any).
        self.admin.elections.append((kind, partitions))
        return done(self.admin.election_result)


class FakeAdmin:
    """Enough of common.Admin for the tools: a cluster description, topic metadata, recorded
    config changes and elections."""

    def __init__(
        self,
        nodes: list[Node] | None = None,
        assignment: dict[str, dict[int, list[int]]] | None = None,
        controllers: list[Node | None] | None = None,
        timeout: float = 2.0,
    ) -> None:
        self.nodes = nodes or [Node(1), Node(2), Node(3)]
        self.assignment = assignment or {}
        self.controllers = controllers or [self.nodes[0]]
        self.timeout = timeout
        self.client = FakeClient(self)
        self.describe_calls = 0
        self.altered: list[Any] = []
        self.elections: list[tuple[Any, Any]] = []
        self.election_result: dict[Any, Any] = {}

    def wait(self, future: Future[Any]) -> Any:
        return future.result(1)

    def metadata(self, topic: str | None = None) -> Metadata:
        return metadata(self.assignment)
