"""The Apache Kafka Java client (kafka-clients 3.9.1) on odradek's secure listeners: a round
trip over SASL_SSL with SCRAM-SHA-512 and over SSL with a client certificate (PEM stores), and
a refusal for a wrong password and for a certificate from another CA.

Each case is one run of ``tests/integration/java/SecureRoundTrip.java`` (one JVM); see
``tests/support/java.py`` for when these tests skip and when they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.integration.clients import unique_topic
from tests.support.java import JavaPrograms, JavaResult, compile_programs
from tests.support.security import (
    ALICE_PASSWORD,
    SecureBroker,
    TlsFiles,
    make_tls_files,
    start_secure_broker,
)

pytestmark = [pytest.mark.integration, pytest.mark.java]

RECORDS = 50
PROGRAM = "SecureRoundTrip"
RUN_TIMEOUT = 180.0  # a JVM starting on a loaded machine, then one bounded client call chain


@pytest.fixture(scope="module")
def java_programs(tmp_path_factory: pytest.TempPathFactory) -> JavaPrograms:
    return compile_programs(tmp_path_factory.mktemp("java-security-classes"))


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    root = tmp_path_factory.mktemp("secure-java")
    broker = start_secure_broker(root / "data", make_tls_files(root / "tls"))
    yield broker
    broker.process.kill()


def scram_jaas(user: str, password: str) -> str:
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";'
    )


def sasl_ssl_config(broker: SecureBroker, password: str) -> dict[str, str]:
    return {
        "bootstrap.servers": broker.address(broker.sasl_ssl_port),
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": scram_jaas("alice", password),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(broker.tls.ca),
    }


def ssl_config(broker: SecureBroker, keystore: Path) -> dict[str, str]:
    return {
        "bootstrap.servers": broker.address(broker.ssl_port),
        "security.protocol": "SSL",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(broker.tls.ca),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(keystore),
    }


def rogue_keystore(tls: TlsFiles, path: Path) -> Path:
    """A Kafka PEM key store for the rogue certificate: its key as PKCS#8, then the cert."""
    key = serialization.load_pem_private_key(tls.rogue_key.read_bytes(), password=None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pkcs8 + tls.rogue_cert.read_bytes())
    return path


def write_properties(path: Path, config: dict[str, str]) -> Path:
    """``config`` as a Java properties file (backslashes are its escape character)."""
    escaped = {key: value.replace("\\", "\\\\") for key, value in config.items()}
    path.write_text("".join(f"{key}={value}\n" for key, value in escaped.items()))
    return path


def run_secure(
    java_programs: JavaPrograms,
    broker: SecureBroker,
    config_file: Path,
    mode: str,
) -> tuple[JavaResult, list[str]]:
    topic = unique_topic(f"java-sec-{mode}")
    result = java_programs.run(
        PROGRAM, str(config_file), topic, mode, str(RECORDS), timeout=RUN_TIMEOUT
    )
    return result, result.stdout.splitlines()


def failure(result: JavaResult, broker: SecureBroker) -> str:
    return f"{result.describe()}\n--- broker log (tail) ---\n{broker.process.log()}"


def assert_round_trip(result: JavaResult, lines: list[str], broker: SecureBroker) -> None:
    assert result.returncode == 0, failure(result, broker)
    assert f"PRODUCED {RECORDS}" in lines, failure(result, broker)
    assert f"CONSUMED {RECORDS}" in lines, failure(result, broker)
    assert f"COMMITTED {RECORDS}" in lines, failure(result, broker)
    assert lines[-1] == f"OK {RECORDS}", failure(result, broker)


def refusal(result: JavaResult, lines: list[str], broker: SecureBroker) -> list[str]:
    """The exception classes (outermost first) the program printed on being refused."""
    assert result.returncode == 1, failure(result, broker)
    refused = [line.split()[1:] for line in lines if line.startswith("REFUSED ")]
    assert refused, failure(result, broker)
    return refused[0]


def test_sasl_ssl_scram_sha_512_round_trip(
    java_programs: JavaPrograms, secure: SecureBroker, tmp_path: Path
) -> None:
    config = write_properties(
        tmp_path / "client.properties", sasl_ssl_config(secure, ALICE_PASSWORD)
    )
    result, lines = run_secure(java_programs, secure, config, "round-trip")
    assert_round_trip(result, lines, secure)


def test_ssl_client_certificate_round_trip(
    java_programs: JavaPrograms, secure: SecureBroker, tmp_path: Path
) -> None:
    config = write_properties(
        tmp_path / "client.properties", ssl_config(secure, secure.tls.client_keystore)
    )
    result, lines = run_secure(java_programs, secure, config, "round-trip")
    assert_round_trip(result, lines, secure)


def test_wrong_password_is_refused(
    java_programs: JavaPrograms, secure: SecureBroker, tmp_path: Path
) -> None:
    config = write_properties(tmp_path / "client.properties", sasl_ssl_config(secure, "wrong"))
    result, lines = run_secure(java_programs, secure, config, "refused")
    classes = refusal(result, lines, secure)
    assert classes[0] == "org.apache.kafka.common.errors.SaslAuthenticationException", failure(
        result, secure
    )


def test_untrusted_client_certificate_is_refused(
    java_programs: JavaPrograms, secure: SecureBroker, tmp_path: Path
) -> None:
    keystore = rogue_keystore(secure.tls, tmp_path / "mallory.pem")
    config = write_properties(tmp_path / "client.properties", ssl_config(secure, keystore))
    result, lines = run_secure(java_programs, secure, config, "refused")
    classes = refusal(result, lines, secure)
    expected = {
        "org.apache.kafka.common.errors.SslAuthenticationException",
        "javax.net.ssl.SSLHandshakeException",
    }
    assert expected & set(classes), failure(result, secure)
