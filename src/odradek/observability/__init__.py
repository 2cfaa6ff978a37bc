"""Observability (issue 7): Kafka's metrics over Prometheus and Jolokia.

``metrics`` is a leaf any layer may import (the hot-path accumulators and their names);
``view`` is what the endpoint reads from a broker (the ``BrokerView`` protocol, which
``odradek.server`` implements: this package imports nothing from the server, see the
import-linter contracts in pyproject.toml); ``collectors`` and ``jolokia`` are the two views;
``http`` serves them on ``metrics.port``. See docs/observability.md."""
