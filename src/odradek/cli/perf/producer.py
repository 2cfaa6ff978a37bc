"""``odradek perf produce``: kafka-producer-perf-test (ProducerPerformance).

Every 5 seconds a window line, at the end the total line, both in Kafka's format::

    50000 records sent, 9998.0 records/sec (0.95 MB/sec), 2.1 ms avg latency, 40.0 ms max latency.
    100000 records sent, 9997.600576 records/sec (0.95 MB/sec), 2.05 ms avg latency, \
40.00 ms max latency, 2 ms 50th, 4 ms 95th, 9 ms 99th, 30 ms 99.9th.

Latency is per record, from ``produce()`` to its delivery report: the broker's
acknowledgement (the producer-to-broker latency). MB is 2^20 bytes."""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from odradek.cli.perf.common import (
    EXIT_FAILED,
    client_config,
    confluent_kafka,
    guarded,
    parse_props,
    percentiles,
    reachable,
    verbose_flag,
    with_logs,
)

REPORTING_INTERVAL_MS = 5000
MAX_SAMPLES = 500_000
MB = 1024.0 * 1024.0


def add_parser(tools: Any) -> None:
    parser = tools.add_parser(
        "produce",
        help="kafka-producer-perf-test",
        description="This tool is used to verify the producer performance (as "
        "kafka-producer-perf-test).",
    )
    parser.add_argument("--topic", required=True, help="produce messages to this topic")
    parser.add_argument(
        "--num-records", type=int, required=True, help="number of messages to produce"
    )
    payload = parser.add_mutually_exclusive_group(required=True)
    payload.add_argument("--record-size", type=int, help="message size in bytes")
    payload.add_argument(
        "--payload-file",
        type=Path,
        help="file to read the message payloads from (one per delimiter); "
        "each record takes one at random",
    )
    parser.add_argument(
        "--payload-delimiter", default="\\n", help="delimiter of --payload-file (default: \\n)"
    )
    parser.add_argument(
        "--throughput",
        type=float,
        required=True,
        help="throttle to approximately THROUGHPUT messages/sec; -1: no limit",
    )
    parser.add_argument(
        "--producer-props",
        nargs="+",
        metavar="PROP-NAME=PROP-VALUE",
        help="producer properties (bootstrap.servers, acks, linger.ms, ...)",
    )
    parser.add_argument(
        "--producer.config",
        "--command-config",
        dest="producer_config",
        type=Path,
        help="producer config properties file (--command-config is Kafka 4.2's name)",
    )
    parser.add_argument("--bootstrap-server", help="shorthand for bootstrap.servers")
    parser.add_argument(
        "--print-metrics", action="store_true", help="print librdkafka's statistics at the end"
    )
    verbose_flag(parser)
    parser.set_defaults(run=guarded(run))


class Stats:
    """Kafka's ProducerPerformance.Stats: totals, 5 s windows, sampled latencies."""

    def __init__(
        self,
        num_records: int,
        out: Callable[[str], None],
        reporting_interval_ms: int = REPORTING_INTERVAL_MS,
    ) -> None:
        self.out = out
        self.start = _now_ms()
        self.window_start = self.start
        self.sampling = max(num_records // max(min(num_records, MAX_SAMPLES), 1), 1)
        self.latencies: list[int] = []
        self.iteration = 0
        self.count = self.bytes = self.total_latency = self.max_latency = 0
        self.window_count = self.window_bytes = self.window_total = self.window_max = 0
        self.reporting_interval = reporting_interval_ms

    def record(self, latency: int, size: int, now: float) -> None:
        self.count += 1
        self.bytes += size
        self.total_latency += latency
        self.max_latency = max(self.max_latency, latency)
        self.window_count += 1
        self.window_bytes += size
        self.window_total += latency
        self.window_max = max(self.window_max, latency)
        if self.iteration % self.sampling == 0:
            self.latencies.append(latency)
        self.iteration += 1
        if now - self.window_start >= self.reporting_interval:
            self.print_window(now)
            self.window_start = now
            self.window_count = self.window_bytes = self.window_total = self.window_max = 0

    def print_window(self, now: float) -> None:
        elapsed = max(now - self.window_start, 1e-9)
        rate = 1000.0 * self.window_count / elapsed
        mb_rate = 1000.0 * self.window_bytes / elapsed / MB
        average = self.window_total / max(self.window_count, 1)
        self.out(
            f"{self.window_count} records sent, {rate:.1f} records/sec "
            f"({mb_rate:.2f} MB/sec), {average:.1f} ms avg latency, "
            f"{float(self.window_max):.1f} ms max latency."
        )

    def total_line(self) -> str:
        elapsed = max(_now_ms() - self.start, 1e-9)
        p50, p95, p99, p999 = percentiles(self.latencies, 0.5, 0.95, 0.99, 0.999)
        rate = 1000.0 * self.count / elapsed
        mb_rate = 1000.0 * self.bytes / elapsed / MB
        average = self.total_latency / max(self.count, 1)
        return (
            f"{self.count} records sent, {rate:f} records/sec ({mb_rate:.2f} MB/sec), "
            f"{average:.2f} ms avg latency, {float(self.max_latency):.2f} ms max latency, "
            f"{p50} ms 50th, {p95} ms 95th, {p99} ms 99th, {p999} ms 99.9th."
        )


def _now_ms() -> float:
    return time.monotonic() * 1000.0


def _payloads(args: argparse.Namespace) -> list[bytes]:
    if args.record_size is not None:
        if args.record_size < 0:
            raise ValueError("--record-size must not be negative")
        # As Kafka: one random payload of upper-case letters, sent by every record.
        return [bytes(random.randint(65, 90) for _ in range(args.record_size))]
    delimiter = args.payload_delimiter.encode().decode("unicode_escape")
    print(f"Reading payloads from: {args.payload_file.resolve()}", flush=True)
    text = args.payload_file.read_text(encoding="utf-8")
    payloads = [p.encode() for p in text.split(delimiter) if p]
    if not payloads:
        raise ValueError(f"File {args.payload_file} contains no payloads")
    print(f"Number of messages read: {len(payloads)}", flush=True)
    return payloads


def run(args: argparse.Namespace) -> int:
    try:
        props = parse_props(args.producer_props, args.producer_config)
        if args.bootstrap_server:
            props.setdefault("bootstrap.servers", args.bootstrap_server)
        if "bootstrap.servers" not in props:
            raise ValueError(
                "bootstrap.servers must be given (--producer-props "
                "bootstrap.servers=HOST:PORT, --producer.config or "
                "--bootstrap-server)"
            )
        payloads = _payloads(args)
        config: dict[str, Any] = client_config(props)
    except (OSError, ValueError) as exc:
        print(f"odradek perf produce: {exc}", file=sys.stderr)
        return EXIT_FAILED
    kafka = confluent_kafka()
    statistics: list[str] = []
    if args.print_metrics:
        config.setdefault("statistics.interval.ms", 1000)
        config["stats_cb"] = statistics.append
    if not reachable(config):
        return EXIT_FAILED
    try:
        producer = kafka.Producer(with_logs(config))
    except kafka.KafkaException as exc:
        print(f"odradek perf produce: {exc}", file=sys.stderr)
        return EXIT_FAILED
    failures = produce(producer, args.topic, args.num_records, payloads, args.throughput, _print)
    if args.print_metrics and statistics:
        print(statistics[-1])
    return 1 if failures else 0


def _print(line: str) -> None:
    print(line, flush=True)


def produce(
    producer: Any,
    topic: str,
    num_records: int,
    payloads: list[bytes],
    throughput: float,
    out: Callable[[str], None],
) -> int:
    """Send ``num_records``, print windows and the total line; the number of failures."""
    stats = Stats(num_records, out)
    failures = [0]
    single = payloads[0] if len(payloads) == 1 else None

    def completion(send_start: float, size: int) -> Callable[[Any, Any], None]:
        def done(err: Any, _msg: Any) -> None:
            now = _now_ms()
            if err is not None:
                failures[0] += 1
                if failures[0] <= 10:
                    print(f"error: {err}", file=sys.stderr)
                return
            stats.record(int(now - send_start), size, now)

        return done

    start = time.monotonic()
    for i in range(num_records):
        payload = single if single is not None else random.choice(payloads)
        send_start = _now_ms()
        callback = completion(send_start, len(payload))
        while True:
            try:
                producer.produce(topic, payload, on_delivery=callback)
                break
            except BufferError:
                producer.poll(0.005)  # the local queue is full: serve delivery reports
        producer.poll(0)
        if throughput > 0:
            wait = start + (i + 1) / throughput - time.monotonic()
            if wait > 0:
                producer.poll(wait)
    while producer.flush(1.0) > 0:
        pass
    out(stats.total_line())
    return failures[0]
