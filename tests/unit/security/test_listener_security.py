"""Listener security from the broker config, and the refusal to start on a security setting
the broker cannot honour (never fail open)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trustme

from odradek.common.errors import ConfigError
from odradek.config.broker import build_broker_config
from odradek.config.listeners import SecurityProtocol
from odradek.security.listener_security import (
    BrokerSecurity,
    broker_security,
    is_security_setting,
)
from tests.support.security import pem_keystore

PLAIN_JAAS = (
    "org.apache.kafka.common.security.plain.PlainLoginModule required "
    'username="admin" password="admin-secret" user_admin="admin-secret" user_alice="a";'
)


def security(raw: dict[str, str], *, cluster: bool = False) -> BrokerSecurity:
    return broker_security(build_broker_config(raw), cluster=cluster)


@pytest.fixture(scope="module")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PEM keystore (key and certificate chain in one file) for 127.0.0.1."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    path = tmp_path_factory.mktemp("tls") / "server.pem"
    path.write_bytes(pem_keystore(cert))
    return path


def test_plaintext_by_default() -> None:
    result = security({"listeners": "PLAINTEXT://127.0.0.1:0"})
    listener = result.listeners["PLAINTEXT"]
    assert listener.protocol is SecurityProtocol.PLAINTEXT
    assert listener.ssl_context is None and listener.sasl_mechanisms == ()
    assert not result.authorizer_enabled


def test_ssl_listener_without_keystore_stops_startup() -> None:
    with pytest.raises(ConfigError, match="SSL"):
        security({"listeners": "SSL://127.0.0.1:0"})


def test_ssl_listener_with_pem_keystore(keystore: Path) -> None:
    result = security(
        {
            "listeners": "SSL://127.0.0.1:0",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(keystore),
            "ssl.client.auth": "required",
        }
    )
    listener = result.listeners["SSL"]
    assert listener.ssl_context is not None and listener.principal_mapper is not None


def test_per_listener_override_wins(keystore: Path) -> None:
    """``listener.name.<l>.<config>`` overrides the broker-wide value for that listener."""
    with pytest.raises(ConfigError, match="EXTERNAL"):
        security(
            {
                "listeners": "EXTERNAL://127.0.0.1:0",
                "listener.security.protocol.map": "EXTERNAL:SSL",
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": str(keystore),
                "listener.name.external.ssl.keystore.location": "/nonexistent/keystore.pem",
            }
        )


def test_sasl_listener_default_mechanism_gssapi_is_refused() -> None:
    with pytest.raises(ConfigError, match="GSSAPI"):
        security({"listeners": "SASL_PLAINTEXT://127.0.0.1:0"})


def test_plain_needs_its_jaas_config() -> None:
    with pytest.raises(
        ConfigError, match=re.escape("listener.name.sasl_plaintext.plain.sasl.jaas.config")
    ):
        security({"listeners": "SASL_PLAINTEXT://127.0.0.1:0", "sasl.enabled.mechanisms": "PLAIN"})


def test_plain_users_from_jaas() -> None:
    result = security(
        {
            "listeners": "SASL_PLAINTEXT://127.0.0.1:0",
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS,
        }
    )
    listener = result.listeners["SASL_PLAINTEXT"]
    assert listener.sasl_mechanisms == ("PLAIN", "SCRAM-SHA-512")
    assert dict(listener.plain_users) == {"admin": "admin-secret", "alice": "a"}


def test_listener_missing_from_protocol_map() -> None:
    with pytest.raises(ConfigError, match="No security protocol defined for listener INTERNAL"):
        security({"listeners": "INTERNAL://127.0.0.1:0"})


def test_custom_listener_names() -> None:
    result = security(
        {
            "listeners": "INTERNAL://127.0.0.1:0,CLIENT://127.0.0.1:0",
            "listener.security.protocol.map": "INTERNAL:PLAINTEXT,CLIENT:SASL_PLAINTEXT",
            "inter.broker.listener.name": "INTERNAL",
            "listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-256",
        },
        cluster=True,
    )
    assert result.inter_broker_listener == "INTERNAL"
    assert result.listeners["CLIENT"].sasl_mechanisms == ("SCRAM-SHA-256",)


@pytest.mark.parametrize(
    "name",
    [
        "sasl.server.callback.handler.class",
        "sasl.kerberos.service.name",
        "principal.builder.class",
        "listener.name.plaintext.sasl.server.callback.handler.class",
    ],
)
def test_unimplemented_security_settings_stop_startup(name: str) -> None:
    with pytest.raises(ConfigError, match=name.replace(".", r"\.")):
        security({"listeners": "PLAINTEXT://127.0.0.1:0", name: "x"})


def test_unprefixed_broker_jaas_config_is_refused() -> None:
    with pytest.raises(ConfigError, match=re.escape("listener.name.<listener>.<mechanism>")):
        security({"listeners": "PLAINTEXT://127.0.0.1:0", "sasl.jaas.config": PLAIN_JAAS})


def test_authorizer_class_names() -> None:
    for name in (
        "kafka.security.authorizer.AclAuthorizer",
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    ):
        assert security({"authorizer.class.name": name}).authorizer_enabled
    with pytest.raises(ConfigError, match=re.escape("com.example.MyAuthorizer")):
        security({"authorizer.class.name": "com.example.MyAuthorizer"})


def test_cluster_needs_its_inter_broker_listener() -> None:
    with pytest.raises(ConfigError, match=re.escape("inter.broker.listener.name")):
        security(
            {
                "listeners": "SASL_PLAINTEXT://127.0.0.1:0",
                "sasl.enabled.mechanisms": "SCRAM-SHA-256",
            },
            cluster=True,
        )
    with pytest.raises(ConfigError, match="Only one of"):
        security(
            {
                "inter.broker.listener.name": "PLAINTEXT",
                "security.inter.broker.protocol": "PLAINTEXT",
            },
            cluster=True,
        )


def test_security_setting_names() -> None:
    assert is_security_setting("ssl.keystore.location")
    assert is_security_setting("listener.name.client.scram-sha-256.sasl.jaas.config")
    assert not is_security_setting("listener.name.client.max.connections")
