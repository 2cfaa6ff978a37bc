"""How a broker connects to the other brokers of its cluster, resolved from its config at
startup: the inter-broker listener's protocol, the TLS context it connects with and the SASL
mechanism and credentials it authenticates with — as Kafka's inter-broker channel takes them:

* TLS: the inter-broker listener's ``ssl.*`` settings (truststore, protocols, suites,
  ``ssl.endpoint.identification.algorithm``, https by default). The keystore is presented for
  mutual TLS when the listener asks clients for certificates (``ssl.client.auth``).
* SASL: ``sasl.mechanism.inter.broker.protocol``, one of the listener's enabled mechanisms;
  the credentials are the ``username`` and ``password`` options of the listener's
  ``listener.name.<l>.<mechanism>.sasl.jaas.config``."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from odradek.common.errors import ConfigError
from odradek.config.broker import BrokerConfig
from odradek.config.listeners import SecurityProtocol
from odradek.security.jaas import PLAIN_LOGIN_MODULE, SCRAM_LOGIN_MODULE
from odradek.security.listener_security import (
    BrokerSecurity,
    ListenerSecurity,
    jaas_login_module,
    listener_ssl_settings,
)
from odradek.security.sasl import PLAIN
from odradek.security.sasl_client import SaslClient, create_sasl_client
from odradek.security.ssl_configs import (
    SSL_CLIENT_AUTH_CONFIG,
    SSL_KEY_PASSWORD_CONFIG,
    SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG,
    SSL_KEYSTORE_KEY_CONFIG,
    SSL_KEYSTORE_LOCATION_CONFIG,
    SSL_KEYSTORE_PASSWORD_CONFIG,
    SSL_KEYSTORE_TYPE_CONFIG,
    SslConfigError,
)
from odradek.security.ssl_factory import client_ssl_context

SASL_MECHANISM_INTER_BROKER_PROTOCOL_CONFIG = "sasl.mechanism.inter.broker.protocol"

_KEYSTORE_CONFIGS = (
    SSL_KEYSTORE_TYPE_CONFIG,
    SSL_KEYSTORE_LOCATION_CONFIG,
    SSL_KEYSTORE_PASSWORD_CONFIG,
    SSL_KEY_PASSWORD_CONFIG,
    SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG,
    SSL_KEYSTORE_KEY_CONFIG,
)


@dataclass(frozen=True, slots=True)
class SaslCredentials:
    """A SASL mechanism and the user and password a broker authenticates with."""

    mechanism: str
    username: str
    password: str = field(repr=False)

    def client(self) -> SaslClient:
        """A client for one exchange."""
        return create_sasl_client(self.mechanism, self.username, self.password)


@dataclass(frozen=True, slots=True)
class InterBrokerSecurity:
    """What this broker needs to connect to another broker's inter-broker listener."""

    listener: str
    protocol: SecurityProtocol
    ssl_context: ssl.SSLContext | None = None
    sasl: SaslCredentials | None = None


def inter_broker_security(config: BrokerConfig, security: BrokerSecurity) -> InterBrokerSecurity:
    """The inter-broker security of a broker whose listeners are ``security`` (resolved by
    ``broker_security(config, cluster=True)``); raises ConfigError naming what is missing."""
    listener = security.listeners[security.inter_broker_listener]
    if all(advertised.name != listener.name for advertised in config.advertised_listeners):
        raise ConfigError(
            f"inter.broker.listener.name must be a listener name defined in "
            f"advertised.listeners: {listener.name} is not advertised, so other brokers "
            "could not reach this one"
        )
    protocol = listener.protocol
    ssl_context = _ssl_context(config, listener) if protocol.uses_tls else None
    sasl = _sasl_credentials(config, listener) if protocol.uses_sasl else None
    return InterBrokerSecurity(listener.name, protocol, ssl_context, sasl)


def _ssl_context(config: BrokerConfig, listener: ListenerSecurity) -> ssl.SSLContext:
    settings = listener_ssl_settings(config, listener.name, listener.protocol)
    if settings.get(SSL_CLIENT_AUTH_CONFIG, "none").strip().lower() == "none":
        for name in _KEYSTORE_CONFIGS:  # no client certificate is asked for
            settings.pop(name, None)
    try:
        return client_ssl_context(settings)
    except SslConfigError as exc:
        raise ConfigError(
            f"Inter-broker listener {listener.name} ({listener.protocol}): {exc}"
        ) from exc


def _sasl_credentials(config: BrokerConfig, listener: ListenerSecurity) -> SaslCredentials:
    mechanism = str(config.get(SASL_MECHANISM_INTER_BROKER_PROTOCOL_CONFIG)).strip().upper()
    if mechanism not in listener.sasl_mechanisms:
        default = " (Kafka's default)" if mechanism == "GSSAPI" else ""
        raise ConfigError(
            f"{SASL_MECHANISM_INTER_BROKER_PROTOCOL_CONFIG} is {mechanism}{default}, which is "
            f"not among the SASL mechanisms of the inter-broker listener {listener.name} "
            f"({', '.join(listener.sasl_mechanisms)}): set it to one of them"
        )
    module_class = PLAIN_LOGIN_MODULE if mechanism == PLAIN else SCRAM_LOGIN_MODULE
    key = f"listener.name.{listener.name.lower()}.{mechanism.lower()}.sasl.jaas.config"
    module = jaas_login_module(config, listener.name, mechanism, module_class, required=True)
    assert module is not None  # required
    username = module.options.get("username")
    password = module.options.get("password")
    if not username or not password:
        raise ConfigError(
            f"SASL/{mechanism} between brokers on listener {listener.name} needs the "
            f"broker's own credentials: username and password options in {key}"
        )
    credentials = SaslCredentials(mechanism, username, password)
    try:
        credentials.client()
    except ValueError as exc:
        raise ConfigError(f"Invalid value for configuration {key}: {exc}") from exc
    return credentials
