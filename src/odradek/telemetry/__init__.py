"""KIP-714 client metrics on the broker, sans-IO: the ``client-metrics`` config resources
(subscriptions), the per-client-instance state behind GetTelemetrySubscriptions and
PushTelemetry, the decoding of the pushed OTLP payloads, and the pushed series kept for the
broker's Prometheus endpoint."""
