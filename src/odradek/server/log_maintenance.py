"""Background log maintenance on the broker's loop: the retention task every
``log.retention.check.interval.ms``, removal of ``*.deleted`` files after
``file.delete.delay.ms``, and the log cleaner, whose heavy work runs in worker processes
(``log.cleaner.threads`` of them) so produce and fetch keep being served meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Protocol

from odradek.common.errors import KafkaStorageError
from odradek.common.ids import TopicPartition
from odradek.server.collaborators import HasClock, HasConfig, HasLogManager
from odradek.storage import swap
from odradek.storage.cleaner.job import clean, exit_with_parent
from odradek.storage.cleaner.manager import LogCleanerManager
from odradek.storage.cleaner.offset_map import capacity_for

log = logging.getLogger(__name__)


class LogMaintenanceCollaborators(HasConfig, HasClock, HasLogManager, Protocol):
    """What log maintenance reads from the broker: the config, the clock and the logs."""


class LogMaintenance:
    def __init__(self, broker: LogMaintenanceCollaborators) -> None:
        self.broker = broker
        self.cleaner = LogCleanerManager(broker.log_manager.log_dirs)
        broker.log_manager.on_delete.append(self._forget)
        self._tasks: list[asyncio.Task[None]] = []
        self._pool: ProcessPoolExecutor | None = None
        self._doomed: list[tuple[float, list[Path]]] = []
        self.cleanings = 0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._retention_loop()))
        config = self.broker.config
        threads = int(config.get("log.cleaner.threads"))
        if config.get("log.cleaner.enable") and threads > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=threads,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=exit_with_parent,
                initargs=(os.getpid(),),
            )
            self._tasks += [loop.create_task(self._cleaner_loop()) for _ in range(threads)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pool is not None:
            # Abort a cleaning in progress (Kafka does): its .cleaned files are discarded at
            # the next load and the checkpoint was not advanced, so it is simply redone.
            # ProcessPoolExecutor offers no terminate(); its worker table is the way in.
            workers = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.join(5)
        self._delete_files(force=True)

    # -- retention -----------------------------------------------------------------------------

    async def _retention_loop(self) -> None:
        while True:
            interval = int(self.broker.config.get("log.retention.check.interval.ms"))
            await asyncio.sleep(min(interval, 1000) / 1000)
            try:
                self._retention_tick(interval)
            except Exception:
                log.exception("log retention pass failed")

    def _retention_tick(self, interval: int) -> None:
        self._delete_files(force=False)
        if self._retention_due(interval):
            self.run_retention()
        if self._producer_expiry_due():
            self.expire_producers()

    _last_producer_expiry = 0.0

    def _producer_expiry_due(self) -> bool:
        now = asyncio.get_running_loop().time()
        interval = int(self.broker.config.get("producer.id.expiration.check.interval.ms"))
        if now - self._last_producer_expiry >= interval / 1000:
            self._last_producer_expiry = now
            return True
        return False

    def expire_producers(self) -> None:
        """Forget producers idle for producer.id.expiration.ms (open transactions stay)."""
        now = self.broker.clock.milliseconds()
        expiration = int(self.broker.config.get("producer.id.expiration.ms"))
        for log_obj in list(self.broker.log_manager.logs.values()):
            log_obj.producer_state.remove_expired(now, expiration)

    _next_retention: float | None = None

    def _retention_due(self, interval_ms: int) -> bool:
        """Kafka's schedule: the first pass after log.initial.task.delay.ms (30 s, or the
        check interval if shorter), then every log.retention.check.interval.ms."""
        now = asyncio.get_running_loop().time()
        if self._next_retention is None:
            initial = min(int(self.broker.config.get("log.initial.task.delay.ms")), interval_ms)
            self._next_retention = now + initial / 1000
        if now >= self._next_retention:
            self._next_retention = now + interval_ms / 1000
            return True
        return False

    def run_retention(self) -> int:
        now = self.broker.clock.milliseconds()
        deleted = 0
        loop_now = asyncio.get_running_loop().time()
        for log_obj in list(self.broker.log_manager.logs.values()):
            try:
                deleted += log_obj.delete_old_segments(now)
            except KafkaStorageError:
                pass  # logged, and the log's dir taken offline, by the log
            if log_obj.pending_deletes:
                delay = int(log_obj.config["file.delete.delay.ms"]) / 1000
                self._doomed.append((loop_now + delay, log_obj.pending_deletes))
                log_obj.pending_deletes = []
        if deleted:
            self.broker.log_manager.checkpoint()
        return deleted

    def _delete_files(self, force: bool) -> None:
        now = asyncio.get_running_loop().time()
        keep = []
        for due, paths in self._doomed:
            if force or due <= now:
                for path in paths:
                    path.unlink(missing_ok=True)
            else:
                keep.append((due, paths))
        self._doomed = keep

    def _forget(self, tp: TopicPartition) -> None:
        """A deleted partition: a re-created one starts dirty and cleanable."""
        self.cleaner.checkpoints.pop(tp, None)
        self.cleaner.uncleanable.discard(tp)

    # -- cleaner -------------------------------------------------------------------------------

    async def _cleaner_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            config = self.broker.config
            try:
                cleaned = await self.clean_once(loop)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("log cleaner pass failed")
                cleaned = False
            if not cleaned:
                await asyncio.sleep(int(config.get("log.cleaner.backoff.ms")) / 1000)

    async def clean_once(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Clean the filthiest log, if any is due; True when one was cleaned."""
        now = self.broker.clock.milliseconds()
        logs = self.broker.log_manager.logs
        candidate = self.cleaner.grab_filthiest(logs, now)
        if candidate is None or self._pool is None:
            return False
        config = self.broker.config
        capacity = capacity_for(
            int(config.get("log.cleaner.dedupe.buffer.size")),
            int(config.get("log.cleaner.threads")),
        )
        job = self.cleaner.job_for(candidate, capacity, now)
        log_obj = candidate.log
        log_obj.cleaning = True
        try:
            try:
                result = await loop.run_in_executor(self._pool, clean, job)
                if logs.get(candidate.tp) is not log_obj:
                    return True  # deleted (or its dir went offline) meanwhile
                valid = log_obj.installable_groups(result.groups)
                await loop.run_in_executor(None, _install_all, log_obj.dir, valid)
                if logs.get(candidate.tp) is not log_obj:
                    return True  # deleted while the files were being installed
                log_obj.swap_in(valid)
                if len(valid) != len(result.groups):
                    return False  # some segments changed meanwhile: clean again later
                self.cleaner.checkpoints[candidate.tp] = result.end_offset
                self.cleaner.write_checkpoints(logs, [log_obj.dir.parent])
            except OSError as exc:
                # As Kafka's cleaner does: an I/O error takes the log's dir offline (unless
                # the log was deleted meanwhile: then its files are gone, as they should be).
                if logs.get(candidate.tp) is log_obj:
                    log_obj.storage_error("cleaning", exc)
                return True
            self.cleanings += 1
            log.info(
                "%s: cleaned up to offset %d: %d records removed, %d -> %d bytes",
                candidate.tp,
                result.end_offset,
                result.records_removed,
                result.bytes_read,
                result.bytes_written,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if logs.get(candidate.tp) is log_obj:  # not deleted meanwhile
                self.cleaner.mark_uncleanable(candidate.tp, exc)
        finally:
            log_obj.cleaning = False
        return True


def _install_all(directory: Path, groups: list[tuple[int, list[int]]]) -> None:
    """The renames and fsyncs of a swap, run on a thread (see Log.swap_in)."""
    for base, replaced in groups:
        swap.install(directory, base, replaced)
