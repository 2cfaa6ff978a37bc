"""Observability (issue 7): Kafka's metrics over Prometheus and Jolokia.

``metrics`` is a leaf any layer may import (the hot-path accumulators and their names);
``broker_state`` reads the broker at scrape time; ``collectors`` and ``jolokia`` are the two
views; ``http`` serves them on ``metrics.port``. See docs/observability.md."""
