"""The v2 record batch header, read and patched with ``struct`` — never per record.

Layout (Kafka's DefaultRecordBatch), offsets in bytes::

    0 baseOffset int64        8 batchLength int32     12 partitionLeaderEpoch int32
   16 magic int8             17 crc uint32            21 attributes int16
   23 lastOffsetDelta int32  27 baseTimestamp int64   35 maxTimestamp int64
   43 producerId int64       51 producerEpoch int16   53 baseSequence int32
   57 recordsCount int32     61 records...

The CRC-32C covers bytes 21 to the end of the batch, so the base offset and the partition
leader epoch can be rewritten in place without recomputing it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crc32c

from odradek.common.errors import (
    CorruptRecordError,
    InvalidRecordError,
    UnsupportedForMessageFormatError,
)

LOG_OVERHEAD = 12  # baseOffset + batchLength
HEADER_SIZE = 61
MAGIC_OFFSET = 16
CRC_OFFSET = 17
ATTRIBUTES_OFFSET = 21
MAX_TIMESTAMP_OFFSET = 35

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_FLAG = 0x08
TRANSACTIONAL_FLAG = 0x10
CONTROL_FLAG = 0x20

_HEADER = struct.Struct(">qiibIhiqqqhii")
_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_ATTRS_AND_MAX_TS = struct.Struct(">h")


@dataclass(frozen=True, slots=True)
class BatchHeader:
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        return LOG_OVERHEAD + self.batch_length

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def is_log_append_time(self) -> bool:
        return bool(self.attributes & TIMESTAMP_TYPE_FLAG)

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_FLAG)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_FLAG)


def read_header(buffer: bytes | bytearray | memoryview, position: int = 0) -> BatchHeader:
    return BatchHeader(*_HEADER.unpack_from(buffer, position))


def compute_crc(buffer: bytes | bytearray | memoryview, position: int, size: int) -> int:
    return int(crc32c.crc32c(memoryview(buffer)[position + ATTRIBUTES_OFFSET : position + size]))


@dataclass(frozen=True, slots=True)
class ValidatedBatches:
    """Summary of the batches of one produce request partition, validated and ready to append."""

    headers: tuple[BatchHeader, ...]
    record_count: int
    max_timestamp: int
    offset_of_max_timestamp_delta: int  # offset delta (from first batch base) of max timestamp


def validate_batches(data: bytes | bytearray, max_batch_bytes: int) -> ValidatedBatches:
    """Check the framing, magic and CRC of every batch in ``data`` (a produce payload).

    Raises CorruptRecordError, UnsupportedForMessageFormatError, InvalidRecordError or
    RecordTooLargeError (from the caller's size check) — nothing is appended on any of them.
    """
    from odradek.common.errors import RecordTooLargeError

    total = len(data)
    position = 0
    headers = []
    count = 0
    max_ts = -1
    max_ts_delta = 0
    delta_base = 0
    while position < total:
        if total - position < LOG_OVERHEAD + 5:
            raise CorruptRecordError("truncated record batch")
        magic = data[position + MAGIC_OFFSET]
        if magic != 2:
            raise UnsupportedForMessageFormatError(
                f"record batch magic v{magic} is not supported; only v2"
            )
        if total - position < HEADER_SIZE:
            raise CorruptRecordError("truncated record batch header")
        header = read_header(data, position)
        size = header.size
        if header.batch_length < HEADER_SIZE - LOG_OVERHEAD or position + size > total:
            raise CorruptRecordError(f"record batch length {header.batch_length} is invalid")
        if size > max_batch_bytes:
            raise RecordTooLargeError(
                f"record batch of {size} bytes exceeds max.message.bytes ({max_batch_bytes})"
            )
        if compute_crc(data, position, size) != header.crc:
            raise CorruptRecordError("record batch CRC-32C mismatch")
        if header.last_offset_delta < 0 or header.records_count < 0:
            raise InvalidRecordError("record batch has a negative record count")
        headers.append(header)
        count += header.last_offset_delta + 1
        if header.max_timestamp > max_ts:
            max_ts = header.max_timestamp
            max_ts_delta = delta_base + header.last_offset_delta
        delta_base += header.last_offset_delta + 1
        position += size
    if not headers:
        raise CorruptRecordError("no record batch in produce request")
    return ValidatedBatches(tuple(headers), count, max_ts, max_ts_delta)


def stamp_batch(
    records: bytes,
    header: BatchHeader,
    first_offset: int,
    leader_epoch: int,
    log_append_time: int | None,
) -> tuple[bytes, memoryview]:
    """The batch as (patched prefix, untouched rest) for a vectored write: the base offset and
    partition leader epoch are rewritten — the CRC does not cover them. With LogAppendTime the
    timestamp type and max timestamp are set too, and the CRC recomputed over prefix and rest.
    Nothing of the record data is copied."""
    view = memoryview(records)
    if log_append_time is None:
        prefix = bytearray(view[:MAGIC_OFFSET])
        _INT64.pack_into(prefix, 0, first_offset)
        _INT32.pack_into(prefix, 12, leader_epoch)
        return bytes(prefix), view[MAGIC_OFFSET : header.size]
    prefix = bytearray(view[:HEADER_SIZE])
    _INT64.pack_into(prefix, 0, first_offset)
    _INT32.pack_into(prefix, 12, leader_epoch)
    _ATTRS_AND_MAX_TS.pack_into(prefix, ATTRIBUTES_OFFSET, header.attributes | TIMESTAMP_TYPE_FLAG)
    _INT64.pack_into(prefix, MAX_TIMESTAMP_OFFSET, log_append_time)
    rest = view[HEADER_SIZE : header.size]
    crc = crc32c.crc32c(rest, crc32c.crc32c(prefix[ATTRIBUTES_OFFSET:]))
    struct.pack_into(">I", prefix, CRC_OFFSET, crc)
    return bytes(prefix), rest
