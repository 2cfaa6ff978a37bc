"""Response bodies encoded the way kio encodes them, byte for byte, in fewer steps.

kio's writer checks every primitive against its phantom type (``i32(len(...))`` and the like)
and hands each field to the output as a separate write; for a small response (an empty
Fetch, a Produce acknowledgement) that is most of the broker's time per request. This module
builds, once per entity type, a writer from kio's own schema introspection (the same
``kafka_type`` metadata, field order, tags and implicit tag defaults that kio's
``entity_writer`` reads) that packs fixed-size fields with ``struct`` into one ``bytearray``
and keeps only large values — record data, and the FileRegions a Fetch leaves in segment
files — as chunks of their own, uncopied.

kio stays the reference: ``tests/unit/protocol/test_fast_writer.py`` encodes generated
instances of every response entity of every API version both ways and compares the bytes.
An entity whose schema holds a type this module does not know is encoded by kio
(:func:`entity_writer` returns None for it)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import MISSING, Field, fields
from functools import cache
from typing import Any

from kio.serial._implicit_defaults import get_tagged_field_default
from kio.serial._introspect import (
    EntityField,
    EntityTupleField,
    PrimitiveField,
    PrimitiveTupleField,
    classify_field,
    get_field_tag,
    get_schema_field_type,
    is_optional,
)

# Record data at least this long stays a chunk of its own instead of being copied in.
OWN_CHUNK_BYTES = 16 * 1024

_I8 = struct.Struct(">b").pack
_I16 = struct.Struct(">h").pack
_I32 = struct.Struct(">i").pack
_I64 = struct.Struct(">q").pack
_U8 = struct.Struct(">B").pack
_U16 = struct.Struct(">H").pack
_U32 = struct.Struct(">I").pack
_U64 = struct.Struct(">Q").pack
_F64 = struct.Struct(">d").pack
_BOOL = struct.Struct(">?").pack
_ZERO_UUID = bytes(16)


class Chunks:
    """The output: small values packed into ``buf``; large ones as chunks of their own."""

    __slots__ = ("buf", "chunks")

    def __init__(self, buf: bytearray) -> None:
        self.buf = buf
        self.chunks: list[Any] = [buf]

    def own_chunk(self, value: Any) -> None:
        self.chunks.append(value)
        self.buf = bytearray()
        self.chunks.append(self.buf)

    def done(self) -> list[Any]:
        """The chunks in order (an empty trailing buffer dropped)."""
        if not self.buf and len(self.chunks) > 1:
            self.chunks.pop()
        return self.chunks


Writer = Callable[[Chunks, Any], None]


def uvarint(buf: bytearray, value: int) -> None:
    while value > 0x7F:
        buf.append((value & 0x7F) | 0x80)
        value >>= 7
    buf.append(value)


def _fixed(pack: Callable[[Any], bytes]) -> Writer:
    def write(out: Chunks, value: Any) -> None:
        out.buf += pack(value)

    return write


def _error_code(out: Chunks, value: Any) -> None:
    out.buf += _I16(value.value)


def _timedelta_i32(out: Chunks, value: Any) -> None:
    out.buf += _I32(round(value.total_seconds() * 1000))


def _timedelta_i64(out: Chunks, value: Any) -> None:
    out.buf += _I64(round(value.total_seconds() * 1000))


def _datetime_i64(out: Chunks, value: Any) -> None:
    out.buf += _I64(round(value.timestamp() * 1000))


def _nullable_datetime_i64(out: Chunks, value: Any) -> None:
    out.buf += _I64(-1 if value is None else round(value.timestamp() * 1000))


def _uuid(out: Chunks, value: Any) -> None:
    out.buf += _ZERO_UUID if value is None else value.bytes


def _data(out: Chunks, value: Any) -> None:
    """String or record bytes after their length: copied in when small, else a chunk."""
    if isinstance(value, str):
        out.buf += value.encode()
    elif len(value) < OWN_CHUNK_BYTES and isinstance(value, bytes | bytearray | memoryview):
        out.buf += value
    else:
        out.own_chunk(value)


def _compact_bytes(nullable: bool) -> Writer:
    def write(out: Chunks, value: Any) -> None:
        if value is None:
            if not nullable:
                raise TypeError("Unexpectedly received None value")
            out.buf.append(0)
            return
        if isinstance(value, str):
            value = value.encode()
        uvarint(out.buf, len(value) + 1)
        _data(out, value)

    return write


def _legacy_string(nullable: bool) -> Writer:
    def write(out: Chunks, value: Any) -> None:
        if value is None:
            if not nullable:
                raise TypeError("Unexpectedly received None value")
            out.buf += _I16(-1)
            return
        encoded = value.encode()
        out.buf += _I16(len(encoded))
        out.buf += encoded

    return write


def _legacy_bytes(nullable: bool) -> Writer:
    def write(out: Chunks, value: Any) -> None:
        if value is None:
            if not nullable:
                raise TypeError("Unexpectedly received None value")
            out.buf += _I32(-1)
            return
        out.buf += _I32(len(value))
        _data(out, value)

    return write


_FIXED: dict[str, Writer] = {
    "int8": _fixed(_I8),
    "int16": _fixed(_I16),
    "int32": _fixed(_I32),
    "int64": _fixed(_I64),
    "uint8": _fixed(_U8),
    "uint16": _fixed(_U16),
    "uint32": _fixed(_U32),
    "uint64": _fixed(_U64),
    "float64": _fixed(_F64),
    "bool": _fixed(_BOOL),
    "error_code": _error_code,
    "timedelta_i32": _timedelta_i32,
    "timedelta_i64": _timedelta_i64,
    "datetime_i64": _datetime_i64,
}


class UnknownSchemaType(Exception):
    """A field type this module does not encode: the entity is left to kio."""


def _primitive(kafka_type: str, flexible: bool, optional: bool) -> Writer:
    """The writer kio's ``get_writer`` picks for these arguments, or UnknownSchemaType."""
    if kafka_type == "uuid":
        return _uuid
    if kafka_type == "datetime_i64" and optional:
        return _nullable_datetime_i64
    if kafka_type in ("string", "bytes", "records"):
        if flexible:
            return _compact_bytes(optional)
        if kafka_type == "string":
            return _legacy_string(optional)
        return _legacy_bytes(optional)
    writer = _FIXED.get(kafka_type)
    if writer is None or optional:
        raise UnknownSchemaType(f"{kafka_type} {flexible=} {optional=}")
    return writer


def _array(item: Writer, flexible: bool) -> Writer:
    if flexible:

        def write_compact(out: Chunks, items: Sequence[Any] | None) -> None:
            if items is None:
                out.buf.append(0)
                return
            uvarint(out.buf, len(items) + 1)
            for element in items:
                item(out, element)

        return write_compact

    def write_legacy(out: Chunks, items: Sequence[Any] | None) -> None:
        if items is None:
            out.buf += _I32(-1)
            return
        out.buf += _I32(len(items))
        for element in items:
            item(out, element)

    return write_legacy


def _nullable_entity(write_entity: Writer) -> Writer:
    def write(out: Chunks, entity: Any) -> None:
        if entity is None:
            out.buf += _I8(-1)
            return
        out.buf += _I8(1)
        write_entity(out, entity)

    return write


def _field_writer(item: Field[Any], flexible: bool, is_tag: bool) -> Writer:
    optional = False if is_tag else is_optional(item)
    kind = classify_field(item)
    match kind:
        case PrimitiveField():
            inner = _primitive(get_schema_field_type(item), flexible, optional)
        case PrimitiveTupleField():
            inner = _primitive(get_schema_field_type(item), flexible, False)
        case EntityField(entity_type):
            inner = _entity(entity_type)
            if optional:
                inner = _nullable_entity(inner)
        case EntityTupleField(entity_type):
            inner = _entity(entity_type)
        case _:
            raise UnknownSchemaType(f"field {item.name}: {kind}")
    return _array(inner, flexible) if kind.is_array else inner


def _tagged_bytes(writer: Writer, value: Any) -> bytes:
    out = Chunks(bytearray())
    writer(out, value)
    return b"".join(out.done())


@cache
def _entity(entity_type: Any) -> Writer:
    flexible: bool = entity_type.__flexible__
    plain: list[tuple[str, Writer]] = []
    tagged: list[tuple[int, str, Writer, Any, Any]] = []
    for item in fields(entity_type):
        tag = get_field_tag(item)
        writer = _field_writer(item, flexible, tag is not None)
        if tag is None:
            plain.append((item.name, writer))
        else:
            tagged.append((tag, item.name, writer, item.default, get_tagged_field_default(item)))
    if tagged and not flexible:
        raise UnknownSchemaType(f"tagged fields on non-flexible {entity_type}")
    tagged.sort(key=lambda entry: entry[0])
    steps = tuple(plain)
    tags = tuple(tagged)

    if not flexible:

        def write_entity(out: Chunks, entity: Any) -> None:
            for name, writer in steps:
                writer(out, getattr(entity, name))

        return write_entity

    def write_flexible(out: Chunks, entity: Any) -> None:
        for name, writer in steps:
            writer(out, getattr(entity, name))
        if not tags:
            out.buf.append(0)
            return
        present = []
        for tag, name, writer, default, implicit in tags:
            value = getattr(entity, name)
            if value == default or (default == MISSING and value == implicit):
                continue
            present.append((tag, _tagged_bytes(writer, value)))
        uvarint(out.buf, len(present))
        for tag, encoded in present:
            uvarint(out.buf, tag)
            uvarint(out.buf, len(encoded))
            out.buf += encoded

    return write_flexible


@cache
def entity_writer(entity_type: Any) -> Writer | None:
    """The fast writer of a kio entity type; None when kio must encode it."""
    if entity_type.__name__ == "RequestHeader":  # kio special-cases its client_id
        return None
    try:
        return _entity(entity_type)
    except UnknownSchemaType:
        return None
