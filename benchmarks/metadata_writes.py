"""Single-node metadata writes: time per topic create as the number of topics grows.

``store``: N topics created one after another with ``create_topic_async`` against a
``LocalMetadataStore`` on a temporary directory (each create durable before the next), while a
ticker task on the same event loop records the longest gap between its turns: how long a
write held the loop. ``broker`` (``--broker``): N topics of ``--partitions`` partitions
created one at a time with CreateTopics against an ``odradek serve`` process on a temporary
data dir.

Reported for each: the mean time per create over the first and the last ``--window`` creates
and their ratio (the acceptance: flat within 2x), the total, and for ``store`` the ticker's
gaps (longest, 99.9th percentile, how many over 50 ms) beside those of the same ticker on an
idle loop measured first — on a loaded machine the idle loop has long gaps too — and the
sizes of the metadata files at the end.

    python benchmarks/metadata_writes.py                       # 10,000 topics, store only
    python benchmarks/metadata_writes.py --broker --topics 5000
    python benchmarks/metadata_writes.py --dir /mnt/disk       # the device to measure

The temporary directory is under ``--dir`` (default: the system's temp dir), whose file
system and device decide what an fsync costs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from tests.support.broker_process import BrokerProcess  # noqa: E402
from tests.support.raw_client import RawClient  # noqa: E402

from odradek.cluster.metadata import LocalMetadataStore, TopicMetadata  # noqa: E402

TICK_S = 0.001
LONG_GAP_S = 0.05


def summary(label: str, durations: list[float], window: int) -> None:
    """Print the mean per create over the first and last ``window`` creates."""
    first = statistics.fmean(durations[:window]) * 1000
    last = statistics.fmean(durations[-window:]) * 1000
    print(
        f"{label}: {len(durations)} creates in {sum(durations):.1f} s; per create: "
        f"first {window} {first:.3f} ms, last {window} {last:.3f} ms, "
        f"last/first {last / first:.2f}, slowest {max(durations) * 1000:.1f} ms"
    )


async def ticker(gaps: list[float], stop: asyncio.Event) -> None:
    """Record each gap between this task's turns on the loop (beyond its own sleep)."""
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(TICK_S)
        now = time.perf_counter()
        gaps.append(max(now - last - TICK_S, 0.0))
        last = now


def gap_summary(gaps: list[float]) -> str:
    ordered = sorted(gaps)
    p999 = ordered[int(len(ordered) * 0.999)] * 1000
    over = sum(g > LONG_GAP_S for g in ordered)
    return (
        f"longest {ordered[-1] * 1000:.1f} ms, p99.9 {p999:.1f} ms, "
        f"{over} over {LONG_GAP_S * 1000:.0f} ms in {len(ordered)} turns"
    )


async def idle_gaps(seconds: float) -> list[float]:
    """The ticker's gaps on an otherwise idle loop: what the machine's load alone costs."""
    gaps: list[float] = []
    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(gaps, stop))
    await asyncio.sleep(seconds)
    stop.set()
    await tick
    return gaps


async def bench_store(directory: Path, topics: int, window: int, baseline: float) -> None:
    print(f"idle event loop ({baseline:.0f} s): {gap_summary(await idle_gaps(baseline))}")
    store = LocalMetadataStore(directory)
    store.load()
    gaps: list[float] = []
    stop = asyncio.Event()
    tick = asyncio.create_task(ticker(gaps, stop))
    await asyncio.sleep(0)  # the ticker's first turn
    durations: list[float] = []
    for i in range(topics):
        topic = TopicMetadata(f"topic-{i:06d}", uuid.uuid4(), 1, 1, {"retention.ms": "86400000"})
        started = time.perf_counter()
        await store.create_topic_async(topic)
        durations.append(time.perf_counter() - started)
        await asyncio.sleep(0)  # other tasks' turn between requests, as on a broker
    stop.set()
    await tick
    close = getattr(store, "close", None)
    if close is not None:
        close()
    summary("store", durations, window)
    print(f"store: event loop during the creates: {gap_summary(gaps)}")
    print(f"store: files at the end: {file_sizes(directory)}")


def file_sizes(directory: Path) -> str:
    """The metadata files of ``directory`` and their sizes."""
    return ", ".join(
        f"{p.name} {p.stat().st_size / 1024:.0f} KiB"
        for p in sorted(directory.iterdir())
        if p.name.startswith("odradek-metadata")
    )


def bench_broker(directory: Path, topics: int, window: int, partitions: int) -> None:
    broker = BrokerProcess(directory / "data", overrides={"metrics.port": "-1"}).start(60)
    try:
        durations: list[float] = []
        with RawClient.to(broker.bootstrap, timeout=120.0) as client:
            for i in range(topics):
                started = time.perf_counter()
                try:
                    client.create_topic(f"topic-{i:06d}", partitions)
                except AssertionError as exc:  # the broker refused it: its error, then the figures
                    print(f"broker: stopped after {i} creates: {exc}")
                    break
                durations.append(time.perf_counter() - started)
        if durations:
            label = f"broker ({partitions} partition(s) a topic)"
            summary(label, durations, min(window, len(durations) // 2 or 1))
    finally:
        broker.stop(120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=1_000)
    parser.add_argument("--broker", action="store_true", help="also create through a broker")
    parser.add_argument("--partitions", type=int, default=1, help="partitions a topic (broker)")
    parser.add_argument("--dir", type=Path, default=None, help="where the temp dir goes")
    parser.add_argument(
        "--baseline", type=float, default=5.0, help="seconds of an idle loop measured first"
    )
    args = parser.parse_args()
    window = min(args.window, args.topics)
    with tempfile.TemporaryDirectory(prefix="odradek-metadata-writes-", dir=args.dir) as work:
        root = Path(work)
        (root / "store").mkdir()
        asyncio.run(bench_store(root / "store", args.topics, window, args.baseline))
        if args.broker:
            bench_broker(root, args.topics, window, args.partitions)


if __name__ == "__main__":
    main()
