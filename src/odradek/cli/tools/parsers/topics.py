"""The flags of ``topics`` (kafka-topics.sh) and ``delete-records`` (kafka-delete-records.sh)."""

from __future__ import annotations

from typing import Any

from odradek.cli.tools.parsers.common import (
    action_flag,
    bootstrap_flag,
    command_config_flag,
    lazy,
    output_flag,
    verbose_flag,
)


def add_topics(commands: Any) -> None:
    parser = commands.add_parser(
        "topics",
        help="create, list, describe, alter and delete topics (kafka-topics)",
        description="Create, delete, describe, or change a topic, like kafka-topics.sh.",
    )
    actions = parser.add_mutually_exclusive_group(required=True)
    action_flag(actions, "--create", "create a new topic")
    action_flag(actions, "--list", "list all available topics")
    action_flag(actions, "--describe", "list details for the given topics")
    action_flag(actions, "--delete", "delete a topic")
    action_flag(actions, "--alter", "alter the number of partitions and replica assignment")
    bootstrap_flag(parser)
    command_config_flag(parser)
    parser.add_argument("--topic", help="the topic (a regular expression except for --create)")
    parser.add_argument("--partitions", type=int, help="number of partitions")
    parser.add_argument("--replication-factor", type=int, help="replicas per partition")
    parser.add_argument(
        "--config",
        action="append",
        metavar="NAME=VALUE",
        help="a topic config override for --create (repeatable)",
    )
    parser.add_argument(
        "--replica-assignment",
        metavar="B1:B2,B3:B4",
        help="manual assignment: partitions separated by ',', replicas by ':'",
    )
    parser.add_argument(
        "--if-not-exists", action="store_true", help="with --create: do nothing if the topic exists"
    )
    parser.add_argument(
        "--if-exists",
        action="store_true",
        help="with --alter, --delete, --describe: do nothing if absent",
    )
    parser.add_argument(
        "--exclude-internal",
        action="store_true",
        help="leave internal topics out of --list and --describe",
    )
    parser.add_argument(
        "--under-replicated-partitions",
        action="store_true",
        help="with --describe: only partitions with ISR < replicas",
    )
    parser.add_argument(
        "--unavailable-partitions",
        action="store_true",
        help="with --describe: only partitions without a leader",
    )
    parser.add_argument(
        "--topics-with-overrides",
        action="store_true",
        help="with --describe: only topics with config overrides",
    )
    output_flag(parser)
    verbose_flag(parser)
    parser.set_defaults(run=lazy("topics"))


def add_delete_records(commands: Any) -> None:
    parser = commands.add_parser(
        "delete-records",
        help="delete records below an offset (kafka-delete-records)",
        description="Move the log start offset of partitions forward, like "
        "kafka-delete-records.sh.",
    )
    bootstrap_flag(parser)
    command_config_flag(parser)
    parser.add_argument(
        "--offset-json-file",
        required=True,
        metavar="FILE",
        help='{"partitions": [{"topic": "t", "partition": 0, "offset": 3}], '
        '"version": 1}; offset -1 means the high watermark',
    )
    output_flag(parser)
    verbose_flag(parser)
    parser.set_defaults(run=lazy("delete_records"))
