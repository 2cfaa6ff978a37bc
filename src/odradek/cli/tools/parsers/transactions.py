"""The flags of ``transactions`` (kafka-transactions.sh)."""

from __future__ import annotations

import argparse
from typing import Any

from odradek.cli.tools.parsers.common import (
    lazy,
)

TRANSACTIONS_DESCRIPTION = (
    "This tool is used to analyze the transactional state of producers "
    "in the cluster. It can be used to detect and recover from hanging "
    "transactions."
)


def _transactions_output(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--output",
        choices=["table", "json"],
        default=default,
        help="a table as kafka-transactions.sh prints it (default), or JSON",
    )


def add_transactions(commands: Any) -> None:
    """``transactions``: kafka-transactions.sh, on the tool's own kio client (confluent-kafka
    has none of its requests)."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "transactions",
        help="list, describe and abort transactions (kafka-transactions.sh)",
        description=TRANSACTIONS_DESCRIPTION,
    )
    parser.add_argument(
        "--bootstrap-server",
        required=True,
        metavar="host:port",
        help="hostname and port for the broker to connect to, in the form "
        "`host:port` (multiple comma-separated entries can be given)",
    )
    parser.add_argument(
        "--command-config",
        metavar="FILE",
        help="property file containing configs to be passed to admin client",
    )
    _transactions_output(parser, "table")
    parser.set_defaults(run=lazy("transactions"))
    sub = parser.add_subparsers(
        dest="txn_command", metavar="COMMAND", required=True, title="commands"
    )

    listing = sub.add_parser("list", help="list transactions")
    listing.add_argument(
        "--duration-filter",
        type=int,
        metavar="MS",
        help="Duration (in millis) to filter by: if < 0, all transactions "
        "will be returned; otherwise, only transactions running longer "
        "than this duration will be returned",
    )

    describe = sub.add_parser(
        "describe",
        help="describe the state of an active transactional-id",
        description="Describe the state of an active transactional-id.",
    )
    describe.add_argument("--transactional-id", required=True, help="transactional id")

    producers = sub.add_parser(
        "describe-producers", help="describe the states of active producers for a topic partition"
    )
    producers.add_argument(
        "--broker-id",
        type=int,
        help="optional broker id to describe the producer state on a specific replica",
    )
    producers.add_argument("--topic", required=True, help="topic name")
    producers.add_argument("--partition", type=int, required=True, help="partition number")

    abort = sub.add_parser(
        "abort", help="abort a hanging transaction (requires administrative privileges)"
    )
    abort.add_argument("--topic", required=True, help="topic name")
    abort.add_argument("--partition", type=int, required=True, help="partition number")
    newer = abort.add_argument_group(
        "Brokers on versions 3.0 and above",
        "For newer brokers, only the start offset of the transaction to be aborted is required",
    )
    newer.add_argument("--start-offset", type=int, help="start offset of the transaction to abort")
    older = abort.add_argument_group(
        "Brokers on versions older than 3.0",
        "For older brokers, you must provide all of these arguments",
    )
    older.add_argument("--producer-id", type=int, help="producer id")
    older.add_argument("--producer-epoch", type=int, help="producer epoch")
    older.add_argument("--coordinator-epoch", type=int, help="coordinator epoch")

    hanging = sub.add_parser("find-hanging", help="find hanging transactions")
    hanging.add_argument(
        "--broker-id", type=int, help="broker id to search for hanging transactions"
    )
    hanging.add_argument(
        "--max-transaction-timeout",
        type=int,
        default=15,
        metavar="MINUTES",
        help="maximum transaction timeout in minutes to limit the scope of "
        "the search (15 minutes by default)",
    )
    hanging.add_argument(
        "--topic", help="topic name to limit search to (required if --partition is specified)"
    )
    hanging.add_argument("--partition", type=int, help="partition number")

    for command in (listing, describe, producers, abort, hanging):
        _transactions_output(command, argparse.SUPPRESS)
