"""Decoding and encoding of individual records. Only for places where semantics need records
(tools, dump-log, compaction, transactions, tests) — never on the produce/fetch hot path."""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import crc32c

from odradek.protocol.records.batch import HEADER_SIZE, BatchHeader, read_header
from odradek.protocol.records.compression import compress, decompress


@dataclass(frozen=True, slots=True)
class Record:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    header: BatchHeader
    records: tuple[Record, ...] = field(default=())


def _read_varint(buffer: bytes, position: int) -> tuple[int, int]:
    shift = 0
    raw = 0
    while True:
        byte = buffer[position]
        position += 1
        raw |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")
    return (raw >> 1) ^ -(raw & 1), position


def _read_bytes(buffer: bytes, position: int) -> tuple[bytes | None, int]:
    length, position = _read_varint(buffer, position)
    if length < 0:
        return None, position
    end = position + length
    if end > len(buffer):
        raise ValueError("record field overruns its batch")
    return buffer[position:end], end


def decode_records(header: BatchHeader, payload: bytes) -> tuple[Record, ...]:
    """Records of a batch given its header and the bytes after the 61-byte header."""
    body = decompress(header.compression, payload)
    records = []
    position = 0
    for _ in range(header.records_count):
        length, position = _read_varint(body, position)
        end = position + length
        position += 1  # attributes
        ts_delta, position = _read_varint(body, position)
        offset_delta, position = _read_varint(body, position)
        key, position = _read_bytes(body, position)
        value, position = _read_bytes(body, position)
        count, position = _read_varint(body, position)
        headers = []
        for _ in range(count):
            name, position = _read_bytes(body, position)
            header_value, position = _read_bytes(body, position)
            headers.append(((name or b"").decode("utf-8", "replace"), header_value))
        if position != end:
            raise ValueError("record length does not match its fields")
        timestamp = (
            header.max_timestamp
            if header.is_log_append_time
            else (header.base_timestamp + ts_delta)
        )
        records.append(
            Record(header.base_offset + offset_delta, timestamp, key, value, tuple(headers))
        )
    return tuple(records)


def decode_batches(buffer: bytes) -> Iterator[DecodedBatch]:
    """Every whole batch in ``buffer`` with its records decoded."""
    position = 0
    while len(buffer) - position >= HEADER_SIZE:
        header = read_header(buffer, position)
        end = position + header.size
        if end > len(buffer):
            return
        yield DecodedBatch(header, decode_records(header, buffer[position + HEADER_SIZE : end]))
        position = end


def _varint(value: int) -> bytes:
    raw = (value << 1) ^ (value >> 63)
    out = bytearray()
    while raw & ~0x7F:
        out.append((raw & 0x7F) | 0x80)
        raw >>= 7
    out.append(raw)
    return bytes(out)


def _bytes_field(value: bytes | None) -> bytes:
    return _varint(-1) if value is None else _varint(len(value)) + value


def encode_record(
    offset_delta: int,
    timestamp_delta: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] = (),
) -> bytes:
    body = bytearray(b"\x00")
    body += _varint(timestamp_delta) + _varint(offset_delta)
    body += _bytes_field(key) + _bytes_field(value) + _varint(len(headers))
    for name, header_value in headers:
        body += _bytes_field(name.encode()) + _bytes_field(header_value)
    return _varint(len(body)) + bytes(body)


def encode_batch(
    records: Sequence[tuple[bytes | None, bytes | None]],
    *,
    base_offset: int = 0,
    timestamp: int = 0,
    timestamps: Sequence[int] | None = None,
    compression: int = 0,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    attributes: int = 0,
    headers: Sequence[tuple[str, bytes | None]] = (),
) -> bytes:
    """A complete v2 batch, as a client would send it (used by tests and tools)."""
    stamps = list(timestamps) if timestamps is not None else [timestamp] * len(records)
    base_ts = stamps[0] if stamps else timestamp
    body = b"".join(
        encode_record(i, stamps[i] - base_ts, key, value, headers)
        for i, (key, value) in enumerate(records)
    )
    payload = compress(compression, body)
    attrs = attributes | compression
    after_crc = (
        struct.pack(
            ">hiqqqhii",
            attrs,
            max(len(records) - 1, 0),
            base_ts,
            max(stamps, default=base_ts),
            producer_id,
            producer_epoch,
            base_sequence,
            len(records),
        )
        + payload
    )
    crc = crc32c.crc32c(after_crc)
    batch_length = len(after_crc) + 9
    return struct.pack(">qiibI", base_offset, batch_length, 0, 2, crc) + after_crc


def rebuild_batch(
    header: BatchHeader,
    records: Sequence[Record],
    *,
    compression: int,
    base_timestamp: int | None = None,
    attributes: int | None = None,
) -> bytes:
    """A v2 batch with ``header``'s base offset, offset range and producer fields holding
    ``records`` (with their own offsets and timestamps), compressed with ``compression``.
    Used where the broker must rewrite a batch: recompression to a topic's codec, cleaning."""
    base_ts = (
        base_timestamp
        if base_timestamp is not None
        else min((r.timestamp for r in records), default=header.base_timestamp)
    )
    attrs = (header.attributes if attributes is None else attributes) & ~0x07 | compression
    body = b"".join(
        encode_record(
            r.offset - header.base_offset, r.timestamp - base_ts, r.key, r.value, r.headers
        )
        for r in records
    )
    max_ts = (
        header.max_timestamp
        if header.is_log_append_time
        else max((r.timestamp for r in records), default=header.max_timestamp)
    )
    after_crc = struct.pack(
        ">hiqqqhii",
        attrs,
        header.last_offset_delta,
        base_ts,
        max_ts,
        header.producer_id,
        header.producer_epoch,
        header.base_sequence,
        len(records),
    ) + compress(compression, body)
    return (
        struct.pack(
            ">qiibI",
            header.base_offset,
            len(after_crc) + 9,
            header.partition_leader_epoch,
            2,
            crc32c.crc32c(after_crc),
        )
        + after_crc
    )
