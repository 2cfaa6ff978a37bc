"""Record encoding and decoding, every compression codec, xerial snappy framing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odradek.protocol.records.batch import HEADER_SIZE, read_header, validate_batches
from odradek.protocol.records.codec import (
    Record,
    decode_batches,
    decode_records,
    encode_batch,
    encode_record,
)
from odradek.protocol.records.compression import (
    XERIAL_MAGIC,
    CompressionType,
    compress,
    decompress,
    xerial_snappy_compress,
)
from tests.unit.protocol.records.helpers import with_payload

CODECS = [
    CompressionType.NONE,
    CompressionType.GZIP,
    CompressionType.SNAPPY,
    CompressionType.LZ4,
    CompressionType.ZSTD,
]
T0 = 1_700_000_000_000

maybe_bytes = st.one_of(st.none(), st.binary(max_size=64))
record_lists = st.lists(st.tuples(maybe_bytes, maybe_bytes), min_size=1, max_size=20)
header_lists = st.lists(st.tuples(st.text(max_size=10), maybe_bytes), max_size=3)
fast = settings(
    max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@fast
@given(
    records=record_lists,
    headers=header_lists,
    codec=st.sampled_from(CODECS),
    base_offset=st.integers(0, 2**40),
    deltas=st.lists(st.integers(-(10**6), 10**9), min_size=20, max_size=20),
)
def test_round_trip(
    records: list[tuple[bytes | None, bytes | None]],
    headers: list[tuple[str, bytes | None]],
    codec: int,
    base_offset: int,
    deltas: list[int],
) -> None:
    timestamps = [T0 + d for d in deltas[: len(records)]]
    data = encode_batch(
        records, base_offset=base_offset, timestamps=timestamps, compression=codec, headers=headers
    )
    validated = validate_batches(data, len(data))
    assert validated.record_count == len(records)
    assert validated.max_timestamp == max(timestamps)
    (batch,) = decode_batches(data)
    assert batch.header.compression == codec
    assert batch.header.base_timestamp == timestamps[0]
    expected = tuple(
        Record(base_offset + i, timestamps[i], key, value, tuple(headers))
        for i, (key, value) in enumerate(records)
    )
    assert batch.records == expected


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip_every_codec_large_values(codec: int) -> None:
    records = [(None, bytes([i % 251]) * 50_000) for i in range(3)]
    data = encode_batch(records, timestamp=T0, compression=codec)
    if codec != CompressionType.NONE:
        assert len(data) < 50_000  # repetitive values do compress
    (batch,) = decode_batches(data)
    assert [r.value for r in batch.records] == [v for _, v in records]
    assert {r.timestamp for r in batch.records} == {T0}


def test_several_batches_decode_in_order() -> None:
    first = encode_batch([(b"a", b"1")], base_offset=0, timestamp=T0)
    second = encode_batch(
        [(b"b", b"2"), (b"c", b"3")], base_offset=1, timestamp=T0, compression=CompressionType.ZSTD
    )
    batches = list(decode_batches(first + second + second[:30]))
    assert [[r.offset for r in b.records] for b in batches] == [[0], [1, 2]]
    assert [r.key for r in batches[1].records] == [b"b", b"c"]


def test_empty_key_and_value_differ_from_null() -> None:
    data = encode_batch([(b"", None), (None, b"")])
    (batch,) = decode_batches(data)
    assert [(r.key, r.value) for r in batch.records] == [(b"", None), (None, b"")]


def test_encode_batch_header_fields() -> None:
    data = encode_batch(
        [(b"k", b"v")] * 3,
        base_offset=5,
        timestamp=T0,
        producer_id=9,
        producer_epoch=2,
        base_sequence=11,
    )
    header = read_header(data)
    assert (header.base_offset, header.magic, header.records_count) == (5, 2, 3)
    assert (header.producer_id, header.producer_epoch, header.base_sequence) == (9, 2, 11)
    assert header.size == len(data)
    assert header.max_timestamp == T0


def test_decode_records_rejects_length_mismatch() -> None:
    record = bytearray(encode_record(0, 0, b"k", b"v"))
    record[0] += 2  # zigzag: the length claims one byte more than the fields use
    data = encode_batch([(b"k", b"v")])
    header = read_header(data)
    with pytest.raises((ValueError, IndexError)):
        decode_records(header, bytes(record) + b"\x00\x00")


def test_decode_records_rejects_overrun() -> None:
    data = encode_batch([(b"key", b"a-longer-value")])
    header = read_header(data)
    with pytest.raises((ValueError, IndexError)):
        decode_records(header, data[HEADER_SIZE:-5])


# -- compression ----------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("payload", [b"", b"x", b"hello " * 1000, bytes(range(256)) * 40])
def test_compress_decompress(codec: int, payload: bytes) -> None:
    assert decompress(codec, compress(codec, payload)) == payload
    assert decompress(codec, memoryview(compress(codec, payload))) == payload


def test_unknown_codec() -> None:
    with pytest.raises(ValueError):
        compress(5, b"x")
    with pytest.raises(ValueError):
        decompress(7, b"x")


def test_compression_names() -> None:
    assert CompressionType.from_name("uncompressed") is CompressionType.NONE
    assert CompressionType.from_name("ZSTD") is CompressionType.ZSTD
    with pytest.raises(KeyError):
        CompressionType.from_name("brotli")


@pytest.mark.parametrize("size", [0, 1, 1000, 32 * 1024, 32 * 1024 + 1, 100_000])
def test_xerial_snappy_framing(size: int) -> None:
    payload = bytes((i * 7) % 256 for i in range(size))
    framed = xerial_snappy_compress(payload)
    assert framed.startswith(XERIAL_MAGIC)
    assert struct.unpack_from(">ii", framed, 8) == (1, 1)
    blocks = 0
    position = 16
    while position < len(framed):
        (length,) = struct.unpack_from(">i", framed, position)
        position += 4 + length
        blocks += 1
    assert position == len(framed)
    assert blocks == -(-size // (32 * 1024))
    assert decompress(CompressionType.SNAPPY, framed) == payload


def test_batch_with_xerial_snappy_payload_as_the_java_client_writes() -> None:
    records = [(b"k%d" % i, b"v" * (i * 1000)) for i in range(50)]
    plain = encode_batch(records, timestamp=T0)
    body = plain[HEADER_SIZE:]
    assert len(body) > 32 * 1024  # more than one xerial block
    data = with_payload(plain, xerial_snappy_compress(body), CompressionType.SNAPPY)
    validated = validate_batches(data, len(data))
    assert validated.record_count == 50
    (batch,) = decode_batches(data)
    assert batch.header.compression == CompressionType.SNAPPY
    assert [(r.key, r.value) for r in batch.records] == records
