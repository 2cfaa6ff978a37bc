"""Log: offsets, reads, rolling, reopening after clean and unclean shutdowns, time lookups."""

from __future__ import annotations

from pathlib import Path

import pytest

from odradek.common.clock import FakeClock
from odradek.common.errors import OffsetOutOfRangeError
from odradek.protocol.records.batch import read_header
from odradek.protocol.records.codec import encode_batch
from odradek.storage.files import LEADER_EPOCH_CHECKPOINT, PARTITION_METADATA
from odradek.storage.log import Log
from odradek.storage.topic_id import decode_topic_id
from tests.unit.storage.helpers import (
    T0,
    TOPIC_ID,
    append,
    log_config,
    make_batch,
    open_log,
    read_all,
    records_of,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def test_new_log_layout(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock)
    assert log.dir == tmp_path / "events-0"
    assert log.log_end_offset == 0
    assert log.log_start_offset == 0
    assert log.high_watermark == 0
    assert (log.dir / "00000000000000000000.log").exists()
    assert decode_topic_id((log.dir / PARTITION_METADATA).read_text()) == TOPIC_ID
    assert (log.dir / LEADER_EPOCH_CHECKPOINT).exists()
    log.close()


def test_consecutive_offsets_across_requests(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock)
    infos = [append(log, make_batch(count)) for count in (1, 5, 2, 1)]
    assert [(i.first_offset, i.last_offset) for i in infos] == [(0, 0), (1, 5), (6, 7), (8, 8)]
    assert all(i.log_append_time == -1 for i in infos)
    assert log.log_end_offset == 9
    assert log.high_watermark == 9
    assert [r.offset for r in read_all(log)] == list(range(9))
    log.close()


def test_client_base_offset_is_ignored(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock)
    append(log, make_batch(2))
    data = encode_batch([(b"k", b"v")], base_offset=999, timestamp=T0)
    assert append(log, data).first_offset == 2
    assert read_header(log.read(2, 10_000).records).base_offset == 2
    log.close()


def test_log_append_time(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, log_config(message_timestamp_type="LogAppendTime"))
    clock.advance(5000)
    info = append(log, make_batch(3, timestamp=T0 - 10**6))
    assert info.log_append_time == T0 + 5000
    records = records_of(log.read(0, 10_000).records)
    assert {r.timestamp for r in records} == {T0 + 5000}
    assert log.max_timestamp_and_offset() == (T0 + 5000, 2)
    log.close()


def test_read_returns_whole_batches(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock)
    batches = [make_batch(3, tag=f"b{n}") for n in range(4)]
    for data in batches:
        append(log, data)
    fetched = log.read(4, 1_000_000)  # offset 4 is inside the second batch
    assert records_of(fetched.records)[0].offset == 3
    assert len(fetched.records) == sum(len(b) for b in batches[1:])
    assert fetched.high_watermark == 12
    assert fetched.log_start_offset == 0
    log.close()


def test_read_respects_max_bytes(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock)
    batches = [make_batch(2, tag=f"b{n}") for n in range(5)]
    for data in batches:
        append(log, data)
    size = len(batches[0])
    assert all(len(b) == size for b in batches)
    assert len(log.read(0, size * 2 + size // 2).records) == size * 2
    assert len(log.read(0, size * 2).records) == size * 2
    assert len(log.read(0, size * 2 - 1).records) == size
    assert len(log.read(2, size * 3, min_one_batch=False).records) == size * 3


def test_read_at_least_one_batch_larger_than_max_bytes(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock)
    big = make_batch(1, value_size=5000)
    append(log, big)
    append(log, make_batch(1))
    fetched = log.read(0, 100, min_one_batch=True)
    assert fetched.records == log.read(0, len(big)).records
    assert len(fetched.records) == len(big)
    assert log.read(0, 100, min_one_batch=False).records == b""
    log.close()


def test_read_at_log_end_is_empty_and_beyond_is_out_of_range(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = open_log(tmp_path, clock)
    append(log, make_batch(3))
    assert log.read(3, 1000).records == b""
    with pytest.raises(OffsetOutOfRangeError):
        log.read(4, 1000)
    with pytest.raises(OffsetOutOfRangeError):
        log.read(-1, 1000)
    log.close()


def test_read_never_passes_max_offset(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock)
    for _ in range(3):
        append(log, make_batch(2))
    assert [r.offset for r in records_of(log.read(0, 10**6, max_offset=4).records)] == [0, 1, 2, 3]
    assert log.read(4, 10**6, max_offset=4).records == b""
    log.close()


def test_roll_on_segment_bytes(tmp_path: Path, clock: FakeClock) -> None:
    size = len(make_batch(2))
    log = open_log(tmp_path, clock, log_config(segment_bytes=size * 2 + size // 2))
    for _ in range(5):
        append(log, make_batch(2))
    assert [s.base_offset for s in log.segments] == [0, 4, 8]
    assert all(s.size <= size * 2 + size // 2 for s in log.segments)
    names = sorted(p.name for p in log.dir.glob("*.log"))
    assert names == [
        "00000000000000000000.log",
        "00000000000000000004.log",
        "00000000000000000008.log",
    ]
    assert [r.offset for r in read_all(log)] == list(range(10))
    assert records_of(log.read(5, 10**6).records)[0].offset == 4
    log.close()


def test_single_batch_larger_than_segment_bytes_gets_its_own_segment(
    tmp_path: Path, clock: FakeClock
) -> None:
    log = open_log(tmp_path, clock, log_config(segment_bytes=200))
    append(log, make_batch(1))
    append(log, make_batch(1, value_size=1000))
    append(log, make_batch(1))
    assert [s.base_offset for s in log.segments] == [0, 1, 2]
    log.close()


def test_roll_on_segment_ms(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, log_config(segment_ms=60_000))
    append(log, make_batch(1, timestamp=clock.now_ms))
    clock.advance(30_000)
    append(log, make_batch(1, timestamp=clock.now_ms))
    assert len(log.segments) == 1
    clock.advance(30_001)
    append(log, make_batch(1, timestamp=clock.now_ms))
    assert [s.base_offset for s in log.segments] == [0, 2]
    clock.advance(59_000)
    append(log, make_batch(1, timestamp=clock.now_ms))
    assert len(log.segments) == 2
    log.close()


def test_segment_ms_roll_uses_record_timestamps(tmp_path: Path, clock: FakeClock) -> None:
    # Kafka: with a rolling base timestamp from the first batch, the time waited for roll is
    # (max timestamp of the incoming batch - first batch timestamp), not (now - first timestamp).
    # Replaying two-hour-old records into a topic with segment.ms of one hour must not roll a
    # new segment on every append.
    log = open_log(tmp_path, clock, log_config(segment_ms=3_600_000))
    old = clock.now_ms - 7_200_000
    for n in range(3):
        append(log, make_batch(1, timestamp=old + n))
    assert len(log.segments) == 1
    log.close()


def test_roll_when_offset_index_is_full(tmp_path: Path, clock: FakeClock) -> None:
    # 24 bytes: three offset index entries (and two time index entries, of which constant
    # timestamps use one); index.interval.bytes=0 indexes every append.
    log = open_log(tmp_path, clock, log_config(segment_index_bytes=24, index_interval_bytes=0))
    for _ in range(7):
        append(log, make_batch(1))
    assert [s.base_offset for s in log.segments] == [0, 3, 6]
    assert [s.offset_index.entries for s in log.segments] == [3, 3, 1]
    assert [r.offset for r in read_all(log)] == list(range(7))
    log.close()


def test_roll_when_time_index_is_full(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, log_config(segment_index_bytes=24))
    for n in range(5):  # a new max timestamp each time: a time index entry per append
        append(log, make_batch(1, timestamp=T0 + n))
    assert [s.base_offset for s in log.segments] == [0, 2, 4]
    log.close()


def test_reopen_after_clean_shutdown_keeps_everything(tmp_path: Path, clock: FakeClock) -> None:
    config = log_config(segment_bytes=1000, index_interval_bytes=100)
    log = open_log(tmp_path, clock, config)
    for n in range(20):
        append(log, make_batch(2, timestamp=T0 + n, tag=f"n{n}"))
    before = read_all(log)
    segments = [s.base_offset for s in log.segments]
    assert len(segments) > 2
    max_ts = log.max_timestamp_and_offset()
    log.flush()
    log.close()
    reopened = open_log(tmp_path, clock, config, clean_shutdown=True)
    assert [s.base_offset for s in reopened.segments] == segments
    assert reopened.log_end_offset == 40
    assert reopened.high_watermark == 40
    assert reopened.max_timestamp_and_offset() == max_ts
    assert read_all(reopened) == before
    assert append(reopened, make_batch(1)).first_offset == 40
    reopened.close()


def append_garbage(log: Log, garbage: bytes) -> None:
    with log.active_segment.log_path.open("ab") as handle:
        handle.write(garbage)


@pytest.mark.parametrize("clean_shutdown", [False, True])
def test_reopen_truncates_garbage_after_crash(
    tmp_path: Path, clock: FakeClock, clean_shutdown: bool
) -> None:
    config = log_config(segment_bytes=1000)
    log = open_log(tmp_path, clock, config)
    for n in range(12):
        append(log, make_batch(2, tag=f"n{n}"))
    before = read_all(log)
    segments = [s.base_offset for s in log.segments]
    good_size = log.active_segment.size
    log.close()
    append_garbage(log, encode_batch([(b"k", b"v" * 80)], base_offset=24)[:70] + b"\x17" * 9)
    # clean_shutdown=True: the files contradict the marker, so the log recovers anyway
    reopened = open_log(tmp_path, clock, config, clean_shutdown=clean_shutdown)
    assert [s.base_offset for s in reopened.segments] == segments
    assert reopened.active_segment.size == good_size
    assert reopened.active_segment.log_path.stat().st_size == good_size
    assert reopened.log_end_offset == 24
    assert read_all(reopened) == before
    assert append(reopened, make_batch(1)).first_offset == 24
    reopened.close()


def test_unclean_reopen_drops_a_corrupt_batch_and_everything_after(
    tmp_path: Path, clock: FakeClock
) -> None:
    config = log_config(segment_bytes=300)  # three 83-byte batches per segment
    log = open_log(tmp_path, clock, config)
    sizes = []
    for n in range(10):
        sizes.append(len(make_batch(1, tag=f"n{n}")))
        append(log, make_batch(1, tag=f"n{n}"))
    assert len(log.segments) >= 3
    victim = log.segments[1]
    victim_base = victim.base_offset
    log.close()
    raw = bytearray(victim.log_path.read_bytes())
    raw[sizes[0] + 65] ^= 0x01  # the second batch of the second segment
    victim.log_path.write_bytes(bytes(raw))
    reopened = open_log(tmp_path, clock, config, clean_shutdown=False)
    assert reopened.log_end_offset == victim_base + 1
    assert [s.base_offset for s in reopened.segments] == [0, victim_base]
    assert [r.offset for r in read_all(reopened)] == list(range(victim_base + 1))
    reopened.close()


def test_unclean_reopen_keeps_batches_larger_than_current_max_message_bytes(
    tmp_path: Path, clock: FakeClock
) -> None:
    # Kafka's LogSegment.recover validates CRCs and offsets only: lowering max.message.bytes
    # limits new appends but never deletes batches already in the log.
    log = open_log(tmp_path, clock)
    append(log, make_batch(1, value_size=20_000))
    append(log, make_batch(1))
    log.close()
    lowered = log_config(max_message_bytes=1000)
    reopened = open_log(tmp_path, clock, lowered, clean_shutdown=False)
    assert reopened.log_end_offset == 2
    reopened.close()


def test_offset_for_timestamp(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock, log_config(segment_bytes=300, index_interval_bytes=1))
    for n in range(10):  # batch n: offsets 3n..3n+2, timestamps T0 + 1000n + 0/10/20
        append(log, make_batch(3, timestamp=T0 + 1000 * n, step=10))
    assert len(log.segments) > 2
    assert log.offset_for_timestamp(0) == (0, T0)
    assert log.offset_for_timestamp(T0 + 10) == (1, T0 + 10)
    assert log.offset_for_timestamp(T0 + 11) == (2, T0 + 20)
    assert log.offset_for_timestamp(T0 + 21) == (3, T0 + 1000)
    assert log.offset_for_timestamp(T0 + 7015) == (23, T0 + 7020)
    assert log.offset_for_timestamp(T0 + 9020) == (29, T0 + 9020)
    assert log.offset_for_timestamp(T0 + 9021) is None
    assert log.max_timestamp_and_offset() == (T0 + 9020, 29)
    log.close()


def test_offset_for_timestamp_after_reopen(tmp_path: Path, clock: FakeClock) -> None:
    config = log_config(segment_bytes=800)
    log = open_log(tmp_path, clock, config)
    for n in range(10):
        append(log, make_batch(2, timestamp=T0 + 100 * n, step=1))
    log.flush()
    log.close()
    for clean in (True, False):
        reopened = open_log(tmp_path, clock, config, clean_shutdown=clean)
        assert reopened.offset_for_timestamp(T0 + 450) == (10, T0 + 500)
        assert reopened.offset_for_timestamp(T0 + 901) == (19, T0 + 901)
        reopened.close()

    log.close()


def test_append_listeners(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock)
    seen: list[tuple[str, int]] = []
    log.append_listeners.append(lambda tp, size: seen.append((str(tp), size)))
    data = make_batch(2)
    append(log, data)
    assert seen == [("events-0", len(data))]
    log.close()


def test_delete_removes_directory(tmp_path: Path, clock: FakeClock) -> None:
    log = open_log(tmp_path, clock)
    append(log, make_batch(1))
    log.delete()
    assert not log.dir.exists()
