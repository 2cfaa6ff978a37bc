"""A blocking Kafka client for the requests confluent-kafka does not expose, shared by the
client tools and the console: requests built as kio entities and sent over one socket, their
answers decoded by kio. Plaintext connections only.

A request frame is a request header (v1, or v2 for flexible versions) and the body; a
response is a response header (v0, or v1 for flexible versions; ApiVersions always answers
with v0) and the body. kio encodes and decodes both (``entity_writer`` / ``entity_reader``).

Socket failures are the ``OSError`` they are; an answer that cannot be had or does not fit
its request is a ``WireError``.
"""

from __future__ import annotations

import io
import socket
import struct
from collections.abc import Mapping
from functools import cache
from types import ModuleType
from typing import Any

from kio.index import load_payload_module
from kio.schema.errors import ErrorCode
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.schema.response_header.v0.header import ResponseHeader as ResponseHeaderV0
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.serial import entity_reader, entity_writer
from kio.static.constants import EntityType
from kio.static.primitive import i16, i32

API_VERSIONS = 18
_INT32 = struct.Struct(">i")


class WireError(Exception):
    """A request the broker did not answer as asked (closed connection, no common version,
    a response that does not fit); ``str()`` says why in one line."""


class ConnectionClosedError(WireError):
    """The broker closed the connection before answering."""


def pick_version(
    versions: Mapping[int, tuple[int, int]], api_key: int, name: str, supported: tuple[int, int]
) -> int:
    """The newest version of ``api_key`` in both the broker's range and ``supported``."""
    if api_key not in versions:
        raise WireError(f"the broker does not support {name}")
    low, high = versions[api_key]
    version = min(high, supported[1])
    if version < max(low, supported[0]):
        raise WireError(
            f"no common version of {name}: broker {low}-{high}, "
            f"odradek {supported[0]}-{supported[1]}"
        )
    return version


@cache
def request_module(api_key: int, version: int) -> ModuleType:
    return load_payload_module(api_key, version, EntityType.request)


@cache
def response_module(api_key: int, version: int) -> ModuleType:
    return load_payload_module(api_key, version, EntityType.response)


@cache
def _top_level(api_key: int, version: int, kind: EntityType) -> Any:
    module = (request_module if kind is EntityType.request else response_module)(api_key, version)
    return next(
        value
        for value in vars(module).values()
        if getattr(value, "__type__", None) is kind
        and getattr(value, "__module__", None) == module.__name__
    )


def request_class(api_key: int, version: int) -> Any:
    """The top-level request entity of ``api_key`` at ``version``."""
    return _top_level(api_key, version, EntityType.request)


def response_class(api_key: int, version: int) -> Any:
    """The top-level response entity of ``api_key`` at ``version``."""
    return _top_level(api_key, version, EntityType.response)


def encode(entity: Any) -> bytes:
    buffer = io.BytesIO()
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def request_frame(entity: Any, correlation_id: int, client_id: str) -> bytes:
    """The size-prefixed frame of a request entity: header then body."""
    header_class = RequestHeaderV2 if entity.__flexible__ else RequestHeaderV1
    header = header_class(
        request_api_key=i16(entity.__api_key__),
        request_api_version=i16(entity.__version__),
        correlation_id=i32(correlation_id),
        client_id=client_id,
    )
    payload = encode(header) + encode(entity)
    return _INT32.pack(len(payload)) + payload


def decode_response(
    payload: bytes, api_key: int, version: int, body_class: Any = None
) -> tuple[int, Any]:
    """(correlation id, body) of a response frame's payload (without its size prefix); the
    body is read as ``body_class`` if given (a variant of kio's schema class), else as kio's
    response class of ``api_key`` at ``version``."""
    if body_class is None:
        body_class = response_class(api_key, version)
    flexible_header = body_class.__flexible__ and api_key != API_VERSIONS
    header_class = ResponseHeaderV1 if flexible_header else ResponseHeaderV0
    header: Any
    header, offset = entity_reader(header_class)(payload, 0)
    body, size = entity_reader(body_class)(payload, offset)
    if offset + size != len(payload):
        raise WireError(
            f"{len(payload) - offset - size} unexpected trailing bytes in a "
            f"response to api key {api_key}"
        )
    return int(header.correlation_id), body


def error_code_name(code: int) -> str:
    """A Kafka error code's name (``GROUP_ID_NOT_FOUND``), or the number if kio has none."""
    try:
        return ErrorCode(code).name.upper()
    except ValueError:
        return str(code)


class KioConnection:
    """One blocking connection; ``call`` sends a kio request and returns the decoded body."""

    def __init__(
        self, host: str, port: int, timeout: float, client_id: str = "odradek-admin"
    ) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.client_id = client_id
        self.correlation = 0

    def __enter__(self) -> KioConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def call(self, entity: Any, body_class: Any = None) -> Any:
        """Send the request ``entity``; its response body (read as ``body_class`` if given)."""
        self.correlation += 1
        self.sock.sendall(request_frame(entity, self.correlation, self.client_id))
        (size,) = _INT32.unpack(self._read(4))
        correlation, body = decode_response(
            self._read(size), int(entity.__api_key__), int(entity.__version__), body_class
        )
        if correlation != self.correlation:
            raise WireError(
                f"unexpected correlation id {correlation} in a response "
                f"(expected {self.correlation})"
            )
        return body

    def _read(self, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = self.sock.recv(size - len(chunks))
            if not chunk:
                raise ConnectionClosedError("the broker closed the connection")
            chunks += chunk
        return bytes(chunks)

    def versions(self) -> dict[int, tuple[int, int]]:
        """The broker's ApiVersions (v0): api key -> (min, max)."""
        response = self.call(request_class(API_VERSIONS, 0)())
        code = int(response.error_code)
        if code != 0:
            raise WireError(f"ApiVersions failed: {error_code_name(code)}")
        return {int(k.api_key): (int(k.min_version), int(k.max_version)) for k in response.api_keys}
