"""``odradek perf``: Kafka's performance tools on confluent-kafka (librdkafka).

- ``odradek perf produce``: kafka-producer-perf-test (``ProducerPerformance``);
- ``odradek perf consume``: kafka-consumer-perf-test (``ConsumerPerformance``);
- ``odradek perf e2e-latency``: ``kafka.tools.EndToEndLatency``.

Flags and output lines are Kafka's, so scripts that parse those tools parse these. Java client
properties are accepted where librdkafka has an equivalent (``common.client_config``).
confluent-kafka (a dependency of odradek) is imported only when a tool runs."""

from __future__ import annotations

from typing import Any

from odradek.cli.perf import consumer, end_to_end, producer


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "perf",
        help="performance tools (kafka-producer-perf-test, ...)",
        description="Kafka's performance tools, with confluent-kafka underneath.",
    )
    tools = parser.add_subparsers(dest="perf_tool", required=True)
    producer.add_parser(tools)
    consumer.add_parser(tools)
    end_to_end.add_parser(tools)
