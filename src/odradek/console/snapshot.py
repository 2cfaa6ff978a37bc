"""The cluster metadata the pages read: one snapshot shared by all requests, so a page does
not wait for a Metadata response naming every topic (a few hundred milliseconds with
thousands of topics).

A snapshot younger than ``fresh_s`` is served as it is. An older one is still served, up to
``stale_s``, while one refresh runs in the background; beyond that a request waits for the
refresh. The console's own writes (a topic created, partitions added, ...) drop the
snapshot, so the page after a write reads the cluster anew."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from odradek.console.models import ClusterView

log = logging.getLogger(__name__)

FRESH_S = 10.0
STALE_S = 60.0


class MetadataSnapshot:
    """The latest ``ClusterView`` and the one refresh in flight."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[ClusterView]],
        fresh_s: float = FRESH_S,
        stale_s: float = STALE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.fresh_s = fresh_s
        self.stale_s = stale_s
        self._clock = clock
        self._view: ClusterView | None = None
        self._taken = 0.0
        self._refresh: asyncio.Task[ClusterView] | None = None

    async def get(self) -> ClusterView:
        age = self._clock() - self._taken
        if self._view is not None and age < self.fresh_s:
            return self._view
        refresh = self._start_refresh()
        if self._view is not None and age < self.stale_s:
            return self._view
        return await asyncio.shield(refresh)

    def invalidate(self) -> None:
        self._view = None
        self._refresh = None  # a refresh started before the write may miss it

    def _start_refresh(self) -> asyncio.Task[ClusterView]:
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.ensure_future(self._run())
            self._refresh.add_done_callback(_log_failure)
        return self._refresh

    async def _run(self) -> ClusterView:
        started = self._clock()
        view = await self._fetch()
        if self._refresh is not None and self._refresh is asyncio.current_task():
            self._view, self._taken = view, started
        return view


def _log_failure(task: asyncio.Task[ClusterView]) -> None:
    """A background refresh's failure, logged (a waiting request sees it raised)."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("metadata refresh failed: %s", task.exception())
