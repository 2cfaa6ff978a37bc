"""Many partitions on one broker: 10,000 topics x 10 partitions by default.

One ``odradek serve`` process on a fresh data dir (under ``--dir``, default the system's
temporary dir), with the metrics endpoint on a free port, under this process's open-file
limit (the broker raises its soft limit to the hard one). Measured, in order:

1. creation: ``--topics`` CreateTopics requests of one topic of ``--partitions`` partitions
   each, timed one by one: the mean and median of the first and the last 1,000 (or tenth),
   and the total; the broker's longest event-loop lag in the last minute of creating
   (``odradek_event_loop_max_lag_ms``), and its open descriptors (``/proc/<pid>/fd``);
2. idle: the broker's CPU share over ``--idle`` seconds with no client, and its RSS;
3. Metadata for all topics (v12, topics null): ``--metadata-samples`` round trips, each
   until the whole response frame has arrived (not decoded): median, p99 and max, and the
   response size; then the broker's ``odradek_event_loop_max_lag_ms`` (its longest event-loop
   lag in the last minute);
4. restart: one record is produced to partition 0 of every 100th topic, then SIGTERM; the
   clean shutdown's time, then the time from spawning the broker until ``/ready`` answers 200
   (logs loaded, listeners up);
5. SIGKILL-restart: a record more per sampled topic, SIGKILL, and again the time until
   ``/ready``, which now includes recovering every log from its recovery point; the records
   produced are then read back (a check, not a figure).

    python benchmarks/many_partitions.py
    python benchmarks/many_partitions.py --topics 1000 --json out.json

On a machine shared with other load every figure includes the broker's waits for a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1  # noqa: E402
from kio.serial import entity_reader  # noqa: E402
from tests.support.broker_process import BrokerProcess, free_port  # noqa: E402
from tests.support.raw_client import (  # noqa: E402
    METADATA,
    RawClient,
    request_module,
    response_class,
)
from tests.unit.observability.scrape import http_get, scrape  # noqa: E402

from odradek.protocol.records.codec import decode_batches, encode_batch  # noqa: E402

READY_TIMEOUT_S = 3600.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def rss_mb(pid: int) -> float:
    resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return resident * PAGE_SIZE / 1e6


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_ready(port: int, started: float) -> float:
    """Seconds from ``started`` until ``/ready`` answers 200."""
    while time.monotonic() - started < READY_TIMEOUT_S:
        try:
            status, _, _ = http_get(port, "/ready", timeout=5)
            if status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"not ready within {READY_TIMEOUT_S}s")


def start(broker: BrokerProcess, metrics_port: int) -> float:
    """Spawn the broker; seconds until it is ready."""
    started = time.monotonic()
    broker.start(timeout=READY_TIMEOUT_S)
    return wait_ready(metrics_port, started)


def ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def create_topics(client: RawClient, topics: int, partitions: int) -> list[float]:
    times = []
    for n in range(topics):
        started = time.monotonic()
        client.create_topic(f"t{n:05d}", partitions)
        times.append(time.monotonic() - started)
        if (n + 1) % 1000 == 0:
            print(f"  {n + 1} topics, last 1000 in {sum(times[-1000:]):.1f}s", flush=True)
    return times


def produce_samples(client: RawClient, topics: int, tag: str) -> None:
    for n in range(0, topics, 100):
        result = client.produce(f"t{n:05d}", 0, encode_batch([(b"k", tag.encode())]))
        assert result.error_code == 0, result


def read_samples(client: RawClient, topics: int) -> list[list[bytes | None]]:
    found = []
    for n in range(0, topics, 100):
        data = client.fetch(f"t{n:05d}", 0, 0)
        assert data.error_code == 0, data
        found.append(
            [r.value for b in decode_batches(bytes(data.records or b"")) for r in b.records]
        )
    return found


def metadata_round_trips(client: RawClient, samples: int) -> tuple[list[float], int, int]:
    """Round trips of Metadata for all topics, until the whole response frame has arrived
    (the client's decoding is not timed); the last response's topic count and size."""
    request = request_module(METADATA, 12).MetadataRequest(
        topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False
    )
    times = []
    frame = b""
    for _ in range(samples):
        started = time.monotonic()
        client.send(request)
        frame = client.receive_frame()
        times.append(time.monotonic() - started)
    body = response_class(METADATA, 12)
    _, offset = entity_reader(ResponseHeaderV1)(frame, 0)
    response, _ = entity_reader(body)(frame, offset)
    return times, len(response.topics), len(frame)


def run(args: argparse.Namespace) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="many-partitions-", dir=args.dir))
    metrics_port = free_port()
    broker = BrokerProcess(base / "data", overrides={"metrics.port": str(metrics_port)})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    result: dict[str, Any] = {
        "topics": args.topics,
        "partitions_per_topic": args.partitions,
        "open_file_limit": {"soft": soft, "hard": hard},
    }
    try:
        start(broker, metrics_port)
        with RawClient.to(broker.bootstrap, timeout=600.0) as client:
            print(f"creating {args.topics} topics x {args.partitions} partitions", flush=True)
            began = time.monotonic()
            times = create_topics(client, args.topics, args.partitions)
            window = min(1000, max(1, args.topics // 10))
            result["create"] = {
                "total_s": round(time.monotonic() - began, 1),
                f"first_{window}": ms(times[:window]),
                f"last_{window}": ms(times[-window:]),
            }
            lag = scrape(metrics_port).get("odradek_event_loop_max_lag_ms")
            result["create"]["event_loop_max_lag_ms_last_minute"] = round(lag, 1)
            result["open_descriptors_after_create"] = open_descriptors(broker.pid)
            print(json.dumps(result["create"]), flush=True)

            before, cpu_before = time.monotonic(), cpu_seconds(broker.pid)
            time.sleep(args.idle)
            idle = (cpu_seconds(broker.pid) - cpu_before) / (time.monotonic() - before)
            result["idle_cpu_percent"] = round(idle * 100, 2)
            result["rss_mb"] = round(rss_mb(broker.pid), 1)

            round_trips, listed, size = metadata_round_trips(client, args.metadata_samples)
            assert listed == args.topics, listed
            result["metadata_all_topics"] = {"topics": listed, "bytes": size, **ms(round_trips)}
            lag = scrape(metrics_port).get("odradek_event_loop_max_lag_ms")
            result["event_loop_max_lag_ms_after_metadata"] = round(lag, 1)
            print(json.dumps(result["metadata_all_topics"]), flush=True)
            produce_samples(client, args.topics, "before-restart")

        stopping = time.monotonic()
        code = broker.stop(timeout=READY_TIMEOUT_S)
        result["clean_shutdown_s"] = round(time.monotonic() - stopping, 2)
        assert code == 0, code
        result["restart_s"] = round(start(broker, metrics_port), 2)
        result["open_descriptors_after_restart"] = open_descriptors(broker.pid)
        result["rss_mb_after_restart"] = round(rss_mb(broker.pid), 1)
        with RawClient.to(broker.bootstrap, timeout=600.0) as client:
            produce_samples(client, args.topics, "before-kill")
        broker.kill()
        result["sigkill_restart_s"] = round(start(broker, metrics_port), 2)
        with RawClient.to(broker.bootstrap, timeout=600.0) as client:
            expected = [[b"before-restart", b"before-kill"]] * len(range(0, args.topics, 100))
            assert read_samples(client, args.topics) == expected
        broker.stop(timeout=READY_TIMEOUT_S)
    finally:
        broker.kill()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU sampling")
    parser.add_argument("--metadata-samples", type=int, default=50)
    parser.add_argument("--dir", help="where the data dir goes (default: the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
