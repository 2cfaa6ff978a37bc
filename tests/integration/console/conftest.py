"""Fixtures of the console's end-to-end tests: a console process against the module's shared
broker, and one headless Chromium per module (skipped when Debian's chromium is absent)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.console.support import Browser, ConsoleProcess, chromium_available
from tests.support.broker_process import BrokerProcess


@pytest.fixture(scope="module")
def console(
    shared_broker: BrokerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleProcess]:
    """``odradek console`` for the shared broker, sampling lag every second."""
    log = tmp_path_factory.mktemp("console") / "console.log"
    process = ConsoleProcess(shared_broker.bootstrap, log, ["--sample-interval", "1"]).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not chromium_available():
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    instance = Browser()
    yield instance
    instance.close()
