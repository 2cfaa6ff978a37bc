"""OTLP MetricsData payloads built with opentelemetry-proto, as clients push them."""

from __future__ import annotations

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Gauge,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource


def _attrs(values: dict[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in values.items()]


def payload(
    gauges: dict[str, float] | None = None,
    delta_sums: dict[str, int] | None = None,
    resource: dict[str, str] | None = None,
    point_attributes: dict[str, str] | None = None,
) -> bytes:
    """A MetricsData with one resource: gauges (doubles) and monotonic delta sums (ints)."""
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
    data = MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=Resource(attributes=_attrs(resource or {})),
                scope_metrics=[ScopeMetrics(metrics=metrics)],
            )
        ]
    )
    return bytes(data.SerializeToString())
