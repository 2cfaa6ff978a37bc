"""``odradek console``'s flags: listen addresses, and what it refuses before it starts."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from odradek.console.cli import ListenError, add_parser, is_loopback, parse_listen
from odradek.console.client_config import ClientConfigError, is_plaintext, load_client_config


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["console", "--bootstrap-server", "127.0.0.1:1", *argv])


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen(":8080") == ("0.0.0.0", 8080)
    for bad in ("8080", "host:", "host:0", "host:70000", "host:http"):
        with pytest.raises(ListenError):
            parse_listen(bad)


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.1.2.3") and is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1")
    assert not is_loopback("console.example")


def test_non_loopback_without_auth_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse("--listen", "0.0.0.0:8080")
    assert args.run(args) == 1
    assert capsys.readouterr().err == (
        "odradek console: error: refusing to listen on 0.0.0.0 without authentication: give "
        "--basic-auth-file, listen on loopback, or pass --allow-unauthenticated\n"
    )


def test_bad_auth_file_and_command_config_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = tmp_path / "users"
    users.write_text("alice:$2y$05$abcdefghijklmnopqrstuuQv6t5dkhVzF4yRr0ZQ5oKQk6Q0Yxv1W\n")
    args = parse("--listen", "10.0.0.1:8080", "--basic-auth-file", str(users))
    assert args.run(args) == 1
    assert "bcrypt hashes are not supported" in capsys.readouterr().err

    config = tmp_path / "client.properties"
    config.write_text("security.protocol=SASL_SSL\nsasl.jaas.config=x required;\n")
    args = parse("--command-config", str(config))
    assert args.run(args) == 1
    assert capsys.readouterr().err == (
        f"Error: --command-config {config}: sasl.jaas.config: login module x has no librdkafka "
        "translation (PlainLoginModule and ScramLoginModule do); set librdkafka's sasl.* "
        "settings instead\n"
    )


def test_client_config(tmp_path: Path) -> None:
    """The console takes the client properties every tool takes: librdkafka's names as they
    are, Java's translated, and what librdkafka cannot honour refused."""
    assert load_client_config(None) == {}
    config = tmp_path / "client.properties"
    config.write_text("security.protocol = SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n")
    settings = load_client_config(config)
    assert settings == {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"}
    assert not is_plaintext(settings)
    assert is_plaintext({}) and is_plaintext({"security.protocol": "plaintext"})
    with pytest.raises(ClientConfigError, match="cannot read"):
        load_client_config(tmp_path / "missing")

    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    config.write_text(
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-256\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="alice" password="s3cret";\n'
        f"ssl.truststore.location={ca}\nsend.buffer.bytes=131072\n"
    )
    assert load_client_config(config) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "alice",
        "sasl.password": "s3cret",
        "ssl.ca.location": str(ca),
        "socket.send.buffer.bytes": "131072",
    }

    jks = tmp_path / "trust.jks"
    jks.write_bytes(b"\xfe\xed\xfe\xed\x00\x00\x00\x02")
    config.write_text(f"ssl.truststore.location={jks}\n")
    with pytest.raises(ClientConfigError, match=r"JKS truststore.*ssl\.ca\.location"):
        load_client_config(config)
    config.write_text("ssl.protocol=TLSv1.3\n")
    with pytest.raises(ClientConfigError, match=r"ssl\.protocol is a Java client setting"):
        load_client_config(config)
