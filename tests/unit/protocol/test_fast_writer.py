"""fast_writer encodes every response entity of every API version byte for byte as kio does:
generated instances (Hypothesis, from kio's own type strategies) are encoded both ways and
compared, and large values stay chunks of their own."""

from __future__ import annotations

import io
from datetime import timedelta
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kio.index import load_payload_module
from kio.schema.errors import ErrorCode
from kio.serial import entity_writer as kio_writer
from kio.static.constants import EntityType
from kio.static.primitive import Records

from odradek.protocol import fast_writer
from odradek.protocol.api_versions import FETCH_KEY, PRODUCE_KEY, SUPPORTED_APIS
from odradek.protocol.codec import RequestHeader, encode_response, response_module

st.register_type_strategy(Records, st.binary(max_size=64).map(Records))


def response_types() -> list[tuple[int, int, Any]]:
    """(api key, version, top-level response entity) for every version odradek serves that
    kio has a schema for."""
    found = []
    for api_key, (low, high) in sorted(SUPPORTED_APIS.items()):
        for version in range(low, high + 1):
            try:
                module = load_payload_module(api_key, version, EntityType.response)
            except Exception:  # kio lacks it (odradek's legacy codec serves those)
                continue
            entity = next(
                value
                for value in vars(module).values()
                if getattr(value, "__type__", None) is EntityType.response
                and getattr(value, "__module__", None) == module.__name__
            )
            found.append((api_key, version, entity))
    return found


RESPONSES = response_types()


def kio_bytes(entity: Any) -> bytes:
    buffer = io.BytesIO()
    kio_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def fast_bytes(entity: Any) -> bytes:
    writer = fast_writer.entity_writer(entity.__class__)
    assert writer is not None, f"{type(entity)} is left to kio"
    out = fast_writer.Chunks(bytearray())
    writer(out, entity)
    return b"".join(bytes(chunk) for chunk in out.done())


@cache
def strategy(entity_type: Any) -> st.SearchStrategy[Any]:
    return st.from_type(entity_type)


def test_every_served_response_has_a_fast_writer() -> None:
    assert len(RESPONSES) > 200
    left_to_kio = [
        (key, version) for key, version, t in RESPONSES if fast_writer.entity_writer(t) is None
    ]
    assert left_to_kio == []


@pytest.mark.parametrize(
    ("api_key", "version", "entity_type"),
    RESPONSES,
    ids=[f"{key}v{version}" for key, version, _ in RESPONSES],
)
def test_fast_writer_encodes_as_kio_does(api_key: int, version: int, entity_type: Any) -> None:
    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(strategy(entity_type))
    def check(entity: Any) -> None:
        assert fast_bytes(entity) == kio_bytes(entity)

    check()


def test_large_records_stay_a_chunk_of_their_own_and_small_ones_are_copied_in() -> None:
    module = response_module(FETCH_KEY, 12)
    big, small = b"b" * fast_writer.OWN_CHUNK_BYTES, b"s" * 100

    def partition(index: int, records: bytes) -> Any:
        return module.PartitionData(
            partition_index=index,
            error_code=ErrorCode.none,
            high_watermark=10,
            last_stable_offset=10,
            log_start_offset=0,
            aborted_transactions=(),
            preferred_read_replica=-1,
            records=records,
        )

    topic = module.FetchableTopicResponse(
        topic="t", partitions=(partition(0, big), partition(1, small))
    )
    body = module.FetchResponse(
        throttle_time=timedelta(0),
        error_code=ErrorCode.none,
        session_id=0,
        responses=(topic,),
    )
    header = RequestHeader(FETCH_KEY, 12, 7, None)
    chunks = encode_response(header, body)
    assert any(chunk is big for chunk in chunks)
    assert not any(chunk is small for chunk in chunks)
    frame = b"".join(bytes(chunk) for chunk in chunks)
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert frame[4:8] == (7).to_bytes(4, "big")
    assert frame[8:9] == b"\x00"  # response header v1's empty tagged fields
    assert frame[9:] == kio_bytes(body)


@settings(max_examples=20, deadline=None, database=None)
@given(st.from_type(response_module(PRODUCE_KEY, 9).ProduceResponse))
def test_produce_response_frame_is_kio_s(body: Any) -> None:
    header = RequestHeader(PRODUCE_KEY, 9, 123, None)
    frame = b"".join(bytes(chunk) for chunk in encode_response(header, body))
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    assert frame[8:9] == b"\x00"
    assert frame[9:] == kio_bytes(body)
