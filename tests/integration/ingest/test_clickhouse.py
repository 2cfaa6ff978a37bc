"""``odradek ingest`` into a real ClickHouse server (Debian's 18.16, started by the fixture
with a ZooKeeper of its own): offsets in the keeper, a begun block replayed to the same end
and dropped by ClickHouse's insert deduplication, SIGKILLs at random moments."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from odradek.ingest.batch import PartitionBlock, WriteJob
from odradek.ingest.errors import OffsetConflict
from odradek.ingest.formats import JSONEachRow
from odradek.ingest.settings import build_settings
from odradek.ingest.tables import prepare
from odradek.ingest.targets.clickhouse import ClickHouseTarget
from tests.integration.ingest.clickhouse_server import ClickHouseServer
from tests.integration.ingest.harness import TABLE_COLUMNS, Scenario, kill_loop
from tests.integration.ingest.support import json_records, produce, wait_for
from tests.support.broker_process import BrokerProcess
from tests.support.zookeeper import ZooKeeperProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def scenario(
    ingest_broker: BrokerProcess,
    clickhouse: ClickHouseServer,
    keeper: ZooKeeperProcess,
    workdir: Path,
) -> Iterator[Scenario]:
    scenario = Scenario(
        ingest_broker.bootstrap,
        clickhouse.url,
        workdir,
        options=(f"--keeper={keeper.connect}",),
    )
    yield scenario
    scenario.close()


@pytest.fixture
def zk(keeper: ZooKeeperProcess) -> Iterator[KazooClient]:
    client = KazooClient(hosts=keeper.connect)
    client.start(30)
    yield client
    client.stop()
    client.close()


def znode(scenario: Scenario, partition: int) -> str:
    return (
        f"/odradek-ingest/{scenario.group}/default.{scenario.table}/topics/"
        f"{scenario.topic}/partitions/{partition}"
    )


def count(clickhouse: ClickHouseServer, table: str) -> int:
    return int(clickhouse.query(f"SELECT count() FROM {table}"))


def check_exactly_once(clickhouse: ClickHouseServer, table: str, records: int) -> None:
    """Every key k0..k<records-1> exactly once, each row's id matching its key."""
    total, distinct = clickhouse.rows(f"SELECT count(), uniqExact(_key) FROM {table}")[0]
    assert (int(total), int(distinct)) == (records, records)
    keys = {row[0] for row in clickhouse.rows(f"SELECT _key FROM {table}")}
    assert keys == {f"k{i}" for i in range(records)}
    mismatched = clickhouse.query(
        f"SELECT count() FROM {table} WHERE _key != concat('k', toString(id))"
    )
    assert mismatched.strip() == "0"


def test_records_become_rows_and_offsets_live_in_the_keeper(
    scenario: Scenario, clickhouse: ClickHouseServer, zk: KazooClient
) -> None:
    produce(scenario.bootstrap, scenario.topic, json_records("k", 60))
    columns = f"{TABLE_COLUMNS}, _topic String, _timestamp DateTime, `_headers.name` Array(String)"
    process = scenario.ingest("--create-table", columns)
    wait_for(lambda: scenario.stored_total() == 60, 90, "60 records")
    assert process.terminate() == 0, process.log()
    check_exactly_once(clickhouse, scenario.table, 60)
    engine = clickhouse.query(
        f"SELECT engine FROM system.tables WHERE name = '{scenario.table}'"
    ).strip()
    assert engine == "ReplicatedMergeTree"
    row = clickhouse.rows(
        f"SELECT _topic, _timestamp > toDateTime('2020-01-01 00:00:00'), `_headers.name` "
        f"FROM {scenario.table} LIMIT 1"
    )[0]
    assert row == [scenario.topic, "1", "[]"]
    committed = {}
    for partition in range(6):
        data, _ = zk.get(znode(scenario, partition))
        state = json.loads(data)
        assert state["block"] is None
        committed[partition] = state["committed"]
    per_partition = dict(
        clickhouse.rows(
            f"SELECT _partition, max(_offset) + 1 FROM {scenario.table} GROUP BY _partition"
        )
    )
    assert {str(p): str(c) for p, c in committed.items()} == per_partition


def test_a_block_begun_before_a_crash_is_replayed_and_its_repeat_dropped(
    clickhouse: ClickHouseServer, keeper: ZooKeeperProcess
) -> None:
    """The keeper protocol step by step against the real server, each crash point made by
    doing a block's steps by hand: after the insert (the replay is dropped), before the
    insert (the replay is the only insert), and a stale writer (refused, nothing inserted)."""
    table = f"t_steps_{random.randrange(1 << 30)}"
    settings = build_settings(
        {
            "bootstrap_server": "unused:9092",
            "topics": "t",
            "group": "g",
            "format": "JSONEachRow",
            "table": table,
            "target": clickhouse.url,
            "keeper": keeper.connect,
            "create_table": "id Int64, _partition UInt64, _offset UInt64",
        }
    )
    target = ClickHouseTarget(settings)
    try:
        destination = prepare(target, settings, JSONEachRow())
        session = target.session()
        tp = ("t", 0)

        def block(start: int, end: int) -> WriteJob:
            rows = [(i * 10, 0, i) for i in range(start, end)]
            expected = None if start == 0 else start
            return WriteJob({tp: PartitionBlock(expected, end, start, rows=rows)})

        session.write(destination, block(0, 3))
        assert session.stored_offsets(destination, [tp]) == {tp: 3}
        # crash after the insert, before the commit
        state = target.keeper.read(tp)
        target.keeper.begin(tp, state, (3, 6))
        session._insert(table, list(destination.columns), block(3, 6).partitions[tp].rows)
        assert count(clickhouse, table) == 6
        replay = target.session()  # the next owner
        assert replay.stored_offsets(destination, [tp]) == {tp: 3}
        assert replay.pending_blocks(destination, [tp]) == {tp: 6}
        replay.write(destination, block(3, 6))
        assert count(clickhouse, table) == 6  # the repeat was dropped
        assert replay.pending_blocks(destination, [tp]) == {}
        # crash after the begin, before the insert
        target.keeper.begin(tp, target.keeper.read(tp), (6, 9))
        replay.write(destination, block(6, 9))
        assert count(clickhouse, table) == 9
        # a writer that read the offsets before they moved: refused, nothing inserted
        with pytest.raises(OffsetConflict):
            session.write(destination, block(3, 5))
        with pytest.raises(OffsetConflict):  # a block other than the begun one
            target.keeper.begin(tp, target.keeper.read(tp), (9, 12))
            session.write(destination, block(9, 11))
        assert count(clickhouse, table) == 9
        ids = clickhouse.query(f"SELECT groupArray(id) FROM (SELECT id FROM {table} ORDER BY id)")
        assert ids.strip() == "[" + ",".join(str(i * 10) for i in range(9)) + "]"
    finally:
        target.close()


def test_a_block_begun_and_never_inserted_is_written_whole(
    scenario: Scenario, clickhouse: ClickHouseServer, zk: KazooClient
) -> None:
    produce(scenario.bootstrap, scenario.topic, json_records("k", 120))
    ends = scenario_ends(scenario)
    # Begun [0, 7) of partition 0 and never inserted: the first block written must be it.
    zk.create(
        znode(scenario, 0), json.dumps({"committed": None, "block": [0, 7]}).encode(), makepath=True
    )
    process = scenario.ingest("--create-table", TABLE_COLUMNS, "--max-block-size=3")
    wait_for(lambda: scenario.caught_up(ends), 90, "every record")
    assert process.terminate() == 0, process.log()
    # Only the begun block could be written first (any other is refused), so catching up
    # at all means it was written whole.
    check_exactly_once(clickhouse, scenario.table, 120)


def scenario_ends(scenario: Scenario) -> dict[tuple[str, int], int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": scenario.bootstrap, "group.id": "ends"})
    try:
        return {
            (scenario.topic, p): consumer.get_watermark_offsets(
                TopicPartition(scenario.topic, p), timeout=30
            )[1]
            for p in range(scenario.partitions)
        }
    finally:
        consumer.close()


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    scenario: Scenario, clickhouse: ClickHouseServer
) -> None:
    records = 12_000
    kill_loop(scenario, records, kills=5, rng=random.Random())
    check_exactly_once(clickhouse, scenario.table, records)


def test_tables_deduplication_cannot_protect_are_refused(
    scenario: Scenario, clickhouse: ClickHouseServer
) -> None:
    clickhouse.query(
        f"CREATE TABLE {scenario.table} (id Int64, _key String, _partition UInt64, "
        "_offset UInt64) ENGINE = MergeTree ORDER BY tuple()"
    )
    process = scenario.ingest()
    assert process.wait(60) == 1
    assert "needs a Replicated*MergeTree table" in process.log()
    other = f"{scenario.table}_nooffset"
    process = scenario.ingest(f"--table={other}", "--create-table", "id Int64, _key String")
    assert process.wait(60) == 1
    assert "needs the column(s) _partition, _offset" in process.log(), process.log()
