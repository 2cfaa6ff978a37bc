"""Time series the console keeps in memory (group lag, probe latency, throughput): a bounded
window of (time, value) points per key, oldest dropped first. Nothing is persisted: a
restarted console starts with empty charts."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

DEFAULT_CAPACITY = 360  # an hour at one sample every 10 s


class SampleWindow(Generic[K]):
    """The last ``capacity`` points of each key's series."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._series: dict[K, deque[tuple[float, float]]] = {}

    def add(self, key: K, at: float, value: float) -> None:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = deque(maxlen=self.capacity)
        series.append((at, value))

    def points(self, key: K) -> Sequence[tuple[float, float]]:
        return tuple(self._series.get(key, ()))

    def latest(self, key: K) -> tuple[float, float] | None:
        series = self._series.get(key)
        return series[-1] if series else None

    def names(self) -> list[K]:
        return list(self._series)

    def forget(self, key: K) -> None:
        self._series.pop(key, None)


def rate(previous: tuple[float, float] | None, current: tuple[float, float]) -> float | None:
    """The per-second rate between two samples of a counter (None without an earlier one or
    when the counter went back, e.g. after a broker restart)."""
    if previous is None:
        return None
    elapsed = current[0] - previous[0]
    delta = current[1] - previous[1]
    if elapsed <= 0 or delta < 0:
        return None
    return delta / elapsed


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` 0.5 for p50); raises on none."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(round(fraction * len(ordered), 9)))
    return ordered[min(rank, len(ordered)) - 1]
