"""The event loop's lag: how late a task that sleeps ``INTERVAL_S`` at a time wakes up.

Everything a broker does runs on one event loop, so a callback that holds it (a large request,
a blocking file or ZooKeeper call) delays every client. A wake-up that comes late by L ms
means the loop was held for about L ms. ``LoopLag`` keeps the longest lag of the last minute
(the maximum of per-second maxima in a ring, O(1) per wake-up) and a histogram of every lag
in ``metrics``' buckets; the metrics endpoint runs the monitor on the broker's loop and
exports both (``odradek_event_loop_max_lag_ms``, ``odradek_event_loop_lag_ms``).

Kafka has no event loop and so no such metric; the names follow the Prometheus convention
for a process-level figure. Nothing here runs per request."""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections.abc import Callable

from odradek.observability.histogram import BUCKETS_MS, new_histogram

INTERVAL_S = 0.05
"""How often the monitor wakes: lags shorter than the loop's timer resolution (~1 ms) are
noise, longer ones are what clients feel."""
WINDOW_S = 60
"""``max_lag_ms`` covers the last WINDOW_S seconds (whole seconds: between WINDOW_S - 1 and
WINDOW_S)."""

_BOUNDS_S = tuple(bound / 1000.0 for bound in BUCKETS_MS)
_SUM_INDEX = len(BUCKETS_MS) + 1


class LoopLag:
    """The lags measured on one event loop."""

    __slots__ = ("_maxima", "_seconds", "histogram")

    def __init__(self) -> None:
        self._seconds = [-1] * WINDOW_S  # the second each slot's maximum belongs to
        self._maxima = [0.0] * WINDOW_S  # the longest lag (s) seen in that second
        self.histogram = new_histogram()
        """Every lag, in ``BUCKETS_MS`` buckets (then +Inf), then the sum in seconds."""

    def record(self, lag_s: float, now: float) -> None:
        """One wake-up ``lag_s`` seconds late, at monotonic time ``now``."""
        second = int(now)
        slot = second % WINDOW_S
        if self._seconds[slot] != second:
            self._seconds[slot] = second
            self._maxima[slot] = lag_s
        elif lag_s > self._maxima[slot]:
            self._maxima[slot] = lag_s
        histogram = self.histogram
        histogram[bisect_left(_BOUNDS_S, lag_s)] += 1
        histogram[_SUM_INDEX] += lag_s

    def max_lag_ms(self, now: float) -> float:
        """The longest lag in the last minute, in milliseconds (0 when none was recorded)."""
        oldest = int(now) - WINDOW_S
        return 1000.0 * max(
            (
                lag
                for second, lag in zip(self._seconds, self._maxima, strict=True)
                if second > oldest
            ),
            default=0.0,
        )

    def histogram_ms(self) -> list[float]:
        """The histogram with its sum in milliseconds (a copy), as ``metrics`` exports them."""
        view = list(self.histogram)
        view[_SUM_INDEX] *= 1000.0
        return view

    async def monitor(
        self, interval_s: float = INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Sleep ``interval_s`` at a time and record how late each wake-up is; runs until
        cancelled."""
        while True:
            due = clock() + interval_s
            await asyncio.sleep(interval_s)
            now = clock()
            self.record(max(now - due, 0.0), now)
