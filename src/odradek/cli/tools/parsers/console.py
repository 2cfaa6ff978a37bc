"""The flags of ``console-producer`` and ``console-consumer`` (kafka-console-*.sh)."""

from __future__ import annotations

from typing import Any

from odradek.cli.tools.parsers.common import (
    bootstrap_flag,
    lazy,
    output_flag,
    verbose_flag,
)


def add_console_producer(commands: Any) -> None:
    parser = commands.add_parser(
        "console-producer",
        help="send lines of stdin as records (kafka-console-producer)",
        description="Read lines from stdin and send each as a record, like "
        "kafka-console-producer.sh.",
    )
    bootstrap_flag(parser, broker_list=True)
    parser.add_argument("--topic", required=True, help="the topic to produce to")
    parser.add_argument(
        "--property",
        "--reader-property",
        dest="property",
        action="append",
        metavar="NAME=VALUE",
        help="line reader settings: parse.key, key.separator, parse.headers, "
        "headers.delimiter, headers.separator, headers.key.separator, "
        "null.marker, ignore.error",
    )
    parser.add_argument(
        "--reader-config", metavar="FILE", help="line reader settings from a properties file"
    )
    parser.add_argument(
        "--producer-property",
        "--command-property",
        dest="producer_property",
        action="append",
        metavar="NAME=VALUE",
        help="a producer config (repeatable; --command-property is Kafka 4.2's name)",
    )
    parser.add_argument(
        "--producer.config",
        "--command-config",
        dest="producer_config",
        metavar="FILE",
        help="producer configs from a properties file (--command-config is Kafka 4.2's name)",
    )
    parser.add_argument(
        "--compression-codec",
        nargs="?",
        const="gzip",
        choices=["none", "gzip", "snappy", "lz4", "zstd"],
        help="compression (gzip if given without a value)",
    )
    parser.add_argument("--request-required-acks", metavar="ACKS", help="acks: 0, 1 or all/-1")
    parser.add_argument(
        "--timeout",
        type=int,
        metavar="MS",
        default=1000,
        help="linger.ms: how long to wait to fill a batch (default 1000)",
    )
    parser.add_argument("--batch-size", type=int, metavar="BYTES", help="batch.size")
    parser.add_argument("--request-timeout-ms", type=int, metavar="MS")
    parser.add_argument("--message-send-max-retries", type=int, metavar="N")
    parser.add_argument("--retry-backoff-ms", type=int, metavar="MS")
    parser.add_argument("--sync", action="store_true", help="wait for each record's ack")
    parser.add_argument(
        "--progress-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="report records/s on stderr this often (0: never; default 5)",
    )
    output_flag(parser)
    verbose_flag(parser)
    parser.set_defaults(run=lazy("console_producer"))


def add_console_consumer(commands: Any) -> None:
    parser = commands.add_parser(
        "console-consumer",
        help="print records of a topic (kafka-console-consumer)",
        description="Consume records and print them to stdout, like kafka-console-consumer.sh.",
    )
    bootstrap_flag(parser)
    parser.add_argument("--topic", help="the topic to consume")
    parser.add_argument(
        "--include",
        "--whitelist",
        dest="include",
        metavar="REGEX",
        help="consume every topic whose whole name matches REGEX",
    )
    parser.add_argument("--partition", type=int, help="consume only this partition")
    parser.add_argument(
        "--offset",
        help="with --partition: a non-negative offset, earliest or latest (default latest)",
    )
    parser.add_argument(
        "--from-beginning",
        action="store_true",
        help="start at the earliest offset when there is no committed offset",
    )
    parser.add_argument("--group", help="the consumer group (default: a new one, no commits)")
    parser.add_argument("--max-messages", type=int, metavar="N", help="exit after N records")
    parser.add_argument(
        "--timeout-ms",
        type=int,
        metavar="MS",
        help="exit when no record arrives for MS milliseconds",
    )
    parser.add_argument(
        "--property",
        "--formatter-property",
        dest="property",
        action="append",
        metavar="NAME=VALUE",
        help="formatter settings: print.key, print.value, print.timestamp, "
        "print.partition, print.offset, print.headers, key.separator, "
        "line.separator, headers.separator, null.literal",
    )
    parser.add_argument(
        "--formatter", help="DefaultMessageFormatter (default) or NoOpMessageFormatter"
    )
    parser.add_argument(
        "--formatter-config", metavar="FILE", help="formatter settings from a properties file"
    )
    parser.add_argument(
        "--isolation-level",
        choices=["read_committed", "read_uncommitted"],
        help="default read_uncommitted, as Kafka's consumer",
    )
    parser.add_argument(
        "--consumer-property",
        "--command-property",
        dest="consumer_property",
        action="append",
        metavar="NAME=VALUE",
        help="a consumer config (repeatable; --command-property is Kafka 4.2's name)",
    )
    parser.add_argument(
        "--consumer.config",
        "--command-config",
        dest="consumer_config",
        metavar="FILE",
        help="consumer configs from a properties file (--command-config is Kafka 4.2's name)",
    )
    parser.add_argument(
        "--skip-message-on-error",
        action="store_true",
        help="skip records that cannot be processed instead of stopping",
    )
    output_flag(parser)
    verbose_flag(parser)
    parser.set_defaults(run=lazy("console_consumer"))
