"""The pushed metrics kept for the broker's Prometheus endpoint: per client instance, one
series per metric and attribute set, named from the OTLP name (``.`` and other characters
Prometheus does not allow become ``_``) and labelled with the client's identity and the
OTLP resource and data-point attributes. An instance's series go with the instance."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from odradek.telemetry.otlp import Distribution, Point, PointKind

# The client's identity, as labels on every series it pushed.
CLIENT_LABELS = ("client_instance_id", "client_id", "client_software_name")
_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")


def series_name(otlp_name: str) -> str:
    """A Prometheus metric name for an OTLP one (``org.apache.kafka.producer.x`` is
    ``org_apache_kafka_producer_x``)."""
    name = _INVALID_NAME.sub("_", otlp_name)
    return f"_{name}" if name[:1].isdigit() else name


def label_name(key: str) -> str:
    name = _INVALID_LABEL.sub("_", key)
    return f"_{name}" if name[:1].isdigit() or name.startswith("__") else name


_FAMILY_TYPES = {
    PointKind.GAUGE: "gauge",
    PointKind.COUNTER: "counter",
    PointKind.DELTA_COUNTER: "counter",
    PointKind.HISTOGRAM: "histogram",
    PointKind.DELTA_HISTOGRAM: "histogram",
    PointKind.SUMMARY: "summary",
}


@dataclass(slots=True)
class _Series:
    kind: PointKind
    description: str
    value: float
    distribution: Distribution | None = None


@dataclass(slots=True)
class _InstanceSeries:
    labels: dict[str, str]
    series: dict[tuple[str, tuple[tuple[str, str], ...]], _Series] = field(default_factory=dict)
    last_push_ms: int = 0


class ClientSeries:
    def __init__(self) -> None:
        self._instances: dict[uuid.UUID, _InstanceSeries] = {}

    def record(
        self,
        instance_id: uuid.UUID,
        client: Mapping[str, str],
        points: Iterable[Point],
        now_ms: int,
    ) -> None:
        """Take one push's points: gauges, cumulative sums and histograms, and summaries
        replace the value; deltas add to it."""
        identity = {key: client.get(key, "") for key in CLIENT_LABELS}
        entry = self._instances.setdefault(instance_id, _InstanceSeries(identity))
        entry.labels = identity
        entry.last_push_ms = now_ms
        for point in points:
            labels: dict[str, str] = {}
            for key, value in point.attributes:
                labels[label_name(key)] = value
            labels.update(identity)  # the broker's identity of the client wins
            series_key = (series_name(point.name), tuple(sorted(labels.items())))
            current = entry.series.get(series_key)
            if current is not None and current.kind is point.kind is PointKind.DELTA_COUNTER:
                current.value += point.value
            elif (
                current is not None
                and current.kind is point.kind is PointKind.DELTA_HISTOGRAM
                and current.distribution is not None
                and point.distribution is not None
            ):
                current.distribution = current.distribution.plus(point.distribution)
            else:
                entry.series[series_key] = _Series(
                    point.kind, point.description, point.value, point.distribution
                )

    def forget(self, instance_id: uuid.UUID) -> None:
        self._instances.pop(instance_id, None)

    def instances(self) -> set[uuid.UUID]:
        return set(self._instances)

    def families(self) -> Iterator[Metric]:
        """The series as Prometheus families, one per name (a counter's samples end in one
        ``_total``: ``connection.creation.total`` is ``connection_creation_total``; a
        histogram has ``_bucket`` samples with cumulative counts by ``le``, ``_count`` and
        ``_sum``; a summary its quantiles, ``_count`` and ``_sum``). A name pushed as two
        different types keeps the first one seen."""
        families: dict[str, Metric] = {}
        for entry in self._instances.values():
            for (name, labels), series in entry.series.items():
                family_type = _FAMILY_TYPES[series.kind]
                family = families.get(name)
                if family is None:
                    help_text = series.description or f"client metric {name}, pushed (KIP-714)"
                    family = families[name] = _family(name, help_text, family_type)
                elif family.type != family_type:
                    continue
                _add_samples(family, name, dict(labels), series)
        yield from families.values()


def _family(name: str, help_text: str, family_type: str) -> Metric:
    if family_type == "counter":
        return CounterMetricFamily(name, help_text)
    if family_type == "gauge":
        return GaugeMetricFamily(name, help_text)
    return Metric(name, help_text, family_type)


def _add_samples(family: Metric, name: str, labels: dict[str, str], series: _Series) -> None:
    distribution = series.distribution
    if family.type == "counter":
        family.add_sample(f"{family.name}_total", labels, series.value)
    elif distribution is None:
        family.add_sample(name, labels, series.value)
    else:
        if family.type == "histogram":
            cumulative = 0.0
            for bound, count in distribution.buckets:
                cumulative += count
                family.add_sample(f"{name}_bucket", {**labels, "le": _bound(bound)}, cumulative)
        else:
            for quantile, value in distribution.quantiles:
                family.add_sample(name, {**labels, "quantile": _bound(quantile)}, value)
        family.add_sample(f"{name}_count", labels, distribution.count)
        family.add_sample(f"{name}_sum", labels, distribution.sum)


def _bound(value: float) -> str:
    """A bucket bound or quantile as Prometheus writes it (``+Inf``, ``0.5``, ``10.0``)."""
    if value == float("inf"):
        return "+Inf"
    return repr(float(value))


class TelemetryCollector(Collector):
    """The pushed series on a Prometheus registry; ``expire`` is called first so a scrape
    never shows the series of a client gone for several push intervals."""

    def __init__(self, series: ClientSeries, expire: Callable[[], None]) -> None:
        self.series = series
        self.expire = expire

    def collect(self) -> Iterable[Metric]:
        self.expire()
        return list(self.series.families())

    def describe(self) -> Iterable[Metric]:
        return []  # names come from the clients' pushes
