"""``odradek ingest`` benchmark and #17's acceptance run, against a real broker (and a real
PostgreSQL server it starts), all processes killed by PID at the end.

For each target (duckdb, postgresql):

* ``throughput``: N JSONEachRow records of ~100 bytes over P partitions are produced first;
  then one ingest process (block 65,536) loads them; reported: rows/s from its start to the
  moment its stored offsets reach the end, and its CPU seconds per million rows;
* ``crash`` (``--kills K``): N records are produced while the ingest process is SIGKILLed K
  times, each at a random moment after it wrote a block; a last run catches up and is
  stopped with SIGTERM; the table must hold every key exactly once (count and per key).

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
from tests.integration.ingest.harness import (  # noqa: E402
    TABLE_COLUMNS,
    Scenario,
    check_exactly_once,
    kill_loop,
)
from tests.integration.ingest.support import SRC, PostgresServer, wait_for  # noqa: E402
from tests.support.broker_process import BrokerProcess  # noqa: E402

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


def run_target(name: str, target: str, broker: BrokerProcess, args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"ingest-bench-{name}-"))
    query: Callable[[Scenario, str], list[tuple[Any, ...]]]
    if name == "duckdb":
        target = f"duckdb:///{workdir}/bench.duckdb"

        def query(scenario: Scenario, sql: str) -> list[tuple[Any, ...]]:
            con = duckdb.connect(f"{workdir}/bench.duckdb", read_only=True)
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()
    else:
        import psycopg

        def query(scenario: Scenario, sql: str) -> list[tuple[Any, ...]]:
            with psycopg.connect(target) as connection:
                return connection.execute(sql.encode()).fetchall()

    scenario = Scenario(broker.bootstrap, target, workdir, partitions=args.partitions)
    try:
        rate, cpu = throughput(scenario, args.records)
    finally:
        scenario.close()
    print(f"{name:<11} throughput  {rate:>10,.0f} rows/s   {cpu:6.1f} CPU s per million rows")
    if not args.kills:
        return
    scenario = Scenario(broker.bootstrap, target, workdir, partitions=args.partitions)
    started = time.monotonic()
    try:
        # Catching up runs at the throughput above, with smaller blocks: give it its time.
        catch_up_s = 120 + 3 * args.records / rate
        kill_loop(scenario, args.records, args.kills, random.Random(args.seed), catch_up_s)
    finally:
        scenario.close()
    check_exactly_once(lambda sql: query(scenario, sql), scenario.table, args.records)
    print(
        f"{name:<11} crash       {args.records:,} records, {args.kills} SIGKILLs: "
        f"each exactly once ({time.monotonic() - started:.0f} s)"
    )


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--targets", default="duckdb,postgresql")
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
        for name in args.targets.split(","):
            target = ""
            if name == "postgresql":
                postgres = PostgresServer().start()
                target = postgres.url
            run_target(name, target, broker, args)
    finally:
        broker.kill()
        if postgres is not None:
            postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
