"""Transactions benchmark: transactional vs plain idempotent produce throughput, odradek vs
Tansu, in one run.

For each broker (one at a time, started and killed by ``foundation.py``'s code):

* ``idempotent``: one confluent-kafka producer with enable.idempotence=true (acks=all)
  sends N records and flushes;
* ``transactional``: one producer with a transactional.id sends the same N records in
  transactions of ``--txn-size`` records (begin, produce, commit_transaction), reporting
  records/s and the commit latency percentiles;
* a read_committed consumer then checks that exactly the N committed records are visible (a
  broker that accepts the calls but loses or exposes records is reported as failing).

The figure of merit is transactional/idempotent throughput on the same broker; the brokers
are compared on it and on the absolute rates. Usage::

    python benchmarks/transactions.py                       # odradek and tansu
    python benchmarks/transactions.py --brokers odradek --records 5000 --json out.json
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from foundation import (
    BenchError,
    ClientLog,
    ProcessBroker,
    Settings,
    drop_producer,
    kill_all_live,
    make_process_broker,
    percentiles,
    tansu_version,
)

BROKERS = ("odradek", "tansu")
LINGER_MS = 5
CALL_TIMEOUT = 30.0


@dataclass
class Outcome:
    broker: str
    idempotent_rec_s: float | None = None
    transactional_rec_s: float | None = None
    commit_ms: dict[str, float] = field(default_factory=dict)
    visible_committed: int | None = None
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.idempotent_rec_s and self.transactional_rec_s:
            return self.transactional_rec_s / self.idempotent_rec_s
        return None


@dataclass(frozen=True)
class Options:
    brokers: tuple[str, ...]
    records: int
    idempotent_records: int
    txn_size: int
    value_bytes: int
    partitions: int
    json_path: Path | None
    work_dir: Path


def producer_conf(bootstrap: str, log: ClientLog, **extra: Any) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "linger.ms": LINGER_MS,
        "acks": "all",
        "enable.idempotence": True,
        **log.config(),
        **extra,
    }


def produce_all(producer: Producer, topic: str, value: bytes, count: int, partitions: int) -> None:
    for i in range(count):
        while True:
            try:
                producer.produce(topic, value, partition=i % partitions)
                break
            except BufferError:
                producer.poll(0.005)
        if i % 1000 == 0:
            producer.poll(0)


def run_idempotent(bootstrap: str, topic: str, opts: Options) -> float:
    log = ClientLog("idempotent")
    failures: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    producer = Producer(producer_conf(bootstrap, log, on_delivery=on_delivery))
    try:
        producer.list_topics(topic, timeout=10)
        value = os.urandom(opts.value_bytes)
        # warm up as init_transactions does for the other run: InitProducerId, connections
        produce_all(producer, topic, value, opts.partitions, opts.partitions)
        if producer.flush(CALL_TIMEOUT):
            raise BenchError(f"idempotent warm-up not delivered\n{log.tail()}")
        start = time.perf_counter()
        produce_all(producer, topic, value, opts.idempotent_records, opts.partitions)
        left = producer.flush(CALL_TIMEOUT * 4)
        elapsed = time.perf_counter() - start
    finally:
        drop_producer(producer)
    if left or failures:
        raise BenchError(
            f"idempotent produce: {left} undelivered, {len(failures)} failed "
            f"({failures[:1]})\n{log.tail()}"
        )
    return opts.idempotent_records / elapsed


def run_transactional(bootstrap: str, topic: str, opts: Options) -> tuple[float, list[float]]:
    log = ClientLog("transactional")
    producer = Producer(
        producer_conf(
            bootstrap,
            log,
            **{
                "transactional.id": f"bench-{os.getpid()}-{time.monotonic_ns()}",
                "transaction.timeout.ms": 60_000,
            },
        )
    )
    commits: list[float] = []
    try:
        producer.init_transactions(CALL_TIMEOUT)
        value = os.urandom(opts.value_bytes)
        start = time.perf_counter()
        for first in range(0, opts.records, opts.txn_size):
            producer.begin_transaction()
            produce_all(
                producer, topic, value, min(opts.txn_size, opts.records - first), opts.partitions
            )
            before = time.perf_counter()
            producer.commit_transaction(CALL_TIMEOUT)
            commits.append((time.perf_counter() - before) * 1000)
        elapsed = time.perf_counter() - start
    except KafkaException as exc:
        raise BenchError(
            f"transactional produce failed after {len(commits)} transactions: {exc}\n{log.tail()}"
        ) from exc
    finally:
        drop_producer(producer)
    return opts.records / elapsed, commits


def count_committed(bootstrap: str, topic: str, partitions: int, timeout: float = 60) -> int:
    """Records a read_committed consumer gets from the start up to the partitions' EOF."""
    log = ClientLog("verify")
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-verify",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            **log.config(),
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    count, at_end = 0, set()
    deadline = time.monotonic() + timeout
    try:
        while len(at_end) < partitions:
            if time.monotonic() > deadline:
                raise BenchError(
                    f"read_committed verification: no EOF after {timeout:.0f}s "
                    f"({count} records read)\n{log.tail()}"
                )
            for message in consumer.consume(1000, 0.5):
                error = message.error()
                if error is None:
                    count += 1
                elif error.code() == -191:  # _PARTITION_EOF
                    at_end.add(message.partition())
                else:
                    raise BenchError(f"read_committed verification: {error}")
    finally:
        with contextlib.suppress(Exception):
            consumer.close()
    return count


def measure(name: str, opts: Options) -> Outcome:
    outcome = Outcome(name)
    settings = Settings((name,), 1.0, 60.0, None, opts.work_dir)
    broker: ProcessBroker = make_process_broker(name, settings)
    try:
        broker.start()
        plain, txn = "bench-idempotent", "bench-transactional"
        broker.create_topics([(plain, opts.partitions), (txn, opts.partitions)])
        step(
            outcome,
            broker,
            "idempotent",
            lambda: setattr(
                outcome, "idempotent_rec_s", run_idempotent(broker.bootstrap, plain, opts)
            ),
        )
        rate_and_commits: list[Any] = []
        step(
            outcome,
            broker,
            "transactional",
            lambda: rate_and_commits.extend(run_transactional(broker.bootstrap, txn, opts)),
        )
        if rate_and_commits:
            outcome.transactional_rec_s = rate_and_commits[0]
            outcome.commit_ms = percentiles(rate_and_commits[1], (50, 99))
            step(
                outcome,
                broker,
                "verify",
                lambda: setattr(
                    outcome,
                    "visible_committed",
                    count_committed(broker.bootstrap, txn, opts.partitions),
                ),
            )
            if outcome.visible_committed not in (None, opts.records):
                outcome.error = (outcome.error or "") + (
                    f"read_committed sees {outcome.visible_committed} records, "
                    f"expected {opts.records}"
                )
    except BenchError as exc:
        outcome.error = str(exc)
    finally:
        broker.stop()
    return outcome


def step(outcome: Outcome, broker: ProcessBroker, what: str, action: Callable[[], Any]) -> None:
    try:
        broker.check_alive()
        action()
    except (BenchError, KafkaException) as exc:
        message = f"{what}: {exc}\n{broker.diagnostics()}"
        outcome.error = message if outcome.error is None else outcome.error + "\n" + message


def fmt(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def report(outcomes: list[Outcome], opts: Options) -> None:
    print(
        f"\n{opts.idempotent_records} idempotent / {opts.records} transactional records of "
        f"{opts.value_bytes} B, {opts.partitions} partition(s), transactions of "
        f"{opts.txn_size} records, linger.ms={LINGER_MS}, acks=all"
    )
    head = (
        f"{'broker':<9}{'idempotent rec/s':>18}{'txn rec/s':>12}{'txn/idem':>10}"
        f"{'commit p50 ms':>15}{'commit p99 ms':>15}{'read_committed':>16}"
    )
    print(head)
    print("-" * len(head))
    for o in outcomes:
        ratio = None if o.ratio is None else o.ratio * 100
        print(
            f"{o.broker:<9}{fmt(o.idempotent_rec_s):>18}{fmt(o.transactional_rec_s):>12}"
            f"{fmt(ratio, '.0f') + '%' if ratio is not None else '-':>10}"
            f"{fmt(o.commit_ms.get('p50_ms'), '.1f'):>15}"
            f"{fmt(o.commit_ms.get('p99_ms'), '.1f'):>15}"
            f"{fmt(o.visible_committed, 'd'):>16}"
        )
    by_name = {o.broker: o for o in outcomes}
    odr, tansu = by_name.get("odradek"), by_name.get("tansu")
    if odr and tansu and odr.transactional_rec_s and tansu.transactional_rec_s:
        print(
            f"odradek/tansu transactional throughput: "
            f"{odr.transactional_rec_s / tansu.transactional_rec_s:.2f}x"
        )
    for o in outcomes:
        if o.error:
            print(f"\n{o.broker} FAILED:\n{o.error}")


def parse_args(argv: list[str] | None) -> Options:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--brokers",
        default=",".join(BROKERS),
        help="comma list from: odradek, tansu (default: both)",
    )
    ap.add_argument("--records", type=int, default=20_000, help="records sent in transactions")
    ap.add_argument(
        "--idempotent-records",
        type=int,
        default=200_000,
        help="records sent by the idempotent producer (it is much faster, so "
        "more make its measurement last)",
    )
    ap.add_argument("--txn-size", type=int, default=100, help="records per transaction")
    ap.add_argument("--value-bytes", type=int, default=100)
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None, help="also write results to FILE")
    args = ap.parse_args(argv)
    brokers = tuple(b.strip() for b in args.brokers.split(",") if b.strip())
    if not brokers or set(brokers) - set(BROKERS):
        ap.error(f"unknown broker(s) in {args.brokers!r}")
    if (
        min(args.records, args.idempotent_records, args.txn_size, args.value_bytes, args.partitions)
        <= 0
    ):
        ap.error("counts and sizes must be > 0")
    work = Path(tempfile.mkdtemp(prefix="odradek-txn-bench-"))
    return Options(
        brokers,
        args.records,
        args.idempotent_records,
        args.txn_size,
        args.value_bytes,
        args.partitions,
        args.json,
        work,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    atexit.register(kill_all_live)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    began = time.monotonic()
    outcomes = []
    try:
        for name in opts.brokers:
            print(f"measuring {name} ...", flush=True)
            outcomes.append(measure(name, opts))
    finally:
        kill_all_live()
        shutil.rmtree(opts.work_dir / "odradek-data", ignore_errors=True)
    report(outcomes, opts)
    if "tansu" in opts.brokers:
        print(f"tansu: {tansu_version()}")
    if opts.json_path:
        opts.json_path.write_text(
            json.dumps(
                {
                    "records": opts.records,
                    "idempotent_records": opts.idempotent_records,
                    "txn_size": opts.txn_size,
                    "value_bytes": opts.value_bytes,
                    "partitions": opts.partitions,
                    "results": [asdict(o) | {"ratio": o.ratio} for o in outcomes],
                },
                indent=2,
            )
            + "\n"
        )
    print(f"broker logs kept in {opts.work_dir}; total {time.monotonic() - began:.0f}s")
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
