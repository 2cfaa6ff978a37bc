"""Fixtures of the console's end-to-end tests: a broker with its metrics endpoint, a console
process for it, and one headless Chromium per module (skipped when Debian's chromium is
absent)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.console.support import Browser, ConsoleProcess, browser_or_skip
from tests.support.broker_process import BrokerProcess, free_port


@pytest.fixture(scope="module")
def console_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One broker for a module's console tests, with its metrics endpoint on a free port."""
    overrides = {"metrics.port": str(free_port())}
    broker = BrokerProcess(tmp_path_factory.mktemp("console-broker") / "data", overrides=overrides)
    yield broker.start()
    broker.kill()


def metrics_url(broker: BrokerProcess) -> str:
    return f"http://127.0.0.1:{broker.overrides['metrics.port']}/metrics"


@pytest.fixture(scope="module")
def console(
    console_broker: BrokerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleProcess]:
    """``odradek console`` for the module's broker and its metrics endpoint, sampling lag and
    scraping every second."""
    log = tmp_path_factory.mktemp("console") / "console.log"
    extra = ["--sample-interval", "1", "--metrics-url", metrics_url(console_broker)]
    process = ConsoleProcess(console_broker.bootstrap, log, extra).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from browser_or_skip()
