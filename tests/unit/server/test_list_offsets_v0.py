"""ListOffsets v0 semantics (Kafka 3.x's ``legacyFetchOffsetsBefore`` and
``handleListOffsetRequestV0``): offsets of segment starts, by segment file modification time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kio.schema.errors import ErrorCode

from odradek.common.clock import FakeClock
from odradek.common.errors import NotLeaderOrFollowerError, UnknownTopicOrPartitionError
from odradek.protocol import legacy_codec
from odradek.protocol.api_versions import LIST_OFFSETS_KEY
from odradek.protocol.codec import RequestHeader
from odradek.server.handlers.list_offsets import (
    EARLIEST,
    LATEST,
    handle_list_offsets,
    legacy_offsets_before,
)
from odradek.server.request_context import ConnectionInfo, RequestContext
from odradek.storage.log import Log
from tests.unit.storage.helpers import T0, append, make_batch, open_log

# Segment file times, in the clock's past: the active segment's point is "now".
MTIMES = (T0 - 30_000, T0 - 20_000, T0 - 10_000)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    """Segments [0, 10), [10, 25), [25, 30) and the log end 30; file times from MTIMES."""
    log_obj = open_log(tmp_path, FakeClock(T0))
    for count in (10, 15):
        append(log_obj, make_batch(count))
        log_obj.roll()
    append(log_obj, make_batch(5))
    set_mtimes(log_obj, MTIMES)
    yield log_obj
    log_obj.close()


def set_mtimes(log_obj: Log, times_ms: tuple[int, ...]) -> None:
    for segment, ms in zip(log_obj.segments, times_ms, strict=True):
        os.utime(segment.log_path, ns=(ms * 1_000_000, ms * 1_000_000))


def test_latest_and_earliest(log: Log) -> None:
    assert [s.base_offset for s in log.segments] == [0, 10, 25]
    assert log.log_end_offset == log.high_watermark == 30
    assert legacy_offsets_before(log, LATEST, 1, True) == (30,)
    assert legacy_offsets_before(log, EARLIEST, 1, True) == (0,)
    # Latest walks back over every segment start; earliest has only the first point.
    assert legacy_offsets_before(log, LATEST, 10, True) == (30, 25, 10, 0)
    assert legacy_offsets_before(log, LATEST, 2, True) == (30, 25)
    assert legacy_offsets_before(log, EARLIEST, 10, True) == (0,)
    assert legacy_offsets_before(log, LATEST, 0, True) == ()


def test_by_timestamp_uses_segment_modification_times(log: Log) -> None:
    # A point qualifies when its time is at or before the timestamp (Kafka compares <=).
    assert legacy_offsets_before(log, MTIMES[1], 10, True) == (10, 0)
    assert legacy_offsets_before(log, MTIMES[1] - 1, 10, True) == (0,)
    assert legacy_offsets_before(log, MTIMES[2] + 1, 1, True) == (25,)
    assert legacy_offsets_before(log, MTIMES[0] - 1, 10, True) == ()
    # The log end's time is the clock's now.
    assert legacy_offsets_before(log, T0 - 1, 10, True) == (25, 10, 0)
    assert legacy_offsets_before(log, T0, 10, True) == (30, 25, 10, 0)


def test_log_start_offset_replaces_earlier_segment_starts(log: Log) -> None:
    log.delete_records_before(12)  # drops [0, 10); [10, 25) now starts at 12
    assert log.log_start_offset == 12
    assert legacy_offsets_before(log, EARLIEST, 1, True) == (12,)
    assert legacy_offsets_before(log, LATEST, 10, True) == (30, 25, 12)


def test_empty_active_segment_adds_no_log_end_point(log: Log) -> None:
    log.roll()
    set_mtimes(log, (*MTIMES, T0 - 5_000))
    assert [s.base_offset for s in log.segments] == [0, 10, 25, 30]
    assert legacy_offsets_before(log, LATEST, 10, True) == (30, 25, 10, 0)
    assert legacy_offsets_before(log, T0, 10, True) == (30, 25, 10, 0)
    assert legacy_offsets_before(log, T0 - 5_001, 10, True) == (25, 10, 0)


def test_fresh_log(tmp_path: Path) -> None:
    log_obj = open_log(tmp_path, FakeClock(T0))
    try:
        assert legacy_offsets_before(log_obj, LATEST, 1, True) == (0,)
        assert legacy_offsets_before(log_obj, EARLIEST, 1, True) == (0,)
    finally:
        log_obj.close()


def test_consumers_see_the_high_watermark_not_the_log_end(log: Log) -> None:
    """In cluster mode the high watermark trails the log end until the ISR has the records:
    offsets above it give way to it for consumers, not for replicas."""
    log.update_high_watermark(27)
    assert legacy_offsets_before(log, LATEST, 1, True) == (27,)
    assert legacy_offsets_before(log, LATEST, 10, True) == (27, 25, 10, 0)
    assert legacy_offsets_before(log, LATEST, 10, False) == (30, 25, 10, 0)
    log.update_high_watermark(25)
    # As Kafka: the high watermark is prepended after dropping the offsets above it.
    assert legacy_offsets_before(log, LATEST, 10, True) == (25, 25, 10, 0)


# -- the handler -----------------------------------------------------------------------------------


class FakeReplicaManager:
    def __init__(self, logs: dict[tuple[str, int], Log]) -> None:
        self.logs = logs

    def get_log(self, topic: str, partition: int) -> Log:
        if topic == "elsewhere":
            raise NotLeaderOrFollowerError("not the leader")
        found = self.logs.get((topic, partition))
        if found is None:
            raise UnknownTopicOrPartitionError("unknown")
        return found


def list_offsets_v0(
    log: Log, replica_id: int, *partitions: tuple[str, int, int, int]
) -> dict[tuple[str, int], Any]:
    broker: Any = SimpleNamespace(
        replica_manager=FakeReplicaManager({("events", 0): log}), authorizer=None
    )
    topics: dict[str, list[legacy_codec.ListOffsetsPartition]] = {}
    for topic, index, timestamp, max_num in partitions:
        topics.setdefault(topic, []).append(
            legacy_codec.ListOffsetsPartition(
                partition_index=index, timestamp=timestamp, max_num_offsets=max_num
            )
        )
    request = legacy_codec.ListOffsetsRequest(
        replica_id=replica_id,
        topics=tuple(
            legacy_codec.ListOffsetsTopic(name=name, partitions=tuple(items))
            for name, items in topics.items()
        ),
    )
    ctx = RequestContext(RequestHeader(LIST_OFFSETS_KEY, 0, 1, None), ConnectionInfo())
    response = handle_list_offsets(broker, ctx, request)
    assert isinstance(response, legacy_codec.ListOffsetsResponse)
    return {
        (t.name, p.partition_index): (int(p.error_code), p.old_style_offsets)
        for t in response.topics
        for p in t.partitions
    }


def test_handler_answers_v0_per_partition(log: Log) -> None:
    log.update_high_watermark(28)
    got = list_offsets_v0(
        log,
        -1,
        ("events", 0, LATEST, 1),
        ("events", 1, LATEST, 1),
        ("elsewhere", 0, EARLIEST, 1),
        ("missing", 0, EARLIEST, 1),
    )
    assert got == {
        ("events", 0): (0, (28,)),
        ("events", 1): (ErrorCode.unknown_topic_or_partition, ()),
        ("elsewhere", 0): (ErrorCode.not_leader_or_follower, ()),
        ("missing", 0): (ErrorCode.unknown_topic_or_partition, ()),
    }
    # A follower (replica id >= 0) is answered up to the log end.
    assert list_offsets_v0(log, 1, ("events", 0, LATEST, 1)) == {("events", 0): (0, (30,))}


def test_negative_max_num_offsets_fails_the_partition(log: Log) -> None:
    """Kafka sizes its result array with it: a negative count is an unexpected server error
    for that partition, not a closed connection."""
    got = list_offsets_v0(log, -1, ("events", 0, LATEST, -1), ("missing", 0, LATEST, 1))
    assert got == {
        ("events", 0): (ErrorCode.unknown_server_error, ()),
        ("missing", 0): (ErrorCode.unknown_topic_or_partition, ()),
    }
