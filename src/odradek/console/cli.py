"""``odradek console``: the flags, their checks (a listen address off loopback needs
authentication, something must answer at the bootstrap address) and running the app under
uvicorn until SIGINT/SIGTERM.

It fails as every client tool does: one line on stderr and exit code 1. Once listening it
prints one line saying where; librdkafka's log and the web server's own lines only with
``--verbose``."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import socket
import sys
from types import FrameType
from typing import TYPE_CHECKING

from odradek.common.client_logs import set_verbose, verbose
from odradek.common.reachability import BadBootstrap, Unreachable, check
from odradek.console.client_config import ClientConfigError, load_client_config
from odradek.console.htpasswd import Htpasswd, HtpasswdError, read_htpasswd

if TYPE_CHECKING:
    import uvicorn

DEFAULT_LISTEN = "127.0.0.1:8080"
EXIT_FAILED = 1  # as Kafka's tools, for bad flags and failed runs alike
BOOTSTRAP_ANSWER_TIMEOUT_S = 15.0


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
        "--command-config",
        metavar="FILE",
        help="client properties, as the other tools take them (Java or librdkafka names)",
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
        "--verbose",
        dest="librdkafka_verbose",
        action="store_true",
        help="show librdkafka's log, the web server's and each request on stderr",
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


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (OSError when it cannot be had)."""
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return socket.create_server(address[:2], family=family)


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def run(args: argparse.Namespace) -> int:
    set_verbose(verbose() or bool(args.librdkafka_verbose))
    logging.basicConfig(
        level=logging.INFO if verbose() else logging.WARNING,
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
    except (ListenError, HtpasswdError) as exc:
        print(f"odradek console: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        client = load_client_config(args.command_config)
        client["bootstrap.servers"] = args.bootstrap_server
        check(args.bootstrap_server, client, BOOTSTRAP_ANSWER_TIMEOUT_S)
        sock = listen(host, port)
    except (ClientConfigError, Unreachable, BadBootstrap) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"Error: cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    return serve(args, client, users, sock)


def serve(
    args: argparse.Namespace, client: dict[str, str], users: Htpasswd | None, sock: socket.socket
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
        log_config=None,  # uvicorn's loggers go to the root logger set up in ``run``
        log_level="info" if verbose() else "warning",
        access_log=verbose(),
        lifespan="on",
    )
    server = uvicorn.Server(config)
    stop_on_signals(server)
    print(f"odradek console for {args.bootstrap_server} listening on {url_of(sock)}", flush=True)
    with sock:
        server.run(sockets=[sock])
    return 0 if server.started else EXIT_FAILED


def stop_on_signals(server: uvicorn.Server) -> None:
    """SIGINT and SIGTERM stop ``server`` and the console exits 0. uvicorn handles both while
    it serves, and after its graceful shutdown raises the signal again for the handler it
    found: this one, which asks the server to stop (if it was not serving yet) and otherwise
    changes nothing, instead of the process dying of the signal or of a KeyboardInterrupt."""

    def handle(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handle)
