"""KIP-112 in the storage layer: an I/O error takes its log dir offline (one ERROR line), a
failed append leaves no byte of its batch behind, the offline dir's logs are closed and its
partitions answer KAFKA_STORAGE_ERROR while the other dirs keep working, it gets no
checkpoint and no clean-shutdown marker, and deleting its partitions still frees space.

The failures are real: a small tmpfs is mounted for the tests that need a full device (as
root; skipped where mounting is not possible)."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from odradek.common.clock import FakeClock
from odradek.common.errors import KafkaStorageError
from odradek.common.ids import TopicPartition
from odradek.protocol.records.codec import Record
from odradek.storage.files import CLEAN_SHUTDOWN_FILE, RECOVERY_POINT_CHECKPOINT, atomic_write
from odradek.storage.log_dir_failure import LogDirFailureChannel
from odradek.storage.log_manager import LogManager
from tests.unit.storage.helpers import T0, TOPIC_ID, append, log_config, make_batch, open_log
from tests.unit.storage.helpers import read_all as read_records

TP_B = TopicPartition("steady", 0)
TP_A = TopicPartition("filling", 0)


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    mount_point = tmp_path / "device"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path, leave: int = 0) -> Path:
    """Write a file until the device is full, then give back ``leave`` bytes of it."""
    path = directory / "filler"
    with open(path, "wb", buffering=0) as handle:
        chunk = 64 * 1024
        while chunk >= 512:
            try:
                handle.write(bytes(chunk))
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk //= 2
    os.truncate(path, max(0, path.stat().st_size - leave))
    return path


def free_bytes(directory: Path) -> int:
    stat = os.statvfs(directory)
    return stat.f_bavail * stat.f_frsize


def values(records: list[Record]) -> list[bytes | None]:
    return [r.value for r in records]


# -- the channel -------------------------------------------------------------------------------


def test_the_first_failure_in_a_dir_is_logged_once_and_takes_it_offline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    channel = LogDirFailureChannel()
    told: list[Path] = []
    channel.listeners.append(told.append)
    a, b = tmp_path / "a", tmp_path / "b"
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    with caplog.at_level(logging.INFO, logger="odradek.storage.log_dir_failure"):
        error = channel.storage_error(a, f"Error while appending to t-0 in dir {a}", full)
        channel.maybe_add_offline_log_dir(a, "Error while rolling", OSError(errno.EIO, "I/O"))
        channel.maybe_add_offline_log_dir(b, "Error while flushing", OSError(errno.EIO, "I/O"))
    assert isinstance(error, KafkaStorageError)
    assert told == [a, b]
    assert channel.is_offline(a) and channel.is_offline(b)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert lines == [
        f"Error while appending to t-0 in dir {a}: No space left on device; "
        f"log dir {a} is now offline",
        f"Error while flushing: I/O; log dir {b} is now offline",
    ]
    assert channel.offline_dirs[a].endswith("No space left on device")


# -- a full device -----------------------------------------------------------------------------


def test_a_failed_append_leaves_no_byte_of_its_batch(device: Path) -> None:
    clock = FakeClock(T0)
    log = open_log(device, clock, log_config(index_interval_bytes=1))
    for n in range(3):
        append(log, make_batch(2, tag=f"kept{n}"))
    before = values(read_records(log))
    segment = log.active_segment
    size, entries = segment.log_path.stat().st_size, segment.offset_index.entries
    fill(device, leave=8192)  # room for part of the next batch: a short write
    free = free_bytes(device)
    with pytest.raises(KafkaStorageError, match="appending to events-0"):
        append(log, make_batch(1, value_size=64 * 1024))
    assert log.failure_channel.is_offline(device)
    assert segment.log_path.stat().st_size == size == segment.size
    assert segment.offset_index.entries == entries
    assert segment.offset_index.path.stat().st_size == entries * 8
    assert free_bytes(device) == free  # the partial write's pages were given back
    assert log.log_end_offset == 6
    assert values(read_records(log)) == before
    log.close()
    recovered = open_log(device, clock, log_config(), clean_shutdown=False)
    assert recovered.log_end_offset == 6
    assert values(read_records(recovered)) == before
    recovered.close()


def test_a_failed_atomic_write_leaves_no_temp_file(device: Path) -> None:
    fill(device)
    target = device / "checkpoint"
    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, b"0\n1\nt 0 5\n" * 1000)
    assert sorted(p.name for p in device.iterdir()) == ["filler"]


def manager(*dirs: Path) -> LogManager:
    lm = LogManager(list(dirs), FakeClock(T0))
    lm.startup(node_id=0, cluster_id="MkU3OEVBNTcwNTJENDM2Qk")
    return lm


def test_a_full_dir_goes_offline_and_the_other_keeps_working(
    device: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    disk, full = (tmp_path / "disk").resolve(), device / "data"
    lm = manager(disk, full)
    steady = lm.get_or_create_log(TP_B, TOPIC_ID, log_config())
    filling = lm.get_or_create_log(TP_A, TOPIC_ID, log_config())
    assert (steady.dir.parent, filling.dir.parent) == (disk, full)  # least loaded dir
    append(steady, make_batch(1))
    append(filling, make_batch(1))
    lm.checkpoint()
    checkpoint = (full / RECOVERY_POINT_CHECKPOINT).read_bytes()
    fill(device)

    with (
        caplog.at_level(logging.ERROR, logger="odradek.storage"),
        pytest.raises(KafkaStorageError),
    ):
        for _ in range(100):  # the page holding the segment's tail may take a few
            append(filling, make_batch(1, value_size=4096))
    assert [r.getMessage() for r in caplog.records] == [
        f"Error while appending to {TP_A} in dir {full}: No space left on device; "
        f"log dir {full} is now offline"
    ]
    assert lm.offline_dirs.keys() == {full} and lm.online_dirs == [disk]
    assert lm.is_offline(TP_A) and not lm.is_offline(TP_B)
    assert TP_A not in lm.logs and lm.dir_of(TP_A) == full
    with pytest.raises(KafkaStorageError, match="offline"):
        lm.get_or_create_log(TP_A, TOPIC_ID, log_config())
    with pytest.raises(KafkaStorageError):
        append(filling, make_batch(1))  # its files are closed
    assert len(caplog.records) == 1  # and that is not logged again

    append(steady, make_batch(1))
    other = lm.get_or_create_log(TopicPartition("new", 0), TOPIC_ID, log_config())
    assert other.dir.parent == disk  # new partitions go to the dirs online
    lm.checkpoint()
    assert (full / RECOVERY_POINT_CHECKPOINT).read_bytes() == checkpoint
    lm.shutdown()
    assert (disk / CLEAN_SHUTDOWN_FILE).exists()
    assert not (full / CLEAN_SHUTDOWN_FILE).exists()  # its logs are recovered at the next start

    again = manager(disk, full)  # a restart brings the dir back
    assert again.online_dirs == [disk, full]
    assert again.get_or_create_log(TP_A, TOPIC_ID, log_config()).log_end_offset >= 1
    assert again.get_or_create_log(TP_B, TOPIC_ID, log_config()).log_end_offset == 2
    again.shutdown()


def test_deleting_a_partition_of_an_offline_dir_frees_its_space(device: Path) -> None:
    full = device / "data"
    lm = manager(full)
    filling = lm.get_or_create_log(TP_A, TOPIC_ID, log_config())
    append(filling, make_batch(1, value_size=512 * 1024))
    fill(device)
    with pytest.raises(KafkaStorageError):
        for _ in range(100):
            append(filling, make_batch(1, value_size=4096))
    assert lm.is_offline(TP_A)
    lm.delete_log(TP_A)  # a rename and unlinks: no space needed
    assert [p.name for p in full.iterdir() if p.is_dir()] == []
    assert free_bytes(device) >= 512 * 1024
    assert not lm.is_offline(TP_A) and lm.dir_of(TP_A) is None
    lm.shutdown()


def test_with_every_dir_offline_no_log_can_be_created(device: Path) -> None:
    lm = manager(device / "data")
    log = lm.get_or_create_log(TP_A, TOPIC_ID, log_config())
    fill(device)
    with pytest.raises(KafkaStorageError):
        for _ in range(100):
            append(log, make_batch(1, value_size=4096))
    assert lm.online_dirs == []
    with pytest.raises(KafkaStorageError, match="every log dir is offline"):
        lm.get_or_create_log(TP_B, TOPIC_ID, log_config())
    lm.shutdown()  # writes nothing, raises nothing
    assert not (device / "data" / CLEAN_SHUTDOWN_FILE).exists()


def test_a_checkpoint_that_cannot_be_written_takes_its_dir_offline(device: Path) -> None:
    full = device / "data"
    lm = manager(full)
    log = lm.get_or_create_log(TP_A, TOPIC_ID, log_config())
    append(log, make_batch(1))
    fill(device)
    lm.checkpoint()
    assert lm.offline_dirs.keys() == {full}
    assert "writing checkpoints" in lm.offline_dirs[full]
    assert lm.logs == {}
    assert [p.name for p in full.iterdir() if p.name.endswith(".tmp")] == []
    lm.shutdown()
