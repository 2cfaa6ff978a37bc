"""``python -m odradek.ingest ...``: the ``odradek ingest`` command on its own."""

from __future__ import annotations

import argparse
import sys

from odradek.ingest.cli import configure_parser


def main() -> int:
    parser = argparse.ArgumentParser(prog="odradek ingest")
    configure_parser(parser)
    args = parser.parse_args()
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
