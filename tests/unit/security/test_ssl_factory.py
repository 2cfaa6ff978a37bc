"""TLS contexts from Kafka's ssl.* configs, and the peer subject a TLS listener sees.

Every key and certificate is made here, per test session; none is committed."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import shutil
import ssl
import stat
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from odradek.security import ssl_factory
from odradek.security.ssl_configs import SSL_CONFIG_NAMES, SslConfigError
from odradek.security.ssl_factory import client_ssl_context, server_ssl_context
from odradek.security.ssl_subject import peer_certificate_subject, rfc2253_name

ALICE = "CN=alice,OU=eng,O=Example,C=US"
BROKER = "CN=localhost,O=Example"


def name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    """A name from its attributes in encoded order (the country first, as usual)."""
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


ALICE_NAME = name(
    (NameOID.COUNTRY_NAME, "US"),
    (NameOID.ORGANIZATION_NAME, "Example"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "eng"),
    (NameOID.COMMON_NAME, "alice"),
)
BROKER_NAME = name((NameOID.ORGANIZATION_NAME, "Example"), (NameOID.COMMON_NAME, "localhost"))


@dataclass(frozen=True)
class Identity:
    key: ec.EllipticCurvePrivateKey
    chain: list[x509.Certificate]  # leaf first

    def key_pem(self, password: str | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.NoEncryption()
            if password is None
            else serialization.BestAvailableEncryption(password.encode())
        )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def chain_pem(self) -> bytes:
        return pem(*self.chain)

    def pkcs12(self, password: str) -> bytes:
        return pkcs12.serialize_key_and_certificates(
            b"kafka",
            self.key,
            self.chain[0],
            self.chain[1:],
            serialization.BestAvailableEncryption(password.encode()),
        )


class CertificateAuthority:
    """A test CA issuing EC certificates valid for localhost and 127.0.0.1."""

    def __init__(self, common_name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = name((NameOID.ORGANIZATION_NAME, "Example"), (NameOID.COMMON_NAME, common_name))
        self.certificate = (
            self._builder(subject, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(self, subject: x509.Name) -> Identity:
        key = ec.generate_private_key(ec.SECP256R1())
        sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        certificate = (
            self._builder(subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return Identity(key, [certificate, self.certificate])

    def _builder(self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey) -> Any:
        now = datetime.datetime.now(datetime.UTC)
        issuer = subject if not hasattr(self, "certificate") else self.certificate.subject
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )


def trustme_identity(common_name: str) -> Identity:
    """A certificate for localhost from a fresh trustme CA, nobody's trusted CA here."""
    leaf = trustme.CA().issue_cert("localhost", "127.0.0.1", common_name=common_name)
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # trustme's default key type
    return Identity(
        key,
        [x509.load_pem_x509_certificate(blob.bytes()) for blob in leaf.cert_chain_pems],
    )


def pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


@dataclass(frozen=True)
class Pki:
    ca: CertificateAuthority
    broker: Identity
    alice: Identity
    files: Path

    def write(self, file_name: str, data: bytes) -> str:
        path = self.files / file_name
        path.write_bytes(data)
        return str(path)

    def pem_server(self, more: Mapping[str, str] | None = None) -> dict[str, str]:
        """A broker listener's configs: PEM keystore file, PEM truststore file."""
        return {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": self.write(
                "broker.pem", self.broker.key_pem() + self.broker.chain_pem()
            ),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": self.write("ca.pem", pem(self.ca.certificate)),
            **(more or {}),
        }

    def pem_client(
        self, identity: Identity | None = None, more: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """A client's configs, inline PEM, with ``identity``'s key for mutual TLS."""
        configs = {
            "ssl.truststore.type": "PEM",
            "ssl.truststore.certificates": pem(self.ca.certificate).decode(),
            **(more or {}),
        }
        if identity is not None:
            configs |= {
                "ssl.keystore.type": "PEM",
                "ssl.keystore.key": identity.key_pem().decode(),
                "ssl.keystore.certificate.chain": identity.chain_pem().decode(),
            }
        return configs


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ca = CertificateAuthority("Example test CA")
    return Pki(ca, ca.issue(BROKER_NAME), ca.issue(ALICE_NAME), tmp_path_factory.mktemp("pki"))


def config_error(configs: Mapping[str, str], config: str, *, server: bool = True) -> str:
    """The message of the SslConfigError that ``configs`` raise; it must name ``config``."""
    build = server_ssl_context if server else client_ssl_context
    with pytest.raises(SslConfigError) as raised:
        build(configs)
    assert raised.value.config == config
    assert config in str(raised.value)
    return str(raised.value)


# -- TLS over a loopback socket ------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """What each side saw of a connection; ``handled`` is False if the server never got a
    working connection (its handshake failed)."""

    handled: bool
    server_saw: str | None = None
    client_saw: str | None = None
    version: str | None = None
    cipher: str | None = None


async def exchange(
    server: ssl.SSLContext, client: ssl.SSLContext, server_hostname: str = "localhost"
) -> Exchange:
    seen: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.set_result(peer_certificate_subject(writer.get_extra_info("ssl_object")))
        writer.write(b"ok")
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    "127.0.0.1", port, ssl=client, server_hostname=server_hostname
                ),
                10,
            )
        except (ssl.SSLError, ConnectionError):
            return Exchange(handled=False)
        ssl_object = writer.get_extra_info("ssl_object")
        try:
            client_saw = peer_certificate_subject(ssl_object)
            version, cipher = ssl_object.version(), ssl_object.cipher()[0]
        except ValueError:  # TLS 1.3: the server's alert ended the client's handshake
            writer.close()
            return Exchange(handled=False)
        try:
            reply = await asyncio.wait_for(reader.read(2), 10)
        except (ssl.SSLError, ConnectionError):
            reply = b""
        writer.close()
        if reply != b"ok":  # TLS 1.3: the server refuses the client after the client is done
            return Exchange(handled=False)
        return Exchange(True, await seen, client_saw, version, cipher)


async def test_mutual_tls_and_peer_subjects(pki: Pki) -> None:
    server = server_ssl_context(pki.pem_server({"ssl.client.auth": "required"}))
    client = client_ssl_context(pki.pem_client(pki.alice))
    result = await exchange(server, client)
    assert (result.handled, result.server_saw, result.client_saw) == (True, ALICE, BROKER)
    assert result.version == "TLSv1.3"


async def test_required_client_auth_refuses_an_untrusted_client_certificate(pki: Pki) -> None:
    stranger = trustme_identity("alice")
    server = server_ssl_context(pki.pem_server({"ssl.client.auth": "required"}))
    assert await exchange(server, client_ssl_context(pki.pem_client(stranger))) == Exchange(False)
    # Without a certificate, too; the same client with a trusted one gets in.
    assert await exchange(server, client_ssl_context(pki.pem_client())) == Exchange(False)
    assert (await exchange(server, client_ssl_context(pki.pem_client(pki.alice)))).handled


async def test_requested_client_auth_lets_clients_without_certificate_in(pki: Pki) -> None:
    server = server_ssl_context(pki.pem_server({"ssl.client.auth": "requested"}))
    anonymous = await exchange(server, client_ssl_context(pki.pem_client()))
    assert (anonymous.handled, anonymous.server_saw) == (True, None)
    alice = await exchange(server, client_ssl_context(pki.pem_client(pki.alice)))
    assert (alice.handled, alice.server_saw) == (True, ALICE)
    stranger = trustme_identity("alice")
    assert not (await exchange(server, client_ssl_context(pki.pem_client(stranger)))).handled


async def test_no_client_auth_sees_no_client_certificate(pki: Pki) -> None:
    server = server_ssl_context(pki.pem_server())
    result = await exchange(server, client_ssl_context(pki.pem_client(pki.alice)))
    assert (result.handled, result.server_saw, result.client_saw) == (True, None, BROKER)


async def test_pkcs12_keystores_and_truststores_with_passwords(pki: Pki) -> None:
    truststore = pkcs12.serialize_key_and_certificates(
        None, None, None, [pki.ca.certificate], serialization.BestAvailableEncryption(b"trust")
    )
    truststore_configs = {
        "ssl.truststore.type": "PKCS12",
        "ssl.truststore.location": pki.write("trust.p12", truststore),
        "ssl.truststore.password": "trust",
    }
    server = server_ssl_context(
        {
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": pki.write("broker.p12", pki.broker.pkcs12("broker-secret")),
            "ssl.keystore.password": "broker-secret",
            "ssl.key.password": "broker-secret",
            "ssl.client.auth": "required",
            **truststore_configs,
        }
    )
    client = client_ssl_context(
        {
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": pki.write("alice.p12", pki.alice.pkcs12("alice-secret")),
            "ssl.keystore.password": "alice-secret",
            **truststore_configs,
        }
    )
    result = await exchange(server, client)
    assert (result.handled, result.server_saw, result.client_saw) == (True, ALICE, BROKER)


async def test_host_name_is_checked_unless_endpoint_identification_is_empty(pki: Pki) -> None:
    server = server_ssl_context(pki.pem_server())
    checking = client_ssl_context(pki.pem_client())
    assert checking.check_hostname
    assert not (await exchange(server, checking, server_hostname="kafka.example.com")).handled
    lax = client_ssl_context(pki.pem_client(more={"ssl.endpoint.identification.algorithm": ""}))
    assert not lax.check_hostname
    assert lax.verify_mode == ssl.CERT_REQUIRED
    assert (await exchange(server, lax, server_hostname="kafka.example.com")).handled


async def test_a_tls12_cipher_suite_is_negotiated(pki: Pki) -> None:
    suite = {"ssl.cipher.suites": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}
    server = server_ssl_context(pki.pem_server(suite))
    result = await exchange(server, client_ssl_context(pki.pem_client()))
    assert (result.version, result.cipher) == ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")


async def test_protocol_versions_are_negotiated(pki: Pki) -> None:
    server = server_ssl_context(pki.pem_server({"ssl.enabled.protocols": "TLSv1.2"}))
    result = await exchange(server, client_ssl_context(pki.pem_client()))
    assert result.version == "TLSv1.2"
    only_13 = client_ssl_context(pki.pem_client(more={"ssl.enabled.protocols": "TLSv1.3"}))
    assert not (await exchange(server, only_13)).handled


# -- keystores ------------------------------------------------------------------------------


def test_pem_keystore_file(pki: Pki) -> None:
    context = server_ssl_context(pki.pem_server())
    assert context.verify_mode == ssl.CERT_NONE
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.maximum_version == ssl.TLSVersion.TLSv1_3


def test_encrypted_pem_key(pki: Pki) -> None:
    location = pki.write("encrypted.pem", pki.broker.key_pem("s3cret") + pki.broker.chain_pem())
    configs = {"ssl.keystore.type": "PEM", "ssl.keystore.location": location}
    server_ssl_context(configs | {"ssl.key.password": "s3cret"})
    assert "wrong password" in config_error(
        configs | {"ssl.key.password": "nope"}, "ssl.key.password"
    )
    assert "is encrypted" in config_error(configs, "ssl.key.password")


def test_key_password_for_an_unencrypted_key_is_refused(pki: Pki) -> None:
    configs = pki.pem_server({"ssl.key.password": "unused"})
    assert "not encrypted" in config_error(configs, "ssl.key.password")


def test_pem_keystore_takes_no_store_password(pki: Pki) -> None:
    config_error(pki.pem_server({"ssl.keystore.password": "x"}), "ssl.keystore.password")


def test_inline_pem_values(pki: Pki) -> None:
    server_ssl_context(
        {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.key": pki.broker.key_pem("inline").decode(),
            "ssl.key.password": "inline",
            "ssl.keystore.certificate.chain": pki.broker.chain_pem().decode(),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.certificates": pem(pki.ca.certificate).decode(),
            "ssl.client.auth": "required",
        }
    )


def test_inline_pem_values_without_line_breaks(pki: Pki) -> None:
    # A properties file value continued over lines with `\` loses its line breaks.
    def one_line(data: bytes) -> str:
        return " ".join(data.decode().split("\n"))

    context = client_ssl_context(
        {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.key": one_line(pki.alice.key_pem()),
            "ssl.keystore.certificate.chain": one_line(pki.alice.chain_pem()),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.certificates": one_line(pem(pki.ca.certificate)),
        }
    )
    assert [ca["subject"] for ca in context.get_ca_certs()] == [
        ((("organizationName", "Example"),), (("commonName", "Example test CA"),))
    ]


def test_inline_pem_needs_type_pem_and_both_parts(pki: Pki) -> None:
    key, chain = pki.broker.key_pem().decode(), pki.broker.chain_pem().decode()
    inline = {"ssl.keystore.key": key, "ssl.keystore.certificate.chain": chain}
    assert "must be PEM" in config_error(inline, "ssl.keystore.type")
    config_error(
        {"ssl.keystore.type": "PEM", "ssl.keystore.key": key}, "ssl.keystore.certificate.chain"
    )
    config_error({"ssl.keystore.certificate.chain": chain}, "ssl.keystore.key")
    both = inline | {"ssl.keystore.type": "PEM", "ssl.keystore.location": "/x.pem"}
    config_error(both, "ssl.keystore.location")


def test_inline_truststore_needs_type_pem(pki: Pki) -> None:
    configs = pki.pem_server()
    del configs["ssl.truststore.type"], configs["ssl.truststore.location"]
    configs["ssl.truststore.certificates"] = pem(pki.ca.certificate).decode()
    assert "must be PEM" in config_error(configs, "ssl.truststore.type")


def test_pem_problems(pki: Pki) -> None:
    no_key = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": pki.write("c.pem", pem(pki.ca.certificate)),
    }
    assert "found 0" in config_error(no_key, "ssl.keystore.location")
    two_keys = pki.broker.key_pem() + pki.alice.key_pem() + pki.broker.chain_pem()
    location = pki.write("two-keys.pem", two_keys)
    assert "found 2" in config_error(
        {"ssl.keystore.type": "PEM", "ssl.keystore.location": location}, "ssl.keystore.location"
    )
    mismatched = pki.write("mismatch.pem", pki.alice.key_pem() + pki.broker.chain_pem())
    assert "does not match" in config_error(
        {"ssl.keystore.type": "PEM", "ssl.keystore.location": mismatched}, "ssl.keystore.location"
    )
    garbage = {"ssl.truststore.type": "PEM", "ssl.truststore.certificates": "no PEM here"}
    assert "no PEM certificate" in config_error(
        garbage, "ssl.truststore.certificates", server=False
    )
    missing = {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(pki.files / "absent.pem")}
    assert "cannot read" in config_error(missing, "ssl.keystore.location")


def test_pkcs12_keystore_problems(pki: Pki) -> None:
    location = pki.write("problem.p12", pki.broker.pkcs12("right"))
    configs = {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": location}
    server_ssl_context(configs | {"ssl.keystore.password": "right"})
    assert "wrong password" in config_error(
        configs | {"ssl.keystore.password": "wrong"}, "ssl.keystore.password"
    )
    config_error(configs, "ssl.keystore.password")  # a PKCS12 keystore needs its password
    differing = configs | {"ssl.keystore.password": "right", "ssl.key.password": "other"}
    config_error(differing, "ssl.key.password")
    not_pkcs12 = {
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": pki.write("not.p12", pki.broker.key_pem()),
        "ssl.keystore.password": "right",
    }
    assert "not PKCS12" in config_error(not_pkcs12, "ssl.keystore.password")


def test_pkcs12_truststore_problems(pki: Pki) -> None:
    truststore = pkcs12.serialize_key_and_certificates(
        None, None, None, [pki.ca.certificate], serialization.BestAvailableEncryption(b"trust")
    )
    configs = {
        "ssl.truststore.type": "PKCS12",
        "ssl.truststore.location": pki.write("t.p12", truststore),
        "ssl.truststore.password": "wrong",
    }
    config_error(configs, "ssl.truststore.password", server=False)
    config_error({"ssl.truststore.password": "x"}, "ssl.truststore.location", server=False)


def test_a_server_needs_a_keystore(pki: Pki) -> None:
    assert "needs a keystore" in config_error({}, "ssl.keystore.location")
    config_error({"ssl.keystore.password": "x"}, "ssl.keystore.location")


def test_jks_is_refused_with_the_conversion_command(pki: Pki) -> None:
    location = pki.write("store.jks", b"\xfe\xed\xfe\xed")
    explicit = {
        "ssl.keystore.type": "JKS",
        "ssl.keystore.location": location,
        "ssl.keystore.password": "x",
    }
    message = config_error(explicit, "ssl.keystore.type")
    assert "keytool -importkeystore" in message
    assert "-deststoretype PKCS12" in message
    # JKS is Kafka's default type, so a store without a type is one.
    del explicit["ssl.keystore.type"]
    assert "Kafka's default" in config_error(explicit, "ssl.keystore.type")
    truststore = {"ssl.truststore.location": location, "ssl.truststore.password": "x"}
    assert "keytool -importkeystore" in config_error(
        truststore, "ssl.truststore.type", server=False
    )


def test_other_store_types_are_refused(pki: Pki) -> None:
    configs = pki.pem_server({"ssl.keystore.type": "BCFKS"})
    assert "use PKCS12 or PEM" in config_error(configs, "ssl.keystore.type")


def test_key_material_reaches_openssl_through_a_private_encrypted_file_then_goes(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, bytes]] = []
    named_temporary_file = tempfile.NamedTemporaryFile

    class Recording:
        """The temporary file, looked at when the factory is done with it."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.handle = named_temporary_file(*args, **kwargs)

        def __enter__(self) -> Any:
            return self.handle.__enter__()

        def __exit__(self, *exc_info: Any) -> None:
            path = Path(self.handle.name)
            seen.append((stat.S_IMODE(path.stat().st_mode), path.read_bytes()))
            self.handle.__exit__(*exc_info)

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", Recording)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    server_ssl_context(pki.pem_server())
    [(mode, contents)] = seen
    assert mode == 0o600
    assert b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in contents
    assert b"-----BEGIN PRIVATE KEY-----" not in contents
    assert list(tmp_path.iterdir()) == []


# -- client authentication, protocols and suites --------------------------------------------


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        (None, ssl.CERT_NONE),
        ("none", ssl.CERT_NONE),
        ("requested", ssl.CERT_OPTIONAL),
        ("required", ssl.CERT_REQUIRED),
        ("REQUIRED", ssl.CERT_REQUIRED),
    ],
)
def test_client_auth_modes(pki: Pki, value: str | None, mode: ssl.VerifyMode) -> None:
    configs = pki.pem_server() if value is None else pki.pem_server({"ssl.client.auth": value})
    assert server_ssl_context(configs).verify_mode == mode


def test_unknown_client_auth(pki: Pki) -> None:
    config_error(pki.pem_server({"ssl.client.auth": "sometimes"}), "ssl.client.auth")


@pytest.mark.parametrize(
    ("protocols", "minimum", "maximum"),
    [
        ("TLSv1.2,TLSv1.3", ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3),
        ("", ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3),
        (" TLSv1.3 ", ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3),
        ("TLSv1.2", ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2),
    ],
)
def test_enabled_protocols(
    pki: Pki, protocols: str, minimum: ssl.TLSVersion, maximum: ssl.TLSVersion
) -> None:
    context = server_ssl_context(pki.pem_server({"ssl.enabled.protocols": protocols}))
    assert (context.minimum_version, context.maximum_version) == (minimum, maximum)


@pytest.mark.parametrize(("protocol", "problem"), [("TLSv1.1", "obsolete"), ("TLSv9", "unknown")])
def test_refused_protocols(pki: Pki, protocol: str, problem: str) -> None:
    configs = pki.pem_server({"ssl.enabled.protocols": f"TLSv1.2,{protocol}"})
    assert problem in config_error(configs, "ssl.enabled.protocols")


def test_ssl_protocol(pki: Pki) -> None:
    capped = client_ssl_context(pki.pem_client(more={"ssl.protocol": "TLSv1.2"}))
    assert capped.maximum_version == ssl.TLSVersion.TLSv1_2
    for protocol in ("TLS", "TLSv1.3"):
        context = client_ssl_context(pki.pem_client(more={"ssl.protocol": protocol}))
        assert context.maximum_version == ssl.TLSVersion.TLSv1_3
    # Servers are bound by ssl.enabled.protocols only, as in Java.
    server = server_ssl_context(pki.pem_server({"ssl.protocol": "TLSv1.2"}))
    assert server.maximum_version == ssl.TLSVersion.TLSv1_3
    config_error(pki.pem_server({"ssl.protocol": "SSLv3"}), "ssl.protocol")
    only_13 = pki.pem_client(more={"ssl.protocol": "TLSv1.2", "ssl.enabled.protocols": "TLSv1.3"})
    config_error(only_13, "ssl.protocol", server=False)


def test_tls12_cipher_suites_map_to_openssl_names(pki: Pki) -> None:
    suites = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256"
    context = server_ssl_context(pki.pem_server({"ssl.cipher.suites": suites}))
    names = {cipher["name"] for cipher in context.get_ciphers()}
    tls12 = {cipher["name"] for cipher in context.get_ciphers() if cipher["protocol"] == "TLSv1.2"}
    assert tls12 == {"ECDHE-RSA-AES128-GCM-SHA256"}
    assert "TLS_AES_128_GCM_SHA256" in names
    assert context.maximum_version == ssl.TLSVersion.TLSv1_3


def test_suites_of_one_protocol_only_restrict_the_protocol(pki: Pki) -> None:
    tls12_only = pki.pem_server({"ssl.cipher.suites": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"})
    assert server_ssl_context(tls12_only).maximum_version == ssl.TLSVersion.TLSv1_2
    tls13_only = pki.pem_server({"ssl.cipher.suites": "TLS_AES_256_GCM_SHA384"})
    assert server_ssl_context(tls13_only).minimum_version == ssl.TLSVersion.TLSv1_3
    impossible = pki.pem_server(
        {"ssl.cipher.suites": "TLS_AES_256_GCM_SHA384", "ssl.enabled.protocols": "TLSv1.2"}
    )
    config_error(impossible, "ssl.cipher.suites")


@pytest.mark.parametrize(
    "suite", ["TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_AES_128_CCM_SHA256", "ECDHE-RSA-AES128-SHA"]
)
def test_unknown_cipher_suite_is_named(pki: Pki, suite: str) -> None:
    configs = pki.pem_server({"ssl.cipher.suites": f"TLS_AES_128_GCM_SHA256,{suite}"})
    assert repr(suite) in config_error(configs, "ssl.cipher.suites")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_cipher_table_agrees_with_openssl() -> None:
    listing = subprocess.run(
        ["openssl", "ciphers", "-stdname", "ALL:@SECLEVEL=0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    openssl_names = {
        line.split()[0]: line.split()[2] for line in listing.splitlines() if " - " in line
    }
    for iana, openssl_name in ssl_factory._TLS12_SUITES.items():
        assert openssl_names.get(iana) == openssl_name, iana
    assert openssl_names.keys() >= ssl_factory._TLS13_SUITES


def test_renegotiation_signalling_value_is_accepted(pki: Pki) -> None:
    suites = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
    server_ssl_context(pki.pem_server({"ssl.cipher.suites": suites}))


# -- Java-only settings and endpoint identification ---------------------------------------


@pytest.mark.parametrize(
    ("config", "default"),
    [("ssl.keymanager.algorithm", "SunX509"), ("ssl.trustmanager.algorithm", "PKIX")],
)
def test_manager_algorithms_accept_kafkas_default_only(pki: Pki, config: str, default: str) -> None:
    server_ssl_context(pki.pem_server({config: default}))
    other = "PKIX" if default == "SunX509" else "SunX509"
    assert "cannot honour" in config_error(pki.pem_server({config: other}), config)


@pytest.mark.parametrize(
    ("config", "value"),
    [
        ("ssl.secure.random.implementation", "SHA1PRNG"),
        ("ssl.provider", "SunJSSE"),
        ("ssl.engine.factory.class", "com.example.MyFactory"),
    ],
)
def test_settings_unset_by_default_must_stay_unset(pki: Pki, config: str, value: str) -> None:
    server_ssl_context(pki.pem_server({config: ""}))
    config_error(pki.pem_server({config: value}), config)
    config_error(pki.pem_client(more={config: value}), config, server=False)


def test_endpoint_identification_values(pki: Pki) -> None:
    assert client_ssl_context(pki.pem_client()).check_hostname
    upper = pki.pem_client(more={"ssl.endpoint.identification.algorithm": "HTTPS"})
    assert client_ssl_context(upper).check_hostname
    ldaps = {"ssl.endpoint.identification.algorithm": "LDAPS"}
    config_error(pki.pem_client(more=ldaps), "ssl.endpoint.identification.algorithm", server=False)
    config_error(pki.pem_server(ldaps), "ssl.endpoint.identification.algorithm")


def test_client_without_truststore_uses_the_system_cas() -> None:
    context = client_ssl_context({})
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)


def test_config_names() -> None:
    assert all(config.startswith("ssl.") for config in SSL_CONFIG_NAMES)
    assert {
        "ssl.keystore.type",
        "ssl.keystore.certificate.chain",
        "ssl.truststore.certificates",
        "ssl.client.auth",
        "ssl.cipher.suites",
        "ssl.provider",
    } <= SSL_CONFIG_NAMES
    assert "ssl.principal.mapping.rules" not in SSL_CONFIG_NAMES


# -- subject names as Java writes them ---------------------------------------------------


def test_rfc2253_order_is_the_last_rdn_first() -> None:
    assert rfc2253_name(ALICE_NAME) == ALICE


def test_rfc2253_escapes_as_java_does() -> None:
    subject = name(
        (NameOID.ORGANIZATION_NAME, "Example, Inc. #1 a=b+c"),
        (NameOID.COMMON_NAME, ' "alice" <a;b> \\ '),
    )
    assert rfc2253_name(subject) == (r"CN=\ \"alice\" \<a\;b\> \\\ ,O=Example\, Inc. \#1 a\=b\+c")


def test_rfc2253_writes_attributes_without_keyword_as_oid_and_hex() -> None:
    subject = name(
        (NameOID.COUNTRY_NAME, "US"),
        (NameOID.EMAIL_ADDRESS, "a@b.c"),
        (NameOID.SERIAL_NUMBER, "42"),
        (NameOID.DOMAIN_COMPONENT, "example"),
        (NameOID.USER_ID, "alice"),
        (NameOID.STREET_ADDRESS, "Main St"),
    )
    assert rfc2253_name(subject) == (
        "STREET=Main St,UID=alice,DC=example,2.5.4.5=#13023432,"
        "1.2.840.113549.1.9.1=#16056140622e63,C=US"
    )


def test_rfc2253_multi_valued_rdn_and_string_types() -> None:
    rdn = x509.RelativeDistinguishedName(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "eng"),
            x509.NameAttribute(NameOID.COMMON_NAME, "bob"),
        ]
    )
    assert rfc2253_name(x509.Name([rdn])) == "OU=eng+CN=bob"
    # Java reads any string type's bytes as UTF-8: a BMPString shows its zero bytes.
    bmp = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ab", _ASN1Type.BMPString)])
    assert rfc2253_name(bmp) == r"CN=\00a\00b"
    assert rfc2253_name(name((NameOID.COMMON_NAME, "Zoë"))) == "CN=Zoë"


async def test_a_refused_client_certificate_gets_the_tls_alert(pki: Pki) -> None:
    """The broker's failed handshake still sends OpenSSL's alert (asyncio would drop it), so
    clients learn why: Java raises SslAuthenticationException, not a timeout."""
    server = server_ssl_context(pki.pem_server({"ssl.client.auth": "required"}))
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0, ssl=server)
    port = listener.sockets[0].getsockname()[1]
    client = client_ssl_context(pki.pem_client(trustme_identity("mallory")))
    client.maximum_version = ssl.TLSVersion.TLSv1_2  # the alert ends the handshake itself
    async with listener:
        with pytest.raises(ssl.SSLError) as refused:
            await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname="localhost"),
                10,
            )
    assert "UNKNOWN_CA" in str(refused.value).upper().replace(" ", "_"), refused.value
