"""Message sets of magic v0 and v1 (Kafka before 0.11): what Produce v0-2 carry and Fetch v0-3
answer. The log stores only v2 batches; these are converted on the way in and out.

Layout of one message in a set (Kafka's LegacyRecord)::

    offset int64, size int32, crc uint32 (CRC-32 of what follows), magic int8, attributes int8,
    [timestamp int64 — magic 1 only], key bytes (int32 length, -1 = null), value bytes

A compressed message is a *wrapper*: its value is the compressed message set of its inner
messages; for magic 1 the inner offsets are relative (0..n-1) and the wrapper carries the
absolute offset of the last one, for magic 0 they are absolute.

LZ4 for magic 0 is Kafka's pre-0.10 framing with the frame descriptor checksum computed over
the magic bytes too (KAFKA-3160); Kafka ignores that checksum for magic 0 when reading and
writes the same broken checksum when down-converting to magic 0. So do we.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cramjam

from odradek.common.errors import CorruptRecordError, UnsupportedCompressionTypeError
from odradek.protocol.records.compression import (
    CompressionType,
    decompress,
    xerial_snappy_compress,
)

MAGIC_V0 = 0
MAGIC_V1 = 1
LOG_OVERHEAD = 12  # offset + size
MAGIC_POSITION = 16  # the magic byte sits here in v0, v1 and v2 alike
RECORD_OVERHEAD_V0 = 14  # crc, magic, attributes, key length, value length
RECORD_OVERHEAD_V1 = 22  # ... plus the timestamp
COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_FLAG = 0x08  # magic 1: LogAppendTime
NO_TIMESTAMP = -1

_OFFSET_SIZE = struct.Struct(">qi")
_CRC_MAGIC_ATTRS = struct.Struct(">Ibb")
_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")

_CODEC_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


@dataclass(frozen=True, slots=True)
class LegacyMessage:
    offset: int
    magic: int
    attributes: int
    timestamp: int  # NO_TIMESTAMP for magic 0
    key: bytes | None
    value: bytes | None
    crc: int

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def is_log_append_time(self) -> bool:
        return self.magic > MAGIC_V0 and bool(self.attributes & TIMESTAMP_TYPE_FLAG)

    @property
    def timestamp_type_name(self) -> str:
        if self.magic == MAGIC_V0:
            return "NoTimestampType"
        return "LogAppendTime" if self.is_log_append_time else "CreateTime"

    def describe(self) -> str:
        """Kafka's LegacyRecord.toString, which its error messages embed."""
        codec = _CODEC_NAMES.get(self.compression, str(self.compression))
        key = 0 if self.key is None else len(self.key)
        value = 0 if self.value is None else len(self.value)
        if self.magic > MAGIC_V0:
            return (
                f"Record(magic={self.magic}, attributes={self.attributes}, "
                f"compression={codec}, crc={self.crc}, {self.timestamp_type_name}="
                f"{self.timestamp}, key={key} bytes, value={value} bytes)"
            )
        return (
            f"Record(magic={self.magic}, attributes={self.attributes}, compression={codec}, "
            f"crc={self.crc}, key={key} bytes, value={value} bytes)"
        )


def is_legacy(records: bytes | bytearray | memoryview | None) -> bool:
    """True when the first batch of ``records`` is a magic v0/v1 message."""
    return records is not None and len(records) > MAGIC_POSITION and records[MAGIC_POSITION] < 2


# -- reading ---------------------------------------------------------------------------------------


def _read_bytes(buffer: bytes, position: int, end: int) -> tuple[bytes | None, int]:
    if position + 4 > end:
        raise CorruptRecordError("message field overruns its message")
    (length,) = _INT32.unpack_from(buffer, position)
    position += 4
    if length < 0:
        return None, position
    if position + length > end:
        raise CorruptRecordError("message field overruns its message")
    return buffer[position : position + length], position + length


def read_messages(data: bytes, *, strict: bool = False) -> Iterator[tuple[LegacyMessage, int]]:
    """The (shallow) messages of a message set with each one's size including its 12-byte
    offset/size prefix. The CRC of each message is checked (CorruptRecordError).

    A trailing partial message is ignored, as Kafka's reader does, unless ``strict`` (the
    inner set of a wrapper, which must be whole)."""
    total = len(data)
    position = 0
    while position < total:
        if total - position < LOG_OVERHEAD:
            if strict:
                raise CorruptRecordError("truncated message in compressed message set")
            return
        offset, size = _OFFSET_SIZE.unpack_from(data, position)
        if size < RECORD_OVERHEAD_V0:
            raise CorruptRecordError(
                f"Record size {size} is less than the minimum record "
                f"overhead ({RECORD_OVERHEAD_V0})"
            )
        end = position + LOG_OVERHEAD + size
        if end > total:
            if strict:
                raise CorruptRecordError("truncated message in compressed message set")
            return
        yield _parse_message(data, position + LOG_OVERHEAD, end, offset), end - position
        position = end


def _parse_message(data: bytes, start: int, end: int, offset: int) -> LegacyMessage:
    crc, magic, attributes = _CRC_MAGIC_ATTRS.unpack_from(data, start)
    if magic not in (MAGIC_V0, MAGIC_V1):
        raise CorruptRecordError(f"Invalid magic {magic} in a message set of magic v0/v1")
    if magic == MAGIC_V1 and end - start < RECORD_OVERHEAD_V1:
        raise CorruptRecordError(
            f"Record size {end - start} is less than the minimum record "
            f"overhead ({RECORD_OVERHEAD_V1})"
        )
    computed = zlib.crc32(memoryview(data)[start + 4 : end])
    if computed != crc:
        raise CorruptRecordError(
            f"Record is corrupt (stored crc = {crc}, computed crc = {computed})"
        )
    position = start + 6
    timestamp = NO_TIMESTAMP
    if magic == MAGIC_V1:
        (timestamp,) = _INT64.unpack_from(data, position)
        position += 8
    key, position = _read_bytes(data, position, end)
    value, position = _read_bytes(data, position, end)
    return LegacyMessage(offset, magic, attributes, timestamp, key, value, crc)


def inner_messages(wrapper: LegacyMessage) -> list[LegacyMessage]:
    """The messages inside a compressed wrapper, with absolute offsets; for a LogAppendTime
    wrapper (magic 1) the inner timestamps are the wrapper's, as Kafka reads them."""
    try:
        data = decompress_legacy(wrapper.compression, wrapper.value or b"", wrapper.magic)
    except UnsupportedCompressionTypeError:
        raise
    except Exception as exc:  # cramjam raises its own error types on bad input
        raise CorruptRecordError(
            f"cannot decompress a {wrapper.compression} message set: {exc}"
        ) from exc
    inner = [message for message, _ in read_messages(data, strict=True)]
    if wrapper.magic == MAGIC_V1 and inner:
        # Relative inner offsets: the wrapper's offset is the last inner message's.
        shift = wrapper.offset - inner[-1].offset
        inner = [_with(m, offset=m.offset + shift) for m in inner]
    if wrapper.is_log_append_time:
        inner = [_with(m, timestamp=wrapper.timestamp) for m in inner]
    return inner


def _with(
    message: LegacyMessage, *, offset: int | None = None, timestamp: int | None = None
) -> LegacyMessage:
    return LegacyMessage(
        message.offset if offset is None else offset,
        message.magic,
        message.attributes,
        message.timestamp if timestamp is None else timestamp,
        message.key,
        message.value,
        message.crc,
    )


# -- writing ---------------------------------------------------------------------------------------


def _bytes_field(value: bytes | None) -> bytes:
    return _INT32.pack(-1) if value is None else _INT32.pack(len(value)) + value


def encode_message(
    offset: int, magic: int, attributes: int, timestamp: int, key: bytes | None, value: bytes | None
) -> bytes:
    """One message with its offset/size prefix."""
    body = struct.pack(">bb", magic, attributes)
    if magic > MAGIC_V0:
        body += _INT64.pack(timestamp)
    body += _bytes_field(key) + _bytes_field(value)
    crc = zlib.crc32(body)
    return _OFFSET_SIZE.pack(offset, len(body) + 4) + struct.pack(">I", crc) + body


def encode_message_set(
    records: Sequence[tuple[int, int, bytes | None, bytes | None]],
    *,
    magic: int,
    compression: int = CompressionType.NONE,
    log_append_time: int | None = None,
) -> bytes:
    """A message set of (offset, timestamp, key, value), one compressed wrapper if
    ``compression`` (inner offsets relative for magic 1, absolute for magic 0), as Kafka's
    MemoryRecordsBuilder writes it. With ``log_append_time`` (magic 1) every timestamp is it
    and the LogAppendTime attribute is set."""
    ts_flag = TIMESTAMP_TYPE_FLAG if log_append_time is not None and magic > MAGIC_V0 else 0

    def stamp(timestamp: int) -> int:
        return log_append_time if log_append_time is not None else timestamp

    if compression == CompressionType.NONE:
        return b"".join(
            encode_message(offset, magic, ts_flag, stamp(ts), key, value)
            for offset, ts, key, value in records
        )
    if not records:
        return b""
    base = records[0][0]
    inner = b"".join(
        encode_message(
            offset - base if magic > MAGIC_V0 else offset, magic, ts_flag, stamp(ts), key, value
        )
        for offset, ts, key, value in records
    )
    wrapper_ts = stamp(max(ts for _, ts, _, _ in records))
    return encode_message(
        records[-1][0],
        magic,
        compression | ts_flag,
        wrapper_ts,
        None,
        compress_legacy(compression, inner, magic),
    )


# -- compression -----------------------------------------------------------------------------------


def decompress_legacy(codec: int, data: bytes, magic: int) -> bytes:
    if codec == CompressionType.ZSTD:
        raise UnsupportedCompressionTypeError(
            "zstd compression is not allowed for magic v0/v1 messages"
        )
    if codec > CompressionType.ZSTD:
        raise CorruptRecordError(f"Unknown compression type id: {codec}")
    if codec == CompressionType.LZ4 and magic == MAGIC_V0:
        data = fix_lz4_header_checksum(data)
    return decompress(codec, data)


def compress_legacy(codec: int, data: bytes, magic: int) -> bytes:
    """Compress an inner message set the way Kafka writes magic v0/v1: snappy with the xerial
    framing, LZ4 as Kafka's own frame (64 KiB independent blocks, no checksums), with the
    KAFKA-3160 header checksum for magic 0."""
    if codec == CompressionType.GZIP:
        return bytes(cramjam.gzip.compress(data))
    if codec == CompressionType.SNAPPY:
        return xerial_snappy_compress(data)
    if codec == CompressionType.LZ4:
        return lz4_frame(data, broken_checksum=magic == MAGIC_V0)
    raise UnsupportedCompressionTypeError(
        f"compression {codec} is not available for magic v{magic} messages"
    )


_LZ4_MAGIC = b"\x04\x22\x4d\x18"
_LZ4_FLG = 0x60  # version 01, independent blocks, no checksums, no content size
_LZ4_BD = 0x40  # 64 KiB blocks
_LZ4_BLOCK = 64 * 1024
_LZ4_UNCOMPRESSED = 0x80000000


def lz4_frame(data: bytes, *, broken_checksum: bool = False) -> bytes:
    descriptor = bytes((_LZ4_FLG, _LZ4_BD))
    hashed = _LZ4_MAGIC + descriptor if broken_checksum else descriptor
    out = bytearray(_LZ4_MAGIC + descriptor)
    out.append((xxh32(hashed) >> 8) & 0xFF)
    for start in range(0, len(data), _LZ4_BLOCK):
        raw = data[start : start + _LZ4_BLOCK]
        block = bytes(cramjam.lz4.compress_block(raw, store_size=False))
        if len(block) >= len(raw):
            out += struct.pack("<I", len(raw) | _LZ4_UNCOMPRESSED) + raw
        else:
            out += struct.pack("<I", len(block)) + block
    out += b"\x00\x00\x00\x00"
    return bytes(out)


def fix_lz4_header_checksum(frame: bytes) -> bytes:
    """Replace the frame descriptor checksum by the correct one (old clients computed it over
    the magic bytes as well), so a standard LZ4 frame decoder accepts the frame."""
    if len(frame) < 7 or frame[:4] != _LZ4_MAGIC:
        return frame
    flg = frame[4]
    end = 6 + (8 if flg & 0x08 else 0) + (4 if flg & 0x01 else 0)
    if len(frame) <= end:
        return frame
    checksum = (xxh32(frame[4:end]) >> 8) & 0xFF
    return frame[:end] + bytes((checksum,)) + frame[end + 1 :]


_P1 = 2654435761
_P2 = 2246822519
_P3 = 3266489917
_P4 = 668265263
_P5 = 374761393
_M32 = 0xFFFFFFFF


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & _M32


def xxh32(data: bytes, seed: int = 0) -> int:
    """XXH32 (for LZ4 frame descriptor checksums: a few bytes, so plain Python is fine)."""
    length = len(data)
    position = 0
    if length >= 16:
        v1 = (seed + _P1 + _P2) & _M32
        v2 = (seed + _P2) & _M32
        v3 = seed & _M32
        v4 = (seed - _P1) & _M32
        while position + 16 <= length:
            lanes = struct.unpack_from("<IIII", data, position)
            v1 = _rotl((v1 + lanes[0] * _P2) & _M32, 13) * _P1 & _M32
            v2 = _rotl((v2 + lanes[1] * _P2) & _M32, 13) * _P1 & _M32
            v3 = _rotl((v3 + lanes[2] * _P2) & _M32, 13) * _P1 & _M32
            v4 = _rotl((v4 + lanes[3] * _P2) & _M32, 13) * _P1 & _M32
            position += 16
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M32
    else:
        h = (seed + _P5) & _M32
    h = (h + length) & _M32
    while position + 4 <= length:
        (lane,) = struct.unpack_from("<I", data, position)
        h = _rotl((h + lane * _P3) & _M32, 17) * _P4 & _M32
        position += 4
    while position < length:
        h = _rotl((h + data[position] * _P5) & _M32, 11) * _P1 & _M32
        position += 1
    h ^= h >> 15
    h = h * _P2 & _M32
    h ^= h >> 13
    h = h * _P3 & _M32
    h ^= h >> 16
    return h
