"""Fetch memory probe: the broker's RSS while clients fetch a large partition and never read
their responses, and another client's round trips meanwhile.

A fetch's records are sent from the segment file (``sendfile``), and a connection whose
response is unsent is not read further, so neither ``max_bytes`` nor a client that stops
reading should make the broker hold more memory.

1. Produce ``--size`` bytes into a one-partition topic (about 1 MB batches, acks=1,
   pipelined).
2. ``--clients`` raw connections each send one Fetch v12 from offset 0 with max_bytes =
   partition_max_bytes = 2^31-1, and never read.
3. For ``--seconds``, sample the broker's VmRSS (``/proc/<pid>/status``) every 20 ms while
   another connection times Fetch round trips (at the log end, max_wait 0) back to back.
4. The broker's event-loop lag over those seconds, from its ``/metrics``: how many of its
   50 ms wake-ups came more than 50 ms late (the ``odradek_event_loop_lag_ms`` histogram's
   change), and ``odradek_event_loop_max_lag_ms`` (the last minute, so the producing too).

    python benchmarks/fetch_memory.py [--size 1GiB] [--clients 10] [--seconds 5] [--json FILE]

The broker (``python -m odradek serve``, the odradek on ``sys.path``: set PYTHONPATH to
measure another tree) runs in a temp dir, removed at the end. Prints RSS (MB = 10^6 B) and
round-trip percentiles and the event loop's lags."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.broker_process import BrokerProcess, free_port  # noqa: E402
from tests.support.raw_client import (  # noqa: E402
    FETCH,
    RawClient,
    frame,
    request_bytes,
    request_module,
)
from tests.unit.observability.scrape import Samples, scrape  # noqa: E402

from odradek.protocol.records.codec import encode_batch  # noqa: E402

PARTITION_MAX = 2**31 - 1
BATCH_RECORDS = 16
RECORD_BYTES = 60_000  # 16 x 60 kB: a batch just under message.max.bytes (1 MiB)
IN_FLIGHT = 8
LAG_BOUND_MS = 50.0  # one of the lag histogram's bucket bounds


@dataclass(frozen=True)
class Probe:
    produced_bytes: int
    clients: int
    rss_before_mb: float  # after producing, before the fetches
    rss_peak_mb: float  # highest VmRSS sampled while the fetches were unread
    rss_end_mb: float
    round_trips: int
    rtt_p50_ms: float
    rtt_p99_ms: float
    rtt_max_ms: float
    loop: LoopLags | None  # when the broker's metrics endpoint was given


@dataclass(frozen=True)
class LoopLags:
    """The broker's event loop during the probe."""

    wakeups: int  # of its lag monitor (one each 50 ms)
    over_50ms: int  # of those wake-ups, how many came more than 50 ms late
    max_lag_ms: float  # its max lag over the last minute (so the producing too)


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None, "no VmRSS in /proc/<pid>/status"
    return int(match.group(1)) * 1024


def produce(bootstrap: str, topic: str, size: int) -> int:
    """About ``size`` bytes into partition 0 of a new topic, IN_FLIGHT requests at a time;
    the bytes produced."""
    batch = encode_batch(
        [(None, os.urandom(RECORD_BYTES)) for _ in range(BATCH_RECORDS)],
        timestamp=int(time.time() * 1000),
    )
    count = max(1, size // len(batch))
    with RawClient.to(bootstrap, timeout=60) as raw:
        raw.create_topic(topic)
        request = raw.produce_request(topic, 0, batch)
        waiting: list[int] = []
        for _ in range(count):
            waiting.append(raw.send(request))
            if len(waiting) >= IN_FLIGHT:
                _check_produced(raw, waiting.pop(0))
        for correlation_id in waiting:
            _check_produced(raw, correlation_id)
    return count * len(batch)


def _check_produced(raw: RawClient, correlation_id: int) -> None:
    got, body = raw.receive(0, 9)
    assert got == correlation_id
    error = body.responses[0].partition_responses[0].error_code
    assert error == 0, f"produce failed: error {error}"


def whole_partition_fetch(topic: str, correlation_id: int = 1) -> bytes:
    """The frame of a Fetch v12 of partition 0 from offset 0 with max_bytes =
    partition_max_bytes = 2^31-1: as much as one read returns (its first segment)."""
    mod = request_module(FETCH, 12)
    partition = mod.FetchPartition(
        partition=0, fetch_offset=0, partition_max_bytes=PARTITION_MAX, log_start_offset=-1
    )
    request = mod.FetchRequest(
        replica_id=-1,
        max_wait=timedelta(0),
        min_bytes=1,
        max_bytes=PARTITION_MAX,
        isolation_level=0,
        session_id=0,
        session_epoch=-1,
        topics=(mod.FetchTopic(topic=topic, partitions=(partition,)),),
        forgotten_topics_data=(),
        rack_id="",
    )
    return frame(request_bytes(request, correlation_id))


def unread_fetches(bootstrap: str, topic: str, clients: int) -> list[socket.socket]:
    """``clients`` connections, each with one Fetch of the whole partition sent and never
    read (a small receive buffer, so the broker's sends stall early)."""
    host, port = bootstrap.rsplit(":", 1)
    payload = whole_partition_fetch(topic)
    sockets = []
    for _ in range(clients):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.connect((host, int(port)))
        sock.sendall(payload)
        sockets.append(sock)
    return sockets


def round_trips(bootstrap: str, topic: str, stop: threading.Event) -> list[float]:
    """Fetch round trips (at the log end: an empty answer) until ``stop``, in seconds."""
    times = []
    with RawClient.to(bootstrap) as raw:
        end = raw.latest_offset(topic)
        request = raw.fetch_request(topic, 0, end, max_wait_ms=0)
        while not stop.is_set():
            began = time.perf_counter()
            body = raw.call(request)
            times.append(time.perf_counter() - began)
            assert body.responses[0].partitions[0].error_code == 0
    return times


def loop_lags(before: Samples | None, after: Samples) -> LoopLags:
    """The event-loop lag histogram's change between two scrapes."""

    def counts(samples: Samples | None) -> tuple[float, float]:
        if samples is None:
            return 0.0, 0.0
        total = samples.get("odradek_event_loop_lag_ms_count")
        return total, total - samples.get("odradek_event_loop_lag_ms_bucket", le=str(LAG_BOUND_MS))

    (total_before, late_before), (total, late) = counts(before), counts(after)
    return LoopLags(
        wakeups=int(total - total_before),
        over_50ms=int(late - late_before),
        max_lag_ms=after.get("odradek_event_loop_max_lag_ms"),
    )


def probe(
    pid: int,
    bootstrap: str,
    topic: str,
    produced: int,
    clients: int,
    seconds: float,
    metrics_port: int | None = None,
) -> Probe:
    """Steps 2 to 4 against a broker that has ``topic`` produced (4 with ``metrics_port``)."""
    before = rss_bytes(pid)
    lags_before = None if metrics_port is None else scrape(metrics_port)
    stop = threading.Event()
    times: list[float] = []
    failed: list[BaseException] = []

    def time_round_trips() -> None:
        try:
            times.extend(round_trips(bootstrap, topic, stop))
        except BaseException as exc:
            failed.append(exc)

    timer = threading.Thread(target=time_round_trips)
    sockets = unread_fetches(bootstrap, topic, clients)
    timer.start()
    peak = before
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            peak = max(peak, rss_bytes(pid))
            time.sleep(0.02)
        end = rss_bytes(pid)
    finally:
        stop.set()
        timer.join()
        for sock in sockets:
            sock.close()
    if failed:
        raise failed[0]
    loop = None if metrics_port is None else loop_lags(lags_before, scrape(metrics_port))
    ms = sorted(t * 1000 for t in times)
    return Probe(
        produced_bytes=produced,
        clients=clients,
        rss_before_mb=before / 1e6,
        rss_peak_mb=peak / 1e6,
        rss_end_mb=end / 1e6,
        round_trips=len(ms),
        rtt_p50_ms=statistics.median(ms),
        rtt_p99_ms=ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        rtt_max_ms=ms[-1],
        loop=loop,
    )


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(B|kB|KiB|MB|MiB|GB|GiB)?", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 200MB, 1GiB)")
    units = {"B": 1, "kB": 10**3, "KiB": 2**10, "MB": 10**6, "MiB": 2**20, "GB": 10**9}
    units["GiB"] = 2**30
    return int(float(match.group(1)) * units[match.group(2) or "B"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=parse_size, default=parse_size("1GiB"), help="e.g. 200MB")
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to FILE")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="odradek-fetch-memory-"))
    metrics_port = free_port()
    broker = BrokerProcess(work / "data", overrides={"metrics.port": str(metrics_port)}).start()
    try:
        began = time.monotonic()
        produced = produce(broker.bootstrap, "fetch-memory", args.size)
        print(f"produced {produced / 1e6:.0f} MB in {time.monotonic() - began:.1f} s", flush=True)
        result = probe(
            broker.pid,
            broker.bootstrap,
            "fetch-memory",
            produced,
            args.clients,
            args.seconds,
            metrics_port,
        )
    finally:
        broker.kill()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{result.clients} unread fetches of {produced / 1e6:.0f} MB: broker RSS "
        f"{result.rss_before_mb:.0f} MB before, peak {result.rss_peak_mb:.0f} MB, "
        f"{result.rss_end_mb:.0f} MB at the end; {result.round_trips} round trips meanwhile: "
        f"p50 {result.rtt_p50_ms:.1f} ms, p99 {result.rtt_p99_ms:.1f} ms, "
        f"max {result.rtt_max_ms:.1f} ms"
    )
    if result.loop is not None:
        print(
            f"broker event loop: {result.loop.over_50ms} of {result.loop.wakeups} wake-ups more "
            f"than {LAG_BOUND_MS:g} ms late; max lag in the last minute "
            f"{result.loop.max_lag_ms:.1f} ms"
        )
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
