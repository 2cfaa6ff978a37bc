"""Kafka's ``ssl.*`` config names and defaults (its SslConfigs), read per listener."""

from __future__ import annotations

from collections.abc import Mapping

SSL_KEYSTORE_TYPE_CONFIG = "ssl.keystore.type"
SSL_KEYSTORE_LOCATION_CONFIG = "ssl.keystore.location"
SSL_KEYSTORE_PASSWORD_CONFIG = "ssl.keystore.password"
SSL_KEY_PASSWORD_CONFIG = "ssl.key.password"
SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG = "ssl.keystore.certificate.chain"
SSL_KEYSTORE_KEY_CONFIG = "ssl.keystore.key"
SSL_TRUSTSTORE_TYPE_CONFIG = "ssl.truststore.type"
SSL_TRUSTSTORE_LOCATION_CONFIG = "ssl.truststore.location"
SSL_TRUSTSTORE_PASSWORD_CONFIG = "ssl.truststore.password"
SSL_TRUSTSTORE_CERTIFICATES_CONFIG = "ssl.truststore.certificates"
SSL_CLIENT_AUTH_CONFIG = "ssl.client.auth"
SSL_ENABLED_PROTOCOLS_CONFIG = "ssl.enabled.protocols"
SSL_PROTOCOL_CONFIG = "ssl.protocol"
SSL_CIPHER_SUITES_CONFIG = "ssl.cipher.suites"
SSL_ENDPOINT_IDENTIFICATION_ALGORITHM_CONFIG = "ssl.endpoint.identification.algorithm"
SSL_KEYMANAGER_ALGORITHM_CONFIG = "ssl.keymanager.algorithm"
SSL_TRUSTMANAGER_ALGORITHM_CONFIG = "ssl.trustmanager.algorithm"
SSL_SECURE_RANDOM_IMPLEMENTATION_CONFIG = "ssl.secure.random.implementation"
SSL_PROVIDER_CONFIG = "ssl.provider"
SSL_ENGINE_FACTORY_CLASS_CONFIG = "ssl.engine.factory.class"
SSL_DEFAULTS: dict[str, str] = {
    SSL_KEYSTORE_TYPE_CONFIG: "JKS",
    SSL_TRUSTSTORE_TYPE_CONFIG: "JKS",
    SSL_CLIENT_AUTH_CONFIG: "none",
    SSL_ENABLED_PROTOCOLS_CONFIG: "TLSv1.2,TLSv1.3",
    SSL_PROTOCOL_CONFIG: "TLSv1.3",
    SSL_CIPHER_SUITES_CONFIG: "",  # Kafka's null: the engine's default suites
    SSL_ENDPOINT_IDENTIFICATION_ALGORITHM_CONFIG: "https",
    SSL_KEYMANAGER_ALGORITHM_CONFIG: "SunX509",
    SSL_TRUSTMANAGER_ALGORITHM_CONFIG: "PKIX",
}
UNSET_BY_DEFAULT = (
    SSL_SECURE_RANDOM_IMPLEMENTATION_CONFIG,
    SSL_PROVIDER_CONFIG,
    SSL_ENGINE_FACTORY_CLASS_CONFIG,
)


SSL_CONFIG_NAMES: frozenset[str] = frozenset(
    {
        SSL_KEYSTORE_TYPE_CONFIG,
        SSL_KEYSTORE_LOCATION_CONFIG,
        SSL_KEYSTORE_PASSWORD_CONFIG,
        SSL_KEY_PASSWORD_CONFIG,
        SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG,
        SSL_KEYSTORE_KEY_CONFIG,
        SSL_TRUSTSTORE_TYPE_CONFIG,
        SSL_TRUSTSTORE_LOCATION_CONFIG,
        SSL_TRUSTSTORE_PASSWORD_CONFIG,
        SSL_TRUSTSTORE_CERTIFICATES_CONFIG,
        SSL_CLIENT_AUTH_CONFIG,
        SSL_ENABLED_PROTOCOLS_CONFIG,
        SSL_PROTOCOL_CONFIG,
        SSL_CIPHER_SUITES_CONFIG,
        SSL_ENDPOINT_IDENTIFICATION_ALGORITHM_CONFIG,
        SSL_KEYMANAGER_ALGORITHM_CONFIG,
        SSL_TRUSTMANAGER_ALGORITHM_CONFIG,
        *UNSET_BY_DEFAULT,
    }
)
"""Every ``ssl.*`` config the context builders read (``ssl.principal.mapping.rules`` is
odradek.security.principal_mapping's)."""


class SslConfigError(ValueError):
    """An ``ssl.*`` config odradek cannot honour; ``config`` names it."""

    def __init__(self, config: str, problem: str) -> None:
        super().__init__(f"Invalid {config}: {problem}")
        self.config = config


def ssl_setting(configs: Mapping[str, str], name: str) -> str:
    value = configs.get(name)
    return SSL_DEFAULTS[name] if value is None else value.strip()


def ssl_list_setting(configs: Mapping[str, str], name: str) -> list[str]:
    return [item.strip() for item in ssl_setting(configs, name).split(",") if item.strip()]
