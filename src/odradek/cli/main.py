"""``odradek`` entry point: dispatches to the sub-commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from odradek import __version__
from odradek.cli import dump_log, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="odradek",
                                     description="A Kafka-compatible event streaming platform.")
    parser.add_argument("--version", action="version", version=f"odradek {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve.add_parser(commands)
    dump_log.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
