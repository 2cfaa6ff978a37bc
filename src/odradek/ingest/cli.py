"""``odradek ingest``: load topics into a table exactly once (ClickHouse's Kafka table engine
as a standalone consumer). Flags are named after the engine's settings; see docs/ingest.md.

It fails as every client tool does: nothing answering at the bootstrap address is one line on
stderr (``Error: ...``) and exit code 1, checked before the target is opened; librdkafka's log
only with ``--verbose``.

Standard library only at import time: the drivers load when the command runs."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from odradek.common.client_logs import set_verbose, verbose
from odradek.common.reachability import BadBootstrap, Unreachable, check
from odradek.ingest.errors import IngestError

EXIT_FAILED = 1  # as Kafka's tools, for bad flags and failed runs alike
BOOTSTRAP_ANSWER_TIMEOUT_S = 15.0

# flag -> (dest, engine setting it stands for, help)
_VALUE_FLAGS: list[tuple[str, str, str]] = [
    ("--bootstrap-server", "kafka_broker_list", "HOST:PORT[,HOST:PORT] of the cluster"),
    ("--group", "kafka_group_name", "consumer group (offsets are stored per group and table)"),
    ("--format", "kafka_format", "JSONEachRow, CSV, TSV, RawBLOB or Avro"),
    ("--schema", "kafka_schema", "Avro schema file (.avsc) for --format Avro"),
    ("--consumers", "kafka_num_consumers", "consumers (members of the group) in this process"),
    ("--max-block-size", "kafka_max_block_size", "records per block (transaction); 65536"),
    ("--poll-max-batch-size", "kafka_poll_max_batch_size", "records per poll; max-block-size"),
    ("--skip-broken-messages", "kafka_skip_broken_messages", "broken records a block may skip"),
    ("--client-id", "kafka_client_id", "client.id of the consumers"),
    ("--poll-timeout-ms", "kafka_poll_timeout_ms", "longest wait of one poll; 500"),
    ("--flush-interval-ms", "kafka_flush_interval_ms", "longest age of a block; 7500"),
    ("--handle-error-mode", "kafka_handle_error_mode", "default, or stream: errors to a table"),
]


def add_parser(commands: Any) -> None:
    """Register ``ingest`` on ``commands`` (an ``add_subparsers()`` result)."""
    parser = commands.add_parser(
        "ingest",
        help="load topics into a database table exactly once",
        description="Consume topics into a DuckDB, PostgreSQL or ClickHouse table exactly once: "
        "the rows and the consumed offsets are written together, and a restart continues "
        "from the offsets stored with the table. Settings are the ClickHouse Kafka engine's.",
    )
    configure_parser(parser)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", type=Path, help="a config file of 'name = value'")
    for flag, setting, text in _VALUE_FLAGS:
        parser.add_argument(flag, help=f"{text} ({setting})")
    parser.add_argument(
        "--topic", action="append", help="topic to consume, may repeat (kafka_topic_list)"
    )
    parser.add_argument(
        "--commit-every-batch",
        action="store_const",
        const=True,
        help="write every polled batch as its own block (kafka_commit_every_batch)",
    )
    target = parser.add_argument_group("target")
    target.add_argument(
        "--target",
        help="duckdb:///FILE (default), postgresql://... or clickhouse://HOST:HTTP_PORT/DB",
    )
    target.add_argument("--table", help="the table rows go to")
    target.add_argument(
        "--create-table", metavar="COLUMNS", help="create the table: 'id Int64, name String, ...'"
    )
    target.add_argument("--error-table", help="stream mode's error table; <table>_errors")
    target.add_argument("--offsets-table", help="where offsets are kept; odradek_ingest_offsets")
    target.add_argument("--auto-offset-reset", choices=["earliest", "latest"])
    target.add_argument(
        "--keeper",
        metavar="HOST:PORT[/PATH]",
        help="ZooKeeper keeping a ClickHouse target's offsets",
    )
    target.add_argument(
        "--keeper-path",
        metavar="PATH",
        help="znode of this ingest's offsets (kafka_keeper_path); /odradek-ingest/GROUP/DB.TABLE",
    )
    parser.add_argument(
        "--consumer-property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a librdkafka consumer property (session.timeout.ms, group.instance.id, ...)",
    )
    ops = parser.add_argument_group("operations")
    ops.add_argument("--state-dir", help="status file and pause flag; ./odradek-ingest")
    action = ops.add_mutually_exclusive_group()
    action.add_argument("--status", action="store_true", help="print the consumers' statistics")
    action.add_argument("--pause", action="store_true", help="pause the running ingest")
    action.add_argument("--resume", action="store_true", help="resume a paused ingest")
    ops.add_argument("--output", choices=["table", "json"], default="table", help="--status")
    ops.add_argument(
        "--metrics-port",
        metavar="PORT",
        help="serve the statistics as Prometheus metrics on http://HOST:PORT/metrics",
    )
    ops.add_argument("--metrics-host", metavar="HOST", help="--metrics-port's address; 127.0.0.1")
    ops.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    ops.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    ops.add_argument(
        "--verbose",
        dest="librdkafka_verbose",
        action="store_true",
        help="show librdkafka's log (connection attempts, ...) on stderr",
    )
    parser.set_defaults(run=run)


def _flag_values(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    names = [f[0] for f in _VALUE_FLAGS] + [
        "--commit-every-batch",
        "--target",
        "--table",
        "--create-table",
        "--error-table",
        "--offsets-table",
        "--auto-offset-reset",
        "--state-dir",
        "--metrics-port",
        "--metrics-host",
        "--keeper",
        "--keeper-path",
    ]
    for flag in names:
        dest = flag[2:].replace("-", "_")
        value = getattr(args, dest)
        if value is not None:
            values[dest] = value
    if args.topic:
        values["topics"] = args.topic
    return values


def load_settings(args: argparse.Namespace) -> Any:
    from odradek.ingest.settings import build_settings, read_config_file

    values: dict[str, Any] = read_config_file(args.config) if args.config else {}
    properties = dict(values.get("consumer_properties", {}))
    for item in args.consumer_property:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise IngestError(f"--consumer-property expects KEY=VALUE, got {item!r}")
        properties[key.strip()] = value.strip()
    values.update(_flag_values(args))
    values["consumer_properties"] = properties
    return build_settings(values)


def run(args: argparse.Namespace) -> int:
    set_verbose(verbose() or bool(args.librdkafka_verbose))
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.status or args.pause or args.resume:
            return _operate(args)
        settings = load_settings(args)
        if not _reachable(settings.bootstrap_server, settings.consumer_properties):
            return EXIT_FAILED
        from odradek.ingest.service import IngestService

        service = IngestService(settings)
        show = sys.stderr.isatty() if args.progress is None else args.progress
        service.progress = sys.stderr if show else None
        service.install_signal_handlers()
        return service.run()
    except IngestError as exc:
        print(f"odradek ingest: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _reachable(bootstrap: str, properties: dict[str, str]) -> bool:
    """Fail fast, before the target is opened, when nothing answers at the bootstrap address
    (one line on stderr); once running, a cluster that goes away is waited for."""
    try:
        check(bootstrap, properties, BOOTSTRAP_ANSWER_TIMEOUT_S)
    except (Unreachable, BadBootstrap) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return False
    return True


def _locate(args: argparse.Namespace) -> tuple[Path, str, str]:
    """State dir, group and table of the ingest an operation is about."""
    from odradek.ingest.settings import IngestSettings, read_config_file

    values: dict[str, Any] = read_config_file(args.config) if args.config else {}
    values.update(_flag_values(args))
    if not values.get("group") or not values.get("table"):
        raise IngestError("--status, --pause and --resume need --group and --table")
    state_dir = Path(values.get("state_dir") or IngestSettings.state_dir)
    return state_dir, str(values["group"]), str(values["table"])


def _operate(args: argparse.Namespace) -> int:
    from odradek.ingest.status import pause_path, read_status, render, status_path

    state_dir, group, table = _locate(args)
    if args.pause or args.resume:
        flag = pause_path(state_dir, group, table)
        if args.pause:
            state_dir.mkdir(parents=True, exist_ok=True)
            flag.touch()
        else:
            flag.unlink(missing_ok=True)
        print(f"{'paused' if args.pause else 'resumed'}: group {group!r}, table {table!r}")
        return 0
    document = read_status(status_path(state_dir, group, table))
    if document is None:
        print(f"odradek ingest: no status for group {group!r}, table {table!r} in {state_dir}")
        return EXIT_FAILED
    print(json.dumps(document, indent=1) if args.output == "json" else render(document))
    return 0
