"""The pieces behind the tools' failures: bootstrap addresses, the reachability probe against
local sockets, one-line argparse errors, and the synonyms confluent-kafka collapses."""

from __future__ import annotations

import contextlib
import io
import socket
import threading

import pytest

from odradek.cli.main import main
from odradek.cli.tools.configs_wire import rebuild
from odradek.common import reachability
from odradek.common.reachability import Address, BadBootstrap, Unreachable


@pytest.mark.parametrize(
    "text, expected",
    [
        ("localhost:9092", [Address("localhost:9092", "localhost", 9092)]),
        (" a:1 , b:2 ", [Address("a:1", "a", 1), Address("b:2", "b", 2)]),
        ("PLAINTEXT://h:9092", [Address("PLAINTEXT://h:9092", "h", 9092)]),
        ("[::1]:9092", [Address("[::1]:9092", "::1", 9092)]),
    ],
)
def test_bootstrap_addresses(text: str, expected: list[Address]) -> None:
    assert reachability.parse_bootstrap(text) == expected


@pytest.mark.parametrize("text", ["localhost", "h:port", "h:0", "h:70000", ":9092", " , "])
def test_malformed_bootstrap_addresses(text: str) -> None:
    with pytest.raises(BadBootstrap):
        reachability.parse_bootstrap(text)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_is_unreachable() -> None:
    port = _closed_port()
    with pytest.raises(Unreachable) as raised:
        reachability.check(f"127.0.0.1:{port}")
    assert str(raised.value) == (
        f"no broker answers at the bootstrap address 127.0.0.1:{port} (connection refused)"
    )
    assert reachability.answered() is None


def _listener(reply: bytes | None) -> socket.socket:
    """A server that reads one request and answers ``reply`` (None: closes at once)."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            with conn:
                conn.recv(1024)
                if reply is not None:
                    conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_a_port_that_is_not_kafka_is_reported() -> None:
    with _listener(None) as server:
        address = f"127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(Unreachable) as raised:
            reachability.check(address)
    assert "closed the connection without a Kafka response" in str(raised.value)


def test_over_tls_only_the_connection_is_checked() -> None:
    with _listener(None) as server:
        address = f"127.0.0.1:{server.getsockname()[1]}"
        assert reachability.check(address, {"security.protocol": "SSL"}) == address
    assert reachability.answered() == address


def test_a_kafka_answer_is_enough() -> None:
    answer = bytes.fromhex("0000000a00000d7a000000000000")
    with _listener(answer) as server:
        address = f"127.0.0.1:{server.getsockname()[1]}"
        dead = f"127.0.0.1:{_closed_port()}"
        assert reachability.check(f"{dead},{address}") == address


def test_timeouts_come_from_the_client_config() -> None:
    assert reachability.timeouts({}) == (5.0, 30.0)
    assert reachability.timeouts(
        {"socket.connection.setup.timeout.ms": "2000", "request.timeout.ms": "7000"}
    ) == (2.0, 7.0)


def _run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, err.getvalue()


def test_an_unknown_flag_is_named_before_a_missing_action() -> None:
    assert _run("topics", "--lst") == (
        1,
        "odradek topics: error: --lst is not a recognized option (did you mean --list?)\n",
    )


def test_flag_values_with_an_equals_sign_are_named_by_flag() -> None:
    code, err = _run("configs", "--describe", "--entity-tipe=topics")
    assert code == 1
    assert "--entity-tipe is not a recognized option (did you mean --entity-type?)" in err


def test_serve_keeps_argparse_exit_code() -> None:
    code, err = _run("serve", "--no-such-flag")
    assert code == 2 and err.count("\n") == 1


def test_synonyms_rebuilt_from_what_confluent_kafka_kept() -> None:
    kept = [("message.max.bytes", "1048588", "DEFAULT_CONFIG")]
    assert rebuild("message.max.bytes", "2000000", "DYNAMIC_BROKER_CONFIG", kept) == [
        ("message.max.bytes", "2000000", "DYNAMIC_BROKER_CONFIG"),
        ("message.max.bytes", "1048588", "DEFAULT_CONFIG"),
    ]
    assert rebuild("message.max.bytes", "1048588", "DEFAULT_CONFIG", kept) == kept
    retention = [("log.retention.hours", "168", "DEFAULT_CONFIG")]
    assert rebuild("log.retention.ms", None, "DEFAULT_CONFIG", retention) == retention
