"""LogManager: log dirs and their locks, meta.properties, the clean-shutdown marker,
checkpoints."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from odradek.common.clock import FakeClock
from odradek.common.errors import KafkaStorageError
from odradek.common.ids import TopicPartition
from odradek.config.properties import parse_properties
from odradek.storage.checkpoint import read_offset_checkpoint
from odradek.storage.file_lock import LogDirLockedError
from odradek.storage.files import CLEAN_SHUTDOWN_FILE, META_PROPERTIES
from odradek.storage.log_manager import LogManager
from tests.unit.storage.helpers import T0, TOPIC_ID, append, log_config, make_batch, read_all

TP = TopicPartition("orders", 3)


def manager(*dirs: Path) -> LogManager:
    return LogManager(list(dirs), FakeClock(T0))


def test_startup_writes_meta_properties(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cluster_id = manager(data).startup(node_id=4, cluster_id="MkU3OEVBNTcwNTJENDM2Qk")
    assert cluster_id == "MkU3OEVBNTcwNTJENDM2Qk"
    props = parse_properties((data / META_PROPERTIES).read_text())
    assert props["cluster.id"] == "MkU3OEVBNTcwNTJENDM2Qk"
    assert props["node.id"] == "4"
    assert props["version"] == "1"
    assert props.get("directory.id")


def test_startup_invents_a_cluster_id_and_keeps_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = manager(data).startup(node_id=1, cluster_id=None)
    assert len(first) == 22  # base64 of 16 bytes without padding
    assert manager(data).startup(node_id=1, cluster_id=None) == first
    assert manager(data).startup(node_id=1, cluster_id="other") == first  # stored id wins


def test_startup_rejects_another_node_id(tmp_path: Path) -> None:
    data = tmp_path / "data"
    manager(data).startup(node_id=1, cluster_id=None)
    with pytest.raises(KafkaStorageError):
        manager(data).startup(node_id=2, cluster_id=None)


def test_startup_accepts_kafka_zk_mode_meta(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / META_PROPERTIES).write_text("version=0\nbroker.id=3\ncluster.id=abc\n")
    assert manager(data).startup(node_id=3, cluster_id=None) == "abc"


def test_multiple_log_dirs(tmp_path: Path) -> None:
    dirs = [tmp_path / "a", tmp_path / "b"]
    lm = manager(*dirs)
    cluster = lm.startup(node_id=0, cluster_id=None)
    for directory in dirs:
        assert parse_properties((directory / META_PROPERTIES).read_text())["cluster.id"] == cluster
    logs = [lm.get_or_create_log(TopicPartition("t", p), TOPIC_ID, log_config()) for p in range(4)]
    parents = sorted(log.dir.parent.name for log in logs)
    assert parents == ["a", "a", "b", "b"]  # spread over the least loaded dir
    lm.shutdown()


def test_get_or_create_log_is_idempotent(tmp_path: Path) -> None:
    lm = manager(tmp_path / "data")
    lm.startup(node_id=0, cluster_id=None)
    log = lm.get_or_create_log(TP, TOPIC_ID, log_config())
    assert lm.get_or_create_log(TP, TOPIC_ID, log_config()) is log
    assert log.dir == (tmp_path / "data" / "orders-3").resolve()
    lm.shutdown()


def durable_files(log_dir: Path) -> dict[str, tuple[int, bytes]]:
    """partition.metadata and leader-epoch-checkpoint: (inode, contents) of each."""
    return {
        name: ((log_dir / name).stat().st_ino, (log_dir / name).read_bytes())
        for name in ("partition.metadata", "leader-epoch-checkpoint")
    }


def test_prepared_logs_open_without_writing_their_durable_files(tmp_path: Path) -> None:
    """prepare_logs' blocking call (a worker thread's) writes what loading a new log would,
    balanced over the dirs; opening the log afterwards replaces none of those files (an
    atomic write would give a new inode), so no fsync of them happens on the event loop."""
    prepared, plain = manager(tmp_path / "p1", tmp_path / "p2"), manager(tmp_path / "plain")
    for lm in (prepared, plain):
        lm.startup(node_id=0, cluster_id=None)
    tps = [TopicPartition("orders", p) for p in range(4)]
    prepared.prepare_logs(tps, TOPIC_ID)()
    before = {tp: durable_files(tmp_path / f"p{1 + tp.partition % 2}" / str(tp)) for tp in tps}
    logs = [prepared.get_or_create_log(tp, TOPIC_ID, log_config()) for tp in tps]
    assert sorted(log.dir.parent.name for log in logs) == ["p1", "p1", "p2", "p2"]
    for tp, log in zip(tps, logs, strict=True):
        assert durable_files(log.dir) == before[tp]
    reference = plain.get_or_create_log(tps[0], TOPIC_ID, log_config())
    expected = {name: data for name, (_, data) in durable_files(reference.dir).items()}
    assert {name: data for name, (_, data) in before[tps[0]].items()} == expected
    prepared.shutdown()
    plain.shutdown()


def test_a_checkpoint_snapshot_is_written_off_the_loop_and_failures_reported(
    tmp_path: Path,
) -> None:
    """The periodic checkpoint reads the values now and writes them later (from a worker
    thread): what is written is the snapshot, not the logs' later state; a dir whose files
    cannot be written is reported, and goes offline, only when the failures are reported."""
    good, bad = tmp_path / "good", tmp_path / "bad"
    lm = manager(good, bad)
    lm.startup(node_id=0, cluster_id=None)
    logs = [lm.get_or_create_log(TopicPartition("t", p), TOPIC_ID, log_config()) for p in (0, 1)]
    for log in logs:
        append(log, make_batch(3))
        log.flush()
    snapshot = lm.checkpoint_snapshot()
    append(logs[0], make_batch(2))  # after the snapshot: not in this checkpoint
    by_dir = {log.dir.parent: log.tp for log in logs}
    (bad.resolve() / "replication-offset-checkpoint").mkdir()  # a file that cannot be replaced
    with ThreadPoolExecutor(1) as pool:
        failures = pool.submit(lm.write_checkpoints, snapshot).result()
    assert [directory for directory, _ in failures] == [bad.resolve()]
    written = read_offset_checkpoint(good.resolve() / "replication-offset-checkpoint")
    assert written == {by_dir[good.resolve()]: 3}
    assert not lm.offline_dirs
    lm.report_checkpoint_failures(failures)
    assert list(lm.offline_dirs) == [bad.resolve()]
    lm.shutdown()


def test_clean_shutdown_marker_cycle(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lm = manager(data)
    lm.startup(node_id=0, cluster_id=None)
    log = lm.get_or_create_log(TP, TOPIC_ID, log_config())
    for n in range(5):
        append(log, make_batch(2, tag=f"n{n}"))
    before = read_all(log)
    lm.shutdown()
    assert (data / CLEAN_SHUTDOWN_FILE).exists()
    assert read_offset_checkpoint(data / "recovery-point-offset-checkpoint") == {TP: 10}
    assert read_offset_checkpoint(data / "log-start-offset-checkpoint") == {TP: 0}
    assert read_offset_checkpoint(data / "replication-offset-checkpoint") == {TP: 10}

    second = manager(data)
    second.startup(node_id=0, cluster_id=None)
    assert second.clean_shutdown is True
    assert not (data / CLEAN_SHUTDOWN_FILE).exists()
    assert second.stored_partitions() == {TP}
    reopened = second.get_or_create_log(TP, TOPIC_ID, log_config())
    assert reopened.log_end_offset == 10
    assert reopened.recovery_point == 10
    assert read_all(reopened) == before
    second.shutdown()


def test_crash_without_marker_recovers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lm = manager(data)
    lm.startup(node_id=0, cluster_id=None)
    log = lm.get_or_create_log(TP, TOPIC_ID, log_config())
    for _ in range(3):
        append(log, make_batch(1))
    log.close()  # the process dies: no shutdown, no marker, no checkpoints...
    del lm  # ...and the log dir's lock goes with it
    with log.active_segment.log_path.open("ab") as handle:
        handle.write(b"\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x01")
    second = manager(data)
    second.startup(node_id=0, cluster_id=None)
    assert second.clean_shutdown is False
    reopened = second.get_or_create_log(TP, TOPIC_ID, log_config())
    assert reopened.log_end_offset == 3
    assert [r.offset for r in read_all(reopened)] == [0, 1, 2]
    second.shutdown()


def test_empty_dirs_count_as_clean(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lm = manager(data)
    lm.startup(node_id=0, cluster_id=None)
    assert lm.clean_shutdown is True


def test_delete_log_removes_the_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lm = manager(data)
    lm.startup(node_id=0, cluster_id=None)
    log = lm.get_or_create_log(TP, TOPIC_ID, log_config())
    append(log, make_batch(1))
    lm.delete_log(TP)
    assert not log.dir.exists()
    assert [p.name for p in data.iterdir() if p.is_dir()] == []
    assert TP not in lm.logs
    assert lm.stored_partitions() == set()
    lm.delete_log(TP)  # a second delete is a no-op


def test_startup_removes_stale_delete_dirs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    stale = data / "orders-0.0123456789abcdef-delete"
    stale.mkdir(parents=True)
    (stale / "00000000000000000000.log").write_bytes(b"x")
    manager(data).startup(node_id=0, cluster_id=None)
    assert not stale.exists()


def snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    """Every path under ``directory`` with its modification time and (for files) contents."""
    return {
        str(path.relative_to(directory)): (
            path.stat().st_mtime_ns,
            path.read_bytes() if path.is_file() else b"",
        )
        for path in sorted(directory.rglob("*"))
    }


def test_a_second_manager_on_a_locked_dir_touches_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = manager(data)
    first.startup(node_id=0, cluster_id=None)
    append(first.get_or_create_log(TP, TOPIC_ID, log_config()), make_batch(3))
    first.checkpoint()
    (data / "orders-9.0123456789abcdef-delete").mkdir()  # startup would remove it
    before = snapshot(data)

    second = manager(data)
    with pytest.raises(LogDirLockedError, match=r"Failed to acquire lock on file \.lock in "):
        second.startup(node_id=0, cluster_id=None)
    second.shutdown()  # as a broker refused at startup is still stopped: a no-op
    assert snapshot(data) == before  # no recovery, no meta.properties, no marker

    first.shutdown()
    assert (data / CLEAN_SHUTDOWN_FILE).exists()
    third = manager(data)  # the lock was released with the clean shutdown
    third.startup(node_id=0, cluster_id=None)
    assert third.clean_shutdown is True
    third.shutdown()


def test_a_refusal_on_one_dir_releases_the_others(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    holder = manager(b)
    holder.startup(node_id=0, cluster_id=None)
    with pytest.raises(LogDirLockedError, match=re.escape(str(b.resolve()))):
        manager(a, b).startup(node_id=0, cluster_id=None)
    assert not (a / META_PROPERTIES).exists()
    alone = manager(a)  # a is free again
    alone.startup(node_id=0, cluster_id=None)
    alone.shutdown()
    holder.shutdown()


def test_a_failed_startup_releases_the_locks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    manager(data).startup(node_id=1, cluster_id=None)  # dropped: its lock goes with it
    wrong = manager(data)
    with pytest.raises(KafkaStorageError, match="does not match"):
        wrong.startup(node_id=2, cluster_id=None)
    right = manager(data)  # while ``wrong`` is still referenced
    right.startup(node_id=1, cluster_id=None)
    right.shutdown()
