"""``odradek configs --entity-type users|clients`` against a broker with SASL listeners: SCRAM
users created, described and deleted with the tool, checked by a confluent-kafka client
authenticating over SASL_PLAINTEXT; client quotas once the broker serves AlterClientQuotas."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from odradek.protocol.api_versions import SUPPORTED_APIS
from tests.integration.test_cli_common import advertises, fails, odradek, ok
from tests.support.security import (
    ADMIN_PASSWORD,
    SecureBroker,
    make_tls_files,
    start_secure_broker,
)

pytestmark = pytest.mark.integration

ALTER_CLIENT_QUOTAS = 49


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    root = tmp_path_factory.mktemp("configs-users")
    broker = start_secure_broker(root / "data", make_tls_files(root / "tls"))
    yield broker
    broker.process.kill()


def configs(broker: SecureBroker, *args: str) -> str:
    return ok("configs", "--bootstrap-server", broker.plaintext, *args)


def scram_lines(broker: SecureBroker, *args: str) -> list[str]:
    """The SCRAM lines of --describe (quota lines left out: the broker may not serve them)."""
    out = configs(broker, "--describe", "--entity-type", "users", *args)
    return [line for line in out.splitlines() if not line.startswith("Quota configs for ")]


def sasl_plaintext(
    broker: SecureBroker, user: str, password: str, mechanism: str
) -> dict[str, str]:
    return {
        "bootstrap.servers": broker.address(broker.sasl_plaintext_port),
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.username": user,
        "sasl.password": password,
    }


def authenticates(config: dict[str, Any], timeout: float = 20.0) -> bool:
    """librdkafka logs in and reads the cluster's metadata (True), or reports a failed login
    (False). Metadata is only served on an authenticated connection, so an answer is a
    successful login: nothing more is waited for then."""
    errors: list[KafkaError] = []
    settings: dict[str, Any] = {**config, "error_cb": errors.append}
    client = AdminClient(settings)
    deadline = time.monotonic() + timeout
    while True:
        client.poll(0)  # serves error_cb
        if any(error.code() == KafkaError._AUTHENTICATION for error in errors):
            return False
        try:
            client.list_topics(timeout=0.5)
            return True
        except KafkaException:
            if time.monotonic() >= deadline:
                raise


def test_scram_user_created_described_and_deleted_with_the_tool(secure: SecureBroker) -> None:
    done = configs(
        secure,
        "--alter",
        "--entity-type",
        "users",
        "--entity-name",
        "carol",
        "--add-config",
        "SCRAM-SHA-256=[iterations=8192,password=carol-secret],SCRAM-SHA-512=[password=carol-secret]",
    )
    assert done == "Completed updating config for user carol.\n"
    assert scram_lines(secure, "--entity-name", "carol") == [
        "SCRAM credential configs for user-principal 'carol' are "
        "SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096"
    ]
    every = scram_lines(secure)
    assert (
        "SCRAM credential configs for user-principal 'alice' are "
        "SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=8192"
    ) in every
    assert any("'carol'" in line for line in every)

    assert authenticates(sasl_plaintext(secure, "carol", "carol-secret", "SCRAM-SHA-256"))
    assert not authenticates(sasl_plaintext(secure, "carol", "wrong", "SCRAM-SHA-256"))

    done = configs(secure, "--alter", "--user", "carol", "--delete-config", "SCRAM-SHA-256")
    assert done == "Completed updating config for user carol.\n"
    assert scram_lines(secure, "--entity-name", "carol") == [
        "SCRAM credential configs for user-principal 'carol' are SCRAM-SHA-512=iterations=4096"
    ]
    assert not authenticates(sasl_plaintext(secure, "carol", "carol-secret", "SCRAM-SHA-256"))
    assert authenticates(sasl_plaintext(secure, "carol", "carol-secret", "SCRAM-SHA-512"))

    configs(secure, "--alter", "--user", "carol", "--delete-config", "SCRAM-SHA-512")
    assert scram_lines(secure, "--entity-name", "carol") == []  # no credential: no line
    assert not authenticates(sasl_plaintext(secure, "carol", "carol-secret", "SCRAM-SHA-512"))
    error = fails(
        "configs",
        "--bootstrap-server",
        secure.plaintext,
        "--alter",
        "--user",
        "carol",
        "--delete-config",
        "SCRAM-SHA-512",
    )
    assert len(error.splitlines()) == 1
    assert error.startswith("Error: cannot update the SCRAM credentials of user carol: ")


def test_scram_credentials_over_a_sasl_listener(secure: SecureBroker, tmp_path: Path) -> None:
    admin = tmp_path / "admin.properties"
    admin.write_text(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="admin" password="{ADMIN_PASSWORD}";\n'
    )
    base = [
        "configs",
        "--bootstrap-server",
        secure.address(secure.sasl_plaintext_port),
        "--command-config",
        str(admin),
    ]
    credential = "SCRAM-SHA-512=[iterations=4096,password=dave-secret]"
    done = ok(*base, "--alter", "--user", "dave", "--add-config", credential)
    assert done == "Completed updating config for user dave.\n"
    assert authenticates(sasl_plaintext(secure, "dave", "dave-secret", "SCRAM-SHA-512"))
    # --describe shows quotas too, which the tool reads over PLAINTEXT only: one line, exit 1.
    error = fails(*base, "--describe", "--user", "dave")
    assert len(error.splitlines()) == 1
    assert "PLAINTEXT only (security.protocol is SASL_PLAINTEXT)" in error


def test_bad_credentials_are_refused_before_anything_is_sent(secure: SecureBroker) -> None:
    result = odradek(
        "configs",
        "--bootstrap-server",
        secure.plaintext,
        "--alter",
        "--user",
        "erin",
        "--add-config",
        "SCRAM-SHA-256=[iterations=100,password=erin-secret]",
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "odradek configs: error: Iterations 100 is less than the minimum 4096 required for "
        "SCRAM-SHA-256"
    ]
    assert scram_lines(secure, "--entity-name", "erin") == []


def quota_values(line: str, prefix: str) -> set[str]:
    assert line.startswith(prefix), line
    return set(line.removeprefix(prefix).split(", "))


@pytest.mark.skipif(
    ALTER_CLIENT_QUOTAS not in SUPPORTED_APIS,
    reason="the broker does not advertise AlterClientQuotas (API key 49) in ApiVersions yet",
)
def test_client_quotas(secure: SecureBroker) -> None:
    assert advertises(secure.plaintext, ALTER_CLIENT_QUOTAS)
    quotas = "producer_byte_rate=1048576,consumer_byte_rate=2097152,request_percentage=200"
    done = configs(secure, "--alter", "--entity-type", "users", "--entity-name", "frank",
                   "--add-config", quotas)  # fmt: skip
    assert done == "Completed updating config for user frank.\n"
    both = ["--entity-type", "users", "--entity-name", "frank", "--entity-type", "clients"]
    done = configs(
        secure, "--alter", *both, "--entity-name", "app", "--add-config", "producer_byte_rate=1024"
    )
    assert done == "Completed updating config for user frank.\n"
    done = configs(
        secure, "--alter", "--client-defaults", "--add-config", "consumer_byte_rate=4096"
    )
    assert done == "Completed updating default config for clients in the cluster.\n"

    (line,) = configs(secure, "--describe", "--user", "frank").splitlines()
    assert quota_values(line, "Quota configs for user-principal 'frank' are ") == {
        "producer_byte_rate=1048576.0",
        "consumer_byte_rate=2097152.0",
        "request_percentage=200.0",
    }
    assert configs(secure, "--describe", *both, "--entity-name", "app") == (
        "Quota configs for user-principal 'frank', client-id 'app' are producer_byte_rate=1024.0\n"
    )
    assert configs(secure, "--describe", "--entity-type", "clients", "--entity-default") == (
        "Quota configs for the default client-id are consumer_byte_rate=4096.0\n"
    )

    configs(secure, "--alter", "--user", "frank", "--delete-config", "request_percentage")
    (line,) = configs(secure, "--describe", "--user", "frank").splitlines()
    assert quota_values(line, "Quota configs for user-principal 'frank' are ") == {
        "producer_byte_rate=1048576.0",
        "consumer_byte_rate=2097152.0",
    }
    error = fails(
        "configs",
        "--bootstrap-server",
        secure.plaintext,
        "--alter",
        "--user",
        "frank",
        "--delete-config",
        "request_percentage",
    )
    assert error.splitlines() == ["Error: Invalid config(s): request_percentage"]
