"""encode_response keeps a Fetch response's records left in a file (a FileRegion) as a chunk
of its own, uncopied: with the region's bytes in its place the frame is byte for byte the one
encoded from the bytes themselves."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from odradek.protocol.api_versions import FETCH_KEY
from odradek.protocol.codec import RequestHeader, build, encode_response, response_module
from odradek.protocol.records.codec import encode_batch
from odradek.storage.file_records import FileRecords, SharedFile

BATCHES = encode_batch([(b"k", b"v" * 100)] * 3) + encode_batch([(None, b"w" * 50)])


@pytest.fixture
def region(tmp_path: Path) -> Iterator[FileRecords]:
    """BATCHES at position 7 of a file, as a segment read leaves them."""
    path = tmp_path / "00000000000000000000.log"
    path.write_bytes(b"garbage" + BATCHES + b"more")
    shared = SharedFile(os.open(path, os.O_RDONLY))
    records = FileRecords(shared, 7, len(BATCHES))
    shared.release()
    yield records
    records.close()


def fetch_response(version: int, records: Any) -> Any:
    module = response_module(FETCH_KEY, version)
    partitions = tuple(
        build(
            module.PartitionData,
            partition_index=index,
            error_code=ErrorCode.none,
            high_watermark=4,
            last_stable_offset=4,
            log_start_offset=0,
            aborted_transactions=None,
            preferred_read_replica=-1,
            records=part,
        )
        for index, part in enumerate(records)
    )
    topic = build(
        module.FetchableTopicResponse, topic="events", topic_id=None, partitions=partitions
    )
    return build(
        module.FetchResponse,
        throttle_time=timedelta(0),
        error_code=ErrorCode.none,
        session_id=0,
        responses=(topic,),
    )


def materialized(chunks: list[Any]) -> bytes:
    return b"".join(
        chunk.read(0, chunk.size) if isinstance(chunk, FileRecords) else bytes(chunk)
        for chunk in chunks
    )


@pytest.mark.parametrize("version", [4, 11, 12, 16])  # non-flexible and flexible
def test_region_is_a_chunk_of_its_own(version: int, region: FileRecords) -> None:
    header = RequestHeader(FETCH_KEY, version, 42, None)
    chunks = encode_response(header, fetch_response(version, [region, b"", region]))
    assert [chunk for chunk in chunks if isinstance(chunk, FileRecords)] == [region, region]
    total = sum(len(chunk) for chunk in chunks)
    assert struct.unpack_from(">i", bytes(chunks[0]))[0] == total - 4
    from_bytes = encode_response(header, fetch_response(version, [BATCHES, b"", BATCHES]))
    assert materialized(chunks) == materialized(from_bytes)
