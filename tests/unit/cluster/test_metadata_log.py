"""The single-node metadata log on disk: records survive a reopen, a torn or corrupt tail (a
crash mid-append) is cut without losing an earlier record, compaction writes a snapshot and
restarts the log, and a log left behind by a crash between the two is recognised."""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path
from typing import Any

import pytest

from odradek.cluster.metadata_log import (
    HEADER,
    LOG_FILE,
    SNAPSHOT_FILE,
    CorruptMetadataError,
    MetadataLog,
    State,
)
from odradek.cluster.metadata_records import FRAME, MetadataRecord, scan

SMALL = 16 * 1024  # the least reservation, so that a few hundred records compact


def opened(directory: Path, min_log_bytes: int = SMALL) -> tuple[MetadataLog, State]:
    log = MetadataLog(directory, min_log_bytes)
    if log.exists():
        return log, log.recover()
    log.create({})
    return log, {}


def reopened(directory: Path) -> State:
    log, state = opened(directory)
    log.close()
    return state


def record(key: str, value: Any) -> MetadataRecord:
    return MetadataRecord.of("topics", key, value)


def test_records_are_replayed_on_a_reopen(tmp_path: Path) -> None:
    log, _ = opened(tmp_path)
    log.append(record("a", {"partitions": 1}))
    log.append(record("b", {"partitions": 2}))
    log.append(record("a", {"partitions": 3}))
    log.append(MetadataRecord.of("acls", "/kafka-acl/Topic/b", {"version": 1, "acls": []}))
    log.append(record("b", None))
    log.close()
    assert reopened(tmp_path) == {
        "topics": {"a": {"partitions": 3}},
        "acls": {"/kafka-acl/Topic/b": {"version": 1, "acls": []}},
    }
    assert (tmp_path / SNAPSHOT_FILE).exists()
    assert (tmp_path / LOG_FILE).stat().st_size >= SMALL  # its space reserved up front


def appended(directory: Path, count: int) -> int:
    """A log of ``count`` records; returns where the next record would go."""
    log, _ = opened(directory)
    for i in range(count):
        log.append(record(f"t{i}", {"n": i}))
    end = HEADER.size + log.used
    log.close()
    return end


@pytest.mark.parametrize("kept", [4, FRAME.size - 1, FRAME.size, FRAME.size + 5])
def test_a_torn_last_record_is_cut_and_the_log_goes_on(
    tmp_path: Path, kept: int, caplog: pytest.LogCaptureFixture
) -> None:
    end = appended(tmp_path, 3)
    frame = record("t3", {"n": 3, "pad": "x" * 40}).frame()
    with open(tmp_path / LOG_FILE, "r+b") as handle:  # the crash: only part of it got written
        handle.seek(end)
        handle.write(frame[:kept])  # (a length under 2**24: its first 3 bytes are zeros)
    with caplog.at_level(logging.WARNING):
        log, state = opened(tmp_path)
    assert state == {"topics": {f"t{i}": {"n": i} for i in range(3)}}
    assert "cut after 3 records" in caplog.text
    log.append(record("t4", {"n": 4}))  # appended where the torn one began
    log.close()
    assert reopened(tmp_path)["topics"] == {**state["topics"], "t4": {"n": 4}}


def test_a_record_with_a_bad_crc_ends_the_log(tmp_path: Path) -> None:
    appended(tmp_path, 4)
    data = bytearray((tmp_path / LOG_FILE).read_bytes())
    first = scan(bytes(data), HEADER.size)
    assert len(first.records) == 4
    third = HEADER.size + sum(len(r.frame()) for r in first.records[:2])
    data[third + FRAME.size + 2] ^= 0x01  # one bit of the third record's payload
    (tmp_path / LOG_FILE).write_bytes(bytes(data))
    assert reopened(tmp_path)["topics"] == {"t0": {"n": 0}, "t1": {"n": 1}}
    # The cut tail is zeroed: appends after it are not followed by stale records.
    assert scan((tmp_path / LOG_FILE).read_bytes(), HEADER.size).records == first.records[:2]


def test_a_length_running_past_the_file_is_a_torn_record(tmp_path: Path) -> None:
    end = appended(tmp_path, 2)
    with open(tmp_path / LOG_FILE, "r+b") as handle:
        handle.seek(end)
        handle.write(struct.pack(">II", 1 << 30, 0))
    assert reopened(tmp_path)["topics"] == {"t0": {"n": 0}, "t1": {"n": 1}}


def test_compaction_snapshots_the_state_and_restarts_the_log(tmp_path: Path) -> None:
    log, _ = opened(tmp_path)
    expected: dict[str, Any] = {}
    compactions = 0
    for i in range(600):
        key = f"t{i % 150}"
        if i % 7 == 0:
            log.append(record(key, None))
            expected.pop(key, None)
        else:
            log.append(record(key, {"n": i, "configs": {"retention.ms": str(i)}}))
            expected[key] = {"n": i, "configs": {"retention.ms": str(i)}}
        if log.compaction_due():
            log.compact()
            compactions += 1
            assert log.used == 0
    assert compactions >= 3
    assert log.generation == 1 + compactions
    log.close()
    assert reopened(tmp_path)["topics"] == expected
    assert (tmp_path / LOG_FILE).stat().st_size < 8 * (tmp_path / SNAPSHOT_FILE).stat().st_size


def test_a_full_reservation_compacts_before_an_append(tmp_path: Path) -> None:
    log, _ = opened(tmp_path)
    big = {"pad": "x" * 1000}
    for i in range(40):  # 40 kB of records in 16 kB: never compacted between appends
        log.append(record(f"t{i}", big))
    assert log.generation > 1
    assert log.reserved <= 2 * SMALL
    log.close()
    assert reopened(tmp_path)["topics"] == {f"t{i}": big for i in range(40)}


def test_a_log_older_than_its_snapshot_is_reset(tmp_path: Path) -> None:
    """The crash between writing a snapshot and restarting the log after it."""
    log, _ = opened(tmp_path)
    log.append(record("a", {"n": 1}))
    log.append(record("b", {"n": 1}))
    before = (tmp_path / LOG_FILE).read_bytes()
    log.compact()
    log.close()
    (tmp_path / LOG_FILE).write_bytes(before)  # as it was: generation 1, its records
    log, state = opened(tmp_path)
    assert state == {"topics": {"a": {"n": 1}, "b": {"n": 1}}}
    assert log.generation == 2 and log.used == 0
    log.append(record("a", None))
    log.close()
    assert reopened(tmp_path) == {"topics": {"b": {"n": 1}}}


def test_a_missing_log_is_started_again(tmp_path: Path) -> None:
    """The crash between a new directory's first snapshot and its log."""
    log, _ = opened(tmp_path)
    log.close()
    (tmp_path / LOG_FILE).unlink()
    (tmp_path / (SNAPSHOT_FILE + ".tmp")).write_bytes(b"{half a snap")
    log, state = opened(tmp_path)
    assert state == {} and (tmp_path / LOG_FILE).exists()
    assert not (tmp_path / (SNAPSHOT_FILE + ".tmp")).exists()
    log.close()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER.pack(b"NOTALOG!", 1), "not a metadata log"),
        (HEADER.pack(b"ODRKMLOG", 7), "ahead of the snapshot"),
        (b"ODRK", "shorter than its header"),
    ],
)
def test_a_log_no_crash_can_leave_is_refused(tmp_path: Path, header: bytes, message: str) -> None:
    appended(tmp_path, 1)
    data = (tmp_path / LOG_FILE).read_bytes()
    (tmp_path / LOG_FILE).write_bytes(header + data[HEADER.size :] if len(header) > 4 else header)
    with pytest.raises(CorruptMetadataError, match=message):
        opened(tmp_path)


def test_a_log_without_its_snapshot_is_refused(tmp_path: Path) -> None:
    appended(tmp_path, 1)
    (tmp_path / SNAPSHOT_FILE).unlink()
    with pytest.raises(CorruptMetadataError, match="without its snapshot"):
        opened(tmp_path)


def test_a_snapshot_that_is_not_one_is_refused(tmp_path: Path) -> None:
    appended(tmp_path, 1)
    (tmp_path / SNAPSHOT_FILE).write_text('{"version": 9}')
    with pytest.raises(CorruptMetadataError, match="not a snapshot"):
        opened(tmp_path)


def test_the_log_file_is_closed(tmp_path: Path) -> None:
    log, _ = opened(tmp_path)
    fds = set(os.listdir("/proc/self/fd"))
    log.close()
    assert len(fds - set(os.listdir("/proc/self/fd"))) == 1
