"""OTLP MetricsData payloads built with opentelemetry-proto, as clients push them."""

from __future__ import annotations

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
    Summary,
    SummaryDataPoint,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource


def _attrs(values: dict[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in values.items()]


HistogramPoint = tuple[list[float], list[int], float]
"""(explicit bounds, count per bucket, sum) of one histogram data point."""
SummaryPoint = tuple[list[tuple[float, float]], int, float]
"""((quantile, value) pairs, count, sum) of one summary data point."""


def payload(
    gauges: dict[str, float] | None = None,
    delta_sums: dict[str, int] | None = None,
    resource: dict[str, str] | None = None,
    point_attributes: dict[str, str] | None = None,
    histograms: dict[str, HistogramPoint] | None = None,
    delta_histograms: dict[str, HistogramPoint] | None = None,
    summaries: dict[str, SummaryPoint] | None = None,
) -> bytes:
    """A MetricsData with one resource: gauges (doubles), monotonic delta sums (ints),
    explicit-bucket histograms (cumulative or delta) and summaries."""
    metrics = []
    point_attrs = _attrs(point_attributes or {})
    for name, value in (gauges or {}).items():
        point = NumberDataPoint(as_double=value, attributes=point_attrs)
        metrics.append(Metric(name=name, gauge=Gauge(data_points=[point])))
    for name, count in (delta_sums or {}).items():
        point = NumberDataPoint(as_int=count, attributes=point_attrs)
        total = Sum(
            data_points=[point],
            is_monotonic=True,
            aggregation_temporality=AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA,
        )
        metrics.append(Metric(name=name, sum=total))
    temporalities = (
        (histograms, AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE),
        (delta_histograms, AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA),
    )
    for points, temporality in temporalities:
        for name, (bounds, counts, total_sum) in (points or {}).items():
            histogram_point = HistogramDataPoint(
                count=sum(counts),
                sum=total_sum,
                bucket_counts=counts,
                explicit_bounds=bounds,
                attributes=point_attrs,
            )
            histogram = Histogram(
                data_points=[histogram_point], aggregation_temporality=temporality
            )
            metrics.append(Metric(name=name, histogram=histogram))
    for name, (quantiles, count, total_sum) in (summaries or {}).items():
        values = [SummaryDataPoint.ValueAtQuantile(quantile=q, value=v) for q, v in quantiles]
        summary_point = SummaryDataPoint(
            count=count, sum=total_sum, quantile_values=values, attributes=point_attrs
        )
        metrics.append(Metric(name=name, summary=Summary(data_points=[summary_point])))
    data = MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=Resource(attributes=_attrs(resource or {})),
                scope_metrics=[ScopeMetrics(metrics=metrics)],
            )
        ]
    )
    return bytes(data.SerializeToString())
