"""``odradek perf consume``: kafka-consumer-perf-test (ConsumerPerformance).

Prints Kafka's CSV header and summary line::

    start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, \
rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
    2024-01-01 10:00:00:000, 2024-01-01 10:00:02:500, 9.5367, 3.8147, 100000, 40000.0000, \
312, 2188, 4.3586, 45703.8391

MB counts keys and values (2^20 bytes); ``fetch.time.ms`` is the time after the group
assignment (``rebalance.time.ms``). ``--show-latency`` (an odradek addition) also prints
the consumer latency: the time from each record's timestamp to the moment
``poll()`` hands it over."""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

from odradek.cli.perf.common import (
    EXIT_FAILED,
    client_config,
    confluent_kafka,
    format_millis,
    guarded,
    parse_props,
    percentiles,
    reachable,
    verbose_flag,
    with_logs,
)

DEFAULT_DATE_FORMAT = "yyyy-MM-dd HH:mm:ss:SSS"
HEADER_TAIL = ", rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
POLL_SECONDS = 0.1
BATCH = 1000
MB = 1024.0 * 1024.0


def add_parser(tools: Any) -> None:
    parser = tools.add_parser(
        "consume",
        help="kafka-consumer-perf-test",
        description="This tool helps in performance test for the full zookeeper consumer "
        "(as kafka-consumer-perf-test).",
    )
    parser.add_argument(
        "--bootstrap-server",
        "--broker-list",
        dest="bootstrap_server",
        required=True,
        help="the server(s) to connect to",
    )
    parser.add_argument("--topic", required=True, help="the topic to consume from")
    parser.add_argument(
        "--messages", type=int, required=True, help="the number of messages to consume"
    )
    parser.add_argument(
        "--group",
        default=f"perf-consumer-{random.randint(0, 100000)}",
        help="the group id to consume on",
    )
    parser.add_argument(
        "--fetch-size",
        type=int,
        default=1024 * 1024,
        help="the amount of data to fetch in a single request",
    )
    parser.add_argument(
        "--from-latest",
        action="store_true",
        help="start from the latest offset when the group has none",
    )
    parser.add_argument(
        "--socket-buffer-size",
        type=int,
        default=2 * 1024 * 1024,
        help="the size of the tcp RECV size",
    )
    parser.add_argument(
        "--consumer.config",
        "--command-config",
        dest="consumer_config",
        type=Path,
        help="consumer config properties file (--command-config is Kafka 4.2's name)",
    )
    parser.add_argument(
        "--print-metrics", action="store_true", help="print librdkafka's statistics at the end"
    )
    parser.add_argument(
        "--show-detailed-stats", action="store_true", help="print a line per reporting interval"
    )
    parser.add_argument(
        "--reporting-interval",
        type=int,
        default=5000,
        help="interval in milliseconds at which to print progress info",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=10_000,
        help="the maximum allowed time in milliseconds between returned records",
    )
    parser.add_argument("--hide-header", action="store_true", help="skip the header line")
    parser.add_argument(
        "--date-format",
        default=DEFAULT_DATE_FORMAT,
        help="java.text.SimpleDateFormat pattern of the time fields",
    )
    parser.add_argument(
        "--threads", "--num-fetch-threads", type=int, default=1, help="ignored (as in Kafka 3.x)"
    )
    parser.add_argument(
        "--show-latency",
        action="store_true",
        help="odradek: also print record-timestamp-to-poll latency",
    )
    verbose_flag(parser)
    parser.set_defaults(run=guarded(run))


class Progress:
    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.join_ms = 0.0
        self.join_start = 0.0
        self.latencies: list[int] = []


def run(args: argparse.Namespace) -> int:
    try:
        props = client_config(parse_props(None, args.consumer_config))
    except (OSError, ValueError) as exc:
        print(f"odradek perf consume: {exc}", file=sys.stderr)
        return EXIT_FAILED
    kafka = confluent_kafka()
    config: dict[str, Any] = {
        "bootstrap.servers": args.bootstrap_server,
        "group.id": args.group,
        "auto.offset.reset": "latest" if args.from_latest else "earliest",
        "max.partition.fetch.bytes": args.fetch_size,
        "socket.receive.buffer.bytes": args.socket_buffer_size,
        "enable.auto.commit": True,
    }
    config.update(props)
    statistics: list[str] = []
    if args.print_metrics:
        config.setdefault("statistics.interval.ms", 1000)
        config["stats_cb"] = statistics.append
    if not reachable(config):
        return EXIT_FAILED
    try:
        consumer = kafka.Consumer(with_logs(config))
    except kafka.KafkaException as exc:
        print(f"odradek perf consume: {exc}", file=sys.stderr)
        return EXIT_FAILED
    progress = Progress()
    if not args.hide_header:
        first = "time, threadId" if args.show_detailed_stats else "start.time, end.time"
        print(
            f"{first}, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec{HEADER_TAIL}",
            flush=True,
        )
    start_ms = time.time() * 1000
    try:
        timed_out = consume(consumer, args, progress)
    finally:
        end_ms = time.time() * 1000
        consumer.close()
    if timed_out:
        print(
            f"WARNING: Exiting before consuming the expected number of messages: timeout "
            f"({args.timeout} ms) exceeded. You can use the --timeout option to increase "
            "the timeout.",
            file=sys.stderr,
        )
    elapsed = max((end_ms - start_ms) / 1000.0, 1e-9)
    fetch_ms = max(end_ms - start_ms - progress.join_ms, 1e-9)
    total_mb = progress.bytes / MB
    if not args.show_detailed_stats:
        fetch_seconds = fetch_ms / 1000.0
        print(
            f"{format_millis(start_ms, args.date_format)}, "
            f"{format_millis(end_ms, args.date_format)}, {total_mb:.4f}, "
            f"{total_mb / elapsed:.4f}, {progress.messages}, "
            f"{progress.messages / elapsed:.4f}, {int(progress.join_ms)}, {int(fetch_ms)}, "
            f"{total_mb / fetch_seconds:.4f}, {progress.messages / fetch_seconds:.4f}",
            flush=True,
        )
    if args.show_latency:
        print(latency_line(progress.latencies), flush=True)
    if args.print_metrics and statistics:
        print(statistics[-1])
    return 0


def latency_line(latencies: list[int]) -> str:
    p50, p95, p99, p999 = percentiles(latencies, 0.5, 0.95, 0.99, 0.999)
    average = sum(latencies) / len(latencies) if latencies else 0.0
    maximum = float(max(latencies, default=0))
    return (
        f"{len(latencies)} records, consumer latency (record timestamp to poll): "
        f"{average:.2f} ms avg latency, {maximum:.2f} ms max latency, {p50} ms 50th, "
        f"{p95} ms 95th, {p99} ms 99th, {p999} ms 99.9th."
    )


def consume(consumer: Any, args: argparse.Namespace, progress: Progress) -> bool:
    """Read until ``--messages`` or ``--timeout`` without records; True on timeout."""

    def on_assign(_consumer: Any, _partitions: Any) -> None:
        progress.join_ms += time.time() * 1000 - progress.join_start

    def on_revoke(_consumer: Any, _partitions: Any) -> None:
        progress.join_start = time.time() * 1000

    progress.join_start = time.time() * 1000
    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke)
    last_consumed = time.time() * 1000
    last_report = last_consumed
    last_bytes = last_messages = 0
    last_fetch_ms = 0.0
    wanted = args.messages
    show_latency = args.show_latency
    latencies = progress.latencies
    while progress.messages < wanted:
        messages = consumer.consume(min(BATCH, wanted - progress.messages), POLL_SECONDS)
        now = time.time() * 1000
        if not messages:
            if now - last_consumed > args.timeout:
                return True
            continue
        last_consumed = now
        for message in messages:
            if message.error() is not None:
                continue
            progress.messages += 1
            value, key = message.value(), message.key()
            progress.bytes += (len(value) if value else 0) + (len(key) if key else 0)
            if show_latency:
                kind, timestamp = message.timestamp()
                if kind:
                    latencies.append(int(now - timestamp))
        if args.show_detailed_stats and now - last_report >= args.reporting_interval:
            interval = max((now - last_report) / 1000.0, 1e-9)
            fetch_ms = now - progress.join_start - progress.join_ms
            fetch_interval = max((fetch_ms - last_fetch_ms) / 1000.0, 1e-9)
            mb = (progress.bytes - last_bytes) / MB
            count = progress.messages - last_messages
            print(
                f"{format_millis(now, args.date_format)}, 0, {progress.bytes / MB:.4f}, "
                f"{mb / interval:.4f}, {progress.messages}, {count / interval:.4f}, "
                f"{int(progress.join_ms)}, {int(fetch_ms - last_fetch_ms)}, "
                f"{mb / fetch_interval:.4f}, {count / fetch_interval:.4f}",
                flush=True,
            )
            last_report, last_bytes, last_messages = now, progress.bytes, progress.messages
            last_fetch_ms = fetch_ms
    return False
