"""Byte-level helpers for building odd record batches in tests."""

from __future__ import annotations

import struct
import zlib

import crc32c

from odradek.protocol.records.batch import CRC_OFFSET, HEADER_SIZE


def patch(batch: bytes, offset: int, fmt: str, value: int, *, fix_crc: bool = False) -> bytes:
    """``batch`` with ``value`` packed at ``offset``; the CRC recomputed if asked."""
    data = bytearray(batch)
    struct.pack_into(fmt, data, offset, value)
    if fix_crc:
        struct.pack_into(">I", data, CRC_OFFSET, crc32c.crc32c(bytes(data[21:])))
    return bytes(data)


def with_payload(batch: bytes, payload: bytes, compression: int) -> bytes:
    """``batch`` with its records section replaced by ``payload`` and the codec bits set."""
    header = bytearray(batch[:HEADER_SIZE])
    (attributes,) = struct.unpack_from(">h", header, 21)
    struct.pack_into(">h", header, 21, (attributes & ~0x07) | compression)
    struct.pack_into(">i", header, 8, HEADER_SIZE - 12 + len(payload))
    data = bytes(header) + payload
    return patch(data, CRC_OFFSET, ">I", crc32c.crc32c(data[21:]))


def legacy_message(magic: int, value: bytes, offset: int = 0) -> bytes:
    """A v0/v1 message (old message-set format) as an old client sends it."""
    body = struct.pack(">bb", magic, 0)
    if magic == 1:
        body += struct.pack(">q", 1_700_000_000_000)
    body += struct.pack(">i", -1) + struct.pack(">i", len(value)) + value
    crc = zlib.crc32(body) & 0xFFFFFFFF
    message = struct.pack(">I", crc) + body
    return struct.pack(">qi", offset, len(message)) + message
