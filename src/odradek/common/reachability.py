"""Does anything answer at the bootstrap address? A check every client tool makes before it
hands the address to librdkafka, which would otherwise retry a dead address until the
operation's timeout (60 s for admin calls, 120 s for a delivery) and log every attempt.

For each bootstrap address: resolve it, open a TCP connection, and, over PLAINTEXT, send an
ApiVersions v0 request and wait for the answer. The first address that answers is remembered
(``answered()``) so that a later timeout is reported as "the cluster answered, but ..." instead
of blaming the bootstrap address. Over SSL/SASL only the TCP connection is checked.

Standard library only: the perf tools use it too.
"""

from __future__ import annotations

import queue
import re
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_ANSWER_TIMEOUT = 30.0
API_VERSIONS = 18
CLIENT_ID = b"odradek-tool"
_SCHEME = re.compile(r"^[A-Za-z_]+://")

_answered: str | None = None


class Unreachable(Exception):
    """Nothing answered at the bootstrap address; ``str()`` is the one-line reason."""


class BadBootstrap(Exception):
    """The bootstrap address cannot be parsed (Kafka: ``Invalid url in bootstrap.servers``)."""


@dataclass(frozen=True)
class Address:
    text: str
    host: str
    port: int


def answered() -> str | None:
    """The bootstrap address that answered the last successful ``check``, if any."""
    return _answered


def parse_bootstrap(bootstrap: str) -> list[Address]:
    """``host:port[,host:port]`` (an optional ``PLAINTEXT://``-style prefix, ``[v6]:port``)."""
    addresses = []
    for item in bootstrap.split(","):
        text = item.strip()
        if not text:
            continue
        bare = _SCHEME.sub("", text)
        host, sep, port = bare.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise BadBootstrap(f"Invalid url in bootstrap.servers: {text}")
        addresses.append(Address(text, host, int(port)))
    if not addresses:
        raise BadBootstrap("No bootstrap server given (bootstrap.servers is empty)")
    return addresses


def timeouts(
    config: Mapping[str, object], answer_default: float = DEFAULT_ANSWER_TIMEOUT
) -> tuple[float, float]:
    """(connect, answer) timeouts in seconds: ``socket.connection.setup.timeout.ms`` and
    ``request.timeout.ms`` when the client config sets them, else 5 s and ``answer_default``."""
    return (
        _ms(config, "socket.connection.setup.timeout.ms", DEFAULT_CONNECT_TIMEOUT),
        _ms(config, "request.timeout.ms", answer_default),
    )


def _ms(config: Mapping[str, object], key: str, default: float) -> float:
    raw = config.get(key)
    if raw is None:
        return default
    try:
        return max(int(str(raw)), 1) / 1000
    except ValueError:
        return default  # librdkafka reports the bad value itself


def uses_plaintext(config: Mapping[str, object]) -> bool:
    return str(config.get("security.protocol", "PLAINTEXT")).upper() == "PLAINTEXT"


def check(
    bootstrap: str,
    config: Mapping[str, object] | None = None,
    answer_default: float = DEFAULT_ANSWER_TIMEOUT,
) -> str:
    """The first bootstrap address that answers; raises Unreachable (or BadBootstrap).

    The addresses are tried in parallel so that one silent address (a firewall dropping
    packets) does not hide another that answers."""
    global _answered
    settings = config or {}
    addresses = parse_bootstrap(bootstrap)
    connect_timeout, answer_timeout = timeouts(settings, answer_default)
    handshake = uses_plaintext(settings)
    results: queue.Queue[tuple[Address, str | None]] = queue.Queue()
    for address in addresses:
        threading.Thread(
            target=lambda a=address: results.put(
                (a, _probe(a, connect_timeout, answer_timeout, handshake))
            ),
            daemon=True,
        ).start()
    failures: dict[str, str] = {}
    for _ in addresses:
        address, problem = results.get()
        if problem is None:
            _answered = address.text
            return address.text
        failures[address.text] = problem
    _answered = None
    raise Unreachable(_unreachable_message(addresses, failures))


def _unreachable_message(addresses: list[Address], failures: Mapping[str, str]) -> str:
    if len(addresses) == 1:
        only = addresses[0].text
        return f"no broker answers at the bootstrap address {only} ({failures[only]})"
    reasons = "; ".join(f"{a.text}: {failures[a.text]}" for a in addresses)
    return f"no broker answers at any bootstrap address ({reasons})"


def _probe(
    address: Address, connect_timeout: float, answer_timeout: float, handshake: bool
) -> str | None:
    """None when the address answers, else the reason (a few words)."""
    try:
        sock = socket.create_connection((address.host, address.port), timeout=connect_timeout)
    except socket.gaierror:
        return f"cannot resolve host {address.host}"
    except TimeoutError:
        return f"connection timed out after {connect_timeout:g}s"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    with sock:
        if not handshake:
            return None
        return _api_versions(sock, answer_timeout)


def _api_versions(sock: socket.socket, timeout: float) -> str | None:
    correlation = 0x0D7A
    header = struct.pack(">hhih", API_VERSIONS, 0, correlation, len(CLIENT_ID)) + CLIENT_ID
    deadline = time.monotonic() + timeout
    try:
        sock.sendall(struct.pack(">i", len(header)) + header)
        head = _read(sock, 8, deadline)
    except TimeoutError:
        return f"the server accepted the connection but sent no Kafka response within {timeout:g}s"
    except OSError as exc:
        return f"connection failed: {(exc.strerror or str(exc)).lower()}"
    if head is None:
        return (
            "the server closed the connection without a Kafka response (is it a Kafka "
            "listener? check security.protocol)"
        )
    _size, got = struct.unpack(">ii", head)
    if got != correlation:
        return "the server's answer is not a Kafka response (is it a Kafka listener?)"
    return None


def _read(sock: socket.socket, size: int, deadline: float) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)
