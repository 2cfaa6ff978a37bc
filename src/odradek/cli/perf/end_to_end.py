"""``odradek perf e2e-latency``: ``kafka.tools.EndToEndLatency``, closed loop.

``broker_list topic num_messages producer_acks message_size_bytes [properties_file]``:
one message at a time is produced, acknowledged (``flush()``) and polled back by a consumer
assigned to the end of the topic's partitions; the time from ``produce()`` to the record
arriving is the end-to-end latency (producer to consumer). Kafka's output::

    0	3.123456
    ...
    Avg latency: 1.2345 ms

    Percentiles: 50th = 1, 99th = 3, 99.9th = 7

(a progress line every 1000 messages: index, tab, that message's latency in ms)."""

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
    guarded,
    parse_props,
    reachable,
    verbose_flag,
    with_logs,
)

POLL_TIMEOUT_SECONDS = 60.0


def add_parser(tools: Any) -> None:
    parser = tools.add_parser(
        "e2e-latency",
        help="kafka.tools.EndToEndLatency",
        description="End-to-end latency, one message at a time (as kafka.tools.EndToEndLatency).",
    )
    parser.add_argument("broker_list")
    parser.add_argument("topic")
    parser.add_argument("num_messages", type=int)
    parser.add_argument("producer_acks", help="1 or all")
    parser.add_argument("message_size_bytes", type=int)
    parser.add_argument(
        "properties_file",
        nargs="?",
        type=Path,
        help="client properties for both the producer and the consumer",
    )
    verbose_flag(parser)
    parser.set_defaults(run=guarded(run))


def run(args: argparse.Namespace) -> int:
    if args.producer_acks not in ("1", "all", "-1"):
        print(
            "Latency testing requires synchronous acknowledgement. Please use 1 or all",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if args.num_messages <= 0:
        print("num_messages must be positive", file=sys.stderr)
        return EXIT_FAILED
    try:
        props = client_config(parse_props(None, args.properties_file))
    except (OSError, ValueError) as exc:
        print(f"odradek perf e2e-latency: {exc}", file=sys.stderr)
        return EXIT_FAILED
    kafka = confluent_kafka()
    common: dict[str, Any] = {"bootstrap.servers": args.broker_list}
    if not reachable({**common, **props}):
        return EXIT_FAILED
    consumer = kafka.Consumer(
        with_logs(
            {
                **common,
                "group.id": f"test-group-{int(time.time() * 1000)}",
                "enable.auto.commit": False,
                "auto.offset.reset": "latest",
                "fetch.wait.max.ms": 1,
                "fetch.error.backoff.ms": 0,
                **props,
            }
        )
    )
    producer = kafka.Producer(
        with_logs({**common, "linger.ms": 0, "acks": args.producer_acks, **props})
    )
    try:
        partitions = _partitions(kafka, args.broker_list, args.topic, props)
        # The end of each partition, resolved now (Kafka's seekToEnd + position()).
        ends = [
            consumer.get_watermark_offsets(
                kafka.TopicPartition(args.topic, p), timeout=POLL_TIMEOUT_SECONDS
            )[1]
            for p in partitions
        ]
        consumer.assign(
            [
                kafka.TopicPartition(args.topic, p, end)
                for p, end in zip(partitions, ends, strict=True)
            ]
        )
        return _measure(producer, consumer, args)
    finally:
        consumer.close()
        producer.flush(5)


def _partitions(kafka: Any, bootstrap: str, topic: str, props: dict[str, Any]) -> list[int]:
    """The topic's partitions, creating it (1 partition) when missing, as Kafka's tool."""
    admin = kafka.admin.AdminClient(with_logs({"bootstrap.servers": bootstrap, **props}))
    metadata = admin.list_topics(timeout=30)
    if topic not in metadata.topics or metadata.topics[topic].error is not None:
        futures = admin.create_topics([kafka.admin.NewTopic(topic, 1, 1)])
        try:
            futures[topic].result(30)
        except kafka.KafkaException as exc:
            if exc.args[0].code() != kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = admin.list_topics(topic, timeout=30).topics.get(topic)
        if found is not None and found.error is None and found.partitions:
            return sorted(found.partitions)
        time.sleep(0.1)
    raise SystemExit(f"topic {topic} has no partitions")


def _measure(producer: Any, consumer: Any, args: argparse.Namespace) -> int:
    rng = random.Random(0)
    latencies: list[int] = []
    total_ns = 0
    for i in range(args.num_messages):
        message = bytes(rng.randint(65, 90) for _ in range(args.message_size_bytes))
        begin = time.perf_counter_ns()
        producer.produce(args.topic, message)
        producer.flush(POLL_TIMEOUT_SECONDS)
        received = _poll_one(consumer, begin)
        elapsed = time.perf_counter_ns() - begin
        if received is None:
            print(
                f"poll() timed out before finding a result (timeout:"
                f"[{int(POLL_TIMEOUT_SECONDS * 1000)}])",
                file=sys.stderr,
            )
            return 1
        if received != message:
            print(
                f"The message read [{received!r}] did not match the message sent [{message!r}]",
                file=sys.stderr,
            )
            return 1
        if i % 1000 == 0:
            print(f"{i}\t{elapsed / 1000.0 / 1000.0}", flush=True)
        total_ns += elapsed
        latencies.append(elapsed // 1000 // 1000)
    print(f"Avg latency: {total_ns / args.num_messages / 1000.0 / 1000.0:.4f} ms\n")
    latencies.sort()
    size = len(latencies)
    p50, p99, p999 = (latencies[int(size * q)] for q in (0.5, 0.99, 0.999))
    print(f"Percentiles: 50th = {p50}, 99th = {p99}, 99.9th = {p999}", flush=True)
    return 0


def _poll_one(consumer: Any, begin_ns: int) -> bytes | None:
    deadline = begin_ns + int(POLL_TIMEOUT_SECONDS * 1e9)
    while time.perf_counter_ns() < deadline:
        message = consumer.poll(0.1)
        if message is None or message.error() is not None:
            continue
        value: bytes = message.value() or b""
        return value
    return None
