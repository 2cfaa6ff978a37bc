"""pytest plugin (entry point ``odradek``): the ``odradek_broker`` fixture, a fresh in-process
broker per test on an ephemeral loopback port; use ``odradek_broker.bootstrap_servers``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from odradek.testing.broker import Broker


@pytest.fixture
def odradek_broker(tmp_path: Path) -> Iterator[Broker]:
    with Broker(data_dir=tmp_path / "odradek-data") as broker:
        yield broker
