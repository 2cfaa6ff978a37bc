"""Owns every partition log of the broker: log dirs and their locks, ``meta.properties``,
checkpoints, the clean-shutdown marker, creating and deleting logs (Kafka's LogManager).

A log dir whose files fail with an ``OSError`` goes offline (KIP-112, see
:mod:`odradek.storage.log_dir_failure`): its logs are closed and leave :attr:`LogManager.logs`,
its partitions answer KAFKA_STORAGE_ERROR, new partitions go to the dirs still online, it
gets no checkpoints and no clean-shutdown marker (so the next start recovers it), and its
partitions' files can still be deleted (which needs no space)."""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from odradek.common.clock import Clock
from odradek.common.errors import KafkaStorageError
from odradek.common.ids import TopicPartition
from odradek.config.properties import parse_properties
from odradek.config.topic import LogConfig
from odradek.storage.checkpoint import read_offset_checkpoint, write_offset_checkpoint
from odradek.storage.file_cache import MIN_CAPACITY, FileCache
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
from odradek.storage.log_dir_failure import LogDirFailureChannel
from odradek.storage.log_loader import prepare_new_partition_dir

log = logging.getLogger(__name__)

TIME_CHECKS_PER_CALL = 10_000


class LogManager:
    def __init__(
        self, log_dirs: list[Path], clock: Clock, file_cache: FileCache | None = None
    ) -> None:
        self.log_dirs = [d.resolve() for d in log_dirs]
        self.clock = clock
        self._checkpoint_lock = threading.Lock()
        # The process's LRU of open segment files, sized by the open-file limit (a test may
        # give its own).
        self._own_limit = file_cache is None
        self.file_cache = FileCache.shared() if file_cache is None else file_cache
        self.logs: dict[TopicPartition, Log] = {}  # the logs of the online dirs
        self.hosted: dict[str, tuple[int, int]] = {}
        """Per topic, (how many of its partitions are in ``logs``, the sum of their numbers):
        partitions 0..n-1 are all hosted when that is (n, n(n-1)/2), an O(1) check for the
        metrics (n distinct numbers >= 0 sum to at least n(n-1)/2, and only 0..n-1 do)."""
        self.failure_channel = LogDirFailureChannel()
        self.failure_channel.listeners.append(_take_offline_hook(self))
        self._clean_dirs: set[Path] = set()  # left with a clean-shutdown marker
        self._time_check_queue: list[Log] = []  # maybe_roll_and_flush_for_time's next logs
        self._recovery_points: dict[TopicPartition, int] = {}
        self._start_offsets: dict[TopicPartition, int] = {}
        self._high_watermarks: dict[TopicPartition, int] = {}
        self._dir_of: dict[TopicPartition, Path] = {}  # changed through _assign only
        self._dir_counts: dict[Path, int] = {}  # partitions per dir
        self.on_delete: list[Callable[[TopicPartition], None]] = []  # e.g. forget cleaning
        self._locks: list[FileLock] = []

    def startup(self, node_id: int, cluster_id: str | None) -> str:
        """Lock and prepare the log dirs; returns the cluster id (from meta.properties, or the
        given or a new one). Partition logs are opened afterwards by :meth:`get_or_create_log`.

        Raises LogDirLockedError, having touched nothing, when another broker holds a log
        dir, and KafkaStorageError when the open-file limit leaves too few descriptors for
        segment files; on any failure the locks taken are released."""
        if self._own_limit and self.file_cache.capacity < MIN_CAPACITY:
            raise KafkaStorageError(
                f"the open file limit leaves room for {self.file_cache.capacity} open segment "
                f"files, fewer than the {MIN_CAPACITY} needed: raise it (ulimit -n, "
                "systemd's LimitNOFILE)"
            )
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
        chosen_id = found_cluster_id or cluster_id
        if chosen_id is None:  # new log dirs, no ZooKeeper's id to take
            from odradek.common.ids import new_cluster_id

            chosen_id = new_cluster_id()
        for directory in self.log_dirs:
            try:
                self._prepare_log_dir(directory, node_id, chosen_id)
            except OSError as exc:
                self.failure_channel.maybe_add_offline_log_dir(
                    directory, f"Error while loading log dir {directory}", exc
                )
        if not self.online_dirs:
            raise KafkaStorageError(
                "None of the log dirs " + ", ".join(map(str, self.log_dirs)) + " is usable"
            )
        for directory, tp in self._partition_dirs():
            self._assign(tp, directory)
        return chosen_id

    def _prepare_log_dir(self, directory: Path, node_id: int, cluster: str) -> None:
        """meta.properties, checkpoints and the clean-shutdown marker of one log dir."""
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
        marker = directory / CLEAN_SHUTDOWN_FILE
        if marker.exists() or not any(self._partition_dirs([directory])):
            self._clean_dirs.add(directory)
        self._recovery_points.update(read_offset_checkpoint(directory / RECOVERY_POINT_CHECKPOINT))
        self._start_offsets.update(read_offset_checkpoint(directory / LOG_START_OFFSET_CHECKPOINT))
        self._high_watermarks.update(
            read_offset_checkpoint(directory / REPLICATION_OFFSET_CHECKPOINT)
        )
        for stale in directory.glob("*" + DELETE_DIR_SUFFIX):
            shutil.rmtree(stale, ignore_errors=True)
        marker.unlink(missing_ok=True)

    @property
    def clean_shutdown(self) -> bool:
        """Every log dir was shut down cleanly (or holds no logs): nothing to recover."""
        return all(directory in self._clean_dirs for directory in self.log_dirs)

    @property
    def online_dirs(self) -> list[Path]:
        return [d for d in self.log_dirs if not self.failure_channel.is_offline(d)]

    @property
    def offline_dirs(self) -> dict[Path, str]:
        """Each offline log dir and the failure that took it offline."""
        return self.failure_channel.offline_dirs

    def is_offline(self, tp: TopicPartition) -> bool:
        """The partition's log is in an offline log dir."""
        directory = self._dir_of.get(tp)
        return directory is not None and self.failure_channel.is_offline(directory)

    def dir_of(self, tp: TopicPartition) -> Path | None:
        """The log dir holding the partition's log, online or not."""
        return self._dir_of.get(tp)

    def _take_offline(self, directory: Path) -> None:
        """The failure channel took ``directory`` offline: close its logs and stop serving
        them (Kafka's LogManager.handleLogDirFailure)."""
        offline = [tp for tp, log_dir in self._dir_of.items() if log_dir == directory]
        for tp in offline:
            log_obj = self.logs.pop(tp, None)
            if log_obj is not None:
                self._tally(tp, -1)
                with contextlib.suppress(OSError):
                    log_obj.close()
        log.info(
            "stopped serving %d partitions in offline log dir %s (%d of %d log dirs online)",
            len(offline),
            directory,
            len(self.online_dirs),
            len(self.log_dirs),
        )

    def _partition_dirs(
        self, dirs: Iterable[Path] | None = None
    ) -> Iterable[tuple[Path, TopicPartition]]:
        from odradek.storage.files import parse_partition_dir

        for directory in self.log_dirs if dirs is None else dirs:
            if self.failure_channel.is_offline(directory):
                continue
            if not directory.exists():
                continue
            for child in directory.iterdir():
                parsed = parse_partition_dir(child.name) if child.is_dir() else None
                if parsed is not None:
                    yield directory, TopicPartition(*parsed)

    def stored_partitions(self) -> set[TopicPartition]:
        return set(self._dir_of)

    def prepare_logs(
        self, tps: Iterable[TopicPartition], topic_id: uuid.UUID
    ) -> Callable[[], None]:
        """For the partitions whose logs are not open: choose their dirs now (so that they
        balance), and return the blocking call that writes their new directories' durable
        files (fsynced). Run it in a worker thread before :meth:`get_or_create_log`, which
        then writes nothing on the event loop. Errors are left for that call to report."""
        planned: list[tuple[Path, int]] = []
        for tp in tps:
            if tp in self.logs:
                continue
            try:
                directory = self._dir_of.get(tp) or self._least_loaded_dir()
            except KafkaStorageError:
                break
            if self.failure_channel.is_offline(directory):
                continue
            self._assign(tp, directory)
            path = directory / partition_dir_name(tp.topic, tp.partition)
            planned.append((path, self._start_offsets.get(tp, 0)))

        def prepare() -> None:
            for path, log_start_offset in planned:
                try:
                    prepare_new_partition_dir(path, topic_id, log_start_offset)
                except OSError:
                    continue  # get_or_create_log meets it again and reports it

        return prepare

    def get_or_create_log(self, tp: TopicPartition, topic_id: uuid.UUID, config: LogConfig) -> Log:
        """The partition's log, opened (loaded, recovered) or created in the least loaded
        online dir. Raises KafkaStorageError when its dir is offline, or goes offline now."""
        existing = self.logs.get(tp)
        if existing is not None:
            return existing
        directory = self._dir_of.get(tp) or self._least_loaded_dir()
        if self.failure_channel.is_offline(directory):
            raise KafkaStorageError(f"{tp}: its log dir {directory} is offline")
        started = time.monotonic()
        try:
            log_obj = Log(
                directory / partition_dir_name(tp.topic, tp.partition),
                tp,
                topic_id,
                config,
                self.clock,
                recovery_point=self._recovery_points.get(tp, 0),
                log_start_offset=self._start_offsets.get(tp, 0),
                clean_shutdown=directory in self._clean_dirs,
                failure_channel=self.failure_channel,
                file_cache=self.file_cache,
            )
        except OSError as exc:
            self._assign(tp, directory)
            action = f"Error while loading log {tp} in dir {directory}"
            raise self.failure_channel.storage_error(directory, action, exc) from exc
        self._assign(tp, directory)
        self.logs[tp] = log_obj
        self._tally(tp, 1)
        elapsed = time.monotonic() - started
        if elapsed > 0.5:
            log.info("%s: loaded in %.2fs", tp, elapsed)
        return log_obj

    def checkpointed_high_watermark(self, tp: TopicPartition) -> int | None:
        """The high watermark written at the last checkpoint (replication-offset-checkpoint)."""
        return self._high_watermarks.get(tp)

    def _least_loaded_dir(self) -> Path:
        """The online dir with the fewest partitions (the first of those)."""
        online = self.online_dirs
        if not online:
            raise KafkaStorageError("every log dir is offline")
        return min(online, key=lambda d: self._dir_counts.get(d, 0))

    def _tally(self, tp: TopicPartition, change: int) -> None:
        count, total = self.hosted.get(tp.topic, (0, 0))
        if count + change:
            self.hosted[tp.topic] = (count + change, total + change * tp.partition)
        else:
            del self.hosted[tp.topic]

    def _assign(self, tp: TopicPartition, directory: Path) -> None:
        previous = self._dir_of.get(tp)
        if previous == directory:
            return
        if previous is not None:
            self._dir_counts[previous] -= 1
        self._dir_of[tp] = directory
        self._dir_counts[directory] = self._dir_counts.get(directory, 0) + 1

    def delete_log(self, tp: TopicPartition) -> None:
        """Close the partition's log and remove its files: renamed to ``*-delete``, then
        removed. Needs no free space and works in an offline dir too (where the files are
        removed as far as the dir allows), so that deleting topics frees a full disk."""
        log_obj = self.logs.pop(tp, None)
        if log_obj is not None:
            self._tally(tp, -1)
        directory = self._dir_of.pop(tp, None)
        if directory is not None:
            self._dir_counts[directory] -= 1
        for hook in self.on_delete:
            hook(tp)
        if log_obj is not None:
            log_obj.close()
        if directory is None:
            return
        doomed = directory / partition_dir_name(tp.topic, tp.partition)
        try:
            doomed = doomed.rename(
                doomed.with_name(f"{doomed.name}.{uuid.uuid4().hex}{DELETE_DIR_SUFFIX}")
            )
        except FileNotFoundError:
            return
        except OSError:
            pass  # a full or failing disk may refuse even a rename: remove it where it is
        with contextlib.suppress(OSError):
            fsync_dir(directory)
        shutil.rmtree(doomed, ignore_errors=True)

    def maybe_roll_and_flush_for_time(self) -> None:
        """Roll the active segments older than ``segment.ms`` and flush the logs with messages
        unflushed for ``flush.ms`` (the broker calls it once a second). Each call checks at
        most TIME_CHECKS_PER_CALL logs, the next ones in turn: every log each second up to
        that many logs, every few seconds beyond, so that idle partitions cost no CPU."""
        if not self._time_check_queue:
            self._time_check_queue = list(self.logs.values())
            self._time_check_queue.reverse()
        queue, logs = self._time_check_queue, self.logs
        now = self.clock.milliseconds()
        for _ in range(min(len(queue), TIME_CHECKS_PER_CALL)):
            log_obj = queue.pop()
            if logs.get(log_obj.tp) is not log_obj:
                continue  # deleted, or its dir went offline, since the queue was taken
            try:
                log_obj.maybe_roll_or_flush_for_time(now)
            except KafkaStorageError:
                continue  # reported by the log: its dir is offline now

    def checkpoint(self) -> None:
        """Write recovery points, log start offsets and high watermarks of every online log
        dir; a dir whose checkpoint cannot be written goes offline."""
        self.report_checkpoint_failures(self.write_checkpoints(self.checkpoint_snapshot()))

    def checkpoint_snapshot(self) -> list[DirCheckpoints]:
        """What each online dir's checkpoint files are to hold, read now (on the event
        loop); :meth:`write_checkpoints` writes it, in a worker thread if the caller likes."""
        snapshot = []
        for directory in self.online_dirs:
            logs = [(tp, lg) for tp, lg in self.logs.items() if self._dir_of.get(tp) == directory]
            snapshot.append(
                DirCheckpoints(
                    directory,
                    {tp: lg.recovery_point for tp, lg in logs},
                    {tp: lg.log_start_offset for tp, lg in logs},
                    {tp: lg.high_watermark for tp, lg in logs},
                )
            )
        return snapshot

    def write_checkpoints(self, snapshot: list[DirCheckpoints]) -> list[tuple[Path, OSError]]:
        """Write a snapshot's files (blocking: each is written, fsynced and renamed); the
        dirs that failed. One writer at a time, so a periodic write in a worker thread and
        the one at shutdown never share a temp file."""
        failures = []
        with self._checkpoint_lock:
            for checkpoints in snapshot:
                try:
                    checkpoints.write()
                except OSError as exc:
                    failures.append((checkpoints.directory, exc))
        return failures

    def report_checkpoint_failures(self, failures: list[tuple[Path, OSError]]) -> None:
        """Take the dirs whose checkpoints could not be written offline."""
        for directory, exc in failures:
            self.failure_channel.maybe_add_offline_log_dir(
                directory, f"Error while writing checkpoints in dir {directory}", exc
            )

    def flush_all(self) -> None:
        """fsync every log; a log that cannot be has taken its dir offline."""
        for log_obj in list(self.logs.values()):
            with contextlib.suppress(KafkaStorageError):
                log_obj.flush()

    def shutdown(self) -> None:
        """Flush everything, write checkpoints and producer snapshots, close files, leave the
        clean-shutdown marker in each dir still online, release the log dirs' locks. Does
        nothing unless :meth:`startup` locked the dirs (a broker refused at startup must not
        mark another broker's logs as cleanly shut down). A dir failing meanwhile goes
        offline and gets no marker, so the next start recovers it."""
        if not self._locks:
            return
        self.flush_all()
        self.checkpoint()
        for log_obj in list(self.logs.values()):
            with contextlib.suppress(KafkaStorageError):
                log_obj.write_producer_snapshot()
        for log_obj in self.logs.values():
            log_obj.close()
        for directory in self.online_dirs:
            try:
                atomic_write(directory / CLEAN_SHUTDOWN_FILE, b"")
            except OSError as exc:
                self.failure_channel.maybe_add_offline_log_dir(
                    directory, f"Error while writing the clean-shutdown marker in {directory}", exc
                )
        self._release_locks()


def _take_offline_hook(manager: LogManager) -> Callable[[Path], None]:
    """``manager._take_offline`` through a weak reference: the channel (which the manager's
    logs hold) must not keep the manager alive, whose locks go when it is dropped."""
    ref = weakref.ref(manager)

    def take_offline(directory: Path) -> None:
        alive = ref()
        if alive is not None:
            alive._take_offline(directory)

    return take_offline


@dataclass(frozen=True, slots=True)
class DirCheckpoints:
    """One log dir's checkpoint files' contents: recovery points, log start offsets and high
    watermarks by partition."""

    directory: Path
    recovery_points: dict[TopicPartition, int]
    log_start_offsets: dict[TopicPartition, int]
    high_watermarks: dict[TopicPartition, int]

    def write(self) -> None:
        write_offset_checkpoint(self.directory / RECOVERY_POINT_CHECKPOINT, self.recovery_points)
        write_offset_checkpoint(
            self.directory / LOG_START_OFFSET_CHECKPOINT, self.log_start_offsets
        )
        write_offset_checkpoint(
            self.directory / REPLICATION_OFFSET_CHECKPOINT, self.high_watermarks
        )


def _directory_id() -> str:
    from odradek.storage.topic_id import encode_topic_id

    return encode_topic_id(uuid.uuid4())
