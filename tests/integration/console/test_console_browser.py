"""The console's browser suite (``scenarios``) in a real headless Chromium against one real
broker whose metrics endpoint the console reads. The same suite runs against a three-broker
cluster in tests/cluster/test_console_cluster.py."""

from __future__ import annotations

import pytest

from odradek.common.version import __version__
from tests.integration.console.scenarios import SCENARIOS, Scenario, Stage, scenario_id
from tests.integration.console.support import Browser, ConsoleProcess
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

BROKER_ID = 0  # the broker's embedded default node.id


@pytest.fixture(scope="module")
def stage(browser: Browser, console: ConsoleProcess, console_broker: BrokerProcess) -> Stage:
    return Stage(browser, console, console_broker.bootstrap, 1, {BROKER_ID: __version__})


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_console_in_chromium(stage: Stage, scenario: Scenario) -> None:
    scenario(stage)
