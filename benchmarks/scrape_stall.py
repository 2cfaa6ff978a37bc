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
over 50 / 100 / 500 ms.

    python benchmarks/scrape_stall.py                  # 20,000 partitions
    python benchmarks/scrape_stall.py --topics 1000 --partitions 100 --json out.json

Every figure includes the broker's waits for a CPU on a machine shared with other load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
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
        time.sleep(60.0 if args.lag_window else 0.0)  # creation out of the lag's last minute
        pinger.start()
        time.sleep(BASELINE_S)
        base_end = time.monotonic()
        latencies, sizes = [], []
        for _ in range(args.scrapes):
            elapsed, size = timed_scrape(metrics_port)
            latencies.append(elapsed)
            sizes.append(size)
        scrapes_end = time.monotonic()
        stop.set()
        samples: list[tuple[float, float]] = receiver.recv()
        pinger.join(30)
        results["scrape"] = {
            "count": len(latencies),
            "median_ms": round(statistics.median(latencies) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1),
            "gzipped_bytes": sizes[-1],
        }
        start = samples[0][0] if samples else base_end
        results["pinger"] = {
            "baseline": window(samples, start, base_end),
            "during_scrapes": window(samples, base_end, scrapes_end),
        }
        results["broker"] = scrape(metrics_port)
    finally:
        stop.set()
        if pinger.is_alive():
            pinger.join(10)
        broker.stop(timeout=120.0)
    return results


def report(results: dict[str, Any]) -> str:
    s, broker = results["scrape"], results["broker"]
    lines = [
        f"/metrics of a broker with {results['topics']} x {results['partitions_per_topic']} "
        f"partitions (created in {results['create_s']} s)",
        f"  {s['count']} scrapes: median {s['median_ms']} ms, max {s['max_ms']} ms, "
        f"{s['gzipped_bytes']} bytes gzipped",
        "  another client's ApiVersions round trips (ms):",
    ]
    lines += pinger_lines(results["pinger"])
    lines.append(lag_line(broker))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--scrapes", type=int, default=5)
    parser.add_argument(
        "--lag-window",
        action="store_true",
        help="wait a minute after creating, so that the broker's max lag is the scrapes' own",
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
