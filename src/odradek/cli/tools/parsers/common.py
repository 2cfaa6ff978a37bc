"""The flags several client tools share, and the runner that imports a tool when it runs."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import Any

Runner = Callable[[argparse.Namespace], int]

TOOLS_EXTRA_HINT = "it is a dependency of odradek: reinstall odradek (pip install odradek)"


def lazy(module: str) -> Runner:
    """A ``run`` that imports ``odradek.cli.tools.<module>`` and calls its ``main``."""

    def run(args: argparse.Namespace) -> int:
        try:
            loaded = importlib.import_module(f"odradek.cli.tools.{module}")
        except ImportError as exc:
            if not (exc.name or "").startswith("confluent_kafka"):
                raise
            print(
                f"odradek: the client tools need confluent-kafka: {TOOLS_EXTRA_HINT}",
                file=sys.stderr,
            )
            return 1
        result: int = loaded.main(args)
        return result

    return run


def bootstrap_flag(parser: argparse.ArgumentParser, broker_list: bool = False) -> None:
    parser.add_argument(
        "--bootstrap-server", metavar="HOST:PORT[,HOST:PORT]", help="the cluster to connect to"
    )
    if broker_list:
        parser.add_argument(
            "--broker-list",
            dest="bootstrap_server",
            metavar="HOST:PORT",
            help="deprecated alias of --bootstrap-server",
        )


def command_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--command-config",
        metavar="FILE",
        help="client properties file (security settings, default.api.timeout.ms, ...)",
    )


def output_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        choices=["table", "json"],
        default="table",
        help="human-readable output (default) or JSON for scripts",
    )


def verbose_flag(parser: argparse.ArgumentParser) -> None:
    """``--verbose``: librdkafka's log on stderr (silent otherwise; errors are reported as one
    line each). Not on consumer-groups, where Kafka's ``--verbose`` means something else:
    ``odradek --verbose consumer-groups ...`` there."""
    parser.add_argument(
        "--verbose",
        dest="librdkafka_verbose",
        action="store_true",
        help="show librdkafka's log (connection attempts, retries) on stderr",
    )


def action_flag(group: Any, flag: str, help_text: str) -> None:
    const = flag.lstrip("-")
    group.add_argument(flag, dest="action", action="store_const", const=const, help=help_text)
