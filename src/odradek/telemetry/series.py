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

from odradek.telemetry.otlp import Point, PointKind

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


@dataclass(slots=True)
class _Series:
    kind: PointKind
    description: str
    value: float


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
        """Take one push's points: gauges and cumulative sums replace the value, deltas add
        to it."""
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
            if current is not None and point.kind is PointKind.DELTA_COUNTER:
                current.value += point.value
            else:
                entry.series[series_key] = _Series(point.kind, point.description, point.value)

    def forget(self, instance_id: uuid.UUID) -> None:
        self._instances.pop(instance_id, None)

    def instances(self) -> set[uuid.UUID]:
        return set(self._instances)

    def families(self) -> Iterator[Metric]:
        """The series as Prometheus families, one per name (a counter's samples end in one
        ``_total``: ``connection.creation.total`` is ``connection_creation_total``)."""
        families: dict[str, Metric] = {}
        for entry in self._instances.values():
            for (name, labels), series in entry.series.items():
                family = families.get(name)
                counter = series.kind is not PointKind.GAUGE
                if family is None:
                    help_text = series.description or f"client metric {name}, pushed (KIP-714)"
                    family = families[name] = (
                        CounterMetricFamily(name, help_text)
                        if counter
                        else GaugeMetricFamily(name, help_text)
                    )
                sample = f"{family.name}_total" if family.type == "counter" else name
                family.add_sample(sample, dict(labels), series.value)
        yield from families.values()


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
