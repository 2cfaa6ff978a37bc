"""``odradek serve``: run a broker until SIGINT/SIGTERM, then shut down cleanly."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the broker is imported when `serve` runs, not for every `odradek` tool
    from odradek.config.broker import BrokerConfig

log = logging.getLogger(__name__)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="run a broker",
        description="Run a broker. With no arguments: a single-node "
        "broker on 127.0.0.1:9092 with its data in ./odradek-data.",
    )
    parser.add_argument("properties", nargs="?", type=Path, help="a Kafka server.properties file")
    parser.add_argument("--data-dir", type=Path, help="shorthand for --override log.dirs=DIR")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a broker config (Kafka's names), may repeat",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.set_defaults(run=run)


def parse_overrides(items: list[str]) -> dict[str, str]:
    from odradek.common.errors import ConfigError

    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--override expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def run(args: argparse.Namespace) -> int:
    from odradek.common.errors import ConfigError
    from odradek.config.broker import load_broker_config

    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
    )
    try:
        overrides = parse_overrides(args.override)
        if args.data_dir is not None:
            overrides.setdefault("log.dirs", str(args.data_dir))
        config = load_broker_config(args.properties, overrides)
    except ConfigError as exc:
        print(f"odradek: invalid configuration: {exc}", file=sys.stderr)
        return 2
    return serve(config)


def serve(config: BrokerConfig) -> int:
    from odradek.cli.open_files import exhaustion_hint, log_open_file_limit
    from odradek.common.errors import KafkaStorageError
    from odradek.storage.file_lock import LogDirLockedError

    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        runner = asyncio.run
    log_open_file_limit()
    try:
        return int(runner(_serve(config)))
    except (OSError, LogDirLockedError, KafkaStorageError) as exc:
        print(f"odradek: cannot start: {exc}{exhaustion_hint(exc)}", file=sys.stderr)
        return 1


async def _serve(config: BrokerConfig) -> int:
    """Run the broker until a signal, or until it must stop (every log dir offline: then
    the exit status is 1)."""
    from odradek.server.broker import BrokerServer

    broker = BrokerServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        # The first SIGINT/SIGTERM starts the clean shutdown; another one skips its controlled
        # phase (waiting for the controller to move leaderships away).
        if stop.is_set():
            broker.skip_controlled_shutdown()
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    _dump_stacks_on_sigquit(loop)
    broker.on_fatal.append(stop.set)
    await broker.start()
    try:
        await stop.wait()
    finally:
        await broker.stop()
        status = 0 if broker.fatal_error is None else 1
        _exit_even_if_threads_hang(status)
    return status


EXIT_GRACE_S = 10.0


def _exit_even_if_threads_hang(status: int) -> None:
    """The clean shutdown is done (logs flushed, clean-shutdown marker written). Python still
    joins worker threads before the process exits, and one blocked for ever (a ZooKeeper
    call retrying against a ZooKeeper that is gone) would keep the broker alive: after a
    grace period, exit regardless."""

    def force_exit() -> None:
        log.warning("threads still blocked %.0f s after the clean shutdown: exiting", EXIT_GRACE_S)
        logging.shutdown()
        os._exit(status)

    timer = threading.Timer(EXIT_GRACE_S, force_exit)
    timer.daemon = True
    timer.start()


def _dump_stacks_on_sigquit(loop: asyncio.AbstractEventLoop) -> None:
    """``kill -QUIT <pid>`` prints every thread's stack and every asyncio task's stack to
    stderr and the broker keeps running, as a JVM's thread dump does for a Kafka broker: the
    way to see where a hung broker waits. The thread dump comes from faulthandler, so it works
    even when the event loop itself is blocked."""

    def dump_tasks() -> None:
        print("--- asyncio tasks ---", file=sys.stderr)
        for task in asyncio.all_tasks(loop):
            task.print_stack(limit=8, file=sys.stderr)
        sys.stderr.flush()

    loop.add_signal_handler(signal.SIGQUIT, dump_tasks)
    faulthandler.register(signal.SIGQUIT, file=sys.stderr, all_threads=True, chain=True)
