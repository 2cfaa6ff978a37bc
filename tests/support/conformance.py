"""Generic, minimal requests for any (api_key, version) kio knows, and checks on the answers.

``build_request`` fills a kio request class field by field: an override when one is given
(nested dicts for structs, lists of dicts for arrays of structs; keys that a version does not
have are ignored, so one override table serves every version), else the schema default, else
None where the field is nullable, else a plain value of the field's type (0, "", b"", False,
UUID(int=0), the context's topic/group/transactional id for fields of those types, one element
-- or none -- for arrays of structs, ...).

``exchange`` sends one request on a :class:`RawClient` and decodes the answer with the kio
response class of the same version, insisting that the body is consumed exactly.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import io
import struct
import types
import typing
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from kio.index import load_request_schema, load_response_schema
from kio.schema.errors import ErrorCode
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.schema.types import GroupId, TopicName, TransactionalId
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import Records

from tests.support.raw_client import API_VERSIONS, RawClient

PARTITION_MAX_BYTES = 1_048_576
DEFAULT_TIMEOUT = datetime.timedelta(seconds=10)
_INT32 = struct.Struct(">i")
ZERO_UUID = uuid.UUID(int=0)


@dataclass(frozen=True)
class Names:
    """Real names the generic builder puts into fields of those kio types."""

    topic: str = ""
    topic_id: uuid.UUID = ZERO_UUID
    group: str = ""
    transactional_id: str = ""


# -- building requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    hint: Any  # the type without Optional
    nullable: bool
    has_default: bool
    kafka_type: str


@cache
def _field_specs(entity_type: Any) -> tuple[_FieldSpec, ...]:
    hints = typing.get_type_hints(entity_type)
    specs = []
    for item in dataclasses.fields(entity_type):
        hint = hints[item.name]
        args = typing.get_args(hint)
        nullable = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
        inner = next(a for a in args if a is not type(None)) if nullable else hint
        has_default = (
            item.default is not dataclasses.MISSING
            or item.default_factory is not dataclasses.MISSING
        )
        specs.append(
            _FieldSpec(item.name, inner, nullable, has_default, item.metadata.get("kafka_type", ""))
        )
    return tuple(specs)


def _is_entity(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _array_element(hint: Any) -> Any | None:
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0]
    return None


def _plain_value(spec: _FieldSpec, names: Names, one: bool) -> Any:
    hint, name = spec.hint, spec.name
    element = _array_element(hint)
    if element is not None:
        return (make_entity(element, {}, names, one),) if one and _is_entity(element) else ()
    if _is_entity(hint):
        return make_entity(hint, {}, names, one)
    if not isinstance(hint, type):
        raise TypeError(f"cannot make a value for {name}: {hint!r}")
    if issubclass(hint, bool):
        return False
    if issubclass(hint, datetime.timedelta):
        return DEFAULT_TIMEOUT if "timeout" in name else datetime.timedelta(0)
    if issubclass(hint, datetime.datetime):
        return datetime.datetime.fromtimestamp(0, datetime.UTC)
    if issubclass(hint, uuid.UUID):
        return names.topic_id if name == "topic_id" else ZERO_UUID
    if issubclass(hint, TopicName):
        return names.topic
    if issubclass(hint, GroupId):
        return names.group
    if issubclass(hint, TransactionalId):
        return names.transactional_id
    if issubclass(hint, str):
        return ""
    if issubclass(hint, Records):
        return b""
    if issubclass(hint, bytes):
        return b""
    if issubclass(hint, float):
        return 0.0
    if issubclass(hint, int):
        return PARTITION_MAX_BYTES if name.endswith("max_bytes") else 0
    raise TypeError(f"cannot make a value for {name}: {hint!r}")


def _converted(spec: _FieldSpec, value: Any, names: Names, one: bool) -> Any:
    if value is None:
        return None
    element = _array_element(spec.hint)
    if element is not None:
        if _is_entity(element):
            return tuple(
                make_entity(element, item, names, one) if isinstance(item, Mapping) else item
                for item in value
            )
        return tuple(value)
    if _is_entity(spec.hint) and isinstance(value, Mapping):
        return make_entity(spec.hint, value, names, one)
    return value


def make_entity(
    entity_type: Any, overrides: Mapping[str, Any], names: Names, one: bool = True
) -> Any:
    """An instance of the kio entity ``entity_type`` (see the module docstring); arrays of
    structs that no override fills hold one element (``one``) or none."""
    values: dict[str, Any] = {}
    for spec in _field_specs(entity_type):
        if spec.name in overrides:
            values[spec.name] = _converted(spec, overrides[spec.name], names, one)
        elif spec.has_default:
            continue
        elif spec.name == "topic_id" and spec.kafka_type == "uuid":
            values[spec.name] = names.topic_id
        elif spec.nullable:
            values[spec.name] = None
        else:
            values[spec.name] = _plain_value(spec, names, one)
    return entity_type(**values)


def request_class(api_key: int, version: int) -> Any:
    return load_request_schema(api_key, version)


def response_class(api_key: int, version: int) -> Any:
    return load_response_schema(api_key, version)


def build_request(
    api_key: int,
    version: int,
    overrides: Mapping[str, Any] | None = None,
    names: Names | None = None,
    one: bool = True,
) -> Any:
    return make_entity(request_class(api_key, version), overrides or {}, names or Names(), one)


def api_name(api_key: int) -> str:
    """``Produce``, ``Fetch``, ... from kio's request class name."""
    name: str = request_class(api_key, _any_version(api_key)).__name__
    return name.removesuffix("Request")


@cache
def _any_version(api_key: int) -> int:
    for version in range(64):
        try:
            load_request_schema(api_key, version)
        except Exception:
            continue
        return version
    raise LookupError(f"kio has no request schema for api key {api_key}")


# -- exchanging --------------------------------------------------------------------------------


def encode(entity: Any) -> bytes:
    buffer = io.BytesIO()
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


@dataclass(frozen=True)
class Answer:
    body: Any  # the decoded kio response entity
    raw_body: bytes  # the response body bytes, after the response header


def response_header_is_flexible(api_key: int, version: int) -> bool:
    return bool(response_class(api_key, version).__flexible__) and api_key != API_VERSIONS


DESCRIBE_TRANSACTIONS = 65


def _patch_idle_start_time(api_key: int, payload: bytes, offset: int) -> bytes | None:
    """Kafka answers TransactionStartTimeMs = -1 for a transactional id with no transaction in
    progress (Java and librdkafka read it), but kio's reader refuses negative timestamps. So
    that the rest of such a response is still checked, the -1 is replaced by 0 and decoding
    retried; any other decoding failure stays a failure."""
    if api_key != DESCRIBE_TRANSACTIONS:
        return None
    marker = b"\xff" * 8
    if marker not in payload[offset:]:
        return None
    return payload.replace(marker, b"\x00" * 8)


def decode_response(api_key: int, version: int, payload: bytes, correlation_id: int) -> Answer:
    """Decode a response frame (without its size prefix), checking the correlation id and
    that the body class of ``version`` consumes the frame exactly."""
    body_class = response_class(api_key, version)
    if response_header_is_flexible(api_key, version):
        header, offset = entity_reader(ResponseHeaderV1)(payload, 0)
        got = header.correlation_id
    else:
        (got,), offset = _INT32.unpack_from(payload, 0), 4
    assert got == correlation_id, f"correlation id {got}, expected {correlation_id}"
    try:
        body, size = entity_reader(body_class)(payload, offset)
    except Exception as exc:
        patched = _patch_idle_start_time(api_key, payload, offset)
        if patched is not None:  # see _patch_idle_start_time
            return decode_response(api_key, version, patched, correlation_id)
        raise AssertionError(
            f"{body_class.__name__} v{version} cannot decode the response "
            f"({len(payload)} bytes: {payload[:200].hex()}...): {exc!r}"
        ) from exc
    trailing = len(payload) - offset - size
    assert trailing == 0, (
        f"{body_class.__name__} v{version} decoded {size} of {len(payload) - offset} body bytes;"
        f" {trailing} trailing"
    )
    return Answer(body, payload[offset:])


def exchange(client: RawClient, request: Any) -> Answer:
    correlation_id = client.send(request)
    payload = client.receive_frame()
    return decode_response(request.__api_key__, request.__version__, payload, correlation_id)


# -- checking ----------------------------------------------------------------------------------


def error_codes(entity: Any, path: str = "") -> Iterator[tuple[str, int]]:
    """(path, code) for every error code field of a decoded kio entity, e.g.
    ``("responses[0].partitions[0].error_code", 0)``."""
    entity_type: Any = type(entity)
    for spec in _field_specs(entity_type):
        value = getattr(entity, spec.name)
        here = f"{path}.{spec.name}" if path else spec.name
        if spec.kafka_type == "error_code":
            yield here, int(value)
            continue
        if value is None:
            continue
        element = _array_element(spec.hint)
        if element is not None and _is_entity(element):
            for index, item in enumerate(value):
                yield from error_codes(item, f"{here}[{index}]")
        elif _is_entity(spec.hint):
            yield from error_codes(value, here)


Expect = Mapping[str, frozenset[int]]
"""Allowed error codes by fnmatch pattern on the error code's path; the first pattern that
matches wins; codes that no pattern matches must be 0."""


def code_name(code: int) -> str:
    try:
        return f"{code} {ErrorCode(code).name.upper()}"
    except ValueError:
        return str(code)


def unexpected_errors(body: Any, expect: Expect) -> list[str]:
    problems = []
    for path, code in error_codes(body):
        allowed = next(
            (codes for pattern, codes in expect.items() if fnmatch.fnmatchcase(path, pattern)),
            frozenset({0}),
        )
        if code not in allowed:
            wanted = " or ".join(code_name(c) for c in sorted(allowed))
            problems.append(f"{path} = {code_name(code)}, expected {wanted}")
    return problems


def error_messages(body: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Non-empty ``*error_message`` strings anywhere in a response (for failure reports)."""
    body_type: Any = type(body)
    for spec in _field_specs(body_type):
        value = getattr(body, spec.name)
        here = f"{path}.{spec.name}" if path else spec.name
        if spec.name.endswith("error_message") and value:
            yield here, value
        element = _array_element(spec.hint)
        if value is not None and element is not None and _is_entity(element):
            for index, item in enumerate(value):
                yield from error_messages(item, f"{here}[{index}]")
        elif value is not None and _is_entity(spec.hint):
            yield from error_messages(value, here)


# -- compact wire format (to look at tagged fields kio would drop silently) ----------------------


def read_uvarint(data: bytes, position: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def read_tagged_fields(data: bytes, position: int) -> tuple[list[tuple[int, bytes]], int]:
    count, position = read_uvarint(data, position)
    tags = []
    for _ in range(count):
        tag, position = read_uvarint(data, position)
        size, position = read_uvarint(data, position)
        tags.append((tag, data[position : position + size]))
        position += size
    return tags, position


@dataclass(frozen=True)
class ApiVersionsWire:
    entry_tags: list[tuple[int, list[tuple[int, bytes]]]]  # (api_key, its tagged fields)
    top_tags: list[tuple[int, bytes]]
    end: int


def parse_api_versions_v3(body: bytes) -> ApiVersionsWire:
    """ApiVersionsResponse v3+ by hand: error_code, api_keys (compact array of key, min, max,
    tagged fields), throttle_time_ms, tagged fields."""
    position = 2
    count, position = read_uvarint(body, position)
    entries = []
    for _ in range(count - 1):
        (api_key,) = struct.unpack_from(">h", body, position)
        tags, position = read_tagged_fields(body, position + 6)
        entries.append((api_key, tags))
    position += 4
    top, position = read_tagged_fields(body, position)
    return ApiVersionsWire(entries, top, position)


def default_valued_api_versions_tags(raw_body: bytes, body: Any) -> list[str]:
    """Tagged fields of an ApiVersionsResponse v3+ as received (``raw_body``) that kio's
    canonical encoding of the decoded ``body`` leaves out, i.e. fields sent with their default
    value, plus any tagged fields inside the api_keys entries (the schema has none)."""
    wire = parse_api_versions_v3(raw_body)
    problems = [f"api key {key}: tagged fields {tags}" for key, tags in wire.entry_tags if tags]
    if wire.end != len(raw_body):
        problems.append(f"{len(raw_body) - wire.end} bytes after the tagged fields")
    canonical = {tag for tag, _ in parse_api_versions_v3(encode(body)).top_tags}
    problems += [f"tag {tag} = {data.hex()}" for tag, data in wire.top_tags if tag not in canonical]
    return problems


def log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def log_since(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""
