"""Inter-broker security from the broker config (the listener, its TLS client context, the
SASL mechanism and the broker's own credentials), and a broker-to-broker connection with it
to a real broker's SSL and SASL_SSL listeners."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import trustme
from kio.schema.api_versions.v3.request import ApiVersionsRequest
from kio.schema.errors import ErrorCode

from odradek.cluster.broker_client import BrokerClient, BrokerConnectionError
from odradek.common.errors import ConfigError
from odradek.config.broker import build_broker_config
from odradek.config.listeners import SecurityProtocol
from odradek.security.inter_broker import (
    InterBrokerSecurity,
    SaslCredentials,
    inter_broker_security,
)
from odradek.security.listener_security import broker_security
from odradek.security.sasl import INVALID_USERNAME_OR_PASSWORD
from odradek.security.ssl_factory import server_ssl_context
from odradek.testing import Broker
from tests.support.security import pem_keystore

BROKER_PASSWORD = "broker-secret"
PLAIN_JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    f'username="broker" password="{BROKER_PASSWORD}" user_broker="{BROKER_PASSWORD}";'
)
SCRAM_JAAS = (
    "org.apache.kafka.common.security.scram.ScramLoginModule required "
    f'username="broker" password="{BROKER_PASSWORD}";'
)


@dataclass(frozen=True)
class Tls:
    ca: Path
    keystore: Path  # key and certificate for 127.0.0.1 only (not localhost)

    def settings(self) -> dict[str, str]:
        return {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca),
        }


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    ca = trustme.CA()
    directory = tmp_path_factory.mktemp("tls")
    files = Tls(directory / "ca.pem", directory / "broker.pem")
    ca.cert_pem.write_to_path(str(files.ca))
    files.keystore.write_bytes(pem_keystore(ca.issue_cert("127.0.0.1")))
    return files


def internal(protocol: str, tls: Tls, more: Mapping[str, str] | None = None) -> dict[str, str]:
    """A broker config whose only listener, INTERNAL, is the inter-broker listener."""
    return {
        "listeners": "INTERNAL://127.0.0.1:0",
        "listener.security.protocol.map": f"INTERNAL:{protocol}",
        "inter.broker.listener.name": "INTERNAL",
        **tls.settings(),
        **(more or {}),
    }


def sasl_ssl(tls: Tls, more: Mapping[str, str] | None = None) -> dict[str, str]:
    return internal(
        "SASL_SSL",
        tls,
        {
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "listener.name.internal.plain.sasl.jaas.config": PLAIN_JAAS,
            **(more or {}),
        },
    )


def resolve(raw: Mapping[str, str]) -> InterBrokerSecurity:
    config = build_broker_config(raw)
    return inter_broker_security(config, broker_security(config, cluster=True))


def client_certificate_presented(client: ssl.SSLContext, tls: Tls) -> bool:
    """A TLS handshake in memory with a server that asks for (without requiring) a client
    certificate: whether the client presented one."""
    server = server_ssl_context({**tls.settings(), "ssl.client.auth": "requested"})
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_side = client.wrap_bio(to_client, to_server, server_hostname="127.0.0.1")
    server_side = server.wrap_bio(to_server, to_client, server_side=True)
    done: set[str] = set()
    for _ in range(10):
        for name, side in (("client", client_side), ("server", server_side)):
            try:
                side.do_handshake()
                done.add(name)
            except ssl.SSLWantReadError:
                pass
        if done == {"client", "server"}:
            return bool(server_side.getpeercert(binary_form=True))
    raise AssertionError("the handshake did not finish")


# -- resolving the config ----------------------------------------------------------------------


def test_plaintext_inter_broker_listener() -> None:
    security = resolve({"listeners": "PLAINTEXT://127.0.0.1:0"})
    assert security == InterBrokerSecurity("PLAINTEXT", SecurityProtocol.PLAINTEXT)


def test_sasl_ssl_with_plain(tls: Tls) -> None:
    security = resolve(sasl_ssl(tls))
    assert security.listener == "INTERNAL"
    assert security.protocol is SecurityProtocol.SASL_SSL
    assert security.sasl == SaslCredentials("PLAIN", "broker", BROKER_PASSWORD)
    assert BROKER_PASSWORD not in repr(security)
    context = security.ssl_context
    assert context is not None
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    # A SASL_SSL listener asks for no client certificate unless its own ssl.client.auth does
    # (KIP-684), so the broker presents none, whatever the broker-wide setting says.
    assert not client_certificate_presented(context, tls)
    broker_wide = resolve(sasl_ssl(tls, {"ssl.client.auth": "required"}))
    assert broker_wide.ssl_context is not None
    assert not client_certificate_presented(broker_wide.ssl_context, tls)


def test_keystore_is_presented_when_the_listener_asks_for_client_certificates(tls: Tls) -> None:
    for raw in (
        internal("SSL", tls, {"ssl.client.auth": "required"}),
        internal("SSL", tls, {"listener.name.internal.ssl.client.auth": "requested"}),
        sasl_ssl(tls, {"listener.name.internal.ssl.client.auth": "required"}),
    ):
        context = resolve(raw).ssl_context
        assert context is not None and client_certificate_presented(context, tls), raw
    context = resolve(internal("SSL", tls)).ssl_context
    assert context is not None and not client_certificate_presented(context, tls)


def test_endpoint_identification_can_be_turned_off(tls: Tls) -> None:
    context = resolve(
        internal("SSL", tls, {"listener.name.internal.ssl.endpoint.identification.algorithm": ""})
    ).ssl_context
    assert context is not None and not context.check_hostname


def test_scram_between_brokers(tls: Tls) -> None:
    raw = sasl_ssl(
        tls,
        {
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.internal.scram-sha-512.sasl.jaas.config": SCRAM_JAAS,
        },
    )
    security = resolve(raw)
    assert security.sasl == SaslCredentials("SCRAM-SHA-512", "broker", BROKER_PASSWORD)
    assert security.sasl.client().mechanism == "SCRAM-SHA-512"


def test_gssapi_default_is_refused(tls: Tls) -> None:
    raw = sasl_ssl(tls)
    del raw["sasl.mechanism.inter.broker.protocol"]
    with pytest.raises(ConfigError, match=re.escape("GSSAPI (Kafka's default)")):
        resolve(raw)


def test_mechanism_must_be_enabled_on_the_listener(tls: Tls) -> None:
    raw = sasl_ssl(tls, {"sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-256"})
    with pytest.raises(ConfigError, match="PLAIN, SCRAM-SHA-512"):
        resolve(raw)


def test_missing_credentials_stop_startup(tls: Tls) -> None:
    users_only = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'user_broker="{BROKER_PASSWORD}";'
    )
    raw = sasl_ssl(tls, {"listener.name.internal.plain.sasl.jaas.config": users_only})
    with pytest.raises(ConfigError, match="username and password"):
        resolve(raw)
    raw = sasl_ssl(tls, {"sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512"})
    with pytest.raises(ConfigError, match=re.escape("scram-sha-512.sasl.jaas.config")):
        resolve(raw)


def test_credentials_the_client_cannot_send_stop_startup(tls: Tls) -> None:
    jaas = SCRAM_JAAS.replace(BROKER_PASSWORD, "no\u00a0break")
    raw = sasl_ssl(
        tls,
        {
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.internal.scram-sha-512.sasl.jaas.config": jaas,
        },
    )
    with pytest.raises(ConfigError, match="SASLprep"):
        resolve(raw)


def test_inter_broker_listener_must_be_advertised(tls: Tls) -> None:
    raw = {
        "listeners": "INTERNAL://127.0.0.1:0,CLIENT://127.0.0.1:0",
        "advertised.listeners": "CLIENT://127.0.0.1:9092",
        "listener.security.protocol.map": "INTERNAL:PLAINTEXT,CLIENT:PLAINTEXT",
        "inter.broker.listener.name": "INTERNAL",
    }
    with pytest.raises(ConfigError, match=re.escape("advertised.listeners")):
        resolve(raw)


# -- connecting to a broker with it ------------------------------------------------------------


@pytest.fixture
async def sasl_ssl_broker(tls: Tls) -> AsyncIterator[Broker]:
    raw = sasl_ssl(tls, {"listener.name.internal.connections.max.reauth.ms": "1000"})
    async with Broker(overrides=raw) as broker:
        yield broker


async def api_versions(client: BrokerClient) -> ErrorCode:
    request = ApiVersionsRequest(client_software_name="odradek", client_software_version="1")
    response = await client.request(request, timeout_s=10)
    return ErrorCode(response.error_code)


def client_to(
    broker: Broker, security: InterBrokerSecurity, host: str = "127.0.0.1"
) -> BrokerClient:
    return BrokerClient(host, broker.port, "broker-1-test", 10, security)


async def test_sasl_ssl_connection_and_reauthentication(sasl_ssl_broker: Broker) -> None:
    """Authenticated before the first request; re-authenticated on the same connection
    before the 1 s session the broker granted expires."""
    assert sasl_ssl_broker.server is not None
    security = inter_broker_security(sasl_ssl_broker.config, sasl_ssl_broker.server.security)
    client = client_to(sasl_ssl_broker, security)
    try:
        assert await api_versions(client) == ErrorCode.none
        connection = client._writer
        await asyncio.sleep(1.2)
        assert await api_versions(client) == ErrorCode.none
        assert client._writer is connection
    finally:
        client.close()


async def test_failed_authentication_carries_the_brokers_message(sasl_ssl_broker: Broker) -> None:
    assert sasl_ssl_broker.server is not None
    security = inter_broker_security(sasl_ssl_broker.config, sasl_ssl_broker.server.security)
    wrong = replace(security, sasl=SaslCredentials("PLAIN", "broker", "wrong"))
    client = client_to(sasl_ssl_broker, wrong)
    with pytest.raises(BrokerConnectionError, match=re.escape(INVALID_USERNAME_OR_PASSWORD)):
        await api_versions(client)
    unknown = replace(security, sasl=SaslCredentials("SCRAM-SHA-256", "broker", "x"))
    with pytest.raises(BrokerConnectionError, match="refused SASL mechanism SCRAM-SHA-256"):
        await api_versions(client_to(sasl_ssl_broker, unknown))


async def test_the_brokers_host_name_is_checked(sasl_ssl_broker: Broker) -> None:
    """The certificate names 127.0.0.1 only: a connection to localhost refuses it."""
    assert sasl_ssl_broker.server is not None
    security = inter_broker_security(sasl_ssl_broker.config, sasl_ssl_broker.server.security)
    with pytest.raises(BrokerConnectionError, match="cannot connect"):
        await api_versions(client_to(sasl_ssl_broker, security, host="localhost"))


async def test_mutual_tls_connection(tls: Tls) -> None:
    raw = internal("SSL", tls, {"listener.name.internal.ssl.client.auth": "required"})
    async with Broker(overrides=raw) as broker:
        assert broker.server is not None
        security = inter_broker_security(broker.config, broker.server.security)
        client = client_to(broker, security)
        try:
            assert await api_versions(client) == ErrorCode.none
        finally:
            client.close()
        anonymous = replace(security, ssl_context=resolve(internal("SSL", tls)).ssl_context)
        with pytest.raises(BrokerConnectionError):
            await api_versions(client_to(broker, anonymous))
