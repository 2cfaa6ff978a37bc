"""Real clients over TLS and SASL: confluent-kafka (librdkafka), kafka-python, aiokafka and
kcat each produce and consume over SASL_SSL with SCRAM-SHA-512 and over SSL with a client
certificate, and each is refused with a wrong password or an untrusted certificate."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from tests.integration.clients import unique_topic
from tests.support.security import (
    ADMIN_PASSWORD,
    ALICE_PASSWORD,
    SecureBroker,
    librdkafka_sasl_ssl,
    librdkafka_ssl,
    make_tls_files,
    start_secure_broker,
)

pytestmark = pytest.mark.integration

RECORDS = 5


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    root = tmp_path_factory.mktemp("secure")
    broker = start_secure_broker(root / "data", make_tls_files(root / "tls"))
    yield broker
    broker.process.kill()


def new_topic(broker: SecureBroker) -> str:
    topic = unique_topic("sec")
    admin = AdminClient({"bootstrap.servers": broker.plaintext})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    return topic


def librdkafka_round_trip(config: dict[str, Any], topic: str) -> list[bytes]:
    producer = Producer(config)
    for i in range(RECORDS):
        producer.produce(topic, f"v{i}".encode())
    assert producer.flush(30) == 0
    consumer = Consumer({**config, "group.id": unique_topic("g"), "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(got) < RECORDS and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            got.append(message.value() or b"")
    consumer.close()
    return got


def librdkafka_error(config: dict[str, Any]) -> int | None:
    """The first error librdkafka reports while it tries to reach the broker."""
    first = librdkafka_first_error(config)
    return None if first is None else first.code()


def librdkafka_first_error(config: dict[str, Any]) -> KafkaError | None:
    errors: list[KafkaError] = []
    producer = Producer({**config, "error_cb": errors.append})
    deadline = time.monotonic() + 20
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    return errors[0] if errors else None


EXPECTED = [f"v{i}".encode() for i in range(RECORDS)]


# -- confluent-kafka -----------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
def test_confluent_sasl_ssl(secure: SecureBroker, mechanism: str) -> None:
    topic = new_topic(secure)
    config = librdkafka_sasl_ssl(secure, mechanism, ALICE_PASSWORD)
    assert librdkafka_round_trip(config, topic) == EXPECTED


def test_confluent_sasl_plaintext_plain(secure: SecureBroker) -> None:
    topic = new_topic(secure)
    config = {
        "bootstrap.servers": secure.address(secure.sasl_plaintext_port),
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "admin",
        "sasl.password": ADMIN_PASSWORD,
    }
    assert librdkafka_round_trip(config, topic) == EXPECTED


def test_confluent_ssl_client_certificate(secure: SecureBroker) -> None:
    topic = new_topic(secure)
    assert librdkafka_round_trip(librdkafka_ssl(secure), topic) == EXPECTED


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "PLAIN"])
def test_confluent_wrong_password_is_refused(secure: SecureBroker, mechanism: str) -> None:
    config = librdkafka_sasl_ssl(secure, mechanism, "wrong")
    assert librdkafka_error(config) == KafkaError._AUTHENTICATION


def test_confluent_untrusted_certificate_is_refused(secure: SecureBroker) -> None:
    error = librdkafka_first_error(librdkafka_ssl(secure, rogue=True))
    assert error is not None
    # the broker's TLS alert reaches the client (TLS 1.3: after the client's Finished)
    assert "unknown ca" in error.str().lower(), error.str()


def test_metadata_advertises_the_listener_asked(secure: SecureBroker) -> None:
    """Each listener answers Metadata with its own address (clients stay on it)."""
    config = librdkafka_sasl_ssl(secure, "SCRAM-SHA-512", ALICE_PASSWORD)
    brokers = AdminClient(dict(config)).list_topics(timeout=20).brokers
    assert [(str(b.host), b.port) for b in brokers.values()] == [
        ("127.0.0.1", secure.sasl_ssl_port)
    ]
    brokers = AdminClient({"bootstrap.servers": secure.plaintext}).list_topics(timeout=20).brokers
    assert [b.port for b in brokers.values()] == [secure.process.port]


# -- kafka-python --------------------------------------------------------------------------------


def kafka_python_round_trip(topic: str, **config: Any) -> list[bytes]:
    from kafka import KafkaConsumer, KafkaProducer

    producer = KafkaProducer(**config)
    for i in range(RECORDS):
        producer.send(topic, f"v{i}".encode())
    producer.flush(30)
    producer.close()
    consumer = KafkaConsumer(
        topic, auto_offset_reset="earliest", consumer_timeout_ms=15000, **config
    )
    got = [m.value for _, m in zip(range(RECORDS), consumer, strict=False)]
    consumer.close()
    return got


def test_kafka_python_sasl_ssl_scram(secure: SecureBroker) -> None:
    topic = new_topic(secure)
    got = kafka_python_round_trip(
        topic,
        bootstrap_servers=secure.address(secure.sasl_ssl_port),
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="alice",
        sasl_plain_password=ALICE_PASSWORD,
        ssl_cafile=str(secure.tls.ca),
    )
    assert got == EXPECTED


def test_kafka_python_ssl_client_certificate(secure: SecureBroker) -> None:
    topic = new_topic(secure)
    got = kafka_python_round_trip(
        topic,
        bootstrap_servers=secure.address(secure.ssl_port),
        security_protocol="SSL",
        ssl_cafile=str(secure.tls.ca),
        ssl_certfile=str(secure.tls.client_cert),
        ssl_keyfile=str(secure.tls.client_key),
    )
    assert got == EXPECTED


def test_kafka_python_wrong_password_is_refused(secure: SecureBroker) -> None:
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError as KafkaPythonError

    with pytest.raises(KafkaPythonError):
        consumer = KafkaConsumer(
            bootstrap_servers=secure.address(secure.sasl_ssl_port),
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_plain_username="alice",
            sasl_plain_password="wrong",
            ssl_cafile=str(secure.tls.ca),
            request_timeout_ms=10000,
            api_version_auto_timeout_ms=10000,
        )
        consumer.topics()


def test_kafka_python_untrusted_certificate_is_refused(secure: SecureBroker) -> None:
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError as KafkaPythonError

    with pytest.raises(KafkaPythonError):
        consumer = KafkaConsumer(
            bootstrap_servers=secure.address(secure.ssl_port),
            security_protocol="SSL",
            ssl_cafile=str(secure.tls.ca),
            ssl_certfile=str(secure.tls.rogue_cert),
            ssl_keyfile=str(secure.tls.rogue_key),
            request_timeout_ms=10000,
            api_version_auto_timeout_ms=10000,
        )
        consumer.topics()


def test_kafka_python_handshake_v0_raw_tokens(secure: SecureBroker) -> None:
    """An 0.10-era client: SaslHandshake v0, then raw length-prefixed SASL tokens (KIP-43)."""
    topic = new_topic(secure)
    got = kafka_python_round_trip(
        topic,
        bootstrap_servers=secure.address(secure.sasl_plaintext_port),
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_plain_username="alice",
        sasl_plain_password=ALICE_PASSWORD,
        api_version=(0, 10, 1),
    )
    assert got == EXPECTED


# -- aiokafka ------------------------------------------------------------------------------------


async def aiokafka_round_trip(topic: str, **config: Any) -> list[bytes]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    producer = AIOKafkaProducer(**config)
    await producer.start()
    try:
        for i in range(RECORDS):
            await producer.send_and_wait(topic, f"v{i}".encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", **config)
    await consumer.start()
    try:
        got = []
        async for message in consumer:
            got.append(message.value)
            if len(got) == RECORDS:
                break
    finally:
        await consumer.stop()
    return got


def _context(secure: SecureBroker, *, client_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(secure.tls.ca))
    if client_cert:
        context.load_cert_chain(str(secure.tls.client_cert), str(secure.tls.client_key))
    return context


async def test_aiokafka_sasl_ssl_scram(secure: SecureBroker) -> None:
    topic = new_topic(secure)
    got = await aiokafka_round_trip(
        topic,
        bootstrap_servers=secure.address(secure.sasl_ssl_port),
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="alice",
        sasl_plain_password=ALICE_PASSWORD,
        ssl_context=_context(secure, client_cert=False),
    )
    assert got == EXPECTED


async def test_aiokafka_ssl_client_certificate(secure: SecureBroker) -> None:
    topic = new_topic(secure)
    got = await aiokafka_round_trip(
        topic,
        bootstrap_servers=secure.address(secure.ssl_port),
        security_protocol="SSL",
        ssl_context=_context(secure, client_cert=True),
    )
    assert got == EXPECTED


async def test_aiokafka_wrong_password_is_refused(secure: SecureBroker) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError as AioKafkaError

    producer = AIOKafkaProducer(
        bootstrap_servers=secure.address(secure.sasl_ssl_port),
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="alice",
        sasl_plain_password="wrong",
        ssl_context=_context(secure, client_cert=False),
        request_timeout_ms=10000,
    )
    with pytest.raises(AioKafkaError):
        await producer.start()
    await producer.stop()


async def test_aiokafka_untrusted_certificate_is_refused(secure: SecureBroker) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError as AioKafkaError

    context = ssl.create_default_context(cafile=str(secure.tls.ca))
    context.load_cert_chain(str(secure.tls.rogue_cert), str(secure.tls.rogue_key))
    producer = AIOKafkaProducer(
        bootstrap_servers=secure.address(secure.ssl_port),
        security_protocol="SSL",
        ssl_context=context,
        request_timeout_ms=10000,
    )
    with pytest.raises((AioKafkaError, ssl.SSLError, ConnectionError)):
        await producer.start()
    await producer.stop()


# -- kcat (librdkafka 2.0.2) ---------------------------------------------------------------------

NEEDS_KCAT = pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")


def kcat(
    config: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = ["kcat", "-b", config["bootstrap.servers"]]
    for key, value in config.items():
        if key != "bootstrap.servers":
            cmd += ["-X", f"{key}={value}"]
    return subprocess.run([*cmd, *args], input=stdin, capture_output=True, text=True, timeout=60)


def _kcat_config(config: dict[str, str]) -> dict[str, str]:
    """kcat's librdkafka 2.0.2 calls the mechanism ``sasl.mechanisms``."""
    if "sasl.mechanism" in config:
        config = dict(config)
        config["sasl.mechanisms"] = config.pop("sasl.mechanism")
    return config


@NEEDS_KCAT
@pytest.mark.parametrize("listener", ["SASL_SSL", "SSL"])
def test_kcat_round_trip(secure: SecureBroker, listener: str) -> None:
    topic = new_topic(secure)
    if listener == "SSL":
        config = librdkafka_ssl(secure)
    else:
        config = _kcat_config(librdkafka_sasl_ssl(secure, "SCRAM-SHA-512", ALICE_PASSWORD))
    lines = "".join(f"v{i}\n" for i in range(RECORDS))
    produced = kcat(config, "-P", "-t", topic, stdin=lines)
    assert produced.returncode == 0, produced.stderr
    consumed = kcat(config, "-C", "-t", topic, "-o", "beginning", "-c", str(RECORDS), "-e")
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout.split() == [v.decode() for v in EXPECTED]


@NEEDS_KCAT
def test_kcat_wrong_password_is_refused(secure: SecureBroker) -> None:
    config = _kcat_config(librdkafka_sasl_ssl(secure, "SCRAM-SHA-512", "wrong"))
    result = kcat(config, "-L", "-m", "5")
    assert result.returncode != 0
    assert "Authentication failed" in result.stderr or "SASL" in result.stderr, result.stderr


@NEEDS_KCAT
def test_kcat_untrusted_certificate_is_refused(secure: SecureBroker) -> None:
    result = kcat(librdkafka_ssl(secure, rogue=True), "-L", "-m", "5")
    assert result.returncode != 0
    assert "unknown ca" in result.stderr.lower() or "SSL" in result.stderr, result.stderr


def test_confluent_reauthenticates_kip368(tmp_path_factory: pytest.TempPathFactory) -> None:
    """With connections.max.reauth.ms the broker gives clients a session lifetime; librdkafka
    re-authenticates on the same connection before it ends, and keeps producing."""
    root = tmp_path_factory.mktemp("reauth")
    broker = start_secure_broker(
        root / "data", make_tls_files(root / "tls"), {"connections.max.reauth.ms": "1500"}
    )
    try:
        topic = new_topic(broker)
        config = librdkafka_sasl_ssl(broker, "SCRAM-SHA-512", ALICE_PASSWORD)
        errors: list[KafkaError] = []
        producer = Producer({**config, "error_cb": errors.append, "linger.ms": 0})
        delivered: list[Any] = []
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            producer.produce(topic, b"x", on_delivery=lambda e, m: delivered.append(e))
            producer.poll(0.2)
        assert producer.flush(20) == 0
        assert delivered and all(e is None for e in delivered), delivered[:3]
        assert not errors, errors
        log = broker.process.log()
        assert "SASL session expired" not in log
    finally:
        broker.process.kill()
