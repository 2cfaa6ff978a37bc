"""Listeners and their security protocols, as Kafka resolves them.

A listener is ``NAME://host:port``; ``listener.security.protocol.map`` gives each name its
protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); a listener's configs are the broker's,
overridden by ``listener.name.<name lower case>.<config>``. Brokers talk to each other on
``inter.broker.listener.name``, or else on the listener named after
``security.inter.broker.protocol``."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from odradek.common.errors import ConfigError
from odradek.config.broker import BrokerConfig, Listener


class SecurityProtocol(enum.StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"

    @property
    def uses_tls(self) -> bool:
        return self in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)

    @property
    def uses_sasl(self) -> bool:
        return self in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)


def security_protocol_map(config: BrokerConfig) -> dict[str, SecurityProtocol]:
    """``listener.security.protocol.map`` parsed: listener name -> protocol."""
    protocols: dict[str, SecurityProtocol] = {}
    for entry in config.get("listener.security.protocol.map") or []:
        name, sep, protocol = entry.partition(":")
        if not sep or not name:
            raise ConfigError(
                f"Invalid value {entry} for configuration listener.security.protocol.map: "
                "expected LISTENER_NAME:SECURITY_PROTOCOL"
            )
        try:
            protocols[name.strip().upper()] = SecurityProtocol(protocol.strip().upper())
        except ValueError:
            raise ConfigError(
                f"Invalid value {entry} for configuration listener.security.protocol.map: "
                f"no security protocol {protocol.strip()!r} (one of "
                f"{', '.join(SecurityProtocol)})"
            ) from None
    return protocols


def listener_protocols(config: BrokerConfig) -> dict[str, SecurityProtocol]:
    """Each configured listener's security protocol; a listener missing from the map stops
    startup, as in Kafka."""
    protocols = security_protocol_map(config)
    names = _unique_names(config.listeners, "listeners")
    _unique_names(config.advertised_listeners, "advertised.listeners")
    resolved = {}
    for name in names:
        if name not in protocols:
            raise ConfigError(
                f"No security protocol defined for listener {name}: add "
                f"{name}:<PROTOCOL> to listener.security.protocol.map"
            )
        resolved[name] = protocols[name]
    for listener in config.advertised_listeners:
        if listener.name not in resolved:
            raise ConfigError(
                f"advertised.listeners names listener {listener.name}, which is not in listeners"
            )
    return resolved


def inter_broker_listener_name(config: BrokerConfig) -> str:
    """The listener brokers use to reach each other (Kafka's rules; both set is an error)."""
    name = config.get("inter.broker.listener.name")
    if name:
        if config.is_set("security.inter.broker.protocol"):
            raise ConfigError(
                "Only one of inter.broker.listener.name and security.inter.broker.protocol "
                "should be set"
            )
        return str(name).upper()
    return str(config.get("security.inter.broker.protocol")).upper()


def listener_config(config: BrokerConfig, listener: str, name: str) -> str | None:
    """The raw text of ``name`` for ``listener``: its ``listener.name.<l>.`` override, else
    the broker's own value. None when neither is set and the config has no default."""
    override = config.unknown_valid.get(f"listener.name.{listener.lower()}.{name}")
    if override is not None:
        return override
    if name in config.unknown_valid:
        return config.unknown_valid[name]
    try:
        value = config.get(name)
    except KeyError:
        return None
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unique_names(listeners: Iterable[Listener], config_name: str) -> list[str]:
    names: list[str] = []
    for listener in listeners:
        if listener.name in names:
            raise ConfigError(f"Each listener must have a different name in {config_name}")
        names.append(listener.name)
    return names
