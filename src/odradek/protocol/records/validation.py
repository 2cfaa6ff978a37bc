"""Record-level validation (Kafka's LogValidator, KIP-467) and the conversions between the
stored v2 batches and the magic v0/v1 message sets of old clients.

Record-level checks need the records decoded, so they run only where they can fail: keys on
compacted topics, timestamps when the topic bounds them (``message.timestamp.before/after.max.ms``
or the older ``difference``), and a producer that claims LogAppendTime. A plain v2 batch on a
delete-policy topic with default timestamp bounds is never decoded.

A failing record rejects its whole batch: the partition answers INVALID_RECORD (or
INVALID_TIMESTAMP if any record has a bad timestamp) with every failing record's index in
``record_errors`` and Kafka's summary in ``error_message``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from odradek.common.errors import (
    CorruptRecordError,
    InvalidRecordError,
    InvalidTimestampError,
    KafkaError,
    RecordTooLargeError,
    UnsupportedCompressionTypeError,
)
from odradek.protocol.records.batch import HEADER_SIZE, BatchHeader, read_header
from odradek.protocol.records.codec import Record, decode_records, encode_batch
from odradek.protocol.records.compression import CompressionType
from odradek.protocol.records.legacy import (
    MAGIC_V0,
    LegacyMessage,
    encode_message_set,
    inner_messages,
    read_messages,
)

LONG_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class RecordError:
    batch_index: int
    message: str | None

    def __str__(self) -> str:  # Kafka's ProduceResponse.RecordError.toString
        text = "null" if self.message is None else f"'{self.message}'"
        return f"RecordError(batchIndex={self.batch_index}, message={text})"


class _RecordErrors:
    record_errors: tuple[RecordError, ...] = ()


class InvalidRecordsError(_RecordErrors, InvalidRecordError):
    """Some records of a batch are invalid (INVALID_RECORD); ``record_errors`` says which."""


class InvalidTimestampsError(_RecordErrors, InvalidTimestampError):
    """Some records of a batch have an invalid timestamp (INVALID_TIMESTAMP)."""


def record_errors_of(exc: BaseException) -> tuple[RecordError, ...] | None:
    """The record errors carried by ``exc``, or None for an error without them."""
    return exc.record_errors if isinstance(exc, _RecordErrors) else None


@dataclass(frozen=True, slots=True)
class ApiRecordError:
    timestamp: bool  # INVALID_TIMESTAMP, else INVALID_RECORD
    error: RecordError


def raise_record_errors(errors: Sequence[ApiRecordError]) -> None:
    """Kafka's processRecordErrors: nothing, or the exception that rejects the batch."""
    if not errors:
        return
    record_errors = tuple(e.error for e in errors)
    exc: InvalidRecordsError | InvalidTimestampsError
    if any(e.timestamp for e in errors):
        exc = InvalidTimestampsError(
            "One or more records have been rejected due to invalid timestamp"
        )
    else:
        shown = ", ".join(str(e) for e in record_errors[:3])
        exc = InvalidRecordsError(
            f"One or more records have been rejected due to {len(record_errors)} record errors "
            f"in total, and only showing the first three errors at most: [{shown}]"
        )
    exc.record_errors = record_errors
    raise exc


@dataclass(frozen=True, slots=True)
class RecordPolicy:
    """What a topic asks of the records appended to it (from its LogConfig)."""

    tp: str  # "topic-partition", as Kafka prints a TopicPartition
    compacted: bool = False
    log_append_time: bool = False
    before_max_ms: int = LONG_MAX
    after_max_ms: int = LONG_MAX
    target_compression: int | None = None  # None: keep the producer's
    max_message_bytes: int = 1_048_588

    @property
    def bounds_timestamps(self) -> bool:
        return not self.log_append_time and (
            self.before_max_ms < LONG_MAX or self.after_max_ms < LONG_MAX
        )


def _java_long(value: int) -> int:
    """Wrap like Java's long arithmetic (only where Kafka prints such a sum)."""
    return (value + 2**63) % 2**64 - 2**63


def _key_error(policy: RecordPolicy, key: bytes | None, index: int) -> ApiRecordError | None:
    if policy.compacted and key is None:
        return ApiRecordError(
            False,
            RecordError(
                index,
                f"Compacted topic cannot accept message without key in topic partition {policy.tp}",
            ),
        )
    return None


def _timestamp_error(
    policy: RecordPolicy,
    timestamp: int,
    offset: int,
    index: int,
    batch_log_append_time: bool,
    describe: str,
    now: int,
) -> ApiRecordError | None:
    """Kafka's validateTimestamp."""
    if not policy.log_append_time and timestamp != -1:
        difference = now - timestamp
        if difference > policy.before_max_ms or -difference > policy.after_max_ms:
            return ApiRecordError(
                True,
                RecordError(
                    index,
                    f"Timestamp {timestamp} of message with offset {offset} is out of range. "
                    f"The timestamp should be within [{_java_long(now - policy.before_max_ms)}"
                    f", {_java_long(now + policy.after_max_ms)}]",
                ),
            )
    elif batch_log_append_time:
        return ApiRecordError(
            True,
            RecordError(
                index,
                f"Invalid timestamp type in message {describe}. Producer should not set "
                f"timestamp type to LogAppendTime.",
            ),
        )
    return None


# -- v2 batches ------------------------------------------------------------------------------------


def needs_record_validation(header: BatchHeader, policy: RecordPolicy) -> bool:
    """Whether any record-level check can fail for this batch (else nothing is decoded)."""
    return policy.compacted or policy.bounds_timestamps or header.is_log_append_time


def validate_v2_records(
    records: bytes, header: BatchHeader, policy: RecordPolicy, now: int
) -> None:
    """The record-level checks on one v2 batch; raises InvalidRecordsError,
    InvalidTimestampsError or CorruptRecordError."""
    try:
        decoded = decode_records(header, records[HEADER_SIZE : header.size])
    except (ValueError, IndexError) as exc:
        raise CorruptRecordError(f"malformed records in batch: {exc}") from exc
    except Exception as exc:  # cramjam's decompression errors
        raise CorruptRecordError(f"cannot decompress record batch: {exc}") from exc
    errors = []
    for index, record in enumerate(decoded):
        error = _key_error(policy, record.key, index) or _timestamp_error(
            policy,
            record.timestamp,
            record.offset,
            index,
            header.is_log_append_time,
            _describe_v2(record),
            now,
        )
        if error is not None:
            errors.append(error)
    raise_record_errors(errors)


def _describe_v2(record: Record) -> str:
    """Kafka's DefaultRecord.toString."""
    key = 0 if record.key is None else len(record.key)
    value = 0 if record.value is None else len(record.value)
    return (
        f"DefaultRecord(offset={record.offset}, timestamp={record.timestamp}, "
        f"key={key} bytes, value={value} bytes)"
    )


# -- magic v0/v1 on produce ------------------------------------------------------------------------


def convert_legacy_to_v2(data: bytes, policy: RecordPolicy, now: int) -> bytes:
    """A Produce v0-2 message set as the one v2 batch the log stores (Kafka's LogValidator with
    toMagic 2): every message validated as Kafka does, then all records in one batch, compressed
    with the topic's codec (or, for compression.type=producer, the producer's)."""
    outer: list[LegacyMessage] = []
    source: int = CompressionType.NONE
    for message, size in read_messages(data):
        if size > policy.max_message_bytes:
            raise RecordTooLargeError(
                f"The record batch size in the append to {policy.tp} is {size} bytes which "
                f"exceeds the maximum configured value of {policy.max_message_bytes}."
            )
        if message.compression != CompressionType.NONE:
            source = message.compression
            if source > CompressionType.ZSTD:
                raise CorruptRecordError(f"Unknown compression type id: {source}")
        outer.append(message)
    if not outer:
        raise InvalidRecordError("Record batch has no batches at all")
    target = source if policy.target_compression is None else policy.target_compression
    if source != CompressionType.NONE and len(outer) > 1:
        raise InvalidRecordError("Compressed outer record has more than one batch")
    first_magic = outer[0].magic
    kept: list[LegacyMessage] = []
    for batch in outer:
        if batch.magic != first_magic:
            raise InvalidRecordError(
                f"Batch magic {batch.magic} is not the same as the first batch's magic byte "
                f"{first_magic} in topic partition {policy.tp}"
            )
        if batch.compression != CompressionType.NONE:
            try:
                members = inner_messages(batch)
            except CorruptRecordError as exc:
                raise CorruptRecordError(f"{exc} in topic partition {policy.tp}") from exc
        else:
            members = [batch]
        errors = []
        for index, record in enumerate(members):
            error = _validate_legacy_record(batch, record, index, source, policy, now)
            if error is not None:
                errors.append(error)
            else:
                kept.append(record)
        raise_record_errors(errors)
    timestamps = [m.timestamp for m in kept]
    return encode_batch(
        [(m.key, m.value) for m in kept], timestamps=timestamps, timestamp=-1, compression=target
    )


def _validate_legacy_record(
    batch: LegacyMessage,
    record: LegacyMessage,
    index: int,
    source: int,
    policy: RecordPolicy,
    now: int,
) -> ApiRecordError | None:
    if (
        source != CompressionType.NONE
        and record is not batch
        and record.compression != CompressionType.NONE
    ):
        return ApiRecordError(
            False,
            RecordError(
                index,
                f"Compressed outer record should not have an inner record with a "
                f"compression attribute set: {record.describe()}",
            ),
        )
    if record.magic != batch.magic:
        return ApiRecordError(
            False,
            RecordError(
                index,
                f"Record {record.describe()}'s magic does not match outer magic "
                f"{batch.magic} in topic partition {policy.tp}",
            ),
        )
    return _key_error(policy, record.key, index) or _timestamp_error(
        policy,
        record.timestamp,
        record.offset,
        index,
        batch.is_log_append_time,
        record.describe(),
        now,
    )


# -- v2 down to magic v0/v1 on fetch ---------------------------------------------------------------


def down_convert(
    data: bytes, to_magic: int, first_offset: int, limit: int, *, min_one: bool, partial_first: bool
) -> bytes:
    """The whole v2 batches in ``data`` (a log read) as a magic ``to_magic`` message set of at
    most ``limit`` bytes (Kafka's RecordsUtil.downConvert): control batches are dropped,
    headers and producer fields lost; an uncompressed batch becomes one message per record
    from ``first_offset`` on, a compressed one a single wrapper (with all its records, as
    Kafka does). One batch is converted at a time and conversion stops at the limit.

    If the first converted batch does not fit: with ``min_one`` it is returned whole (Fetch v3
    for the first partition with data, KIP-74); with ``partial_first`` its first ``limit``
    bytes are (Fetch v0-2 have a hard limit; the client sees a partial message and reports
    the message as too large, as with Kafka)."""
    out = bytearray()
    position = 0
    while len(data) - position >= HEADER_SIZE:
        header = read_header(data, position)
        end = position + header.size
        if end > len(data):
            break
        chunk = _convert_batch(header, data[position:end], to_magic, first_offset)
        position = end
        if not chunk:
            continue
        if len(out) + len(chunk) > limit:
            if not out:
                if min_one:
                    out += chunk
                elif partial_first:
                    out += chunk[:limit]
            break
        out += chunk
    return bytes(out)


def _convert_batch(header: BatchHeader, batch: bytes, to_magic: int, first_offset: int) -> bytes:
    if header.is_control:
        return b""
    if header.compression == CompressionType.ZSTD:
        raise UnsupportedCompressionTypeError(
            "Down-conversion of zstandard-compressed batches is not supported"
        )
    try:
        records = decode_records(header, batch[HEADER_SIZE:])
    except KafkaError:
        raise
    except Exception as exc:
        raise CorruptRecordError(
            f"cannot decode stored batch at {header.base_offset}: {exc}"
        ) from exc
    if header.compression == CompressionType.NONE:
        records = tuple(r for r in records if r.offset >= first_offset)
    if not records:
        return b""
    append_time = header.max_timestamp if header.is_log_append_time else None
    return encode_message_set(
        [(r.offset, r.timestamp if to_magic > MAGIC_V0 else -1, r.key, r.value) for r in records],
        magic=to_magic,
        compression=header.compression,
        log_append_time=append_time if to_magic > MAGIC_V0 else None,
    )
