"""The PushTelemetry payload: OTLP ``MetricsData`` (protobuf), possibly compressed, decoded
into flat points (the opentelemetry-proto package's generated classes)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    SummaryDataPoint,
)

from odradek.protocol.records.compression import decompress


class PointKind(enum.Enum):
    GAUGE = "gauge"  # the last value is the value
    COUNTER = "counter"  # a monotonic sum: a cumulative total
    DELTA_COUNTER = "delta_counter"  # a monotonic sum pushed as deltas: added up
    HISTOGRAM = "histogram"  # explicit buckets, cumulative: the last push is the value
    DELTA_HISTOGRAM = "delta_histogram"  # explicit buckets pushed as deltas: added up
    SUMMARY = "summary"  # quantiles, a count and a sum: the last push is the value


@dataclass(frozen=True, slots=True)
class Distribution:
    """A histogram's or a summary's data point: its count and sum, and either the histogram's
    buckets as (upper bound, count in that bucket alone; the last bound is +inf) or the
    summary's (quantile, value) pairs."""

    count: float
    sum: float
    buckets: tuple[tuple[float, float], ...] = ()
    quantiles: tuple[tuple[float, float], ...] = ()

    def plus(self, other: Distribution) -> Distribution:
        """This delta histogram with ``other`` added; ``other`` alone when the bounds differ."""
        if [b for b, _ in self.buckets] != [b for b, _ in other.buckets]:
            return other
        buckets = tuple(
            (bound, mine + theirs)
            for (bound, mine), (_, theirs) in zip(self.buckets, other.buckets, strict=True)
        )
        return Distribution(self.count + other.count, self.sum + other.sum, buckets)


@dataclass(frozen=True, slots=True)
class Point:
    """One data point of a pushed metric, with its resource's and its own attributes. A
    gauge's or a sum's number is ``value``; a histogram's or a summary's is ``distribution``
    (and ``value`` its sum)."""

    name: str  # the OTLP metric name
    kind: PointKind
    attributes: tuple[tuple[str, str], ...]
    value: float
    description: str = ""
    distribution: Distribution | None = None


def decode_metrics(compression_type: int, payload: bytes) -> list[Point]:
    """The points of a payload; ValueError when it does not decompress or decode. Gauges,
    sums, explicit-bucket histograms and summaries are kept; exponential histograms are not
    (Prometheus' text format has no native histograms)."""
    try:
        raw = decompress(compression_type, payload)
    except Exception as exc:  # cramjam raises its own error types
        raise ValueError(f"cannot decompress the metrics: {exc}") from exc
    data = MetricsData()
    try:
        data.ParseFromString(raw)
    except Exception as exc:  # protobuf's DecodeError
        raise ValueError(f"not OTLP MetricsData: {exc}") from exc
    return list(_points(data))


def _points(data: MetricsData) -> Iterator[Point]:
    for resource_metrics in data.resource_metrics:
        resource = _attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in _metric_points(metric):
                    yield Point(
                        metric.name,
                        point.kind,
                        resource + point.attributes,
                        point.value,
                        metric.description,
                        point.distribution,
                    )


def _metric_points(metric: Metric) -> Iterator[Point]:
    """The points of one metric, without its name and its resource's attributes."""
    if metric.HasField("gauge"):
        for number in metric.gauge.data_points:
            yield _number_point(PointKind.GAUGE, number)
    elif metric.HasField("sum"):
        kind = PointKind.GAUGE  # a sum that may go down is a gauge to Prometheus
        if metric.sum.is_monotonic:
            kind = PointKind.DELTA_COUNTER if _delta(metric.sum) else PointKind.COUNTER
        for number in metric.sum.data_points:
            yield _number_point(kind, number)
    elif metric.HasField("histogram"):
        kind = PointKind.DELTA_HISTOGRAM if _delta(metric.histogram) else PointKind.HISTOGRAM
        for histogram in metric.histogram.data_points:
            yield _histogram_point(kind, histogram)
    elif metric.HasField("summary"):
        for summary in metric.summary.data_points:
            yield _summary_point(summary)


def _delta(aggregate: object) -> bool:
    temporality = getattr(aggregate, "aggregation_temporality", None)
    return temporality == AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA


def _number_point(kind: PointKind, point: NumberDataPoint) -> Point:
    return Point("", kind, _attributes(point.attributes), _number(point))


def _histogram_point(kind: PointKind, point: HistogramDataPoint) -> Point:
    bounds = [*point.explicit_bounds, float("inf")]
    counts = list(point.bucket_counts)
    if len(counts) != len(bounds):  # no buckets (allowed): everything is in +inf
        bounds, counts = [float("inf")], [point.count]
    buckets = tuple((bound, float(count)) for bound, count in zip(bounds, counts, strict=True))
    distribution = Distribution(float(point.count), point.sum, buckets=buckets)
    return Point("", kind, _attributes(point.attributes), point.sum, "", distribution)


def _summary_point(point: SummaryDataPoint) -> Point:
    quantiles = tuple((q.quantile, q.value) for q in point.quantile_values)
    distribution = Distribution(float(point.count), point.sum, quantiles=quantiles)
    return Point("", PointKind.SUMMARY, _attributes(point.attributes), point.sum, "", distribution)


def _number(point: NumberDataPoint) -> float:
    if point.WhichOneof("value") == "as_int":
        return float(point.as_int)
    return point.as_double


def _attributes(values: Iterable[KeyValue]) -> tuple[tuple[str, str], ...]:
    return tuple((kv.key, _text(kv.value)) for kv in values)


def _text(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind is None:
        return ""
    if kind in ("array_value", "kvlist_value", "bytes_value"):
        return str(getattr(value, kind)).strip()
    return str(getattr(value, kind))
