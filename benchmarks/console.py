"""Page latency of ``odradek console`` with many topics and groups (issue #18: every page
< 300 ms p95 with 1,000 topics and 100 groups).

One ``odradek serve`` process on a temporary data dir gets ``--topics`` topics (``--partitions``
each), a few records on each of the first topics, and ``--groups`` consumer groups with
committed offsets on two topics each (committed through the AdminClient: the groups are
Empty, with lag). One ``odradek console`` process (``python -m odradek console``) serves
them; each page is fetched once to warm up, then ``--requests`` times in a row over one
HTTP connection, and the p50/p95/max of the wall-clock time to the whole response are
printed per page (``--json FILE`` writes them too).

    python benchmarks/console.py
    python benchmarks/console.py --topics 200 --groups 20 --requests 10

Every figure includes the broker's and the console's waits for a CPU: on a machine shared
with other load the figures are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src"), str(REPO)]

import httpx  # noqa: E402
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # noqa: E402
from tests.integration.console.support import ConsoleProcess  # noqa: E402
from tests.support.broker_process import BrokerProcess  # noqa: E402

CREATE_BATCH = 100


def populate(bootstrap: str, topics: int, partitions: int, groups: int) -> list[str]:
    """Create the topics and groups; the topic names, in order."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
    names = [f"bench-topic-{i:05d}" for i in range(topics)]
    for start in range(0, len(names), CREATE_BATCH):
        batch = [NewTopic(n, partitions, 1) for n in names[start : start + CREATE_BATCH]]
        for future in admin.create_topics(batch, request_timeout=120).values():
            future.result(120)
    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 2, "linger.ms": 20})
    for name in names[: min(len(names), 2 * groups)]:
        for i in range(10):
            producer.produce(name, value=b"record %d" % i, partition=0)
    producer.flush(120)
    for g in range(groups):
        topics_of_group = [names[(2 * g) % len(names)], names[(2 * g + 1) % len(names)]]
        offsets = [TopicPartition(t, 0, 3) for t in topics_of_group]
        request = [ConsumerGroupTopicPartitions(f"bench-group-{g:03d}", offsets)]
        for future in admin.alter_consumer_group_offsets(request, request_timeout=60).values():
            future.result(60)
    return names


def pages(names: list[str]) -> list[str]:
    topic = names[0]
    return [
        "/",
        "/topics",
        "/topics?q=bench-topic-0001",
        f"/topics/{topic}",
        f"/topics/{topic}/messages",
        f"/topics/{topic}/messages?mode=beginning&key=nothing",
        "/groups",
        "/groups/bench-group-000",
        "/brokers",
        "/brokers/0",
        "/latency",
        "/acls",
        "/quotas",
    ]


def measure(url: str, paths: list[str], requests: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=url, timeout=120) as http:
        for path in paths:
            response = http.get(path)  # warm-up (connections, caches, the first consumer)
            response.raise_for_status()
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = http.get(path)
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            ordered = sorted(times)
            results[path] = {
                "p50_ms": statistics.median(ordered),
                "p95_ms": ordered[max(0, -(-95 * len(ordered) // 100) - 1)],
                "max_ms": ordered[-1],
                "bytes": float(len(response.content)),
            }
            print(
                f"{path:55s} p50 {results[path]['p50_ms']:7.1f} ms  "
                f"p95 {results[path]['p95_ms']:7.1f} ms  max {results[path]['max_ms']:7.1f} ms  "
                f"{len(response.content) / 1024:7.1f} KiB",
                flush=True,
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="odradek-console-bench-") as tmp:
        broker = BrokerProcess(Path(tmp) / "data", overrides={"metrics.port": "-1"}).start()
        console = None
        try:
            started = time.monotonic()
            names = populate(broker.bootstrap, args.topics, args.partitions, args.groups)
            print(
                f"{args.topics} topics x {args.partitions} partition(s), {args.groups} groups: "
                f"set up in {time.monotonic() - started:.1f} s",
                flush=True,
            )
            console = ConsoleProcess(broker.bootstrap, Path(tmp) / "console.log").start()
            results = measure(console.url, pages(names), args.requests)
        finally:
            if console is not None:
                console.stop()
            broker.kill()
    worst = max(r["p95_ms"] for r in results.values())
    print(f"worst p95: {worst:.1f} ms")
    if args.json is not None:
        args.json.write_text(
            json.dumps({"args": vars(args) | {"json": str(args.json)}, "pages": results}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
