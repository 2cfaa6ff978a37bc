"""``odradek`` entry point: dispatches to the sub-commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from odradek.cli import dump_log, serve
from odradek.cli.argparsing import OdradekParser, kafka_exit_codes
from odradek.common.client_logs import set_verbose
from odradek.common.version import __version__

# Sub-commands that are not Kafka client tools keep argparse's exit code 2 for bad flags.
NOT_CLIENT_TOOLS = frozenset({"serve", "dump-log"})


def build_parser() -> argparse.ArgumentParser:
    parser = OdradekParser(
        prog="odradek", description="A Kafka-compatible event streaming platform."
    )
    parser.add_argument("--version", action="version", version=f"odradek {__version__}")
    parser.add_argument(
        "--verbose",
        dest="odradek_verbose",
        action="store_true",
        help="client tools: show librdkafka's log (connection attempts, ...) on stderr",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve.add_parser(commands)
    dump_log.add_parser(commands)
    from odradek.cli.tools import add_parsers as add_client_tools

    add_client_tools(commands)
    from odradek.cli.perf import add_parser as add_perf_tools

    add_perf_tools(commands)
    from odradek.console.cli import add_parser as add_console
    from odradek.ingest.cli import add_parser as add_ingest

    add_ingest(commands)
    add_console(commands)
    for name, tool in commands.choices.items():
        if name not in NOT_CLIENT_TOOLS:
            kafka_exit_codes(tool)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    set_verbose(
        bool(getattr(args, "odradek_verbose", False) or getattr(args, "librdkafka_verbose", False))
    )
    try:
        result: int = args.run(args)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return result


if __name__ == "__main__":
    sys.exit(main())
