"""The flags of ``consumer-groups`` (kafka-consumer-groups.sh), offset resets included."""

from __future__ import annotations

import argparse
from typing import Any

from odradek.cli.tools.parsers.common import (
    action_flag,
    bootstrap_flag,
    command_config_flag,
    lazy,
    output_flag,
)


def add_consumer_groups(commands: Any) -> None:
    parser = commands.add_parser(
        "consumer-groups",
        help="list, describe, delete groups; reset offsets (kafka-consumer-groups)",
        description="List, describe and delete consumer groups and reset or delete their "
        "offsets, like kafka-consumer-groups.sh.",
    )
    actions = parser.add_mutually_exclusive_group(required=True)
    action_flag(actions, "--list", "list all consumer groups")
    action_flag(
        actions, "--describe", "describe groups: offsets and lag (default), --members or --state"
    )
    action_flag(actions, "--delete", "delete groups (they must have no members)")
    action_flag(actions, "--reset-offsets", "reset the committed offsets of inactive groups")
    action_flag(actions, "--delete-offsets", "delete committed offsets of a group for topics")
    bootstrap_flag(parser)
    command_config_flag(parser)
    parser.add_argument("--group", action="append", help="a group id (repeatable)")
    parser.add_argument("--all-groups", action="store_true", help="every group")
    parser.add_argument(
        "--topic",
        action="append",
        metavar="TOPIC[:P1,P2]",
        help="topic (and partitions) for --reset-offsets / --delete-offsets",
    )
    parser.add_argument(
        "--all-topics",
        action="store_true",
        help="with --reset-offsets: every topic the group has offsets for",
    )
    parser.add_argument("--members", action="store_true", help="with --describe: members")
    parser.add_argument("--offsets", action="store_true", help="with --describe: offsets")
    parser.add_argument(
        "--state",
        nargs="?",
        const="",
        default=None,
        metavar="STATES",
        help="with --describe: group state; with --list: show (and filter by "
        "comma-separated) states",
    )
    parser.add_argument(
        "--type",
        nargs="?",
        const="",
        default=None,
        metavar="TYPES",
        help="with --list: show (and filter by comma-separated) group types (classic, consumer)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="with --describe --members: the assignments too"
    )
    _reset_flags(parser)
    parser.add_argument(
        "--timeout",
        type=int,
        default=5000,
        metavar="MS",
        help="timeout of admin requests (default 5000)",
    )
    output_flag(parser)
    parser.set_defaults(run=lazy("consumer_groups"))


def _reset_flags(parser: argparse.ArgumentParser) -> None:
    scenarios = parser.add_argument_group("reset scenarios (exactly one with --reset-offsets)")
    scenarios.add_argument("--to-earliest", action="store_true")
    scenarios.add_argument("--to-latest", action="store_true")
    scenarios.add_argument("--to-current", action="store_true")
    scenarios.add_argument("--to-offset", type=int, metavar="OFFSET")
    scenarios.add_argument(
        "--to-datetime",
        metavar="YYYY-MM-DDTHH:mm:SS.sss",
        help="local time unless a zone is given (Z or +hh:mm)",
    )
    scenarios.add_argument(
        "--by-duration",
        metavar="PnDTnHnMnS",
        help="reset to the offset of now minus this ISO-8601 duration",
    )
    scenarios.add_argument(
        "--shift-by",
        type=int,
        metavar="N",
        help="move the committed offsets by N (may be negative)",
    )
    scenarios.add_argument(
        "--from-file",
        metavar="CSV",
        help="offsets from a CSV of topic,partition,offset (or group,topic,partition,offset)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="show the new offsets only (the default)"
    )
    parser.add_argument("--execute", action="store_true", help="commit the new offsets")
    parser.add_argument(
        "--export", action="store_true", help="print the new offsets as CSV (for --from-file)"
    )
