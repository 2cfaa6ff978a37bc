"""``odradek ingest`` into DuckDB against a real broker, as a real process (#17's acceptance
at test-suite scale; benchmarks/ingest.py runs the full size)."""

from __future__ import annotations

import datetime as dt
import json
import random
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.ingest.harness import (
    TABLE_COLUMNS,
    Scenario,
    check_exactly_once,
    kill_loop,
)
from tests.integration.ingest.support import (
    IngestProcess,
    produce,
    wait_for,
)
from tests.support.broker_process import BrokerProcess, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def scenario(ingest_broker: BrokerProcess, workdir: Path) -> Iterator[Scenario]:
    scenario = Scenario(ingest_broker.bootstrap, "duckdb:///ingest.duckdb", workdir)
    yield scenario
    scenario.close()


def query(workdir: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read the file once the ingest process has ended (DuckDB allows one process)."""
    con = duckdb.connect(str(workdir / "ingest.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def run_until(scenario: Scenario, ends: dict[tuple[str, int], int], *extra: str) -> IngestProcess:
    process = scenario.ingest(*extra)
    wait_for(lambda: scenario.caught_up(ends) or not process.running(), 90, "ingest")
    return process


def ends_of(topic: str, counts: dict[int, int]) -> dict[tuple[str, int], int]:
    return {(topic, p): n for p, n in counts.items()}


def test_records_become_rows_with_virtual_columns(scenario: Scenario) -> None:
    producer = Producer({"bootstrap.servers": scenario.bootstrap})
    for i in range(30):
        producer.produce(
            scenario.topic,
            key=f"k{i}",
            value=json.dumps({"id": i, "name": f"n{i}", "ignored": True}),
            partition=i % 3,
            headers=[("h1", b"a"), ("h2", f"v{i}".encode())],
            timestamp=1_700_000_000_000 + i,
        )
    assert producer.flush(30) == 0
    columns = (
        f"{TABLE_COLUMNS}, _topic String, _timestamp DateTime, _timestamp_ms DateTime64(3), "
        "`_headers.name` Array(String), `_headers.value` Array(String)"
    )
    process = run_until(
        scenario, ends_of(scenario.topic, {0: 10, 1: 10, 2: 10}), "--create-table", columns
    )
    assert process.terminate() == 0, process.log()  # SIGTERM: the block is written, exit 0
    rows = query(
        scenario.workdir,
        f"SELECT id, name, _key, _partition, _offset, _topic, _timestamp, _timestamp_ms, "
        f'"_headers.name", "_headers.value" FROM {scenario.table} ORDER BY id',
    )
    assert len(rows) == 30
    stamp = dt.datetime(2023, 11, 14, 22, 13, 20)
    assert rows[4] == (
        4, "n4", "k4", 1, 1, scenario.topic, stamp, stamp.replace(microsecond=4000),
        ["h1", "h2"], ["a", "v4"],
    )  # fmt: skip
    offsets = query(
        scenario.workdir,
        "SELECT consumer_group, target_table, topic, kafka_partition, next_offset "
        "FROM odradek_ingest_offsets ORDER BY kafka_partition",
    )
    assert offsets == [(scenario.group, scenario.table, scenario.topic, p, 10) for p in range(3)]


def test_restart_continues_from_the_target_not_from_kafka(scenario: Scenario) -> None:
    records = [(f"k{i}", b'{"id": %d}' % i) for i in range(30)]
    produce(scenario.bootstrap, scenario.topic, records[:20])
    first = scenario.ingest("--create-table", TABLE_COLUMNS)
    wait_for(lambda: scenario.stored_total() == 20, 60, "the first 20 records")
    assert first.terminate() == 0, first.log()
    # Kafka's committed offsets (kept for lag monitoring) are set back to 0: a consumer that
    # trusted them would load the 20 records again.
    rewind = Consumer({"bootstrap.servers": scenario.bootstrap, "group.id": scenario.group})
    rewind.commit(
        offsets=[TopicPartition(scenario.topic, p, 0) for p in range(6)], asynchronous=False
    )
    rewind.close()
    produce(scenario.bootstrap, scenario.topic, records[20:])
    second = scenario.ingest()
    wait_for(lambda: scenario.stored_total() == 30, 60, "all 30 records")
    assert second.terminate() == 0, second.log()
    counts = query(scenario.workdir, f"SELECT count(*), count(DISTINCT id) FROM {scenario.table}")
    assert counts == [(30, 30)]


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(scenario: Scenario) -> None:
    count = 12_000
    kill_loop(scenario, count, kills=5, rng=random.Random())
    check_exactly_once(lambda sql: query(scenario.workdir, sql), scenario.table, count)


def test_aborted_transactions_never_reach_the_table(scenario: Scenario) -> None:
    producer = Producer(
        {"bootstrap.servers": scenario.bootstrap, "transactional.id": scenario.group}
    )
    producer.init_transactions(30)
    for round_ in range(3):
        for outcome in ("commit", "abort"):
            producer.begin_transaction()
            for i in range(20):
                key = f"{outcome}-{round_}-{i}"
                producer.produce(scenario.topic, key=key, value=json.dumps({"id": i}))
            producer.flush(30)  # really sent before the abort
            if outcome == "commit":
                producer.commit_transaction(30)
            else:
                producer.abort_transaction(30)
    process = scenario.ingest("--create-table", TABLE_COLUMNS)

    def done() -> bool:  # read: SIGTERM then writes whatever block is pending
        status = scenario.status()
        return status is not None and sum(c["num_messages_read"] for c in status["consumers"]) >= 60

    wait_for(done, 60, "the committed records")
    assert process.terminate() == 0, process.log()
    keys = [r[0] for r in query(scenario.workdir, f"SELECT _key FROM {scenario.table}")]
    assert len(keys) == 60
    assert all(k.startswith("commit-") for k in keys)


def produce_broken(scenario: Scenario) -> None:
    producer = Producer({"bootstrap.servers": scenario.bootstrap})
    values: list[tuple[str, bytes]] = [(f"g{i}", b'{"id": %d}' % i) for i in range(10)]
    values[2:2] = [("b0", b"{not json")]
    values[6:6] = [("b1", b'{"id": "not a number"}')]
    values.append(("b2", b"\xff\xfe"))
    for key, value in values:
        producer.produce(scenario.topic, key=key, value=value, partition=0)
    assert producer.flush(30) == 0


BROKEN_ENDS = 13


def test_skip_broken_messages_loads_the_rest(scenario: Scenario) -> None:
    produce_broken(scenario)
    process = run_until(
        scenario,
        {(scenario.topic, 0): BROKEN_ENDS},
        "--create-table", TABLE_COLUMNS, "--skip-broken-messages=5",
    )  # fmt: skip
    assert process.terminate() == 0, process.log()
    ids = [r[0] for r in query(scenario.workdir, f"SELECT id FROM {scenario.table} ORDER BY id")]
    assert ids == list(range(10))
    status = scenario.status()
    assert status is not None
    assert status["consumers"][0]["broken_messages"] == 3


def test_too_many_broken_messages_stop_ingest(scenario: Scenario) -> None:
    produce_broken(scenario)
    process = scenario.ingest("--create-table", TABLE_COLUMNS, "--skip-broken-messages=2")
    assert process.wait(60) == 1
    log = process.log()
    assert "3 broken records in one block, more than --skip-broken-messages 2" in log, log
    assert query(scenario.workdir, f"SELECT count(*) FROM {scenario.table}") == [(0,)]


def test_stream_mode_keeps_broken_records_in_the_error_table(scenario: Scenario) -> None:
    produce_broken(scenario)
    process = run_until(
        scenario,
        {(scenario.topic, 0): BROKEN_ENDS},
        "--create-table", TABLE_COLUMNS, "--handle-error-mode=stream",
    )  # fmt: skip
    assert process.terminate() == 0, process.log()
    assert query(scenario.workdir, f"SELECT count(*) FROM {scenario.table}") == [(10,)]
    errors = query(
        scenario.workdir,
        f"SELECT _key, _offset, _raw_message, _error FROM {scenario.table}_errors ORDER BY _offset",
    )
    assert [(k, o, raw) for k, o, raw, _ in errors] == [
        ("b0", 2, b"{not json"),
        ("b1", 6, b'{"id": "not a number"}'),
        ("b2", 12, b"\xff\xfe"),
    ]
    assert "JSONEachRow" in errors[0][3] and "column id" in errors[1][3]


def test_pause_and_resume(scenario: Scenario) -> None:
    produce(scenario.bootstrap, scenario.topic, [(f"k{i}", b'{"id": %d}' % i) for i in range(10)])
    process = scenario.ingest("--create-table", TABLE_COLUMNS, "--flush-interval-ms=100")
    wait_for(lambda: scenario.stored_total() == 10, 60, "the first records")
    control = IngestProcess(scenario.workdir, [*scenario.args(), "--pause"]).start()
    assert control.wait() == 0
    wait_for(lambda: scenario.status()["consumers"][0]["is_paused"], 30, "paused")  # type: ignore[index]
    produce(
        scenario.bootstrap, scenario.topic, [(f"k{i}", b'{"id": %d}' % i) for i in range(10, 20)]
    )
    status_cmd = IngestProcess(scenario.workdir, [*scenario.args(), "--status"]).start()
    assert status_cmd.wait() == 0
    shown = status_cmd.log()
    assert "is_paused:" in shown and "rows_written:" in shown and "assignments.lag:" in shown
    assert scenario.stored_total() == 10  # paused: nothing more is written
    control = IngestProcess(scenario.workdir, [*scenario.args(), "--resume"]).start()
    assert control.wait() == 0
    wait_for(lambda: scenario.stored_total() == 20, 60, "the records after resume")
    assert process.terminate() == 0, process.log()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (
            s.name,
            tuple(sorted((k, v) for k, v in s.labels.items() if k in ("topic", "partition"))),
        ): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_endpoint_shows_rows_lag_and_times(scenario: Scenario) -> None:
    produce(scenario.bootstrap, scenario.topic, [(f"k{i}", b'{"id": %d}' % i) for i in range(30)])
    port = free_port()
    process = scenario.ingest("--create-table", TABLE_COLUMNS, f"--metrics-port={port}")
    url = f"http://127.0.0.1:{port}/metrics"

    def loaded() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        try:
            samples = scrape(url)
        except urllib.error.URLError:  # not listening yet
            return None
        written = [v for (n, _), v in samples.items() if n == "odradek_ingest_rows_written_total"]
        lags = [v for (n, _), v in samples.items() if n == "odradek_ingest_lag"]
        return samples if sum(written) == 30 and len(lags) == 6 and sum(lags) == 0 else None

    samples = wait_for(loaded, 90, "30 rows written and no lag in the metrics")
    offsets = {
        int(dict(labels)["partition"]): value
        for (name, labels), value in samples.items()
        if name == "odradek_ingest_current_offset"
    }
    assert sum(offsets.values()) == 30 and sorted(offsets) == list(range(6))
    assert samples[("odradek_ingest_messages_read_total", ())] == 30
    assert samples[("odradek_ingest_last_commit_timestamp_seconds", ())] > 1.7e9
    status = scenario.status()
    assert status is not None and status["metrics_url"] == url
    assert process.terminate() == 0, process.log()
