"""odradek.storage.retention called directly: which of a log's oldest segments go by time
(retention.ms), by size (retention.bytes) and by log start offset, and that the active segment
is never deleted in place. (test_retention.py covers the same through Log and LogMaintenance.)
Real logs in tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odradek.common.clock import FakeClock
from odradek.storage import retention
from odradek.storage.log import Log
from tests.unit.storage.helpers import T0, append, log_config, make_batch, open_log

HOUR = 3_600_000


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def segmented_log(tmp_path: Path, clock: FakeClock, timestamps: list[int], **config: Any) -> Log:
    """One closed segment of two batches per timestamp, then an active segment holding one
    batch stamped T0."""
    log = open_log(tmp_path, clock, log_config(**config))
    for timestamp in timestamps:
        append(log, make_batch(1, timestamp=timestamp))
        append(log, make_batch(1, timestamp=timestamp))
        log.roll()
    append(log, make_batch(1, timestamp=T0))
    return log


def bases(log: Log) -> list[int]:
    return [segment.base_offset for segment in log.segments]


def test_deletes_by_time(tmp_path: Path, clock: FakeClock) -> None:
    log = segmented_log(tmp_path, clock, [T0 - 3 * HOUR, T0 - 2 * HOUR, T0], retention_ms=HOUR)
    doomed = [segment.log_path for segment in log.segments[:2]]
    assert retention.delete_old_segments(log, T0) == 2
    assert bases(log) == [4, 6] and log.log_start_offset == 4
    assert not any(path.exists() for path in doomed)
    assert sorted(p.name for p in log.pending_deletes if p.name.endswith(".log.deleted")) == [
        path.name + ".deleted" for path in doomed
    ]
    assert retention.delete_old_segments(log, T0) == 0
    log.close()


def test_time_breach_is_strictly_older_than_retention_ms(tmp_path: Path, clock: FakeClock) -> None:
    log = segmented_log(tmp_path, clock, [T0 - HOUR], retention_ms=HOUR)
    assert retention.delete_old_segments(log, T0) == 0
    assert retention.delete_old_segments(log, T0 + 1) == 1
    log.close()


def test_deletes_by_size_while_the_rest_still_fits(tmp_path: Path, clock: FakeClock) -> None:
    log = segmented_log(tmp_path, clock, [T0, T0, T0])
    sizes = [segment.size for segment in log.segments]  # three full segments, one active
    limit = sum(sizes) - sizes[0] - sizes[1] // 2  # the first fits in the excess, not the second
    log.update_config(log_config(retention_bytes=limit))
    assert retention.delete_old_segments(log, T0) == 1
    assert bases(log) == [2, 4, 6]
    assert log.size_in_bytes > limit  # deleting the next one would undershoot: it stays
    log.close()


def test_size_and_time_apply_only_to_the_delete_policy(tmp_path: Path, clock: FakeClock) -> None:
    log = segmented_log(
        tmp_path,
        clock,
        [T0 - 2 * HOUR],
        cleanup_policy=["compact"],
        retention_ms=HOUR,
        retention_bytes=0,
    )
    assert retention.delete_old_segments(log, T0) == 0
    log.close()


def test_an_empty_active_segment_is_never_deleted(tmp_path: Path, clock: FakeClock) -> None:
    log = segmented_log(tmp_path, clock, [T0 - 2 * HOUR, T0 - 2 * HOUR])
    log.roll()  # the batch stamped T0 is in a closed segment now; the active one is empty
    active = log.active_segment
    assert active.is_empty
    everything = retention.deletable_segments(log.segments, log.high_watermark, lambda *_: True)
    assert active not in everything and len(everything) == len(log.segments) - 1
    log.update_config(log_config(retention_bytes=0))
    assert retention.delete_old_segments(log, T0) == 3
    assert log.segments == [active] and active.log_path.exists()
    assert log.log_start_offset == log.log_end_offset == 5
    log.close()


def test_an_expired_active_segment_is_rolled_before_it_goes(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = segmented_log(tmp_path, clock, [T0 - 2 * HOUR], retention_ms=HOUR)
    clock.advance(2 * HOUR)  # now the active segment's batch (stamped T0) is expired too
    old_active = log.active_segment
    assert retention.delete_old_segments(log, clock.now_ms) == 2
    assert old_active not in log.segments
    assert bases(log) == [3] and log.active_segment.is_empty
    assert append(log, make_batch(1, timestamp=clock.now_ms)).first_offset == 3
    log.close()


def test_the_active_segment_stays_while_it_holds_offsets_past_the_high_watermark(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = segmented_log(tmp_path, clock, [T0 - 2 * HOUR])
    log.replicated = True
    log.update_high_watermark(2)  # the follower has not yet got the active segment's batch
    everything = retention.deletable_segments(log.segments, log.high_watermark, lambda *_: True)
    assert everything == log.segments[:1]
    log.close()


def test_deletes_below_the_log_start_offset_whatever_the_policy(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = segmented_log(tmp_path, clock, [T0, T0, T0], cleanup_policy=["compact"])
    log.log_start_offset = 3  # inside the second segment
    assert retention.delete_segments_below_start(log) == 1
    assert bases(log) == [2, 4, 6] and log.log_start_offset == 3
    log.cleaning = True  # the cleaner holds the segments: nothing goes meanwhile
    log.log_start_offset = 6
    assert retention.delete_old_segments(log, T0) == 0
    log.cleaning = False
    assert retention.delete_old_segments(log, T0) == 2
    assert bases(log) == [6]
    log.close()
