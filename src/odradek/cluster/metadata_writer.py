"""The writer of the single-node metadata store: appends its records to the
:class:`MetadataLog` on one worker thread, in the order they were submitted, and applies each
change to the store's cache once it is durable, in that same order, on the caller's thread.

The awaitable :meth:`MetadataWriter.write` leaves the event loop free while the record is
appended and fsynced; :meth:`MetadataWriter.write_blocking` waits on the calling thread (at
startup, in tools, and for the store's blocking forms). Both are called on the thread that owns
the cache (the event loop's, when there is one). The log is compacted on the worker thread
between appends, so no write waits for a snapshot it did not need."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from odradek.cluster.metadata_log import MetadataLog
from odradek.cluster.metadata_records import MetadataRecord

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Write:
    """A submitted record and what to do with the cache once it is durable (or not)."""

    apply: Callable[[], None]
    on_failure: Callable[[], None] | None
    waiter: asyncio.Future[None] | None
    done: concurrent.futures.Future[None] = field(default_factory=concurrent.futures.Future)
    error: BaseException | None = None


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Schedule ``callback`` on ``loop`` from the writer thread, unless the loop is gone."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: no cache left to apply to
        loop.call_soon_threadsafe(callback)


class MetadataWriter:
    """One writer thread for one :class:`MetadataLog`; see the module docstring."""

    def __init__(self, metadata_log: MetadataLog) -> None:
        self._log = metadata_log
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="metadata-writer"
        )
        self._inflight: deque[_Write] = deque()

    async def write(
        self,
        record: MetadataRecord,
        apply: Callable[[], None],
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        """Append ``record`` without blocking the loop, then ``apply`` the change (or call
        ``on_failure`` and raise the OSError). Cancelled, the write is dropped if it has not
        started; one under way is finished (and applied) before the cancellation goes on."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        entry = self._submit(record, apply, on_failure, waiter)
        entry.done.add_done_callback(lambda _: _call_soon(loop, self._drain))
        try:
            await asyncio.shield(waiter)
        except asyncio.CancelledError:
            if not entry.done.cancel():
                with contextlib.suppress(Exception):
                    await waiter
            raise

    def write_blocking(
        self,
        record: MetadataRecord,
        apply: Callable[[], None],
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        """Append ``record`` and wait for it on this thread; then as :meth:`write`."""
        entry = self._submit(record, apply, on_failure, None)
        entry.done.exception()  # waits for it, and so for every write submitted before it
        self._drain()
        if entry.error is not None:
            raise entry.error

    def _submit(
        self,
        record: MetadataRecord,
        apply: Callable[[], None],
        on_failure: Callable[[], None] | None,
        waiter: asyncio.Future[None] | None,
    ) -> _Write:
        entry = _Write(apply, on_failure, waiter)
        self._executor.submit(self._append, record, entry.done)  # raises once closed
        self._inflight.append(entry)
        return entry

    def _append(self, record: MetadataRecord, done: concurrent.futures.Future[None]) -> None:
        """On the writer thread: append, report, then compact if the log is due."""
        if not done.set_running_or_notify_cancel():
            return  # dropped: its writer was cancelled before it started
        try:
            self._log.append(record)
        except BaseException as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)
        if self._log.compaction_due():
            try:
                self._log.compact()
            except OSError as exc:
                log.warning("metadata log not compacted (appends go on): %s", exc)
            except Exception:
                log.exception("compacting the metadata log failed")

    def _drain(self) -> None:
        """Apply the finished writes at the head of the queue, in submission order."""
        while self._inflight and self._inflight[0].done.done():
            entry = self._inflight.popleft()
            if entry.done.cancelled():
                if entry.on_failure is not None:
                    entry.on_failure()
                continue  # its waiter's task was cancelled, and nobody else waits for it
            error = entry.done.exception()
            try:
                if error is None:
                    entry.apply()
                elif entry.on_failure is not None:
                    entry.on_failure()
            except Exception as exc:
                log.exception("applying a metadata change failed")
                error = error or exc
            entry.error = error
            waiter = entry.waiter
            if waiter is not None and not waiter.done():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)

    def close(self) -> None:
        """Finish the writes submitted, stop the thread and close the log."""
        self._executor.shutdown(wait=True)
        self._drain()
        self._log.close()
