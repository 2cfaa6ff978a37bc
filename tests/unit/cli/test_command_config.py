"""Client properties (``--command-config``, ``--producer.config``, ...) as librdkafka settings:
Kafka's Java names translated, security settings never dropped, and the one-line errors of
the tools when a property cannot be honoured."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from odradek.cli.main import main
from odradek.security.client_properties import (
    ClientConfig,
    ClientConfigError,
    librdkafka_config,
    store_type,
    translate,
)

SCRAM_JAAS = (
    "org.apache.kafka.common.security.scram.ScramLoginModule required "
    'username="alice" password="s3cr=t;x";'
)
PEM_CERT = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_KEYSTORE = PEM_CERT + b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
PKCS12_HEAD = b"\x30\x82\x0a\x01\x02\x01\x03"
JKS_HEAD = b"\xfe\xed\xfe\xed\x00\x00\x00\x02"


def write(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def settings(props: dict[str, str]) -> dict[str, str]:
    return translate(props).settings


# -- names -------------------------------------------------------------------------------------


def test_librdkafka_names_pass_through() -> None:
    props = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "bob",
        "sasl.password": "pw",
        "ssl.ca.location": "/etc/ca.pem",
        "ssl.key.password": "kp",
        "client.id": "tool",
    }
    assert translate(props).ignored == ()
    assert settings(props) == props


def test_java_names_are_renamed() -> None:
    assert settings(
        {
            "send.buffer.bytes": "1024",
            "max.request.size": "2000000",
            "fetch.max.wait.ms": "100",
            "buffer.memory": "33554432",
            "ssl.truststore.certificates": "PEM-CA",
            "ssl.keystore.certificate.chain": "PEM-CERT",
            "ssl.keystore.key": "PEM-KEY",
        }
    ) == {
        "socket.send.buffer.bytes": "1024",
        "message.max.bytes": "2000000",
        "fetch.wait.max.ms": "100",
        "queue.buffering.max.kbytes": "32768",
        "ssl.ca.pem": "PEM-CA",
        "ssl.certificate.pem": "PEM-CERT",
        "ssl.key.pem": "PEM-KEY",
    }


def test_a_librdkafka_name_wins_over_the_java_one() -> None:
    props = {"send.buffer.bytes": "1", "socket.send.buffer.bytes": "2"}
    assert settings(props) == {"socket.send.buffer.bytes": "2"}


@pytest.mark.parametrize(
    "value, expected", [("", "none"), ("  ", "none"), ("https", "https"), ("HTTPS", "https")]
)
def test_endpoint_identification(value: str, expected: str) -> None:
    props = {"ssl.endpoint.identification.algorithm": value}
    assert settings(props) == {"ssl.endpoint.identification.algorithm": expected}


def test_java_only_settings_are_dropped_and_named(capsys: pytest.CaptureFixture[str]) -> None:
    props = {"key.serializer": "x.StringSerializer", "max.poll.records": "5", "acks": "all"}
    assert translate(props).ignored == ("key.serializer", "max.poll.records")
    assert librdkafka_config({**props, "default.api.timeout.ms": "5000"}) == {"acks": "all"}
    assert capsys.readouterr().err.splitlines() == [
        "odradek: ignoring Java client property key.serializer (not used by librdkafka)",
        "odradek: ignoring Java client property max.poll.records (not used by librdkafka)",
    ]


@pytest.mark.parametrize("name", ["ssl.enabled.protocols", "ssl.protocol", "sasl.login.class"])
def test_java_security_settings_librdkafka_cannot_honour_are_errors(name: str) -> None:
    with pytest.raises(ClientConfigError, match=f"^{name} is a Java client setting"):
        translate({name: "x"})


def test_assignor_classes() -> None:
    strategy = (
        "org.apache.kafka.clients.consumer.RangeAssignor, "
        "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
    )
    assert settings({"partition.assignment.strategy": strategy}) == {
        "partition.assignment.strategy": "range,cooperative-sticky"
    }
    with pytest.raises(ClientConfigError, match="StickyAssignor has no librdkafka"):
        translate({"partition.assignment.strategy": "org.apache.kafka.StickyAssignor"})


def test_buffer_memory_must_be_a_number() -> None:
    with pytest.raises(ClientConfigError, match=r"buffer\.memory"):
        translate({"buffer.memory": "lots"})


# -- SASL --------------------------------------------------------------------------------------


def test_scram_jaas_config_becomes_username_and_password() -> None:
    props = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.jaas.config": SCRAM_JAAS,
    }
    assert settings(props) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "alice",
        "sasl.password": "s3cr=t;x",
    }


def test_plain_jaas_config_and_explicit_credentials_winning() -> None:
    jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required\n"
        "    username=alice\n    password='pw';"
    )
    assert settings({"sasl.jaas.config": jaas}) == {"sasl.username": "alice", "sasl.password": "pw"}
    explicit = {"sasl.jaas.config": jaas, "sasl.username": "bob"}
    assert settings(explicit) == {"sasl.username": "bob", "sasl.password": "pw"}


@pytest.mark.parametrize(
    "jaas, message",
    [
        (
            'com.sun.security.auth.module.Krb5LoginModule required keyTab="/k";',
            "login module com.sun.security.auth.module.Krb5LoginModule has no librdkafka",
        ),
        (
            SCRAM_JAAS[:-1] + ' tokenauth="true";',
            "option tokenauth of ScramLoginModule has no librdkafka equivalent",
        ),
        (SCRAM_JAAS + " " + SCRAM_JAAS, "has 2 login modules"),
        (
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=a;",
            "no password option",
        ),
        ("org.apache.kafka.common.security.plain.PlainLoginModule required", "does not parse"),
    ],
)
def test_jaas_configs_without_a_translation(jaas: str, message: str) -> None:
    with pytest.raises(ClientConfigError, match=message) as raised:
        translate({"sasl.jaas.config": jaas})
    assert "s3cr" not in str(raised.value)  # never the password


# -- SSL stores --------------------------------------------------------------------------------


def test_a_pem_truststore_is_the_ca_location(tmp_path: Path) -> None:
    pem = write(tmp_path, "ca.pem", b"Bag Attributes\n" + PEM_CERT)
    config = translate({"ssl.truststore.location": pem, "ssl.truststore.password": "x"})
    assert config.settings == {"ssl.ca.location": pem}
    assert config.ignored == ("ssl.truststore.password",)
    declared = {"ssl.truststore.location": "/nowhere.pem", "ssl.truststore.type": "pem"}
    assert settings(declared) == {"ssl.ca.location": "/nowhere.pem"}


@pytest.mark.parametrize("head, kind", [(PKCS12_HEAD, "PKCS12"), (JKS_HEAD, "JKS")])
def test_other_truststores_need_pem(tmp_path: Path, head: bytes, kind: str) -> None:
    store = write(tmp_path, "truststore", head)
    with pytest.raises(ClientConfigError) as raised:
        translate({"ssl.truststore.location": store, "ssl.truststore.password": "x"})
    message = str(raised.value)
    assert message.startswith(f"ssl.truststore.location {store} is a {kind} truststore")
    assert "PEM" in message and "ssl.ca.location" in message and "\n" not in message


def test_a_pkcs12_keystore_stays_a_keystore(tmp_path: Path) -> None:
    store = write(tmp_path, "client.p12", PKCS12_HEAD)
    props = {"ssl.keystore.location": store, "ssl.keystore.password": "pw"}
    assert settings(props) == props
    declared = {"ssl.keystore.location": "/k.p12", "ssl.keystore.type": "PKCS12"}
    assert settings(declared) == {"ssl.keystore.location": "/k.p12"}


def test_a_pem_keystore_is_certificate_and_key(tmp_path: Path) -> None:
    store = write(tmp_path, "client.pem", PEM_KEYSTORE)
    props = {"ssl.keystore.location": store, "ssl.key.password": "kp"}
    assert settings(props) == {
        "ssl.certificate.location": store,
        "ssl.key.location": store,
        "ssl.key.password": "kp",
    }
    with pytest.raises(ClientConfigError, match=r"ssl\.keystore\.password cannot be used"):
        translate({**props, "ssl.keystore.password": "pw"})


def test_a_jks_keystore_is_an_error(tmp_path: Path) -> None:
    store = write(tmp_path, "client.jks", JKS_HEAD)
    with pytest.raises(ClientConfigError, match=r"is a JKS keystore.*PKCS12"):
        translate({"ssl.keystore.location": store})


def test_store_files_that_cannot_be_read_or_recognised(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.jks")
    with pytest.raises(ClientConfigError, match=r"cannot read ssl\.truststore\.location"):
        store_type({"ssl.truststore.location": missing}, "ssl.truststore")
    text = write(tmp_path, "notes.txt", b"hello")
    with pytest.raises(ClientConfigError, match="neither PEM, PKCS12 nor JKS"):
        store_type({"ssl.keystore.location": text}, "ssl.keystore")


def test_types_without_a_store_are_ignored() -> None:
    config = translate({"ssl.truststore.type": "JKS", "security.protocol": "SSL"})
    assert config == ClientConfig({"security.protocol": "SSL"}, ("ssl.truststore.type",))


def test_librdkafka_accepts_every_translated_name(tmp_path: Path) -> None:
    props = {
        "security.protocol": "SASL_PLAINTEXT",  # no TLS context: the files are not loaded
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.jaas.config": SCRAM_JAAS,
        "ssl.truststore.location": write(tmp_path, "ca.pem", PEM_CERT),
        "ssl.keystore.location": write(tmp_path, "client.pem", PEM_KEYSTORE),
        "ssl.key.password": "kp",
        "ssl.endpoint.identification.algorithm": "",
        "send.buffer.bytes": "65536",
        "buffer.memory": "33554432",
    }
    AdminClient({**settings(props), "bootstrap.servers": "127.0.0.1:1", "log_level": 0})


# -- the tools ---------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def jks_config(tmp_path: Path) -> str:
    store = write(tmp_path, "truststore.jks", JKS_HEAD)
    text = f"security.protocol=SSL\nssl.truststore.location={store}\n"
    return write(tmp_path, "client.properties", text.encode())


@pytest.mark.parametrize(
    "tool",
    [
        ["topics", "--list", "--command-config"],
        ["acls", "--list", "--command-config"],
        ["configs", "--describe", "--topic", "t", "--command-config"],
        ["consumer-groups", "--list", "--command-config"],
        ["cluster", "--command-config"],
        [
            "leader-election",
            "--election-type",
            "preferred",
            "--all-topic-partitions",
            "--admin.config",
        ],
        ["console-producer", "--topic", "t", "--producer.config"],
        ["console-consumer", "--topic", "t", "--consumer.config"],
    ],
)
def test_tools_report_a_store_librdkafka_cannot_read_in_one_line(
    tool: list[str],
    jks_config: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    bootstrap = f"127.0.0.1:{_closed_port()}"
    assert main([tool[0], "--bootstrap-server", bootstrap, *tool[1:], jks_config]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("Error: ssl.truststore.location ") and "JKS truststore" in line


def test_perf_tools_report_it_too(jks_config: str, capsys: pytest.CaptureFixture[str]) -> None:
    flags = ["--topic", "t", "--num-records", "1", "--record-size", "1", "--throughput", "-1"]
    bootstrap = f"bootstrap.servers=127.0.0.1:{_closed_port()}"
    argv = ["perf", "produce", *flags, "--producer-props", bootstrap, "--producer.config"]
    assert main([*argv, jks_config]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("odradek perf produce: ssl.truststore.location ")


def test_kio_tools_refuse_security_they_cannot_speak(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(
        tmp_path,
        "sasl.properties",
        f"security.protocol=SASL_SSL\nsasl.jaas.config={SCRAM_JAAS}\n".encode(),
    )
    bootstrap = f"127.0.0.1:{_closed_port()}"
    argv = ["transactions", "--bootstrap-server", bootstrap, "--command-config", config, "list"]
    assert main(argv) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "SASL_SSL is not supported" in line
