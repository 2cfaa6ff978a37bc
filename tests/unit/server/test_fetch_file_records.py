"""The Fetch handler's reads: v4+ answer with the records left in the segment files (the same
batches a read into memory returns, within the same limits); v0-3 read what they
down-convert into memory, at most DOWN_CONVERSION_READ_BYTES a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kio.schema.errors import ErrorCode
from kio.schema.fetch.v12 import request as fetch_req
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i32, i32Timedelta, i64

from odradek.cluster.admin_manager import TopicSpec
from odradek.common.ids import TopicPartition
from odradek.protocol import api_versions as keys
from odradek.protocol import legacy_codec
from odradek.protocol.codec import RequestHeader
from odradek.protocol.records.codec import encode_batch
from odradek.protocol.records.legacy import is_legacy
from odradek.server.broker import BrokerServer
from odradek.server.handlers.fetch import DOWN_CONVERSION_READ_BYTES, handle_fetch
from odradek.server.request_context import ConnectionInfo, RequestContext
from odradek.storage.file_records import FileRecords
from odradek.testing import Broker

BIG = 2**31 - 1
BATCH = encode_batch([(None, b"x" * 100_000)] * 9)  # just under max.message.bytes


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[BrokerServer]:
    async with Broker(data_dir=tmp_path / "data") as running:
        assert running.server is not None
        server = running.server
        await server.admin_manager.create_topic_async(TopicSpec("events", 2, 1), False)
        yield server


def produce(broker: BrokerServer, partition: int, batch: bytes, times: int = 1) -> None:
    for _ in range(times):
        broker.replica_manager.append_records("events", partition, batch)


def ctx(version: int) -> RequestContext:
    return RequestContext(RequestHeader(keys.FETCH_KEY, version, 1, "test"), ConnectionInfo())


def fetch_v12(max_bytes: int, partition_max: int = BIG) -> fetch_req.FetchRequest:
    return fetch_req.FetchRequest(
        replica_id=BrokerId(-1),
        max_wait=i32Timedelta.parse(timedelta(0)),
        min_bytes=i32(1),
        max_bytes=i32(max_bytes),
        topics=(
            fetch_req.FetchTopic(
                topic=TopicName("events"),
                partitions=tuple(
                    fetch_req.FetchPartition(
                        partition=i32(p),
                        fetch_offset=i64(0),
                        partition_max_bytes=i32(partition_max),
                    )
                    for p in (0, 1)
                ),
            ),
        ),
        forgotten_topics_data=(),
    )


def partitions(response: Any) -> list[Any]:
    return list(response.responses[0].partitions)


async def test_records_are_left_in_the_segment_file(broker: BrokerServer) -> None:
    produce(broker, 0, BATCH, times=3)
    produce(broker, 1, encode_batch([(b"k", b"v")]))
    response = handle_fetch(broker, ctx(12), fetch_v12(BIG))
    first, second = partitions(response)
    log = broker.log_manager.logs[TopicPartition("events", 0)]
    assert isinstance(first.records, FileRecords)
    assert first.records.read(0, first.records.size) == log.read(0, BIG).records
    assert len(first.records) == 3 * len(BATCH)
    assert isinstance(second.records, FileRecords) and second.error_code == ErrorCode.none


async def test_the_first_batch_comes_whole_and_then_nothing(broker: BrokerServer) -> None:
    """max_bytes smaller than the first batch: that batch (Kafka's rule), and the next
    partition gets nothing — without an error."""
    produce(broker, 0, BATCH, times=2)
    produce(broker, 1, BATCH)
    first, second = partitions(handle_fetch(broker, ctx(12), fetch_v12(1000)))
    assert len(first.records) == len(BATCH)
    assert second.error_code == ErrorCode.none
    assert len(second.records) == 0


async def test_partition_max_bytes_is_honoured(broker: BrokerServer) -> None:
    produce(broker, 0, BATCH, times=3)
    produce(broker, 1, BATCH, times=3)
    first, second = partitions(handle_fetch(broker, ctx(12), fetch_v12(BIG, 2 * len(BATCH))))
    assert len(first.records) == len(second.records) == 2 * len(BATCH)
    first, second = partitions(handle_fetch(broker, ctx(12), fetch_v12(3 * len(BATCH))))
    assert (len(first.records), len(second.records)) == (3 * len(BATCH), 0)


async def test_old_fetches_down_convert_a_bounded_read(broker: BrokerServer) -> None:
    """A v3 fetch of everything reads (and converts) about DOWN_CONVERSION_READ_BYTES."""
    produce(broker, 0, BATCH, times=2 * DOWN_CONVERSION_READ_BYTES // len(BATCH))
    partition = legacy_codec.FetchPartition(partition=0, fetch_offset=0, partition_max_bytes=BIG)
    request = legacy_codec.FetchRequest(
        replica_id=-1,
        max_wait=timedelta(0),
        min_bytes=1,
        max_bytes=BIG,
        topics=(legacy_codec.FetchTopic(topic="events", partitions=(partition,)),),
    )
    (first,) = partitions(handle_fetch(broker, ctx(3), request))
    assert first.error_code == ErrorCode.none
    assert is_legacy(first.records)
    # A magic v1 message set is about as large as the v2 batches it was converted from.
    assert DOWN_CONVERSION_READ_BYTES - 2 * len(BATCH) < len(first.records)
    assert len(first.records) <= DOWN_CONVERSION_READ_BYTES
