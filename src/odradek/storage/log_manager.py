"""Owns every partition log of the broker: log dirs and their locks, ``meta.properties``,
checkpoints, the clean-shutdown marker, creating and deleting logs (Kafka's LogManager)."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from odradek.common.clock import Clock
from odradek.common.errors import KafkaStorageError
from odradek.common.ids import TopicPartition
from odradek.config.properties import parse_properties
from odradek.config.topic import LogConfig
from odradek.storage.checkpoint import read_offset_checkpoint, write_offset_checkpoint
from odradek.storage.file_lock import FileLock
from odradek.storage.files import (
    CLEAN_SHUTDOWN_FILE,
    DELETE_DIR_SUFFIX,
    LOG_START_OFFSET_CHECKPOINT,
    META_PROPERTIES,
    RECOVERY_POINT_CHECKPOINT,
    REPLICATION_OFFSET_CHECKPOINT,
    atomic_write,
    fsync_dir,
    partition_dir_name,
)
from odradek.storage.log import Log

log = logging.getLogger(__name__)


class LogManager:
    def __init__(self, log_dirs: list[Path], clock: Clock) -> None:
        self.log_dirs = [d.resolve() for d in log_dirs]
        self.clock = clock
        self.logs: dict[TopicPartition, Log] = {}
        self.clean_shutdown = False
        self._recovery_points: dict[TopicPartition, int] = {}
        self._start_offsets: dict[TopicPartition, int] = {}
        self._high_watermarks: dict[TopicPartition, int] = {}
        self._dir_of: dict[TopicPartition, Path] = {}
        self.on_delete: list[Callable[[TopicPartition], None]] = []  # e.g. forget cleaning
        self._locks: list[FileLock] = []

    def startup(self, node_id: int, cluster_id: str | None) -> str:
        """Lock and prepare the log dirs; returns the cluster id (from meta.properties, or the
        given or a new one). Partition logs are opened afterwards by :meth:`get_or_create_log`.

        Raises LogDirLockedError, having touched nothing, when another broker holds a log
        dir; on any failure the locks taken are released."""
        self._lock_log_dirs()
        try:
            return self._prepare_log_dirs(node_id, cluster_id)
        except BaseException:
            self._release_locks()
            raise

    def _lock_log_dirs(self) -> None:
        """Every log dir's lock, before anything in any of them is read or written."""
        try:
            for directory in self.log_dirs:
                directory.mkdir(parents=True, exist_ok=True)
                self._locks.append(FileLock.acquire(directory))
        except BaseException:
            self._release_locks()
            raise

    def _release_locks(self) -> None:
        for lock in self._locks:
            lock.release()
        self._locks.clear()

    def _prepare_log_dirs(self, node_id: int, cluster_id: str | None) -> str:
        found_cluster_id = None
        for directory in self.log_dirs:
            meta = directory / META_PROPERTIES
            if meta.exists():
                props = parse_properties(meta.read_text())
                stored_node = props.get("node.id", props.get("broker.id"))
                if stored_node is not None and int(stored_node) != node_id:
                    raise KafkaStorageError(
                        f"{meta}: node.id {stored_node} does not match configured {node_id}"
                    )
                found_cluster_id = found_cluster_id or props.get("cluster.id")
        cluster = found_cluster_id or cluster_id
        if cluster is None:
            from odradek.common.ids import new_cluster_id

            cluster = new_cluster_id()
        markers = [directory / CLEAN_SHUTDOWN_FILE for directory in self.log_dirs]
        has_logs = any(self._partition_dirs())
        self.clean_shutdown = all(marker.exists() for marker in markers) or not has_logs
        for directory in self.log_dirs:
            meta = directory / META_PROPERTIES
            if not meta.exists():
                atomic_write(
                    meta,
                    (
                        f"#\n#{time.ctime()}\ncluster.id={cluster}\n"
                        f"node.id={node_id}\nversion=1\n"
                        f"directory.id={_directory_id()}\n"
                    ).encode(),
                )
            self._recovery_points.update(
                read_offset_checkpoint(directory / RECOVERY_POINT_CHECKPOINT)
            )
            self._start_offsets.update(
                read_offset_checkpoint(directory / LOG_START_OFFSET_CHECKPOINT)
            )
            self._high_watermarks.update(
                read_offset_checkpoint(directory / REPLICATION_OFFSET_CHECKPOINT)
            )
            for stale in directory.glob("*" + DELETE_DIR_SUFFIX):
                shutil.rmtree(stale, ignore_errors=True)
        for marker in markers:
            marker.unlink(missing_ok=True)
        for directory, tp in self._partition_dirs():
            self._dir_of[tp] = directory
        return cluster

    def _partition_dirs(self) -> Iterable[tuple[Path, TopicPartition]]:
        from odradek.storage.files import parse_partition_dir

        for directory in self.log_dirs:
            if not directory.exists():
                continue
            for child in directory.iterdir():
                parsed = parse_partition_dir(child.name) if child.is_dir() else None
                if parsed is not None:
                    yield directory, TopicPartition(*parsed)

    def stored_partitions(self) -> set[TopicPartition]:
        return set(self._dir_of)

    def get_or_create_log(self, tp: TopicPartition, topic_id: uuid.UUID, config: LogConfig) -> Log:
        existing = self.logs.get(tp)
        if existing is not None:
            return existing
        directory = self._dir_of.get(tp) or self._least_loaded_dir()
        self._dir_of[tp] = directory
        started = time.monotonic()
        log_obj = Log(
            directory / partition_dir_name(tp.topic, tp.partition),
            tp,
            topic_id,
            config,
            self.clock,
            recovery_point=self._recovery_points.get(tp, 0),
            log_start_offset=self._start_offsets.get(tp, 0),
            clean_shutdown=self.clean_shutdown,
        )
        self.logs[tp] = log_obj
        elapsed = time.monotonic() - started
        if elapsed > 0.5:
            log.info("%s: loaded in %.2fs", tp, elapsed)
        return log_obj

    def checkpointed_high_watermark(self, tp: TopicPartition) -> int | None:
        """The high watermark written at the last checkpoint (replication-offset-checkpoint)."""
        return self._high_watermarks.get(tp)

    def _least_loaded_dir(self) -> Path:
        counts = dict.fromkeys(self.log_dirs, 0)
        for directory in self._dir_of.values():
            counts[directory] = counts.get(directory, 0) + 1
        return min(self.log_dirs, key=lambda d: counts[d])

    def delete_log(self, tp: TopicPartition) -> None:
        log_obj = self.logs.pop(tp, None)
        directory = self._dir_of.pop(tp, None)
        for hook in self.on_delete:
            hook(tp)
        if log_obj is None:
            return
        log_obj.close()
        doomed = log_obj.dir.with_name(f"{log_obj.dir.name}.{uuid.uuid4().hex}{DELETE_DIR_SUFFIX}")
        log_obj.dir.rename(doomed)
        if directory is not None:
            fsync_dir(directory)
        shutil.rmtree(doomed, ignore_errors=True)

    def for_each(self, action: Callable[[Log], None]) -> None:
        for log_obj in list(self.logs.values()):
            action(log_obj)

    def checkpoint(self) -> None:
        """Write recovery points, log start offsets and high watermarks of every log dir."""
        for directory in self.log_dirs:
            logs = {tp: lg for tp, lg in self.logs.items() if self._dir_of.get(tp) == directory}
            write_offset_checkpoint(
                directory / RECOVERY_POINT_CHECKPOINT,
                {tp: lg.recovery_point for tp, lg in logs.items()},
            )
            write_offset_checkpoint(
                directory / LOG_START_OFFSET_CHECKPOINT,
                {tp: lg.log_start_offset for tp, lg in logs.items()},
            )
            write_offset_checkpoint(
                directory / REPLICATION_OFFSET_CHECKPOINT,
                {tp: lg.high_watermark for tp, lg in logs.items()},
            )

    def flush_all(self) -> None:
        for log_obj in self.logs.values():
            log_obj.flush()

    def shutdown(self) -> None:
        """Flush everything, write checkpoints, close files, leave the clean-shutdown marker,
        release the log dirs' locks. Does nothing unless :meth:`startup` locked the dirs (a
        broker refused at startup must not mark another broker's logs as cleanly shut down)."""
        if not self._locks:
            return
        self.flush_all()
        self.checkpoint()
        for log_obj in self.logs.values():
            log_obj.write_producer_snapshot()
            log_obj.close()
        for directory in self.log_dirs:
            atomic_write(directory / CLEAN_SHUTDOWN_FILE, b"")
        self._release_locks()


def _directory_id() -> str:
    from odradek.storage.topic_id import encode_topic_id

    return encode_topic_id(uuid.uuid4())
