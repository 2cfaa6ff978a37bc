"""Each listener's security, resolved from the broker config at startup — and the refusal
to start when a security setting cannot be honoured (never serve plaintext on a listener
declared SSL or SASL, never ignore an ``ssl.*``/``sasl.*``/authorizer setting)."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

from odradek.common.errors import ConfigError
from odradek.config.broker import BrokerConfig
from odradek.config.listeners import (
    SecurityProtocol,
    inter_broker_listener_name,
    listener_config,
    listener_protocols,
)
from odradek.security.jaas import (
    PLAIN_LOGIN_MODULE,
    SCRAM_LOGIN_MODULE,
    JaasConfigError,
    JaasLoginModule,
    parse_jaas_config,
    plain_users,
)
from odradek.security.principal_mapping import SslPrincipalMapper
from odradek.security.sasl import SUPPORTED_MECHANISMS
from odradek.security.ssl_configs import SSL_CONFIG_NAMES, SslConfigError
from odradek.security.ssl_factory import server_ssl_context

# Kafka's authorizer class names, all meaning odradek's built-in ACL authorizer.
AUTHORIZER_CLASS_NAMES = frozenset(
    {
        "kafka.security.authorizer.AclAuthorizer",
        "kafka.security.auth.SimpleAclAuthorizer",
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    }
)

# Security settings odradek honours (besides SSL_CONFIG_NAMES); per listener they may carry
# the ``listener.name.<l>.`` prefix, and sasl.jaas.config also a mechanism prefix.
_HONOURED = frozenset(
    {
        "sasl.enabled.mechanisms",
        "sasl.mechanism.inter.broker.protocol",
        "sasl.jaas.config",
        "connections.max.reauth.ms",
        "connection.failed.authentication.delay.ms",
        "ssl.principal.mapping.rules",
        "ssl.client.auth",
    }
)
# Security settings with no ssl./sasl. prefix that odradek cannot honour when set.
_UNSUPPORTED = frozenset(
    {
        "principal.builder.class",
        "client.quota.callback.class",
        "security.providers",
        "delegation.token.secret.key",
        "delegation.token.master.key",
    }
)
_MECHANISM_PREFIXES = tuple(f"{m.lower()}." for m in SUPPORTED_MECHANISMS)


@dataclass(frozen=True, slots=True)
class ListenerSecurity:
    """How one listener authenticates its clients."""

    name: str
    protocol: SecurityProtocol
    ssl_context: ssl.SSLContext | None = None
    principal_mapper: SslPrincipalMapper | None = None
    sasl_mechanisms: tuple[str, ...] = ()
    plain_users: Mapping[str, str] = field(default_factory=dict)
    reauth_ms: int = 0
    failed_authentication_delay_ms: int = 100


@dataclass(frozen=True, slots=True)
class BrokerSecurity:
    listeners: Mapping[str, ListenerSecurity]
    inter_broker_listener: str
    authorizer_enabled: bool = False


def broker_security(config: BrokerConfig, *, cluster: bool) -> BrokerSecurity:
    """Resolve every listener's security; raises ConfigError naming what cannot be honoured."""
    _refuse_unsupported_settings(config)
    protocols = listener_protocols(config)
    listeners = {name: _listener(config, name, p) for name, p in protocols.items()}
    inter_broker = inter_broker_listener_name(config)
    if cluster and inter_broker not in protocols:
        raise ConfigError(
            f"inter.broker.listener.name must be a listener name defined in listeners: "
            f"{inter_broker} is not one of {', '.join(protocols)}"
        )
    authorizer = str(config.get("authorizer.class.name") or "").strip()
    if authorizer and authorizer not in AUTHORIZER_CLASS_NAMES:
        raise ConfigError(
            f"authorizer.class.name {authorizer} is not supported: use "
            "kafka.security.authorizer.AclAuthorizer or "
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer (the built-in ACL authorizer)"
        )
    return BrokerSecurity(listeners, inter_broker, authorizer_enabled=bool(authorizer))


def _listener(config: BrokerConfig, name: str, protocol: SecurityProtocol) -> ListenerSecurity:
    def get(config_name: str) -> str | None:
        return listener_config(config, name, config_name)

    ssl_context = mapper = None
    if protocol.uses_tls:
        try:
            ssl_context = server_ssl_context(listener_ssl_settings(config, name, protocol))
            mapper = SslPrincipalMapper.from_rules(get("ssl.principal.mapping.rules") or "DEFAULT")
        except (SslConfigError, ValueError) as exc:
            raise ConfigError(f"Listener {name} ({protocol}): {exc}") from exc
    mechanisms: tuple[str, ...] = ()
    users: dict[str, str] = {}
    if protocol.uses_sasl:
        mechanisms = _sasl_mechanisms(name, get("sasl.enabled.mechanisms") or "")
        users = _plain_users(config, name) if "PLAIN" in mechanisms else {}
        for mechanism in mechanisms:
            if mechanism.startswith("SCRAM-"):
                jaas_login_module(config, name, mechanism, SCRAM_LOGIN_MODULE, required=False)
    return ListenerSecurity(
        name,
        protocol,
        ssl_context,
        mapper,
        mechanisms,
        users,
        reauth_ms=_int(name, "connections.max.reauth.ms", get("connections.max.reauth.ms")),
        failed_authentication_delay_ms=_int(
            name,
            "connection.failed.authentication.delay.ms",
            get("connection.failed.authentication.delay.ms"),
        ),
    )


def listener_ssl_settings(
    config: BrokerConfig, name: str, protocol: SecurityProtocol
) -> dict[str, str]:
    """The ``ssl.*`` settings of listener ``name`` (its overrides applied); a SASL_SSL
    listener takes only its own ``ssl.client.auth`` (KIP-684), none by default."""
    settings = {
        n: v for n in SSL_CONFIG_NAMES if (v := listener_config(config, name, n)) is not None
    }
    if protocol.uses_sasl:
        own = config.unknown_valid.get(f"listener.name.{name.lower()}.ssl.client.auth")
        settings["ssl.client.auth"] = own or "none"
    return settings


def _sasl_mechanisms(listener: str, text: str) -> tuple[str, ...]:
    mechanisms = tuple(m.strip().upper() for m in text.split(",") if m.strip())
    if not mechanisms:
        raise ConfigError(f"Listener {listener} uses SASL but sasl.enabled.mechanisms is empty")
    for mechanism in mechanisms:
        if mechanism not in SUPPORTED_MECHANISMS:
            raise ConfigError(
                f"SASL mechanism {mechanism} (sasl.enabled.mechanisms of listener {listener}) "
                f"is not supported: use {', '.join(SUPPORTED_MECHANISMS)}"
            )
    return mechanisms


def _plain_users(config: BrokerConfig, listener: str) -> dict[str, str]:
    module = jaas_login_module(config, listener, "PLAIN", PLAIN_LOGIN_MODULE, required=True)
    assert module is not None
    users = plain_users(module)
    if not users:
        raise ConfigError(
            f'SASL/PLAIN on listener {listener} has no users: add user_<name>="<password>" '
            f"entries to listener.name.{listener.lower()}.plain.sasl.jaas.config"
        )
    return users


def jaas_login_module(
    config: BrokerConfig, listener: str, mechanism: str, module_class: str, *, required: bool
) -> JaasLoginModule | None:
    """The listener's JAAS login module for ``mechanism``: Kafka's
    ``listener.name.<l>.<mechanism>.sasl.jaas.config``."""
    key = f"listener.name.{listener.lower()}.{mechanism.lower()}.sasl.jaas.config"
    text = config.unknown_valid.get(key)
    if text is None:
        if required:
            raise ConfigError(f"SASL/{mechanism} on listener {listener} needs {key}")
        return None
    try:
        modules = parse_jaas_config(text)
    except JaasConfigError as exc:
        raise ConfigError(f"Invalid value for configuration {key}: {exc}") from exc
    if len(modules) != 1 or modules[0].class_name != module_class:
        raise ConfigError(f"Invalid value for configuration {key}: expected one {module_class}")
    return modules[0]


def _int(listener: str, name: str, text: str | None) -> int:
    try:
        value = int(text or 0)
    except ValueError:
        raise ConfigError(
            f"Invalid value {text} for configuration {name} (listener {listener}): "
            "Not a number of type LONG"
        ) from None
    if value < 0:
        raise ConfigError(f"Invalid value {value} for configuration {name}: must be >= 0")
    return value


def is_security_setting(key: str) -> bool:
    """An ``ssl.*``/``sasl.*`` setting, also with a listener (and mechanism) prefix."""
    return _base_name(key)[0].startswith(("ssl.", "sasl."))


def _base_name(key: str) -> tuple[str, bool]:
    """``key`` without its listener and mechanism prefixes; whether it had a mechanism one."""
    if not key.startswith("listener.name."):
        return key, False
    name = key[len("listener.name.") :].partition(".")[2]
    if name.startswith(_MECHANISM_PREFIXES):
        return name.partition(".")[2], True
    return name, False


def _refuse_unsupported_settings(config: BrokerConfig) -> None:
    for key in sorted(config.unknown_valid):
        name, jaas_prefixed = _base_name(key)
        if name == "sasl.jaas.config" and not jaas_prefixed:
            raise ConfigError(
                f"{key}: a broker's JAAS config names its listener and SASL mechanism, as "
                "listener.name.<listener>.<mechanism>.sasl.jaas.config"
            )
        if name in _UNSUPPORTED or (
            name.startswith(("ssl.", "sasl."))
            and name not in SSL_CONFIG_NAMES
            and name not in _HONOURED
        ):
            raise ConfigError(
                f"{key} is a Kafka security setting odradek does not implement; remove it "
                "(odradek does not start with a security setting it would ignore)"
            )
