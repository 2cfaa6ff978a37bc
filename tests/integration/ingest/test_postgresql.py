"""``odradek ingest`` into a real PostgreSQL server (started by the ``postgres`` fixture) from
a real broker: the same exactly-once checks as DuckDB's, read live over SQL."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer

from tests.integration.ingest.harness import (
    TABLE_COLUMNS,
    BackgroundProducer,
    Scenario,
    check_exactly_once,
    kill_loop,
)
from tests.integration.ingest.support import PostgresServer, wait_for
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def scenario(
    ingest_broker: BrokerProcess, postgres: PostgresServer, workdir: Path
) -> Iterator[Scenario]:
    scenario = Scenario(ingest_broker.bootstrap, postgres.url, workdir)
    yield scenario
    scenario.close()


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(sql.encode()).fetchall()


def count(url: str, table: str) -> int:
    try:
        return int(query(url, f"SELECT count(*) FROM {table}")[0][0])
    except psycopg.errors.UndefinedTable:
        return 0


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(scenario: Scenario) -> None:
    records = 12_000
    kill_loop(scenario, records, kills=5, rng=random.Random())
    check_exactly_once(lambda sql: query(scenario.target, sql), scenario.table, records)


def test_two_consumers_share_the_partitions_exactly_once(scenario: Scenario) -> None:
    producer = BackgroundProducer(scenario.bootstrap, scenario.topic, 6000).start()
    process = scenario.ingest("--create-table", TABLE_COLUMNS, "--consumers=2")
    producer.join()
    wait_for(lambda: count(scenario.target, scenario.table) >= 6000, 90, "6000 rows")
    assert process.terminate() == 0, process.log()
    check_exactly_once(lambda sql: query(scenario.target, sql), scenario.table, 6000)
    status = scenario.status()
    assert status is not None and len(status["consumers"]) == 2


def test_aborted_transactions_never_reach_the_table(scenario: Scenario) -> None:
    producer = Producer(
        {"bootstrap.servers": scenario.bootstrap, "transactional.id": scenario.group}
    )
    producer.init_transactions(30)
    for outcome in ("commit", "abort", "commit", "abort", "commit"):
        producer.begin_transaction()
        for i in range(25):
            producer.produce(scenario.topic, key=f"{outcome}-{i}", value=json.dumps({"id": i}))
        producer.flush(30)
        (producer.commit_transaction if outcome == "commit" else producer.abort_transaction)(30)
    process = scenario.ingest("--create-table", TABLE_COLUMNS)
    wait_for(lambda: count(scenario.target, scenario.table) >= 75, 60, "75 committed rows")
    assert process.terminate() == 0, process.log()
    keys = [r[0] for r in query(scenario.target, f"SELECT _key FROM {scenario.table}")]
    assert len(keys) == 75 and all(k.startswith("commit-") for k in keys)


def test_stream_mode_error_table(scenario: Scenario) -> None:
    producer = Producer({"bootstrap.servers": scenario.bootstrap})
    values = [b'{"id": 1}', b"{not json", b'{"id": 2}', b'{"id": [1]}', b"\xff", b'{"id": 3}']
    for offset, value in enumerate(values):
        producer.produce(scenario.topic, key=f"r{offset}", value=value, partition=0)
    assert producer.flush(30) == 0
    process = scenario.ingest("--create-table", TABLE_COLUMNS, "--handle-error-mode=stream")
    wait_for(lambda: count(scenario.target, f"{scenario.table}_errors") >= 3, 60, "error rows")
    assert process.terminate() == 0, process.log()
    assert query(scenario.target, f"SELECT id FROM {scenario.table} ORDER BY id") == [
        (1,),
        (2,),
        (3,),
    ]
    errors = query(
        scenario.target,
        f"SELECT _offset, _raw_message, _error FROM {scenario.table}_errors ORDER BY _offset",
    )
    assert [(o, bytes(raw)) for o, raw, _ in errors] == [
        (1, b"{not json"),
        (3, b'{"id": [1]}'),
        (4, b"\xff"),
    ]
    assert all(error for _, _, error in errors)


def test_existing_table_with_wrong_types_is_refused(scenario: Scenario) -> None:
    with psycopg.connect(scenario.target, autocommit=True) as connection:
        columns = 'id bigint, "_offset" text, "_timestamp" integer'
        connection.execute(f"CREATE TABLE {scenario.table} ({columns})".encode())
    process = scenario.ingest()
    assert process.wait(60) == 1
    log = process.log()
    assert f"table '{scenario.table}'" in log and "cannot take the JSONEachRow records" in log
    assert "'_offset' has type text" in log and "'_timestamp' has type integer" in log
