"""FrameDecoder: splitting a byte stream into Kafka request frames."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odradek.protocol.framing import (
    STAGING_BYTES,
    FrameDecoder,
    FrameTooLargeError,
    InvalidFrameError,
    ReceiveBufferPool,
    frame,
    reusable,
)


def drain(decoder: FrameDecoder) -> list[bytes]:
    frames = []
    while (payload := decoder.next_frame()) is not None:
        frames.append(bytes(payload))
    return frames


def test_frame_helper_prefixes_big_endian_size() -> None:
    assert frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert frame(b"") == b"\x00\x00\x00\x00"


def test_empty_decoder_has_no_frame() -> None:
    decoder = FrameDecoder(1024)
    assert decoder.next_frame() is None
    decoder.receive_data(b"")
    assert decoder.next_frame() is None


def test_byte_at_a_time() -> None:
    payloads = [b"hello", b"", b"x" * 300, bytes(range(256))]
    stream = b"".join(frame(p) for p in payloads)
    decoder = FrameDecoder(1024)
    received: list[bytes] = []
    for index in range(len(stream)):
        decoder.receive_data(stream[index : index + 1])
        received += drain(decoder)
    assert received == payloads
    assert decoder.next_frame() is None
    assert decoder.buffered == 0


def test_partial_frame_waits_for_the_rest() -> None:
    decoder = FrameDecoder(1024)
    decoder.receive_data(b"\x00\x00")
    assert decoder.next_frame() is None
    decoder.receive_data(b"\x00\x0a" + b"12345")
    assert decoder.next_frame() is None
    assert decoder.next_frame() is None  # asking again changes nothing
    decoder.receive_data(b"67890")
    assert drain(decoder) == [b"1234567890"]


def test_several_frames_in_one_chunk_with_partial_tail() -> None:
    payloads = [b"a", b"bb", b"ccc"]
    tail = frame(b"dddd")
    decoder = FrameDecoder(1024)
    decoder.receive_data(b"".join(frame(p) for p in payloads) + tail[:6])
    assert drain(decoder) == payloads
    assert decoder.buffered == 6
    decoder.receive_data(tail[6:])
    assert drain(decoder) == [b"dddd"]


def test_chunk_boundaries_anywhere() -> None:
    payloads = [bytes([n]) * n for n in range(0, 40, 3)]
    stream = b"".join(frame(p) for p in payloads)
    for step in (2, 3, 5, 7, 13, 64):
        decoder = FrameDecoder(1024)
        received: list[bytes] = []
        for start in range(0, len(stream), step):
            decoder.receive_data(stream[start : start + step])
            received += drain(decoder)
        assert received == payloads, step


def test_returned_frames_stay_valid_after_more_data() -> None:
    decoder = FrameDecoder(1024)
    decoder.receive_data(frame(b"first") + frame(b"sec"))
    first = decoder.next_frame()
    decoder.receive_data(frame(b"third")[:3])
    second = decoder.next_frame()
    decoder.receive_data(frame(b"third")[3:])
    third = decoder.next_frame()
    assert first is not None and second is not None and third is not None
    assert (bytes(first), bytes(second), bytes(third)) == (b"first", b"sec", b"third")


def test_frame_exactly_at_limit_is_accepted() -> None:
    decoder = FrameDecoder(10)
    decoder.receive_data(frame(b"0123456789"))
    assert drain(decoder) == [b"0123456789"]


def test_oversize_frame_rejected_from_prefix_alone() -> None:
    decoder = FrameDecoder(100)
    decoder.receive_data(struct.pack(">i", 101))  # no body at all
    with pytest.raises(FrameTooLargeError):
        decoder.next_frame()


def test_huge_announcement_rejected_without_waiting_for_body() -> None:
    decoder = FrameDecoder(100 * 1024 * 1024)
    decoder.receive_data(struct.pack(">i", 2**31 - 1) + b"x")
    with pytest.raises(FrameTooLargeError):
        decoder.next_frame()


def test_oversize_detected_after_prefix_split_across_chunks() -> None:
    decoder = FrameDecoder(100)
    prefix = struct.pack(">i", 1000)
    decoder.receive_data(prefix[:3])
    assert decoder.next_frame() is None
    decoder.receive_data(prefix[3:])
    with pytest.raises(FrameTooLargeError):
        decoder.next_frame()


def test_oversize_after_a_good_frame_in_the_same_chunk() -> None:
    decoder = FrameDecoder(100)
    decoder.receive_data(frame(b"ok") + struct.pack(">i", 101))
    assert bytes(decoder.next_frame() or b"") == b"ok"
    with pytest.raises(FrameTooLargeError):
        decoder.next_frame()


@pytest.mark.parametrize("size", [-1, -(2**31)])
def test_negative_size_rejected(size: int) -> None:
    decoder = FrameDecoder(100)
    decoder.receive_data(struct.pack(">i", size))
    with pytest.raises(InvalidFrameError):
        decoder.next_frame()


@settings(max_examples=50, deadline=None, database=None)
@given(
    payloads=st.lists(st.binary(max_size=200), max_size=10),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=20),
)
def test_any_chunking_yields_the_same_frames(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(p) for p in payloads)
    bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    decoder = FrameDecoder(200)
    received: list[bytes] = []
    for start, end in itertools.pairwise(bounds):
        decoder.receive_data(stream[start:end])
        received += drain(decoder)
    assert received == payloads
    assert decoder.buffered == 0


def read_into(decoder: FrameDecoder, data: bytes) -> None:
    """What a buffered transport does: read into get_buffer's view, then report the count."""
    view = memoryview(data)
    while view:
        target = decoder.get_buffer(-1)
        count = min(len(target), len(view))
        target[:count] = view[:count]
        decoder.buffer_updated(count)
        view = view[count:]


def test_a_frame_is_read_into_one_buffer_sized_for_it() -> None:
    payload = bytes(range(256)) * 1000  # 256,000 bytes: more than one staging buffer
    decoder = FrameDecoder(1 << 20)
    read_into(decoder, frame(payload)[:10])
    assert len(decoder.get_buffer(-1)) >= 4 + len(payload) - 10  # room for all the rest
    read_into(decoder, frame(payload)[10:])
    got = decoder.next_frame()
    assert got is not None and bytes(got) == payload
    assert len(got.obj) == ReceiveBufferPool.size_for(4 + len(payload))  # type: ignore[arg-type]


def test_frames_given_out_are_never_overwritten() -> None:
    decoder = FrameDecoder(1 << 20)
    frames = [frame(bytes([n]) * (n * 997 % 5000)) for n in range(200)]
    kept: list[memoryview] = []
    for chunk in frames:
        read_into(decoder, chunk)
        while (got := decoder.next_frame()) is not None:
            kept.append(got)
    assert [bytes(k) for k in kept] == [f[4:] for f in frames]


def test_an_idle_decoder_gives_its_buffer_back_to_the_pool() -> None:
    pool = ReceiveBufferPool()
    decoder = FrameDecoder(1024, pool)
    read_into(decoder, frame(b"x" * 100))
    got = decoder.next_frame()
    assert got is not None and decoder.next_frame() is None
    decoder.release()  # a frame still points into the buffer: let go of it, not pooled
    assert decoder.buffered == 0 and pool.pooled_bytes == 0
    del got
    read_into(decoder, frame(b"y" * 100))
    assert bytes(decoder.next_frame() or b"") == b"y" * 100
    decoder.release()  # nothing points into it any more: pooled for the next reader
    assert pool.pooled_bytes == STAGING_BYTES
    other = FrameDecoder(1024, pool)
    read_into(other, frame(b"z"))
    assert pool.pooled_bytes == 0  # taken, not allocated


def test_a_buffer_is_reused_only_when_no_frame_points_into_it() -> None:
    decoder = FrameDecoder(1 << 20, ReceiveBufferPool())
    read_into(decoder, frame(b"a" * 1000))
    kept = decoder.next_frame()
    read_into(decoder, frame(b"b" * 1000))
    assert kept is not None and bytes(kept) == b"a" * 1000
    assert bytes(decoder.next_frame() or b"") == b"b" * 1000
    for n in range(200):  # fills the buffer many times over: ``kept`` must never change
        read_into(decoder, frame(bytes([n]) * 3000))
        assert bytes(decoder.next_frame() or b"") == bytes([n]) * 3000
    assert bytes(kept) == b"a" * 1000


def test_reusable_tells_whether_a_view_is_alive() -> None:
    buf = bytearray(b"abc")
    view = memoryview(buf)[1:]
    assert not reusable(buf)
    view.release()
    assert reusable(buf) and buf == bytearray(b"abc")


def test_a_huge_announcement_holds_at_most_twice_what_arrived() -> None:
    decoder = FrameDecoder(100 * 1024 * 1024)
    read_into(decoder, struct.pack(">i", 90 * 1024 * 1024) + b"x" * 100)
    assert decoder.next_frame() is None
    assert len(decoder.get_buffer(-1)) + 104 <= 1024 * 1024  # not 90 MiB
    assert decoder.incomplete_frame_size == 90 * 1024 * 1024


def test_a_big_frame_arriving_in_pieces_comes_out_whole() -> None:
    payload = b"abc" * (3 * 1024 * 1024)  # 9 MiB: the buffer grows with what arrives
    stream = frame(payload) + frame(b"next")
    decoder = FrameDecoder(16 * 1024 * 1024)
    for start in range(0, len(stream), 100_000):
        read_into(decoder, stream[start : start + 100_000])
    got = decoder.next_frame()
    assert got is not None and bytes(got) == payload
    assert bytes(decoder.next_frame() or b"") == b"next"
