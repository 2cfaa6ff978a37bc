"""How ``odradek ingest`` meets a cluster that is not there (#12): at start, one line and exit
code 1 before the target is touched; once running, a broker that goes away is waited for with
one line when it stops answering and one when it answers again, and ingest goes on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.ingest.harness import TABLE_COLUMNS, Scenario
from tests.integration.ingest.support import json_records, produce, wait_for
from tests.support.broker_process import BrokerProcess, free_port

pytestmark = pytest.mark.integration


def test_a_closed_port_is_one_line_before_the_target_is_opened(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        [
            sys.executable, "-m", "odradek", "ingest", "--bootstrap-server", address,
            "--topic", "t", "--group", "g", "--format", "JSONEachRow", "--table", "t",
            "--create-table", "id Int64", "--target", "duckdb:///db/ingest.duckdb",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: no broker answers at the bootstrap address {address} (connection refused)"
    ]
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no database, no state dir


def test_a_broker_that_goes_away_is_waited_for_quietly(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", overrides={"group.initial.rebalance.delay.ms": "0"})
    broker.start(timeout=90)
    scenario = Scenario(broker.bootstrap, "duckdb:///ingest.duckdb", tmp_path, partitions=2)
    try:
        produce(broker.bootstrap, scenario.topic, json_records("a", 20))
        process = scenario.ingest("--create-table", TABLE_COLUMNS)
        wait_for(lambda: scenario.stored_total() == 20, 90, "the first 20 records")
        broker.kill()
        wait_for(lambda: "does not answer" in process.log(), 90, "the line saying so")
        assert process.running(), process.log()
        broker.start(timeout=90)  # the same port and data
        wait_for(lambda: "answers again" in process.log(), 90, "the line saying it is back")
        produce(broker.bootstrap, scenario.topic, json_records("b", 20))
        wait_for(lambda: scenario.stored_total() == 40, 120, "the 20 records after the restart")
        assert process.terminate() == 0, process.log()
    finally:
        scenario.close()
        broker.kill()
    log = process.log()
    assert log.count("does not answer") == 1, log
    assert log.count("answers again") == 1, log
    assert "|FAIL|" not in log and "librdkafka" not in log, log  # not librdkafka's stream
