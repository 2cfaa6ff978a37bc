"""Request-time histograms as plain lists: fixed bucket bounds in milliseconds (``BUCKETS_MS``),
one count per bucket then the sum of the observations, so the hot path only indexes and adds.
Here are their shape, the readers of counts and sums, the cumulative buckets Prometheus takes,
and ``quantile`` (``histogram_quantile``) for Jolokia's percentiles and the loop-lag gauges."""

from __future__ import annotations

BUCKETS_MS: tuple[float, ...] = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
    30000.0,
)
"""Upper bounds (ms) of the request-time histograms; a last bucket holds +Inf."""
BUCKETS_S = tuple(bound / 1000.0 for bound in BUCKETS_MS)  # what the hot path compares
FIRST_BOUND_S = BUCKETS_S[0]
INF_INDEX = len(BUCKETS_MS)
SUM_INDEX = INF_INDEX + 1


def new_histogram() -> list[float]:
    """Bucket counts (one per bound, then +Inf), then the sum of observations."""
    return [0] * (INF_INDEX + 1) + [0.0]


def histogram_count(histogram: list[float]) -> int:
    return int(sum(histogram[:SUM_INDEX]))


def histogram_sum(histogram: list[float]) -> float:
    return histogram[SUM_INDEX]


def buckets(histogram: list[float]) -> list[tuple[str, float]]:
    """A histogram's cumulative buckets as Prometheus takes them: ``(le, count)``."""
    cumulative = 0.0
    result = []
    for bound, count in zip((*BUCKETS_MS, float("inf")), histogram[:SUM_INDEX], strict=True):
        cumulative += count
        result.append((_format_bound(bound), cumulative))
    return result


def _format_bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def quantile(buckets: list[float], q: float) -> float:
    """``histogram_quantile``: linear interpolation inside the bucket holding rank q*N."""
    total = sum(buckets[:SUM_INDEX])
    if total <= 0:
        return 0.0
    rank = q * total
    cumulative = 0.0
    lower = 0.0
    for index, count in enumerate(buckets[:SUM_INDEX]):
        if index == INF_INDEX:
            return BUCKETS_MS[-1]
        upper = BUCKETS_MS[index]
        if count and cumulative + count >= rank:
            return lower + (upper - lower) * (rank - cumulative) / count
        cumulative += count
        lower = upper
    return BUCKETS_MS[-1]
