"""FrameDecoder: splitting a byte stream into Kafka request frames."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odradek.protocol.framing import (
    FrameDecoder,
    FrameTooLargeError,
    InvalidFrameError,
    frame,
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
