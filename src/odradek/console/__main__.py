"""``python -m odradek.console``: the ``console`` sub-command on its own."""

from __future__ import annotations

import argparse
import sys

from odradek.console.cli import add_parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="odradek")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["console", *(sys.argv[1:] if argv is None else argv)])
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
