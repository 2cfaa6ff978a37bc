"""``odradek console``: the flags, their checks (a listen address off loopback needs
authentication) and running the app under uvicorn until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

from odradek.console.client_config import ClientConfigError, load_client_config
from odradek.console.htpasswd import Htpasswd, HtpasswdError, read_htpasswd

DEFAULT_LISTEN = "127.0.0.1:8080"


class ListenError(ValueError):
    """A ``--listen`` address that cannot be used; ``str()`` says why."""


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "console",
        help="run the web console for a Kafka cluster",
        description="A web console for any Kafka cluster: topics, messages, consumer groups "
        "and lag, brokers, latency. It talks to the cluster as a Kafka client.",
    )
    parser.add_argument("--bootstrap-server", required=True, metavar="HOST:PORT")
    parser.add_argument(
        "--command-config", metavar="FILE", help="client properties (librdkafka's names)"
    )
    parser.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT")
    parser.add_argument(
        "--metrics-url",
        action="append",
        default=[],
        metavar="URL",
        help="a broker's Prometheus metrics endpoint (http://host:9404/metrics), may repeat",
    )
    parser.add_argument("--basic-auth-file", metavar="FILE", help="an htpasswd file")
    parser.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="listen on a non-loopback address without --basic-auth-file",
    )
    parser.add_argument(
        "--sample-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how often group lag and throughput are sampled for the charts (default 10)",
    )
    parser.add_argument(
        "--probe-interval",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="run the latency probe in the background this often (default 0: on demand)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.set_defaults(run=run)


def parse_listen(text: str) -> tuple[str, int]:
    """(host, port) of ``HOST:PORT`` (``[v6]:PORT`` for IPv6)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ListenError(f"--listen expects HOST:PORT, got {text!r}")
    host = host.removeprefix("[").removesuffix("]")
    return host or "0.0.0.0", int(port)  # ":8080": every interface


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
    )
    try:
        host, port = parse_listen(args.listen)
        users = read_htpasswd(args.basic_auth_file) if args.basic_auth_file else None
        if users is None and not is_loopback(host) and not args.allow_unauthenticated:
            raise ListenError(
                f"refusing to listen on {host} without authentication: give "
                "--basic-auth-file, listen on loopback, or pass --allow-unauthenticated"
            )
        client = load_client_config(args.command_config)
    except (ListenError, HtpasswdError, ClientConfigError) as exc:
        print(f"odradek console: {exc}", file=sys.stderr)
        return 2
    client["bootstrap.servers"] = args.bootstrap_server
    return serve(args, client, users, host, port)


def serve(
    args: argparse.Namespace, client: dict[str, str], users: Htpasswd | None, host: str, port: int
) -> int:
    import uvicorn

    from odradek.console.app import ConsoleSettings, create_app

    settings = ConsoleSettings(
        client=client,
        metrics_urls=tuple(args.metrics_url),
        users=users,
        sample_interval=max(args.sample_interval, 0.5),
        probe_interval=max(args.probe_interval, 0.0),
    )
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level=args.log_level.lower(),
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except OSError as exc:
        print(f"odradek console: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0 if server.started else 1
