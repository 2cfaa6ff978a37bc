"""Validation of produce payloads and offset stamping of v2 record batches."""

from __future__ import annotations

import pytest

from odradek.common.errors import (
    CorruptRecordError,
    InvalidRecordError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
    error_code_for,
)
from odradek.protocol.records.batch import (
    HEADER_SIZE,
    TIMESTAMP_TYPE_FLAG,
    compute_crc,
    read_header,
    stamp_batch,
    validate_batches,
)
from odradek.protocol.records.codec import decode_batches, encode_batch
from tests.unit.protocol.records.helpers import legacy_message, patch

T0 = 1_700_000_000_000
BIG = 10 * 1024 * 1024


def batch_of(count: int, *, timestamp: int = T0, **kwargs: object) -> bytes:
    records = [(f"k{i}".encode(), f"value-{i}".encode()) for i in range(count)]
    return encode_batch(records, timestamps=[timestamp + i for i in range(count)], **kwargs)  # type: ignore[arg-type]


def test_single_good_batch() -> None:
    data = batch_of(3)
    validated = validate_batches(data, BIG)
    (header,) = validated.headers
    assert header.magic == 2
    assert header.size == len(data)
    assert header.records_count == 3
    assert header.last_offset_delta == 2
    assert validated.record_count == 3
    assert validated.max_timestamp == T0 + 2
    assert validated.offset_of_max_timestamp_delta == 2


def test_several_batches() -> None:
    first = batch_of(2, timestamp=T0 + 100)
    second = batch_of(3, timestamp=T0)
    validated = validate_batches(first + second, BIG)
    assert len(validated.headers) == 2
    assert validated.record_count == 5
    assert validated.max_timestamp == T0 + 101  # in the first batch, at its last offset
    assert validated.offset_of_max_timestamp_delta == 1
    later = validate_batches(second + first, BIG)
    assert later.offset_of_max_timestamp_delta == 4


def test_bytearray_and_memoryview_input() -> None:
    data = batch_of(2)
    assert validate_batches(bytearray(data), BIG).record_count == 2
    assert validate_batches(memoryview(data), BIG).record_count == 2  # type: ignore[arg-type]


@pytest.mark.parametrize("position", [21, 30, 60, HEADER_SIZE + 3, -1])
def test_crc_corruption(position: int) -> None:
    data = bytearray(batch_of(2))
    data[position] ^= 0x40
    with pytest.raises(CorruptRecordError) as info:
        validate_batches(bytes(data), BIG)
    assert error_code_for(info.value).name == "corrupt_message"


def test_crc_corruption_in_a_later_batch() -> None:
    bad = bytearray(batch_of(2))
    bad[-1] ^= 1
    with pytest.raises(CorruptRecordError):
        validate_batches(batch_of(1) + bytes(bad), BIG)


def test_base_offset_and_leader_epoch_are_not_under_the_crc() -> None:
    data = patch(batch_of(2), 0, ">q", 12345)
    data = patch(data, 12, ">i", 7)
    assert validate_batches(data, BIG).headers[0].base_offset == 12345


@pytest.mark.parametrize("magic", [0, 1])
def test_legacy_message_format_is_unsupported(magic: int) -> None:
    with pytest.raises(UnsupportedForMessageFormatError):
        validate_batches(legacy_message(magic, b"hello world, an old message"), BIG)


@pytest.mark.parametrize("magic", [0, 1, 3])
def test_v2_layout_with_other_magic_is_unsupported(magic: int) -> None:
    with pytest.raises(UnsupportedForMessageFormatError):
        validate_batches(patch(batch_of(1), 16, ">b", magic), BIG)


def test_every_truncation_is_corrupt() -> None:
    data = batch_of(2)
    for cut in range(1, len(data)):
        with pytest.raises(CorruptRecordError):
            validate_batches(data[:cut], BIG)


def test_good_batch_then_partial_batch_is_corrupt() -> None:
    with pytest.raises(CorruptRecordError):
        validate_batches(batch_of(1) + batch_of(2)[:40], BIG)


def test_empty_payload_is_corrupt() -> None:
    with pytest.raises(CorruptRecordError):
        validate_batches(b"", BIG)


@pytest.mark.parametrize("length", [0, 10, HEADER_SIZE - 13, -1])
def test_implausible_batch_length_is_corrupt(length: int) -> None:
    with pytest.raises(CorruptRecordError):
        validate_batches(patch(batch_of(1), 8, ">i", length), BIG)


def test_batch_length_beyond_payload_is_corrupt() -> None:
    data = batch_of(1)
    with pytest.raises(CorruptRecordError):
        validate_batches(patch(data, 8, ">i", len(data)), BIG)


def test_negative_last_offset_delta_is_invalid() -> None:
    data = patch(batch_of(1), 23, ">i", -1, fix_crc=True)
    with pytest.raises(InvalidRecordError):
        validate_batches(data, BIG)


def test_too_large_batch() -> None:
    data = batch_of(5)
    assert validate_batches(data, len(data)).record_count == 5  # the limit itself is fine
    with pytest.raises(RecordTooLargeError) as info:
        validate_batches(data, len(data) - 1)
    assert error_code_for(info.value).name == "message_too_large"


def test_too_large_second_batch() -> None:
    small, large = batch_of(1), batch_of(20)
    with pytest.raises(RecordTooLargeError):
        validate_batches(small + large, len(small) + 1)


# -- stamping offsets ---------------------------------------------------------------------------


def stamped(data: bytes, first_offset: int, epoch: int, append_time: int | None) -> bytes:
    header = validate_batches(data, BIG).headers[0]
    prefix, rest = stamp_batch(data, header, first_offset, epoch, append_time)
    return bytes(prefix) + bytes(rest)


def test_stamp_rewrites_base_offset_and_epoch_keeping_crc() -> None:
    original = batch_of(3)
    result = stamped(original, 1000, 5, None)
    assert len(result) == len(original)
    header = read_header(result)
    assert header.base_offset == 1000
    assert header.partition_leader_epoch == 5
    assert header.crc == read_header(original).crc
    assert compute_crc(result, 0, len(result)) == header.crc
    assert result[16:] == original[16:]
    assert validate_batches(result, BIG).record_count == 3
    (decoded,) = decode_batches(result)
    assert [r.offset for r in decoded.records] == [1000, 1001, 1002]
    assert [r.timestamp for r in decoded.records] == [T0, T0 + 1, T0 + 2]


def test_stamp_does_not_modify_its_input() -> None:
    original = batch_of(2)
    copy = bytes(original)
    stamped(original, 77, 1, T0 + 5000)
    assert original == copy


def test_stamp_only_the_first_batch_of_a_buffer() -> None:
    first, second = batch_of(1), batch_of(2)
    header = validate_batches(first + second, BIG).headers[0]
    prefix, rest = stamp_batch(first + second, header, 9, 0, None)
    assert len(prefix) + len(rest) == len(first)


def test_stamp_log_append_time() -> None:
    original = batch_of(3, timestamp=T0)
    append_time = T0 + 123_456
    result = stamped(original, 50, 2, append_time)
    header = read_header(result)
    assert header.attributes & TIMESTAMP_TYPE_FLAG
    assert header.is_log_append_time
    assert header.max_timestamp == append_time
    assert header.base_timestamp == T0  # Kafka leaves the base timestamp as the client sent it
    assert header.base_offset == 50
    assert compute_crc(result, 0, len(result)) == header.crc
    assert validate_batches(result, BIG).max_timestamp == append_time
    (decoded,) = decode_batches(result)
    assert {r.timestamp for r in decoded.records} == {append_time}
    assert [r.value for r in decoded.records] == [b"value-0", b"value-1", b"value-2"]


@pytest.mark.parametrize("compression", [1, 2, 3, 4])
def test_stamp_log_append_time_keeps_compression_bits(compression: int) -> None:
    result = stamped(batch_of(4, compression=compression), 0, 0, T0)
    header = read_header(result)
    assert header.compression == compression
    assert header.is_log_append_time
    (decoded,) = decode_batches(result)
    assert len(decoded.records) == 4
