"""Fetch sessions (KIP-227): the broker's CPU per fetch of many partitions, full vs incremental.

One broker process, one topic of ``--partitions`` partitions (one record each to start
with). A raw client sends Fetch v12 requests back to back (max_wait 0) for every partition
at its log end:

- full: sessionless (session id 0, epoch -1), every partition in every request and every
  partition in every response;
- incremental: one full fetch opens a session, then each request lists only the partitions
  whose fetch offset changed and each response only the partitions with news.

Two workloads: ``idle`` (nothing is produced: a caught-up consumer) and ``active`` (before
each fetch another connection appends one record to each of ``--changing`` partitions, so
those come back with data and are sent again with their new offsets; the produce's CPU is
in both figures alike). The broker's CPU time (utime + stime of ``/proc/<pid>/stat``) over
``--fetches`` fetches, divided by their number, and the client's median round trip.

    python benchmarks/fetch_sessions.py [--partitions 1000] [--fetches 300] [--changing 10]

The broker (``python -m odradek serve``, the odradek on ``sys.path``) runs in a temp dir,
removed at the end."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.broker_process import BrokerProcess  # noqa: E402
from tests.support.raw_client import FETCH, RawClient, request_module  # noqa: E402

from odradek.protocol.records.codec import encode_batch  # noqa: E402

TOPIC = "sessions-bench"
FETCH_VERSION = 12
PARTITION_MAX_BYTES = 1 << 20


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    mode: str
    workload: str
    fetches: int
    cpu_ms_per_fetch: float
    median_round_trip_ms: float
    partitions_per_response: float


class Fetcher:
    """A consumer at the log end of every partition, with or without a session."""

    def __init__(self, client: RawClient, offsets: list[int], incremental: bool) -> None:
        self.client = client
        self.offsets = offsets
        self.incremental = incremental
        self.session_id = 0
        self.epoch = 0 if incremental else -1
        self.changed: set[int] = set(range(len(offsets)))  # a full fetch sends all
        self.mod = request_module(FETCH, FETCH_VERSION)

    def request(self) -> Any:
        mod = self.mod
        partitions = sorted(self.changed) if self.incremental else range(len(self.offsets))
        return mod.FetchRequest(
            replica_id=-1,
            max_wait=timedelta(0),
            min_bytes=0,
            max_bytes=64 << 20,
            isolation_level=0,
            session_id=self.session_id,
            session_epoch=self.epoch,
            topics=(
                mod.FetchTopic(
                    topic=TOPIC,
                    partitions=tuple(
                        mod.FetchPartition(
                            partition=p,
                            fetch_offset=self.offsets[p],
                            partition_max_bytes=PARTITION_MAX_BYTES,
                        )
                        for p in partitions
                    ),
                ),
            )
            if partitions
            else (),
            forgotten_topics_data=(),
        )

    def fetch(self) -> int:
        """One fetch; the number of partitions its response listed."""
        response = self.client.call(self.request())
        assert response.error_code == 0, f"fetch error {response.error_code}"
        self.changed = set()
        listed = 0
        for topic in response.responses:
            for p in topic.partitions:
                listed += 1
                assert p.error_code == 0, f"partition {p.partition_index}: {p.error_code}"
                if p.high_watermark > self.offsets[p.partition_index]:
                    self.offsets[p.partition_index] = p.high_watermark
                    self.changed.add(p.partition_index)
        if self.incremental:
            assert response.session_id != 0, "no session: is the cache disabled?"
            self.session_id = response.session_id
            self.epoch = self.epoch + 1
        return listed


def run(
    broker: BrokerProcess, partitions: int, fetches: int, changing: int, mode: str, workload: str
) -> Result:
    with RawClient.to(broker.bootstrap, 60) as client, RawClient.to(broker.bootstrap) as writer:
        metadata = client.metadata([TOPIC])
        offsets = [0] * partitions
        (topic,) = metadata.topics
        assert len(topic.partitions) == partitions
        fetcher = Fetcher(client, offsets, mode == "incremental")
        fetcher.fetch()  # the starting offsets (and the session)
        fetcher.fetch()
        record = encode_batch([(None, b"x" * 100)])
        round_trips: list[float] = []
        listed = 0
        start_cpu = cpu_seconds(broker.pid)
        for index in range(fetches):
            if workload == "active":
                for k in range(changing):
                    partition = (index * changing + k) * 7919 % partitions
                    writer.call(writer.produce_request(TOPIC, partition, record))
            began = time.perf_counter()
            listed += fetcher.fetch()
            round_trips.append(time.perf_counter() - began)
        cpu = cpu_seconds(broker.pid) - start_cpu
        return Result(
            mode,
            workload,
            fetches,
            cpu / fetches * 1000,
            statistics.median(round_trips) * 1000,
            listed / fetches,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--fetches", type=int, default=300)
    parser.add_argument("--changing", type=int, default=10)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fetch-sessions-bench-"))
    broker = BrokerProcess(root / "data").start(60)
    try:
        with RawClient.to(broker.bootstrap, 120) as admin:
            admin.create_topic(TOPIC, args.partitions, {"retention.ms": "-1"})  # old timestamps
            record = encode_batch([(None, b"x" * 100)])
            for partition in range(args.partitions):
                admin.call(admin.produce_request(TOPIC, partition, record))
        results = [
            run(broker, args.partitions, args.fetches, args.changing, mode, workload)
            for workload in ("idle", "active")
            for mode in ("full", "incremental")
        ]
    finally:
        broker.stop(60)
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"{args.partitions} partitions, {args.fetches} fetches per case, "
        f"active: {args.changing} partitions get a record before each fetch"
    )
    print(
        f"{'workload':<8} {'fetch':<12} {'broker CPU/fetch':>17} {'median RTT':>11} {'listed':>7}"
    )
    for r in results:
        print(
            f"{r.workload:<8} {r.mode:<12} {r.cpu_ms_per_fetch:>14.2f} ms "
            f"{r.median_round_trip_ms:>8.2f} ms {r.partitions_per_response:>7.1f}"
        )
    for workload in ("idle", "active"):
        full, incremental = (r for r in results if r.workload == workload)
        share = incremental.cpu_ms_per_fetch / full.cpu_ms_per_fetch
        print(f"{workload}: incremental uses {share:.0%} of a full fetch's broker CPU")


if __name__ == "__main__":
    main()
