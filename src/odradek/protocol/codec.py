"""Request and response codecs on top of kio's generated message types.

A request frame is a request header (v1, or v2 for flexible versions) and a body; a response
is a response header (v0, or v1 for flexible versions — except ApiVersions, always v0) and a
body. kio writes tagged fields only when they differ from their defaults, as Kafka does.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import struct
import typing
from dataclasses import dataclass, fields, is_dataclass
from functools import cache
from types import ModuleType
from typing import Any, Protocol

from kio.index import load_payload_module
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.serial import entity_reader, entity_writer
from kio.static.constants import EntityType

from odradek.protocol import fast_writer, legacy_codec
from odradek.protocol.api_versions import API_VERSIONS_KEY, SUPPORTED_APIS

_HEADER_PREFIX = struct.Struct(">hhi")
_INT32 = struct.Struct(">i")


class RequestParseError(Exception):
    """The peer sent something that is not a valid request: close its connection."""


class UnsupportedApiError(RequestParseError):
    """An unknown API key, or a version outside the advertised range (not ApiVersions)."""


@dataclass(frozen=True, slots=True)
class RequestHeader:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    header: RequestHeader
    body: Any  # a kio request entity
    size: int


@cache
def request_module(api_key: int, version: int) -> ModuleType:
    if legacy_codec.is_legacy_version(api_key, version):
        return legacy_codec  # Produce v0-2, Fetch v0-3, ListOffsets v0: not in kio
    return load_payload_module(api_key, version, EntityType.request)


@cache
def response_module(api_key: int, version: int) -> ModuleType:
    if legacy_codec.is_legacy_version(api_key, version):
        return legacy_codec  # Produce v0-2, Fetch v0-3, ListOffsets v0: not in kio
    return load_payload_module(api_key, version, EntityType.response)


@cache
def _request_class(api_key: int, version: int) -> Any:
    module = request_module(api_key, version)
    return next(
        getattr(module, name)
        for name in dir(module)
        if name.endswith("Request")
        and getattr(getattr(module, name), "__type__", None) is EntityType.request
    )


@cache
def response_class(api_key: int, version: int) -> Any:
    module = response_module(api_key, version)
    return next(
        getattr(module, name)
        for name in dir(module)
        if name.endswith("Response")
        and getattr(getattr(module, name), "__type__", None) is EntityType.response
    )


@cache
def _reader(entity_type: Any) -> Any:
    return entity_reader(entity_type)


@cache
def _writer(entity_type: Any) -> Any:
    return entity_writer(entity_type)


def peek_header(frame: bytes | memoryview) -> tuple[int, int, int]:
    """(api_key, api_version, correlation_id) from the fixed first 8 bytes of a request."""
    if len(frame) < 8:
        raise RequestParseError("request shorter than its header")
    api_key, version, correlation_id = _HEADER_PREFIX.unpack_from(frame, 0)
    return api_key, version, correlation_id


def parse_request(frame: bytes | memoryview) -> ParsedRequest:
    """Decode a request frame. Raises UnsupportedApiError or RequestParseError."""
    api_key, version, _ = peek_header(frame)
    supported = SUPPORTED_APIS.get(api_key)
    if supported is None or not supported[0] <= version <= supported[1]:
        raise UnsupportedApiError(f"unsupported api key {api_key} version {version}")
    if legacy_codec.is_legacy_version(api_key, version):
        return _parse_legacy(frame, api_key, version)
    body_class = _request_class(api_key, version)
    header_class = RequestHeaderV2 if body_class.__flexible__ else RequestHeaderV1
    try:
        header, offset = _reader(header_class)(frame, 0)
        body, _size = _reader(body_class)(frame, offset)
    except Exception as exc:  # kio raises several types for malformed input
        raise RequestParseError(f"malformed api key {api_key} v{version} request: {exc}") from exc
    check_non_null(body)
    parsed_header = RequestHeader(api_key, version, header.correlation_id, header.client_id)
    return ParsedRequest(parsed_header, body, len(frame))


def _parse_legacy(frame: bytes | memoryview, api_key: int, version: int) -> ParsedRequest:
    try:
        _, _, correlation_id, client_id, offset = legacy_codec.parse_request_header(frame)
        body = legacy_codec.parse_body(api_key, version, frame, offset)
    except legacy_codec.LegacyParseError as exc:
        raise RequestParseError(f"malformed api key {api_key} v{version} request: {exc}") from exc
    return ParsedRequest(
        RequestHeader(api_key, version, correlation_id, client_id), body, len(frame)
    )


@dataclass(frozen=True, slots=True)
class _NestedField:
    name: str
    nullable: bool
    is_array: bool
    entity: Any  # the nested entity class, or None for primitive arrays


@cache
def _nested_fields(entity_type: Any) -> tuple[_NestedField, ...]:
    """Array and struct fields of a kio entity: whether null is allowed, what they hold."""
    hints = typing.get_type_hints(entity_type)
    result = []
    for item in fields(entity_type):
        hint = hints[item.name]
        args = typing.get_args(hint)
        nullable = type(None) in args
        inner = next((a for a in args if a is not type(None)), hint) if nullable else hint
        if typing.get_origin(inner) is tuple:
            element = typing.get_args(inner)[0]
            entity = element if hasattr(element, "__dataclass_fields__") else None
            result.append(_NestedField(item.name, nullable, True, entity))
        elif hasattr(inner, "__dataclass_fields__"):
            result.append(_NestedField(item.name, nullable, False, inner))
    return tuple(result)


def check_non_null(entity: Any) -> None:
    """kio's reader lets a null array or struct through where the schema forbids null; Kafka
    rejects such a request ("non-nullable field ... was serialized as null")."""
    entity_type: Any = type(entity)
    for spec in _nested_fields(entity_type):
        value = getattr(entity, spec.name)
        if value is None:
            if not spec.nullable:
                raise RequestParseError(f"non-nullable field {spec.name} was serialized as null")
            continue
        if spec.entity is None:
            continue
        if spec.is_array:
            for element in value:
                check_non_null(element)
        else:
            check_non_null(value)


class FileRegion(Protocol):
    """Bytes left in a file until they are sent (a fetch's records: storage's FileRecords):
    a response chunk of its own, of ``len()`` bytes, that the connection sends from the file
    (zero-copy) instead of from memory."""

    def __len__(self) -> int: ...


Chunk = bytes | bytearray | memoryview | FileRegion


class ChunkWriter:
    """A ``Writable`` that keeps large values (record data) as separate chunks, uncopied; a
    FileRegion value stays a region."""

    __slots__ = ("chunks", "size")

    def __init__(self) -> None:
        self.chunks: list[Chunk] = []
        self.size = 0

    def write(self, data: Chunk) -> int:
        self.chunks.append(data)
        length = len(data)
        self.size += length
        return length


def encode_response(header: RequestHeader, body: Any) -> list[Any]:
    """Size prefix, response header and body, as chunks (each a :data:`Chunk`) for the
    connection to send in order: bytes-like values, and any FileRegion the body holds (a
    Fetch response's records) as a chunk of its own."""
    if not legacy_codec.is_legacy_response(body):
        fast = fast_writer.entity_writer(body.__class__)
        if fast is not None:
            tagged = body.__flexible__ and header.api_key != API_VERSIONS_KEY
            buf = bytearray(9 if tagged else 8)  # size, correlation id, empty tags of header v1
            _INT32.pack_into(buf, 4, header.correlation_id)
            out = fast_writer.Chunks(buf)
            fast(out, body)
            chunks = out.done()
            _INT32.pack_into(buf, 0, sum(map(len, chunks)) - 4)
            return chunks
    writer = ChunkWriter()
    writer.write(b"")  # placeholder for the size prefix
    writer.write(_INT32.pack(header.correlation_id))
    if legacy_codec.is_legacy_response(body):
        for chunk in legacy_codec.encode_body(header.api_version, body):
            writer.write(chunk)
    else:
        if body.__flexible__ and header.api_key != API_VERSIONS_KEY:
            writer.write(b"\x00")  # empty tagged fields of response header v1
        _writer(type(body))(writer, body)  # type: ignore[arg-type]
    writer.chunks[0] = _INT32.pack(writer.size)
    return writer.chunks


@cache
def _field_names(entity_type: Any) -> frozenset[str]:
    return frozenset(f.name for f in fields(entity_type))


# Under test (ODRADEK_STRICT_BUILD=1, set by the test suite for itself and the brokers it
# starts) a field name that no version of the entity has is an error instead of being dropped.
STRICT_BUILD = os.environ.get("ODRADEK_STRICT_BUILD") == "1"


class UnknownFieldError(TypeError):
    """``build`` was given a field name that no version of the entity has (a typo)."""


@cache
def _field_names_of_all_versions(entity_type: Any) -> frozenset[str] | None:
    """The field names of every version of a kio entity (``kio.schema.<api>.v<N>.<kind>``),
    matched by class name; None for anything else (the legacy codec's entities, which take
    the fields of the kio versions they stand beside)."""
    parts = entity_type.__module__.split(".")
    if len(parts) != 5 or parts[:2] != ["kio", "schema"] or not parts[3].startswith("v"):
        return None
    package = importlib.import_module(".".join(parts[:3]))
    names: set[str] = set()
    for info in pkgutil.iter_modules(package.__path__):
        if not (info.name.startswith("v") and info.name[1:].isdigit()):
            continue
        try:
            module = importlib.import_module(f"{package.__name__}.{info.name}.{parts[4]}")
        except ImportError:
            continue
        other: Any = getattr(module, entity_type.__name__, None)
        if isinstance(other, type) and is_dataclass(other):
            names.update(_field_names(other))
    legacy: Any = getattr(legacy_codec, entity_type.__name__, None)  # the versions kio lacks
    if isinstance(legacy, type) and is_dataclass(legacy):
        names.update(_field_names(legacy))
    return frozenset(names)


def build(entity_type: Any, /, **values: Any) -> Any:
    """Construct a kio entity of any version from a superset of its fields' values: fields that
    this version does not have are dropped, so one handler serves every version."""
    names = _field_names(entity_type)
    if STRICT_BUILD and (known := _field_names_of_all_versions(entity_type)) is not None:
        unknown = sorted(k for k in values if k not in names and k not in known)
        if unknown:
            raise UnknownFieldError(
                f"{entity_type.__module__}.{entity_type.__qualname__} has no "
                f"field {', '.join(unknown)} in any version"
            )
    return entity_type(**{k: v for k, v in values.items() if k in names})
