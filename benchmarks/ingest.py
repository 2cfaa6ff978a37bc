"""``odradek ingest`` benchmark and #17's acceptance run, against a real broker (and a real
PostgreSQL server it starts), all processes killed by PID at the end.

For each target (duckdb, postgresql, clickhouse -- with a ZooKeeper and a ClickHouse server
it starts; ``kafka-engine`` is ClickHouse's own Kafka engine on the same load, for comparison):

* ``throughput``: N JSONEachRow records of ~100 bytes over P partitions are produced first;
  then one ingest process (block 65,536) loads them; reported: rows/s from its start to the
  moment its stored offsets reach the end, and its CPU seconds per million rows;
* ``crash`` (``--kills K``): N records are produced while the ingest process is SIGKILLed K
  times, each at a random moment after it wrote a block; a last run catches up and is
  stopped with SIGTERM; reported: rows, duplicates and missing keys; DuckDB and PostgreSQL
  must hold every key exactly once (count and per key).

``--compare-src DIR`` (another checkout's ``src``, e.g. ``git archive HEAD~1 src | tar -x
-C /tmp/before``) measures throughput only, alternating rounds of that tree and this one on the
same topic (a loaded machine drifts: interleaving keeps the comparison fair), and prints each
round and the medians.

Usage (from the repository root)::

    python benchmarks/ingest.py                                   # 1,000,000 records, 20 kills
    python benchmarks/ingest.py --records 100000 --kills 5 --targets duckdb
    python benchmarks/ingest.py --records 100000 --targets duckdb --compare-src /tmp/before/src
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import duckdb  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from tests.integration.ingest.clickhouse_server import ClickHouseServer  # noqa: E402
from tests.integration.ingest.harness import (  # noqa: E402
    TABLE_COLUMNS,
    Scenario,
    check_exactly_once,
    kill_loop,
)
from tests.integration.ingest.support import SRC, PostgresServer, wait_for  # noqa: E402
from tests.support.broker_process import BrokerProcess  # noqa: E402
from tests.support.zookeeper import ZooKeeperProcess  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user + system CPU of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def produce_all(bootstrap: str, topic: str, count: int) -> dict[tuple[str, int], int]:
    """``count`` ~100-byte JSON records, keys k0.., as fast as the client goes; end offsets."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1_000_000})
    ends: dict[tuple[str, int], int] = {}

    def delivered(error: Any, message: Any) -> None:
        if error is None:
            tp = (message.topic(), message.partition())
            ends[tp] = max(ends.get(tp, 0), message.offset() + 1)

    pad = "x" * 40
    for i in range(count):
        value = f'{{"id": {i}, "name": "name-{i:08d}", "pad": "{pad}"}}'.encode()
        while True:
            try:
                producer.produce(topic, key=f"k{i}".encode(), value=value, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(300)
    return ends


def throughput(
    scenario: Scenario, count: int, ends: dict[tuple[str, int], int] | None = None
) -> tuple[float, float]:
    """rows/s and ingest CPU seconds per million rows (the records produced first, unless
    ``ends`` says they are there)."""
    ends = ends or produce_all(scenario.bootstrap, scenario.topic, count)
    started = time.monotonic()
    process = scenario.ingest(
        "--create-table", TABLE_COLUMNS, "--max-block-size=65536", "--flush-interval-ms=1000"
    )
    wait_for(lambda: scenario.caught_up(ends), 3600, "ingest to load every record")
    elapsed = time.monotonic() - started
    assert process.proc is not None
    cpu = cpu_seconds(process.proc.pid)
    assert process.terminate() == 0, process.log()
    return count / elapsed, cpu / count * 1_000_000


Query = Callable[[str], list[tuple[Any, ...]]]


def open_query(name: str, target: str) -> Query:
    """Run SQL against a target's table (DuckDB: only while no ingest has the file open)."""
    if name == "duckdb":

        def duckdb_query(sql: str) -> list[tuple[Any, ...]]:
            con = duckdb.connect(target.removeprefix("duckdb:///"), read_only=True)
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()

        return duckdb_query
    if name == "postgresql":
        import psycopg

        def postgresql_query(sql: str) -> list[tuple[Any, ...]]:
            with psycopg.connect(target) as connection:
                return connection.execute(sql.encode()).fetchall()

        return postgresql_query
    raise ValueError(name)


def run_target(
    name: str,
    target: str,
    query: Query,
    broker: BrokerProcess,
    args: argparse.Namespace,
    options: tuple[str, ...] = (),
) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"ingest-bench-{name}-"))
    scenario = Scenario(
        broker.bootstrap, target, workdir, partitions=args.partitions, options=options
    )
    try:
        rate, cpu = throughput(scenario, args.records)
    finally:
        scenario.close()
    print(f"{name:<11} throughput  {rate:>10,.0f} rows/s   {cpu:6.1f} CPU s per million rows")
    if not args.kills:
        return
    scenario = Scenario(
        broker.bootstrap, target, workdir, partitions=args.partitions, options=options
    )
    started = time.monotonic()
    try:
        # Catching up runs at the throughput above, with smaller blocks: give it its time.
        catch_up_s = 120 + 3 * args.records / rate
        kill_loop(scenario, args.records, args.kills, random.Random(args.seed), catch_up_s)
    finally:
        scenario.close()
    ((total, distinct),) = query(f"SELECT count(*), count(DISTINCT _key) FROM {scenario.table}")
    duplicates, missing = int(total) - int(distinct), args.records - int(distinct)
    print(
        f"{name:<11} crash       {args.records:,} records, {args.kills} SIGKILLs: "
        f"{int(total):,} rows, {duplicates:,} duplicates, {missing:,} missing "
        f"({time.monotonic() - started:.0f} s)"
    )
    if name != "clickhouse":  # the same, and each row's columns against its key
        check_exactly_once(query, scenario.table, args.records)


def run_clickhouse(
    broker: BrokerProcess, args: argparse.Namespace, base: Path, targets: list[str]
) -> None:
    """The ClickHouse target and/or ClickHouse's Kafka engine (``targets``): a ZooKeeper and a
    ClickHouse server of their own."""
    zookeeper = ZooKeeperProcess(base / "zookeeper").start(timeout=90)
    server = ClickHouseServer(zookeeper.connect)
    try:
        server.start()

        def query(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in server.rows(sql)]

        options = (f"--keeper={zookeeper.connect}",)
        if "clickhouse" in targets:
            run_target("clickhouse", server.url, query, broker, args, options)
        if "kafka-engine" in targets:
            kafka_engine(broker, server, args)
    finally:
        server.stop()
        zookeeper.stop()


def compare(
    broker: BrokerProcess, target_of: Callable[[Path], str], args: argparse.Namespace
) -> None:
    """Throughput of ``--compare-src`` and of this tree, in alternating rounds on one topic."""
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-compare-"))
    first = Scenario(broker.bootstrap, target_of(workdir), workdir, partitions=args.partitions)
    ends = produce_all(broker.bootstrap, first.topic, args.records)
    trees = {"before": Path(args.compare_src), "after": SRC}
    rates: dict[str, list[float]] = {name: [] for name in trees}
    cpus: dict[str, list[float]] = {name: [] for name in trees}
    for round_ in range(args.rounds):
        for name, src in trees.items():
            run_dir = Path(tempfile.mkdtemp(dir=workdir))
            scenario = Scenario(
                broker.bootstrap, target_of(run_dir), run_dir, topic=first.topic, src=src
            )
            try:
                rate, cpu = throughput(scenario, args.records, ends)
            finally:
                scenario.close()
            rates[name].append(rate)
            cpus[name].append(cpu)
            print(f"round {round_ + 1} {name:<6} {rate:>10,.0f} rows/s   {cpu:6.1f} CPU s/M rows")
    for name in trees:
        print(
            f"median {name:<6} {statistics.median(rates[name]):>10,.0f} rows/s   "
            f"{statistics.median(cpus[name]):6.1f} CPU s/M rows"
        )


def kafka_engine(broker: BrokerProcess, server: ClickHouseServer, args: argparse.Namespace) -> None:
    """The same load through ClickHouse's own Kafka engine reading from odradek (the usual
    setup: a Kafka table, a MergeTree table and a materialized view pumping one into the
    other). ClickHouse 18.16's consumer starts at the log end (librdkafka's default
    ``auto.offset.reset``; the server has no setting for it), so the records are produced
    once it reads: a probe record is produced until it arrives, then the clock starts and the
    records are produced. Reported: rows/s until the table holds every record, the server's
    CPU per million rows, the producer's own time, and rows beyond the records (duplicates)."""
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-kafka-engine-"))
    scenario = Scenario(broker.bootstrap, server.url, workdir, partitions=args.partitions)
    table, queue = scenario.table, f"{scenario.table}_queue"
    columns = "id Int64, name String, pad String"
    server.query(f"CREATE TABLE {table} ({columns}) ENGINE = MergeTree ORDER BY tuple()")
    server.query(
        f"CREATE TABLE {queue} ({columns}) ENGINE = Kafka('{broker.bootstrap}', "
        f"'{scenario.topic}', '{scenario.group}', 'JSONEachRow')"
    )
    server.query(f"CREATE MATERIALIZED VIEW {table}_mv TO {table} AS SELECT * FROM {queue}")

    def count() -> int:
        return int(server.query(f"SELECT count() FROM {table}"))

    probe = Producer({"bootstrap.servers": broker.bootstrap})

    def probe_arrived() -> bool:
        probe.produce(scenario.topic, value=b'{"id": -1, "name": "probe", "pad": ""}')
        probe.flush(30)
        return wait_until_true(lambda: count() > 0, 5.0)

    wait_for(probe_arrived, 600, "the Kafka engine reading the topic")
    probes = count()
    assert server.proc is not None
    cpu_before, started = cpu_seconds(server.proc.pid), time.monotonic()
    produce_all(broker.bootstrap, scenario.topic, args.records)
    produced = time.monotonic() - started
    try:
        wait_for(lambda: count() >= probes + args.records, 3600, "every record in the table")
    finally:
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(server.proc.pid) - cpu_before
        server.query(f"DROP TABLE {table}_mv")
    beyond = count() - probes - args.records
    print(
        f"{'ch-kafka':<11} throughput  {args.records / elapsed:>10,.0f} rows/s   "
        f"{cpu / args.records * 1_000_000:6.1f} CPU s per million rows (the ClickHouse server); "
        f"produced in {produced:.1f} s; {beyond:,} rows beyond the records"
    )


def wait_until_true(predicate: Callable[[], bool], timeout: float) -> bool:
    """Whether ``predicate`` holds within ``timeout`` seconds (polled every 0.2 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--targets", default="duckdb,postgresql,clickhouse,kafka-engine")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--compare-src", metavar="DIR", help="another tree's src: A/B rounds")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each with --compare-src")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    broker = BrokerProcess(base / "broker", overrides={"group.initial.rebalance.delay.ms": "0"})
    postgres: PostgresServer | None = None
    try:
        broker.start(timeout=90)
        if args.compare_src:
            compare(broker, lambda d: f"duckdb:///{d}/bench.duckdb", args)
            return 0
        targets = args.targets.split(",")
        for name in targets:
            if name in ("clickhouse", "kafka-engine"):
                continue
            target = f"duckdb:///{base}/{name}.duckdb"
            if name == "postgresql":
                postgres = PostgresServer().start()
                target = postgres.url
            run_target(name, target, open_query(name, target), broker, args)
        if {"clickhouse", "kafka-engine"} & set(targets):
            run_clickhouse(broker, args, base, targets)
    finally:
        broker.kill()
        if postgres is not None:
            postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
