"""Record-batch compression codecs through cramjam, including the xerial snappy framing
that the Java client writes (a magic header, then length-prefixed raw snappy blocks)."""

from __future__ import annotations

import enum
import struct

import cramjam

XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER_SIZE = 16
_XERIAL_BLOCK = 32 * 1024


class CompressionType(enum.IntEnum):
    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4

    @classmethod
    def from_name(cls, name: str) -> CompressionType:
        return {
            "none": cls.NONE,
            "uncompressed": cls.NONE,
            "gzip": cls.GZIP,
            "snappy": cls.SNAPPY,
            "lz4": cls.LZ4,
            "zstd": cls.ZSTD,
        }[name.lower()]


def decompress(codec: int, data: bytes | memoryview) -> bytes:
    if codec == CompressionType.NONE:
        return bytes(data)
    if codec == CompressionType.GZIP:
        return bytes(cramjam.gzip.decompress(bytes(data)))
    if codec == CompressionType.SNAPPY:
        return _snappy_decompress(bytes(data))
    if codec == CompressionType.LZ4:
        return bytes(cramjam.lz4.decompress(bytes(data)))
    if codec == CompressionType.ZSTD:
        return bytes(cramjam.zstd.decompress(bytes(data)))
    raise ValueError(f"unknown compression codec {codec}")


def compress(codec: int, data: bytes) -> bytes:
    if codec == CompressionType.NONE:
        return data
    if codec == CompressionType.GZIP:
        return bytes(cramjam.gzip.compress(data))
    if codec == CompressionType.SNAPPY:
        return bytes(cramjam.snappy.compress_raw(data))
    if codec == CompressionType.LZ4:
        return bytes(cramjam.lz4.compress(data))
    if codec == CompressionType.ZSTD:
        return bytes(cramjam.zstd.compress(data))
    raise ValueError(f"unknown compression codec {codec}")


def xerial_snappy_compress(data: bytes) -> bytes:
    """The Java client's framing: header, then [int32 length][raw snappy block] per 32 KiB."""
    out = bytearray(XERIAL_MAGIC + struct.pack(">ii", 1, 1))
    for start in range(0, len(data), _XERIAL_BLOCK):
        block = bytes(cramjam.snappy.compress_raw(data[start : start + _XERIAL_BLOCK]))
        out += struct.pack(">i", len(block)) + block
    return bytes(out)


def _snappy_decompress(data: bytes) -> bytes:
    if not data.startswith(XERIAL_MAGIC):
        return bytes(cramjam.snappy.decompress_raw(data))
    out = bytearray()
    position = _XERIAL_HEADER_SIZE
    while position + 4 <= len(data):
        (length,) = struct.unpack_from(">i", data, position)
        position += 4
        out += bytes(cramjam.snappy.decompress_raw(data[position : position + length]))
        position += length
    return bytes(out)
