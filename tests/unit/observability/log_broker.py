"""Test helper: a BrokerServer that is not serving, with its log manager started on a data
dir of its own, so tests can create logs and read what the metrics endpoint reads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from odradek.config.broker import load_broker_config
from odradek.server.broker import BrokerServer


@contextlib.contextmanager
def log_broker(tmp_path: Path) -> Iterator[BrokerServer]:
    config = load_broker_config(
        None,
        {"log.dirs": str(tmp_path / "data"), "listeners": "PLAINTEXT://127.0.0.1:0"},
        environ={},
    )
    broker = BrokerServer(config)
    broker.log_manager.startup(node_id=broker.node_id, cluster_id=None)
    try:
        yield broker
    finally:
        broker.log_manager.shutdown()
