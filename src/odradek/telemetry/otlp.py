"""The PushTelemetry payload: OTLP ``MetricsData`` (protobuf), possibly compressed, decoded
into flat points (the opentelemetry-proto package's generated classes)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    MetricsData,
    NumberDataPoint,
)

from odradek.protocol.records.compression import decompress


class PointKind(enum.Enum):
    GAUGE = "gauge"  # the last value is the value
    COUNTER = "counter"  # a monotonic sum: a cumulative total
    DELTA_COUNTER = "delta_counter"  # a monotonic sum pushed as deltas: added up


@dataclass(frozen=True, slots=True)
class Point:
    """One data point of a pushed metric, with its resource's and its own attributes."""

    name: str  # the OTLP metric name
    kind: PointKind
    attributes: tuple[tuple[str, str], ...]
    value: float
    description: str = ""


def decode_metrics(compression_type: int, payload: bytes) -> list[Point]:
    """The points of a payload; ValueError when it does not decompress or decode. Histograms
    and summaries are not re-exported (the clients push gauges and sums)."""
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
                kind: PointKind
                if metric.HasField("gauge"):
                    kind, points = PointKind.GAUGE, metric.gauge.data_points
                elif metric.HasField("sum"):
                    delta = (
                        metric.sum.aggregation_temporality
                        == AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
                    )
                    if not metric.sum.is_monotonic:
                        kind = PointKind.GAUGE
                    else:
                        kind = PointKind.DELTA_COUNTER if delta else PointKind.COUNTER
                    points = metric.sum.data_points
                else:
                    continue
                for point in points:
                    yield Point(
                        metric.name,
                        kind,
                        resource + _attributes(point.attributes),
                        _number(point),
                        metric.description,
                    )


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
