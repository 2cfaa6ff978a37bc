"""``odradek dump-log FILE.log...``: print batches (and records) and check CRCs and indexes,
like kafka-dump-log.sh. Exits 1 when any file is inconsistent."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("dump-log", help="inspect .log segment files offline")
    parser.add_argument("files", nargs="*", type=Path, help=".log files")
    parser.add_argument(
        "--files",
        dest="more_files",
        action="append",
        default=[],
        type=Path,
        help="as kafka-dump-log.sh --files (may repeat or use commas)",
    )
    parser.add_argument(
        "--print-data-log", action="store_true", help="print every record (key, value, headers)"
    )
    parser.add_argument("--skip-index-check", action="store_true")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    files = list(args.files)
    for item in args.more_files:
        files += [Path(p) for p in str(item).split(",") if p]
    if not files:
        print("odradek dump-log: no files given")
        return 2
    from odradek.storage.dump import dump_log_file  # only this command needs the storage code

    ok = True
    for path in files:
        try:
            report = dump_log_file(path, print, args.print_data_log, not args.skip_index_check)
        except OSError as exc:
            print(f"odradek dump-log: {path}: {exc.strerror}")
            ok = False
            continue
        ok = ok and report.ok
    return 0 if ok else 1
