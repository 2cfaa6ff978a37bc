"""The flags of ``cluster``, ``reassign-partitions`` and ``leader-election`` (kafka-cluster.sh,
kafka-reassign-partitions.sh, kafka-leader-election.sh)."""

from __future__ import annotations

import argparse
from typing import Any

from odradek.cli.tools.parsers.common import (
    bootstrap_flag,
    command_config_flag,
    lazy,
    output_flag,
    verbose_flag,
)


def add_cluster(commands: Any) -> None:
    parser = commands.add_parser(
        "cluster",
        help="cluster health check: id, controller, brokers, topics, groups",
        description="Describe the cluster: its id, controller and brokers, its topics and "
        "consumer groups. Exits 1 when the cluster cannot be reached or a partition has no "
        "leader.",
    )
    bootstrap_flag(parser)
    command_config_flag(parser)
    parser.add_argument(
        "--include-internal", action="store_true", help="count and list internal topics too"
    )
    output_flag(parser)
    verbose_flag(parser)
    parser.set_defaults(run=lazy("cluster"))


def add_reassign_partitions(commands: Any) -> None:
    parser = commands.add_parser(
        "reassign-partitions",
        help="move partition replicas between brokers (kafka-reassign-partitions)",
        description="Generate, execute, verify, list and cancel partition reassignments, like "
        "kafka-reassign-partitions.sh. Exactly one action.",
    )
    actions = parser.add_argument_group("actions (exactly one)")
    actions.add_argument(
        "--generate",
        action="store_true",
        help="propose an assignment of the topics of "
        "--topics-to-move-json-file onto the brokers of --broker-list",
    )
    actions.add_argument(
        "--execute", action="store_true", help="start the reassignment of --reassignment-json-file"
    )
    actions.add_argument(
        "--verify",
        action="store_true",
        help="report the progress of the reassignment of "
        "--reassignment-json-file (and clear throttles once it is done)",
    )
    actions.add_argument(
        "--cancel",
        action="store_true",
        help="cancel the active reassignments of --reassignment-json-file",
    )
    actions.add_argument(
        "--list", action="store_true", help="list the ongoing partition reassignments"
    )
    bootstrap_flag(parser)
    command_config_flag(parser)
    parser.add_argument(
        "--reassignment-json-file",
        metavar="FILE",
        help='{"version": 1, "partitions": [{"topic": "t", "partition": 0, '
        '"replicas": [1, 2], "log_dirs": ["any", "any"]}]} '
        "(--execute, --verify, --cancel)",
    )
    parser.add_argument(
        "--topics-to-move-json-file",
        metavar="FILE",
        help='{"topics": [{"topic": "t"}], "version": 1} (--generate)',
    )
    parser.add_argument(
        "--broker-list", metavar="0,1,2", help="the brokers to place the replicas on (--generate)"
    )
    parser.add_argument(
        "--disable-rack-aware",
        action="store_true",
        default=None,
        help="with --generate: ignore the brokers' racks",
    )
    parser.add_argument(
        "--additional",
        action="store_true",
        default=None,
        help="with --execute: start even if other reassignments are ongoing "
        "(also changes the throttle of ongoing ones)",
    )
    parser.add_argument(
        "--throttle",
        type=int,
        metavar="BYTES/S",
        help="with --execute: limit replication of the moving replicas "
        "(leader/follower.replication.throttled.rate)",
    )
    parser.add_argument(
        "--replica-alter-log-dirs-throttle",
        type=int,
        metavar="BYTES/S",
        help="with --execute: limit moves between log directories of a broker",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        metavar="MS",
        help="with --execute and --cancel: how long to wait for log directory "
        "moves to start (default 10000)",
    )
    parser.add_argument(
        "--preserve-throttles",
        action="store_true",
        default=None,
        help="with --verify and --cancel: leave the throttles in place",
    )
    verbose_flag(parser)
    parser.set_defaults(run=lazy("reassign_partitions"))


def _election_type(text: str) -> str:
    value = text.upper()
    if value not in ("PREFERRED", "UNCLEAN"):
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose from preferred, unclean)"
        )
    return value


def add_leader_election(commands: Any) -> None:
    parser = commands.add_parser(
        "leader-election",
        help="preferred or unclean leader election (kafka-leader-election)",
        description="Elect a new leader for partitions, like kafka-leader-election.sh: the "
        "preferred replica (if it is in sync and not the leader), or any replica when the "
        "partition has no leader (unclean).",
    )
    bootstrap_flag(parser)
    parser.add_argument(
        "--admin.config",
        "--command-config",
        dest="command_config",
        metavar="FILE",
        help="admin client properties file",
    )
    parser.add_argument(
        "--election-type",
        type=_election_type,
        metavar="PREFERRED|UNCLEAN",
        help="preferred or unclean (any case)",
    )
    parser.add_argument("--topic", help="the topic of the partition (with --partition)")
    parser.add_argument("--partition", type=int, help="the partition (with --topic)")
    parser.add_argument(
        "--all-topic-partitions",
        action="store_true",
        help="every eligible partition of the cluster",
    )
    parser.add_argument(
        "--path-to-json-file",
        metavar="FILE",
        help='{"partitions": [{"topic": "t", "partition": 0}]}',
    )
    verbose_flag(parser)
    parser.set_defaults(run=lazy("leader_election"))
