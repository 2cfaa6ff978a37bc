"""What the console samples in the background, every ``--sample-interval`` seconds, and keeps
in memory for its charts: each group's total lag, the topics each group has committed
offsets on, and (with ``--metrics-url``) throughput rates and the brokers' app-info."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from odradek.console import metrics
from odradek.console.gateway import KafkaGateway
from odradek.console.groups import committed_offsets, list_groups
from odradek.console.samples import SampleWindow, rate


@dataclass(frozen=True)
class LagSample:
    """One sampling of every group: total lag, and the topics it has committed offsets on."""

    at: float
    lag: Mapping[str, int]
    topics: Mapping[str, frozenset[str]]


def sample_lag(gateway: KafkaGateway) -> LagSample:
    """Total lag of every consumer group (committed offsets against end offsets)."""
    groups = [g.group_id for g in list_groups(gateway)]
    committed = committed_offsets(gateway, groups)
    ends = gateway.end_offsets({tp for offsets in committed.values() for tp in offsets})
    lag = {
        group: sum(max(ends[tp] - offset, 0) for tp, offset in offsets.items() if tp in ends)
        for group, offsets in committed.items()
    }
    topics = {group: frozenset(t for t, _ in offsets) for group, offsets in committed.items()}
    return LagSample(time.time(), lag, topics)


@dataclass
class ConsoleSamples:
    """The console's in-memory time series and the latest figures derived from them."""

    lag: SampleWindow[str] = field(default_factory=SampleWindow)
    latency: SampleWindow[str] = field(default_factory=SampleWindow)
    throughput: SampleWindow[tuple[str, str]] = field(default_factory=SampleWindow)
    last_lag: LagSample | None = None
    topic_rates: dict[tuple[str, str], float] = field(default_factory=dict)
    metrics_errors: list[str] = field(default_factory=list)
    app_info: dict[int, metrics.AppInfo] = field(default_factory=dict)
    _totals: tuple[float, dict[tuple[str, str], float]] | None = None

    def record_lag(self, sample: LagSample) -> None:
        for group, total in sample.lag.items():
            self.lag.add(group, sample.at, total)
        for group in self.lag.names():
            if group not in sample.lag:
                self.lag.forget(group)  # deleted since
        self.last_lag = sample

    def record_throughput(self, at: float, scraped: metrics.Throughput) -> None:
        """Rates since the previous scrape, for the charts (all topics) and per topic; the
        app-info of the brokers whose endpoint answered this time."""
        self.metrics_errors = list(scraped.errors)
        self.app_info = dict(scraped.app_info)
        previous = self._totals
        self._totals = (at, dict(scraped.totals))
        if previous is None:
            return
        rates: dict[tuple[str, str], float] = {}
        for key, value in scraped.totals.items():
            if key in previous[1]:
                per_second = rate((previous[0], previous[1][key]), (at, value))
                if per_second is not None:
                    rates[key] = per_second
        self.topic_rates = rates
        for key, per_second in rates.items():
            if key[1] == metrics.ALL_TOPICS:
                self.throughput.add(key, at, per_second)

    def groups_reading(self, topic: str) -> list[str]:
        """Groups with committed offsets on ``topic`` at the last sampling."""
        if self.last_lag is None:
            return []
        return sorted(g for g, topics in self.last_lag.topics.items() if topic in topics)

    def rate_of(self, counter: str, topic: str = metrics.ALL_TOPICS) -> float | None:
        return self.topic_rates.get((counter, topic))

    def throughput_points(self, counter: str) -> Sequence[tuple[float, float]]:
        return self.throughput.points((counter, metrics.ALL_TOPICS))
