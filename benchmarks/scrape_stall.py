"""A Prometheus scrape of a broker with many partitions: how long it takes, and how long it
holds the broker's event loop.

One ``odradek serve`` process on a temporary data dir with the metrics endpoint on a free
port; ``--topics`` topics of ``--partitions`` partitions each are created first (one
CreateTopics per topic), so that ``/metrics`` carries per-partition series. A separate
*pinger* process (the one of ``metadata_stall.py``) sends ApiVersions round trips on its own
connection all along. Then ``--scrapes`` scrapes of ``/metrics``, one after another, each
timed until its whole body has arrived (gzip asked for, as Prometheus does).

Reported: the scrapes' latency and size, the pinger's round trips before (baseline) and
during the scrapes, and the broker's ``odradek_event_loop_max_lag_ms`` and count of lags
over 50 / 100 / 500 ms. With ``--rounds N`` the baseline and the scrapes are repeated N
times on the same broker (creating the partitions is the long part); with ``--lag-window``
each round waits a minute first, so that the broker's longest lag is that round's own.

    python benchmarks/scrape_stall.py                  # 20,000 partitions
    python benchmarks/scrape_stall.py --topics 1000 --partitions 100 --json out.json
    python benchmarks/scrape_stall.py --topics 2000 --partitions 10 --lag-window --rounds 3

The broker runs this checkout's ``src`` (it is put first on its PYTHONPATH), so an export of
another commit measures that commit.

Every figure includes the broker's waits for a CPU on a machine shared with other load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO), str(REPO / "benchmarks")]

from metadata_stall import lag_line, ping, pinger_lines, scrape, window  # noqa: E402
from tests.support.broker_process import BrokerProcess, free_port  # noqa: E402
from tests.support.raw_client import RawClient  # noqa: E402

BASELINE_S = 3.0
LAG_WINDOW_S = 61.0  # the broker's max lag covers the last 60 s


def timed_scrape(port: int) -> tuple[float, int]:
    """(seconds until the whole /metrics body arrived, its size in bytes as sent)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Accept-Encoding": "gzip"}
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=300) as response:
        size = len(response.read())
    return time.monotonic() - started, size


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    if args.nice is not None:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # this process; the broker and pinger inherit
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    metrics_port = free_port()
    broker = BrokerProcess(work / "data", overrides={"metrics.port": str(metrics_port)})
    broker.start(timeout=60.0)
    results: dict[str, Any] = {"topics": args.topics, "partitions_per_topic": args.partitions}
    receiver, sender = multiprocessing.Pipe(duplex=False)
    stop = multiprocessing.Event()
    pinger = multiprocessing.Process(target=ping, args=(broker.bootstrap, sender, stop))
    try:
        began = time.monotonic()
        with RawClient.to(broker.bootstrap, timeout=300.0) as client:
            for n in range(args.topics):
                client.create_topic(f"t{n:05d}", args.partitions)
        results["create_s"] = round(time.monotonic() - began, 1)
        print(f"created {args.topics} x {args.partitions} in {results['create_s']} s", flush=True)
        timed_scrape(metrics_port)  # warm: the first scrape registers every series
        pinger.start()
        rounds: list[dict[str, Any]] = []
        windows: list[tuple[float, float, float]] = []
        for _ in range(args.rounds):
            time.sleep(LAG_WINDOW_S if args.lag_window else 0.0)  # the last round's lags out
            base_start = time.monotonic()
            time.sleep(BASELINE_S)
            base_end = time.monotonic()
            latencies, sizes = [], []
            for _ in range(args.scrapes):
                elapsed, size = timed_scrape(metrics_port)
                latencies.append(elapsed)
                sizes.append(size)
            windows.append((base_start, base_end, time.monotonic()))
            rounds.append(
                {
                    "scrape": {
                        "count": len(latencies),
                        "median_ms": round(statistics.median(latencies) * 1000, 1),
                        "max_ms": round(max(latencies) * 1000, 1),
                        "gzipped_bytes": sizes[-1],
                    },
                    "broker": scrape(metrics_port),
                }
            )
            print(report_round(rounds[-1]), flush=True)
        stop.set()
        samples: list[tuple[float, float]] = receiver.recv()
        pinger.join(30)
        for one, (base_start, base_end, scrapes_end) in zip(rounds, windows, strict=True):
            one["pinger"] = {
                "baseline": window(samples, base_start, base_end),
                "during_scrapes": window(samples, base_end, scrapes_end),
            }
        results["rounds"] = rounds
    finally:
        stop.set()
        if pinger.is_alive():
            pinger.join(10)
        broker.stop(timeout=120.0)
    return results


def report_round(one: dict[str, Any]) -> str:
    s = one["scrape"]
    lines = [
        f"  {s['count']} scrapes: median {s['median_ms']} ms, max {s['max_ms']} ms, "
        f"{s['gzipped_bytes']} bytes gzipped"
    ]
    if "pinger" in one:
        lines.append("  another client's ApiVersions round trips (ms):")
        lines += pinger_lines(one["pinger"])
    lines.append(lag_line(one["broker"]))
    return "\n".join(lines)


def report(results: dict[str, Any]) -> str:
    rounds = results["rounds"]
    lines = [
        f"/metrics of a broker with {results['topics']} x {results['partitions_per_topic']} "
        f"partitions (created in {results['create_s']} s), {len(rounds)} round(s)"
    ]
    for n, one in enumerate(rounds, 1):
        lines += [f" round {n}", report_round(one)]
    worst = [one["pinger"]["during_scrapes"]["max_ms"] for one in rounds]
    lags = [one["broker"]["max_lag_ms"] for one in rounds]
    lines.append(
        f" over the rounds: pinger's worst round trip during scrapes median "
        f"{statistics.median(worst):.0f} ms, worst {max(worst):.0f} ms; broker's max lag "
        f"median {statistics.median(lags):.0f} ms, worst {max(lags):.0f} ms"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--scrapes", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1, help="baseline and scrapes, N times")
    parser.add_argument(
        "--lag-window",
        action="store_true",
        help="wait a minute before each round, so that the broker's max lag is the round's own",
    )
    parser.add_argument(
        "--nice",
        type=int,
        help="run the broker, the pinger and the scrapes at this niceness (e.g. -10, as root): "
        "on a machine shared with other load, so that the figures show the broker's own stalls "
        "more than its waits for a CPU",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="odradek-scrape-stall-") as work:
        results = run(args, Path(work))
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
