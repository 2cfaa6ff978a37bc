"""Magic v0/v1 message sets: reading, writing, LZ4 framing (KAFKA-3160), and the conversions
to and from the stored v2 batches, with Kafka's record-level validation."""

from __future__ import annotations

import struct

import cramjam
import pytest

from odradek.common.errors import (
    CorruptRecordError,
    InvalidRecordError,
    RecordTooLargeError,
    UnsupportedCompressionTypeError,
)
from odradek.protocol.records.batch import read_header, validate_batches
from odradek.protocol.records.codec import decode_batches, encode_batch
from odradek.protocol.records.compression import CompressionType
from odradek.protocol.records.control import encode_marker
from odradek.protocol.records.legacy import (
    LegacyMessage,
    compress_legacy,
    decompress_legacy,
    encode_message,
    encode_message_set,
    inner_messages,
    is_legacy,
    lz4_frame,
    read_messages,
    xxh32,
)
from odradek.protocol.records.validation import (
    InvalidRecordsError,
    InvalidTimestampsError,
    RecordPolicy,
    convert_legacy_to_v2,
    down_convert,
    needs_record_validation,
    record_errors_of,
    validate_v2_records,
)
from tests.unit.protocol.records.helpers import legacy_message

NOW = 1_700_000_000_000
CODECS = (CompressionType.NONE, CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4)
POLICY = RecordPolicy(tp="t-0")


def messages(data: bytes) -> list[LegacyMessage]:
    return [m for m, _ in read_messages(data)]


def deep(data: bytes) -> list[LegacyMessage]:
    out = []
    for message in messages(data):
        out.extend(inner_messages(message) if message.compression else [message])
    return out


# -- xxh32 and LZ4 framing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", 0x02CC5D05),
        (b"a", 0x550D7456),
        (b"abc", 0x32D153FF),
        (b"Nobody inspects the spammish repetition", 0xE2293B2F),
    ],
)
def test_xxh32_reference_values(data: bytes, expected: int) -> None:
    assert xxh32(data) == expected


def test_lz4_frame_is_a_standard_frame() -> None:
    data = bytes(range(256)) * 700  # several 64 KiB blocks
    assert bytes(cramjam.lz4.decompress(lz4_frame(data))) == data
    # The header checksum is the one a standard encoder writes for the same descriptor.
    reference = bytes(cramjam.lz4.compress(b"x"))
    assert (xxh32(reference[4:6]) >> 8) & 0xFF == reference[6]


def test_kafka_3160_broken_header_checksum_accepted_for_magic_0_only() -> None:
    data = b"old lz4 client " * 100
    broken = lz4_frame(data, broken_checksum=True)
    assert broken[6] == (xxh32(broken[:6]) >> 8) & 0xFF  # hashed over the magic bytes too
    with pytest.raises(Exception, match=r"(?i)checksum"):
        cramjam.lz4.decompress(broken)
    assert decompress_legacy(CompressionType.LZ4, broken, 0) == data
    wrapper = messages(encode_message(0, 1, CompressionType.LZ4, NOW, None, broken))[0]
    with pytest.raises(CorruptRecordError):
        inner_messages(wrapper)  # magic 1 must have the proper checksum, as in Kafka


def test_magic_0_lz4_is_written_with_the_broken_checksum() -> None:
    data = b"x" * 1000
    assert compress_legacy(CompressionType.LZ4, data, 0) == lz4_frame(data, broken_checksum=True)
    assert compress_legacy(CompressionType.LZ4, data, 1) == lz4_frame(data)


@pytest.mark.parametrize(
    "codec", [CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4]
)
def test_compress_round_trip(codec: int) -> None:
    data = b"0123456789" * 5000
    for magic in (0, 1):
        assert decompress_legacy(codec, compress_legacy(codec, data, magic), magic) == data


# -- message sets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("magic", [0, 1])
def test_encode_message_matches_the_wire_layout(magic: int) -> None:
    expected = legacy_message(magic, b"legacy value", offset=7)
    assert encode_message(7, magic, 0, NOW, None, b"legacy value") == expected
    (message,) = messages(expected)
    assert (message.offset, message.magic, message.key, message.value) == (
        7,
        magic,
        None,
        b"legacy value",
    )
    assert message.timestamp == (NOW if magic else -1)
    assert is_legacy(expected)
    assert not is_legacy(encode_batch([(b"k", b"v")]))


def test_corrupt_crc_is_rejected() -> None:
    data = bytearray(encode_message(0, 1, 0, NOW, b"k", b"v"))
    data[-1] ^= 0xFF
    with pytest.raises(CorruptRecordError, match="Record is corrupt"):
        messages(bytes(data))


def test_trailing_partial_message_is_ignored() -> None:
    whole = encode_message(0, 1, 0, NOW, b"k", b"v")
    assert len(messages(whole + whole[:20])) == 1
    with pytest.raises(CorruptRecordError):
        list(read_messages(whole + whole[:20], strict=True))


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("magic", [0, 1])
def test_message_set_round_trip_and_inner_offsets(codec: int, magic: int) -> None:
    records = [(100 + i, NOW + i, f"k{i}".encode(), f"v{i}".encode()) for i in range(5)]
    data = encode_message_set(records, magic=magic, compression=codec)
    outer = messages(data)
    assert len(outer) == (5 if codec == CompressionType.NONE else 1)
    if codec != CompressionType.NONE:
        assert outer[0].offset == 104  # the wrapper carries the last inner offset
        raw_inner = decompress_legacy(codec, outer[0].value or b"", magic)
        inner_offsets = [m.offset for m in messages(raw_inner)]
        assert inner_offsets == ([0, 1, 2, 3, 4] if magic == 1 else [100, 101, 102, 103, 104])
    got = [(m.offset, m.timestamp, m.key, m.value) for m in deep(data)]
    assert got == [(o, ts if magic else -1, k, v) for o, ts, k, v in records]


# -- Produce v0-2: message sets to one v2 batch ----------------------------------------------------


def v2_records(batch: bytes) -> list[tuple[int, int, bytes | None, bytes | None]]:
    (decoded,) = list(decode_batches(batch))
    return [(r.offset, r.timestamp, r.key, r.value) for r in decoded.records]


@pytest.mark.parametrize("codec", CODECS)
def test_legacy_to_v2_keeps_records_and_codec(codec: int) -> None:
    records = [
        (0, NOW + i, f"k{i}".encode() if i % 2 else None, f"v{i}".encode()) for i in range(4)
    ]
    data = encode_message_set(
        [(i, ts, k, v) for i, (_, ts, k, v) in enumerate(records)], magic=1, compression=codec
    )
    batch = convert_legacy_to_v2(data, POLICY, NOW)
    header = read_header(batch)
    assert header.magic == 2 and header.compression == codec
    assert header.producer_id == -1 and not header.is_log_append_time
    validate_batches(batch, 2**31 - 1)  # a valid batch with a good CRC-32C
    assert v2_records(batch) == [(i, ts, k, v) for i, (_, ts, k, v) in enumerate(records)]


def test_magic_0_has_no_timestamps_and_topic_codec_wins() -> None:
    data = encode_message_set([(0, 0, b"a", b"1"), (1, 0, b"b", b"2")], magic=0)
    policy = RecordPolicy(tp="t-0", target_compression=CompressionType.GZIP)
    batch = convert_legacy_to_v2(data, policy, NOW)
    assert read_header(batch).compression == CompressionType.GZIP
    assert v2_records(batch) == [(0, -1, b"a", b"1"), (1, -1, b"b", b"2")]
    assert read_header(batch).max_timestamp == -1


def test_compacted_topic_rejects_keyless_records_with_their_indices() -> None:
    data = encode_message_set(
        [(i, NOW, None if i in (0, 2) else b"k", b"v") for i in range(4)],
        magic=1,
        compression=CompressionType.GZIP,
    )
    policy = RecordPolicy(tp="t-0", compacted=True)
    with pytest.raises(InvalidRecordsError) as info:
        convert_legacy_to_v2(data, policy, NOW)
    errors = record_errors_of(info.value)
    assert errors is not None and [e.batch_index for e in errors] == [0, 2]
    assert errors[0].message == (
        "Compacted topic cannot accept message without key in topic partition t-0"
    )
    assert isinstance(info.value, InvalidRecordError)


def test_uncompressed_legacy_messages_are_batches_of_one() -> None:
    """Kafka validates each uncompressed v0/v1 message as its own batch: index 0."""
    data = encode_message_set([(0, NOW, b"k", b"v"), (1, NOW, None, b"v")], magic=1)
    with pytest.raises(InvalidRecordsError) as info:
        convert_legacy_to_v2(data, RecordPolicy(tp="t-0", compacted=True), NOW)
    assert [e.batch_index for e in record_errors_of(info.value) or ()] == [0]


def test_invalid_timestamps() -> None:
    data = encode_message_set(
        [(0, NOW, b"k", b"v"), (1, NOW - 7_200_000, b"k", b"v")],
        magic=1,
        compression=CompressionType.SNAPPY,
    )
    policy = RecordPolicy(tp="t-0", before_max_ms=3_600_000)
    with pytest.raises(InvalidTimestampsError) as info:
        convert_legacy_to_v2(data, policy, NOW)
    assert str(info.value) == "One or more records have been rejected due to invalid timestamp"
    (error,) = record_errors_of(info.value) or ()
    assert error.batch_index == 1
    assert error.message == (
        f"Timestamp {NOW - 7_200_000} of message with offset 1 is out of "
        f"range. The timestamp should be within [{NOW - 3_600_000}, "
        f"{NOW + 2**63 - 1 - 2**64}]"
    )


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (
            encode_message_set([(0, NOW, b"k", b"v")], magic=1, compression=CompressionType.GZIP)
            * 2,
            InvalidRecordError,
            "more than one batch",
        ),
        (
            encode_message(0, 0, 0, 0, b"k", b"v") + encode_message(1, 1, 0, NOW, b"k", b"v"),
            InvalidRecordError,
            "Batch magic 1 is not the same as the first batch's magic byte 0",
        ),
        (
            encode_message(
                0,
                1,
                CompressionType.ZSTD,
                NOW,
                None,
                bytes(cramjam.zstd.compress(encode_message(0, 1, 0, NOW, b"k", b"v"))),
            ),
            UnsupportedCompressionTypeError,
            "zstd",
        ),
        (b"", InvalidRecordError, "no batches"),
    ],
)
def test_rejected_message_sets(data: bytes, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        convert_legacy_to_v2(data, POLICY, NOW)


def test_nested_compression_is_a_record_error() -> None:
    nested = encode_message_set([(0, NOW, b"k", b"v")], magic=1, compression=CompressionType.GZIP)
    data = encode_message(
        0, 1, CompressionType.GZIP, NOW, None, compress_legacy(CompressionType.GZIP, nested, 1)
    )
    with pytest.raises(InvalidRecordsError) as info:
        convert_legacy_to_v2(data, POLICY, NOW)
    assert (
        "should not have an inner record with a compression attribute set"  # type: ignore[operator]
        in (record_errors_of(info.value) or ())[0].message
    )


def test_message_larger_than_max_message_bytes() -> None:
    data = encode_message(0, 1, 0, NOW, b"k", b"v" * 2000)
    with pytest.raises(RecordTooLargeError):
        convert_legacy_to_v2(data, RecordPolicy(tp="t-0", max_message_bytes=1000), NOW)


def test_corrupt_inner_message_names_the_partition() -> None:
    inner = bytearray(encode_message(0, 1, 0, NOW, b"k", b"value"))
    inner[-1] ^= 0xFF
    data = encode_message(
        0,
        1,
        CompressionType.GZIP,
        NOW,
        None,
        compress_legacy(CompressionType.GZIP, bytes(inner), 1),
    )
    with pytest.raises(CorruptRecordError, match="in topic partition t-0"):
        convert_legacy_to_v2(data, POLICY, NOW)


# -- record-level checks on v2 batches (KIP-467) ---------------------------------------------------


def test_v2_batches_are_decoded_only_when_a_check_can_fail() -> None:
    header = read_header(encode_batch([(None, b"v")], timestamp=NOW))
    assert not needs_record_validation(header, POLICY)
    assert needs_record_validation(header, RecordPolicy(tp="t-0", compacted=True))
    assert needs_record_validation(header, RecordPolicy(tp="t-0", after_max_ms=1000))
    assert not needs_record_validation(
        header, RecordPolicy(tp="t-0", log_append_time=True, after_max_ms=1000)
    )


def test_v2_compacted_keyless_records_all_listed() -> None:
    batch = encode_batch(
        [(None if i % 10 == 0 else b"k", b"v") for i in range(25)],
        timestamp=NOW,
        compression=CompressionType.LZ4,
    )
    with pytest.raises(InvalidRecordsError) as info:
        validate_v2_records(batch, read_header(batch), RecordPolicy(tp="c-3", compacted=True), NOW)
    errors = record_errors_of(info.value) or ()
    assert [e.batch_index for e in errors] == [0, 10, 20]
    text = "Compacted topic cannot accept message without key in topic partition c-3"
    assert str(info.value) == (
        "One or more records have been rejected due to 3 record errors in total, and only "
        f"showing the first three errors at most: [RecordError(batchIndex=0, message='{text}'), "
        f"RecordError(batchIndex=10, message='{text}'), "
        f"RecordError(batchIndex=20, message='{text}')]"
    )


def test_v2_producer_claiming_log_append_time() -> None:
    batch = encode_batch([(b"k", b"v")], timestamp=NOW, attributes=0x08)
    # A CreateTime topic only checks the timestamp's range (Kafka's validateTimestamp).
    validate_v2_records(batch, read_header(batch), POLICY, NOW)
    with pytest.raises(InvalidTimestampsError) as info:
        validate_v2_records(
            batch, read_header(batch), RecordPolicy(tp="t-0", log_append_time=True), NOW
        )
    (error,) = record_errors_of(info.value) or ()
    assert error.message == (
        f"Invalid timestamp type in message DefaultRecord(offset=0, "
        f"timestamp={NOW}, key=1 bytes, value=1 bytes). Producer should not "
        f"set timestamp type to LogAppendTime."
    )


# -- Fetch v0-3: v2 batches down-converted ---------------------------------------------------------


def stored(
    records: list[tuple[bytes | None, bytes | None]], base: int, codec: int = 0, **kwargs: int
) -> bytes:
    return encode_batch(
        records,
        base_offset=base,
        timestamps=[NOW + i for i in range(len(records))],
        compression=codec,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("to_magic", [0, 1])
def test_uncompressed_batch_from_the_fetch_offset(to_magic: int) -> None:
    data = stored([(f"k{i}".encode(), f"v{i}".encode()) for i in range(5)], base=10)
    out = down_convert(data, to_magic, 12, 1 << 20, min_one=False, partial_first=False)
    got = [(m.offset, m.magic, m.timestamp, m.key, m.value) for m in messages(out)]
    assert got == [
        (
            o,
            to_magic,
            NOW + o - 10 if to_magic else -1,
            f"k{o - 10}".encode(),
            f"v{o - 10}".encode(),
        )
        for o in (12, 13, 14)
    ]


@pytest.mark.parametrize(
    "codec", [CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4]
)
@pytest.mark.parametrize("to_magic", [0, 1])
def test_compressed_batch_becomes_one_wrapper(codec: int, to_magic: int) -> None:
    data = stored([(b"k", f"v{i}".encode()) for i in range(5)], base=10, codec=codec)
    out = down_convert(data, to_magic, 12, 1 << 20, min_one=False, partial_first=False)
    (wrapper,) = messages(out)
    assert (wrapper.offset, wrapper.magic, wrapper.compression) == (14, to_magic, codec)
    if codec == CompressionType.LZ4 and to_magic == 0:
        frame = wrapper.value or b""
        assert frame[6] == (xxh32(frame[:6]) >> 8) & 0xFF  # as Kafka writes magic 0 LZ4
    # All records of a compressed batch are sent, as Kafka does; clients skip the early ones.
    assert [(m.offset, m.value) for m in inner_messages(wrapper)] == [
        (10 + i, f"v{i}".encode()) for i in range(5)
    ]


def test_idempotent_and_transactional_batches_lose_producer_fields_and_markers() -> None:
    data = stored(
        [(b"k", b"v1"), (b"k", b"v2")],
        base=0,
        producer_id=7,
        producer_epoch=1,
        base_sequence=0,
        attributes=0x10,
    ) + _at(encode_marker(7, 1, True, 0, NOW), 2)
    assert read_header(data, len(data) - len(encode_marker(7, 1, True, 0, NOW))).is_control
    out = down_convert(data, 1, 0, 1 << 20, min_one=False, partial_first=False)
    assert [(m.offset, m.value) for m in messages(out)] == [(0, b"v1"), (1, b"v2")]


def _at(batch: bytes, offset: int) -> bytes:
    return struct.pack(">q", offset) + batch[8:]


def test_headers_are_dropped_and_log_append_time_kept() -> None:
    batch = encode_batch(
        [(b"k", b"v")], base_offset=3, timestamp=NOW, attributes=0x08, headers=[("h", b"x")]
    )
    (message,) = messages(down_convert(batch, 1, 3, 1 << 20, min_one=False, partial_first=False))
    assert message.is_log_append_time and message.timestamp == NOW
    assert (message.key, message.value) == (b"k", b"v")


def test_limit_is_respected_batch_by_batch() -> None:
    first = stored([(b"k", b"a" * 100)], base=0)
    second = stored([(b"k", b"b" * 100)], base=1)
    one = len(encode_message(0, 1, 0, NOW, b"k", b"a" * 100))
    out = down_convert(first + second, 1, 0, one + 10, min_one=False, partial_first=False)
    assert [m.offset for m in messages(out)] == [0]
    # Nothing fits: v3's first partition still gets one whole message, v0-2 a partial one.
    assert down_convert(first, 1, 0, 50, min_one=False, partial_first=False) == b""
    assert messages(down_convert(first, 1, 0, 50, min_one=True, partial_first=False))[0].offset == 0
    partial = down_convert(first, 1, 0, 50, min_one=False, partial_first=True)
    assert len(partial) == 50 and messages(partial) == []


def test_zstd_batches_cannot_be_down_converted() -> None:
    with pytest.raises(UnsupportedCompressionTypeError):
        down_convert(
            stored([(b"k", b"v")], base=0, codec=CompressionType.ZSTD),
            1,
            0,
            1 << 20,
            min_one=True,
            partial_first=False,
        )


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_through_the_log_format(codec: int) -> None:
    records = [(i, NOW + i, f"key-{i}".encode(), f"value-{i}".encode() * 10) for i in range(50)]
    legacy = encode_message_set(records, magic=1, compression=codec)
    batch = convert_legacy_to_v2(legacy, POLICY, NOW)
    back = down_convert(batch, 1, 0, 1 << 20, min_one=True, partial_first=False)
    assert [(m.offset, m.timestamp, m.key, m.value) for m in deep(back)] == records
