"""Metadata naming N topics: how long it takes, and how long it holds the broker's event loop.

One ``odradek serve`` process on a temporary data dir, with auto-creation on and the metrics
endpoint on a free port. A separate *pinger* process sends ApiVersions round trips on its own
connection all along (one every ~2 ms) and records each round trip: another client's view of
the broker while the probes run. The probes, from this process, on one connection:

1. ``first``: Metadata (``--version``, v1 by default, which always auto-creates) naming
   ``--topics`` unknown names: the time until the whole response has arrived (the client's
   decoding is not timed), and the error codes it holds (LEADER_NOT_AVAILABLE while the
   topics are being created);
2. ``until created``: the same request again every 100 ms, as a client retrying metadata,
   until every name answers without error or ``--create-timeout`` seconds have passed: how
   long the auto-creation took and how many topics exist then;
3. ``again``: the same request once more (the names now mostly known).

Reported: each probe's latency, the pinger's worst and 99th-percentile round trip during the
probes (its baseline before them), and the broker's own ``odradek_event_loop_max_lag_ms``
and the count of event-loop lags over 50 / 100 / 500 ms from ``/metrics``.

    python benchmarks/metadata_stall.py --topics 500
    python benchmarks/metadata_stall.py --topics 100000 --create-timeout 20 --json out.json

Round trips include the pinger's own scheduling, and every figure the broker's waits for a
CPU: on a machine shared with other load, ``--nice -10`` (as root) keeps those out of the
figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.support.broker_process import BrokerProcess, free_port  # noqa: E402
from tests.support.raw_client import (  # noqa: E402
    METADATA,
    RawClient,
    request_module,
    response_class,
)

from odradek.observability.histogram import BUCKETS_MS  # noqa: E402

PING_INTERVAL_S = 0.002
RETRY_INTERVAL_S = 0.1
LEADER_NOT_AVAILABLE = 5
LAG_THRESHOLDS_MS = (50.0, 100.0, 500.0)
assert all(t in BUCKETS_MS for t in LAG_THRESHOLDS_MS)


def ping(bootstrap: str, results: Connection, stop: Any) -> None:
    """The pinger process: ApiVersions round trips until ``stop`` is set, then sends back
    (start time, round trip) pairs, monotonic seconds."""
    samples: list[tuple[float, float]] = []
    with RawClient.to(bootstrap, timeout=120.0) as client:
        while not stop.is_set():
            started = time.monotonic()
            client.api_versions()
            samples.append((started, time.monotonic() - started))
            time.sleep(PING_INTERVAL_S)
    results.send(samples)


def metadata_request(version: int, names: list[str]) -> Any:
    module = request_module(METADATA, version)
    fields: dict[str, Any] = {}
    if version >= 4:
        fields["allow_auto_topic_creation"] = True
    if version >= 8:
        fields["include_topic_authorized_operations"] = False
    if 8 <= version <= 10:
        fields["include_cluster_authorized_operations"] = False
    if version >= 10:
        topics = tuple(module.MetadataRequestTopic(topic_id=None, name=n) for n in names)
    else:
        topics = tuple(module.MetadataRequestTopic(name=n) for n in names)
    return module.MetadataRequest(topics=topics, **fields)


def timed_metadata(client: RawClient, request: Any) -> tuple[float, Counter[int]]:
    """(seconds until the whole response arrived, error code counts of its topics)."""
    started = time.monotonic()
    client.send(request)
    payload = client.receive_frame()
    elapsed = time.monotonic() - started
    body_class = response_class(METADATA, request.__version__)
    offset = 5 if body_class.__flexible__ else 4  # correlation id (+ header tagged fields)
    from kio.serial import entity_reader

    body, _ = entity_reader(body_class)(payload, offset)
    return elapsed, Counter(int(t.error_code) for t in body.topics)


def scrape(port: int) -> dict[str, float]:
    """The event-loop lag figures of the broker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r'(odradek_event_loop_\w+?)(?:\{le="([^"]+)"\})? (\S+)$', line)
        if match:
            name, bound, value = match.groups()
            found[f"{name}{{le={bound}}}" if bound else name] = float(value)
    total = found["odradek_event_loop_lag_ms_count"]
    result = {"max_lag_ms": found["odradek_event_loop_max_lag_ms"], "wakeups": total}
    for threshold in LAG_THRESHOLDS_MS:
        bucket = found[f"odradek_event_loop_lag_ms_bucket{{le={threshold}}}"]
        result[f"lags_over_{threshold:g}ms"] = total - bucket
    return result


def window(samples: list[tuple[float, float]], start: float, end: float) -> dict[str, float]:
    """The pinger's round trips (ms) that started in [start, end]."""
    rtts = sorted(rtt * 1000 for at, rtt in samples if start <= at <= end)
    if not rtts:
        return {"count": 0, "max_ms": 0.0, "p99_ms": 0.0, "median_ms": 0.0}
    return {
        "count": len(rtts),
        "max_ms": rtts[-1],
        "p99_ms": rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))],
        "median_ms": statistics.median(rtts),
    }


def run(
    topics: int, version: int, create_timeout: float, work: Path, nice: int | None
) -> dict[str, Any]:
    if nice is not None:
        os.setpriority(os.PRIO_PROCESS, 0, nice)  # this process; the broker and pinger inherit
    metrics_port = free_port()
    broker = BrokerProcess(
        work / "data",
        overrides={
            "metrics.port": str(metrics_port),
            "auto.create.topics.enable": "true",
            "num.partitions": "1",
        },
    ).start()
    results: dict[str, Any] = {"topics": topics, "version": version}
    receiver, sender = multiprocessing.Pipe(duplex=False)
    stop = multiprocessing.Event()
    pinger = multiprocessing.Process(target=ping, args=(broker.bootstrap, sender, stop))
    try:
        names = [f"probe-{i:06d}" for i in range(topics)]
        request = metadata_request(version, names)
        pinger.start()
        time.sleep(1.0)
        with RawClient.to(broker.bootstrap, timeout=300.0) as client:
            base_end = time.monotonic()
            elapsed, codes = timed_metadata(client, request)
            first_end = time.monotonic()
            results["first"] = {"latency_ms": elapsed * 1000, "errors": dict(codes)}
            requests, deadline = 1, time.monotonic() + create_timeout
            while codes.get(0, 0) < topics and time.monotonic() < deadline:
                time.sleep(RETRY_INTERVAL_S)
                elapsed, codes = timed_metadata(client, request)
                requests += 1
            created_end = time.monotonic()
            results["until_created"] = {
                "seconds": created_end - first_end,
                "requests": requests,
                "created": codes.get(0, 0),
                "last_latency_ms": elapsed * 1000,
            }
            elapsed, codes = timed_metadata(client, request)
            results["again"] = {"latency_ms": elapsed * 1000, "errors": dict(codes)}
            probes_end = time.monotonic()
        stop.set()
        samples: list[tuple[float, float]] = receiver.recv()
        pinger.join(30)
        start = samples[0][0] if samples else base_end
        results["pinger"] = {
            "baseline": window(samples, start, base_end),
            "first": window(samples, base_end, first_end),
            "until_created": window(samples, first_end, created_end),
            "all_probes": window(samples, base_end, probes_end),
        }
        results["broker"] = scrape(metrics_port)
    finally:
        stop.set()
        if pinger.is_alive():
            pinger.join(10)
        broker.stop()
    return results


def report(results: dict[str, Any]) -> str:
    first, created, again = results["first"], results["until_created"], results["again"]
    pinger, broker = results["pinger"], results["broker"]
    lines = [
        f"Metadata v{results['version']} naming {results['topics']} unknown topics "
        "(auto-creation on)",
        f"  first request:   {first['latency_ms']:9.1f} ms   errors {first['errors']}",
        f"  until created:   {created['seconds']:9.2f} s    {created['requests']} requests, "
        f"{created['created']}/{results['topics']} topics exist",
        f"  again:           {again['latency_ms']:9.1f} ms   errors {again['errors']}",
        "  another client's ApiVersions round trips (ms):",
    ]
    names = ("baseline", "first", "until_created", "all_probes")
    lines += pinger_lines({name: pinger[name] for name in names})
    lines.append(lag_line(broker))
    return "\n".join(lines)


def pinger_lines(windows: dict[str, dict[str, float]]) -> list[str]:
    """The pinger's round trips, a line per window."""
    return [
        f"    {name:15} n={w['count']:6.0f}  median {w['median_ms']:7.2f}  "
        f"p99 {w['p99_ms']:7.2f}  max {w['max_ms']:8.2f}"
        for name, w in windows.items()
    ]


def lag_line(broker: dict[str, float]) -> str:
    """The broker's event-loop lag figures (from :func:`scrape`)."""
    over = ", ".join(f"{t:g} ms: {broker[f'lags_over_{t:g}ms']:.0f}" for t in LAG_THRESHOLDS_MS)
    return (
        f"  broker event loop: max lag in the last minute {broker['max_lag_ms']:.1f} ms; "
        f"lags over {over} (of {broker['wakeups']:.0f} wake-ups since start)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=500, help="unknown names per request")
    parser.add_argument("--version", type=int, default=1, help="Metadata request version")
    parser.add_argument(
        "--create-timeout",
        type=float,
        default=60.0,
        help="seconds to keep retrying until every topic exists",
    )
    parser.add_argument(
        "--nice",
        type=int,
        help="run the broker, the pinger and the probes at this niceness (e.g. -10, as root): "
        "on a machine shared with other load, so that the figures show the broker's own stalls "
        "more than its waits for a CPU",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="odradek-metadata-stall-") as work:
        results = run(args.topics, args.version, args.create_timeout, Path(work), args.nice)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
