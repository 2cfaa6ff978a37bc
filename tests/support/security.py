"""A test CA with broker and client certificates (made per run: none is committed), and a
broker process with PLAINTEXT, SSL (client certificates required), SASL_SSL and
SASL_PLAINTEXT listeners, its SCRAM users created through AlterUserScramCredentials."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from cryptography.hazmat.primitives import serialization

from tests.support.broker_process import BrokerProcess, free_port

ADMIN_PASSWORD = "admin-secret"
ALICE_PASSWORD = "alice-secret"
SCRAM_ITERATIONS = 8192


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA certificate (PEM): clients' and the broker's trust store
    server: Path  # the broker's key and certificate chain (a PEM keystore)
    client_cert: Path  # alice's certificate, signed by the CA
    client_key: Path
    client_keystore: Path  # alice's key and chain in one PEM file (Kafka's PEM keystore)
    rogue_cert: Path  # a certificate from another CA: the broker must refuse it
    rogue_key: Path


def pkcs8_key(cert: trustme.LeafCert) -> bytes:
    """The certificate's private key as PKCS#8 PEM: what Kafka's PEM key stores hold."""
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def pem_keystore(cert: trustme.LeafCert) -> bytes:
    """A Kafka PEM key store: the PKCS#8 key, then the certificate chain."""
    return pkcs8_key(cert) + b"".join(pem.bytes() for pem in cert.cert_chain_pems)


def make_tls_files(directory: Path) -> TlsFiles:
    directory.mkdir(parents=True, exist_ok=True)
    ca, rogue_ca = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    alice = ca.issue_cert("alice@example.com", common_name="alice", organization_name="odradek")
    rogue = rogue_ca.issue_cert("mallory@example.com", common_name="mallory")
    files = TlsFiles(
        ca=directory / "ca.pem",
        server=directory / "server.pem",
        client_cert=directory / "alice.crt",
        client_key=directory / "alice.key",
        client_keystore=directory / "alice.pem",
        rogue_cert=directory / "mallory.crt",
        rogue_key=directory / "mallory.key",
    )
    ca.cert_pem.write_to_path(str(files.ca))
    files.server.write_bytes(pem_keystore(server))
    alice.cert_chain_pems[0].write_to_path(str(files.client_cert))
    files.client_key.write_bytes(pkcs8_key(alice))
    files.client_keystore.write_bytes(pem_keystore(alice))
    rogue.cert_chain_pems[0].write_to_path(str(files.rogue_cert))
    rogue.private_key_pem.write_to_path(str(files.rogue_key))
    return files


def plain_jaas(users: dict[str, str]) -> str:
    entries = " ".join(f'user_{name}="{password}"' for name, password in users.items())
    return f"org.apache.kafka.common.security.plain.PlainLoginModule required {entries};"


@dataclass
class SecureBroker:
    process: BrokerProcess
    tls: TlsFiles
    ssl_port: int
    sasl_ssl_port: int
    sasl_plaintext_port: int

    @property
    def plaintext(self) -> str:
        return self.process.bootstrap

    def address(self, port: int) -> str:
        return f"127.0.0.1:{port}"


def start_secure_broker(
    data_dir: Path, tls: TlsFiles, extra: dict[str, str] | None = None
) -> SecureBroker:
    port, ssl_port, sasl_ssl_port, sasl_port = (free_port() for _ in range(4))
    jaas = plain_jaas({"admin": ADMIN_PASSWORD, "alice": ALICE_PASSWORD})
    overrides = {
        "listeners": (
            f"PLAINTEXT://127.0.0.1:{port},SSL://127.0.0.1:{ssl_port},"
            f"SASL_SSL://127.0.0.1:{sasl_ssl_port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.server),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.ca),
        "listener.name.ssl.ssl.client.auth": "required",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "listener.name.sasl_ssl.plain.sasl.jaas.config": jaas,
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
        "connection.failed.authentication.delay.ms": "50",
        "group.initial.rebalance.delay.ms": "0",  # consumers join groups without waiting 3 s
        **(extra or {}),
    }
    process = BrokerProcess(data_dir, port=port, overrides=overrides).start()
    broker = SecureBroker(process, tls, ssl_port, sasl_ssl_port, sasl_port)
    add_scram_user(broker.plaintext, "alice", ALICE_PASSWORD)
    return broker


def add_scram_user(bootstrap: str, user: str, password: str) -> None:
    """Both SCRAM mechanisms for ``user``, through AlterUserScramCredentials."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    upsertions: list[Any] = [
        UserScramCredentialUpsertion(
            user, ScramCredentialInfo(mechanism, SCRAM_ITERATIONS), password.encode()
        )
        for mechanism in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512)
    ]
    for future in admin.alter_user_scram_credentials(upsertions).values():
        future.result(timeout=30)


def librdkafka_sasl_ssl(broker: SecureBroker, mechanism: str, password: str) -> dict[str, str]:
    return {
        "bootstrap.servers": broker.address(broker.sasl_ssl_port),
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.username": "alice",
        "sasl.password": password,
        "ssl.ca.location": str(broker.tls.ca),
    }


def librdkafka_ssl(broker: SecureBroker, *, rogue: bool = False) -> dict[str, str]:
    tls = broker.tls
    return {
        "bootstrap.servers": broker.address(broker.ssl_port),
        "security.protocol": "SSL",
        "ssl.ca.location": str(tls.ca),
        "ssl.certificate.location": str(tls.rogue_cert if rogue else tls.client_cert),
        "ssl.key.location": str(tls.rogue_key if rogue else tls.client_key),
    }
