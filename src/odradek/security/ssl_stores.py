"""Key and trust stores: PKCS12 and PEM (file or inline, KIP-651), read into keys and certs."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from odradek.security.ssl_configs import (
    SSL_KEY_PASSWORD_CONFIG,
    SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG,
    SSL_KEYSTORE_KEY_CONFIG,
    SSL_KEYSTORE_LOCATION_CONFIG,
    SSL_KEYSTORE_PASSWORD_CONFIG,
    SSL_KEYSTORE_TYPE_CONFIG,
    SSL_TRUSTSTORE_CERTIFICATES_CONFIG,
    SSL_TRUSTSTORE_LOCATION_CONFIG,
    SSL_TRUSTSTORE_PASSWORD_CONFIG,
    SSL_TRUSTSTORE_TYPE_CONFIG,
    SslConfigError,
    ssl_setting,
)

_PEM = "PEM"
_PKCS12 = "PKCS12"
_JKS = "JKS"


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


_JKS_ADVICE = (
    "odradek reads PKCS12 and PEM stores only; convert the JKS store with `keytool "
    "-importkeystore -srckeystore <store.jks> -destkeystore <store.p12> -deststoretype PKCS12` "
    "and set {config}=PKCS12"
)


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """A private key and its certificate chain, leaf first; ``source`` is the config that
    named them."""

    key: PrivateKeyTypes
    chain: list[x509.Certificate]
    source: str


def _store_type(configs: Mapping[str, str], name: str) -> str:
    """``ssl.keystore.type`` or ``ssl.truststore.type`` of a store that is configured."""
    value = ssl_setting(configs, name)
    store_type = value.upper()
    if store_type == _JKS:
        default = " (Kafka's default)" if configs.get(name) is None else ""
        raise SslConfigError(
            name, f"{value}{default} is not supported: " + _JKS_ADVICE.format(config=name)
        )
    if store_type not in (_PEM, _PKCS12):
        raise SslConfigError(name, f"{value!r} is not supported: use PKCS12 or PEM")
    return store_type


def load_keystore(configs: Mapping[str, str]) -> KeyMaterial | None:
    location = configs.get(SSL_KEYSTORE_LOCATION_CONFIG)
    password = configs.get(SSL_KEYSTORE_PASSWORD_CONFIG)
    key_password = configs.get(SSL_KEY_PASSWORD_CONFIG)
    inline_key = configs.get(SSL_KEYSTORE_KEY_CONFIG)
    inline_chain = configs.get(SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG)
    if inline_key is not None:
        if ssl_setting(configs, SSL_KEYSTORE_TYPE_CONFIG).upper() != _PEM:
            raise SslConfigError(
                SSL_KEYSTORE_TYPE_CONFIG, "must be PEM when ssl.keystore.key is set"
            )
        if inline_chain is None:
            raise SslConfigError(
                SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG, "must be set with ssl.keystore.key"
            )
        if location is not None:
            raise SslConfigError(
                SSL_KEYSTORE_LOCATION_CONFIG, "cannot be set with ssl.keystore.key"
            )
        if password is not None:
            raise SslConfigError(SSL_KEYSTORE_PASSWORD_CONFIG, "is not used for PEM keys")
        return KeyMaterial(
            _pem_private_key(inline_key, key_password, SSL_KEYSTORE_KEY_CONFIG),
            _pem_certificates(inline_chain, SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG),
            SSL_KEYSTORE_KEY_CONFIG,
        )
    if inline_chain is not None:
        raise SslConfigError(SSL_KEYSTORE_KEY_CONFIG, "must be set with the certificate chain")
    if location is None:
        if password is not None:
            raise SslConfigError(SSL_KEYSTORE_LOCATION_CONFIG, "must be set with its password")
        return None
    if _store_type(configs, SSL_KEYSTORE_TYPE_CONFIG) == _PEM:
        if password is not None:
            raise SslConfigError(
                SSL_KEYSTORE_PASSWORD_CONFIG,
                "is not used for PEM keystores (an encrypted key takes ssl.key.password)",
            )
        text = _read(location, SSL_KEYSTORE_LOCATION_CONFIG).decode("ascii", errors="replace")
        return KeyMaterial(
            _pem_private_key(text, key_password, SSL_KEYSTORE_LOCATION_CONFIG),
            _pem_certificates(text, SSL_KEYSTORE_LOCATION_CONFIG),
            SSL_KEYSTORE_LOCATION_CONFIG,
        )
    return _pkcs12_keystore(location, password, key_password)


def _pkcs12_keystore(location: str, password: str | None, key_password: str | None) -> KeyMaterial:
    if password is None:
        raise SslConfigError(SSL_KEYSTORE_PASSWORD_CONFIG, "must be set for a PKCS12 keystore")
    if key_password is not None and key_password != password:
        raise SslConfigError(
            SSL_KEY_PASSWORD_CONFIG,
            "differs from ssl.keystore.password; odradek reads PKCS12 keystores whose key "
            "has the store's password",
        )
    key, certificate, others = _load_pkcs12(
        _read(location, SSL_KEYSTORE_LOCATION_CONFIG), password, SSL_KEYSTORE_PASSWORD_CONFIG
    )
    if key is None or certificate is None:
        raise SslConfigError(
            SSL_KEYSTORE_LOCATION_CONFIG, f"{location} holds no private key with its certificate"
        )
    return KeyMaterial(key, [certificate, *others], SSL_KEYSTORE_LOCATION_CONFIG)


def load_truststore(configs: Mapping[str, str]) -> list[x509.Certificate] | None:
    location = configs.get(SSL_TRUSTSTORE_LOCATION_CONFIG)
    password = configs.get(SSL_TRUSTSTORE_PASSWORD_CONFIG)
    inline = configs.get(SSL_TRUSTSTORE_CERTIFICATES_CONFIG)
    if inline is not None:
        if ssl_setting(configs, SSL_TRUSTSTORE_TYPE_CONFIG).upper() != _PEM:
            raise SslConfigError(
                SSL_TRUSTSTORE_TYPE_CONFIG, "must be PEM when ssl.truststore.certificates is set"
            )
        if location is not None:
            raise SslConfigError(
                SSL_TRUSTSTORE_LOCATION_CONFIG, "cannot be set with ssl.truststore.certificates"
            )
        if password is not None:
            raise SslConfigError(SSL_TRUSTSTORE_PASSWORD_CONFIG, "is not used for PEM certificates")
        return _pem_certificates(inline, SSL_TRUSTSTORE_CERTIFICATES_CONFIG)
    if location is None:
        if password is not None:
            raise SslConfigError(SSL_TRUSTSTORE_LOCATION_CONFIG, "must be set with its password")
        return None
    data = _read(location, SSL_TRUSTSTORE_LOCATION_CONFIG)
    if _store_type(configs, SSL_TRUSTSTORE_TYPE_CONFIG) == _PEM:
        if password is not None:
            raise SslConfigError(SSL_TRUSTSTORE_PASSWORD_CONFIG, "is not used for PEM truststores")
        return _pem_certificates(
            data.decode("ascii", errors="replace"), SSL_TRUSTSTORE_LOCATION_CONFIG
        )
    _, certificate, others = _load_pkcs12(data, password, SSL_TRUSTSTORE_PASSWORD_CONFIG)
    trusted = [certificate, *others] if certificate is not None else others
    if not trusted:
        raise SslConfigError(SSL_TRUSTSTORE_LOCATION_CONFIG, f"{location} holds no certificates")
    return trusted


def _read(location: str, config: str) -> bytes:
    try:
        return Path(location).read_bytes()
    except OSError as exc:
        raise SslConfigError(config, f"cannot read {location!r}: {exc.strerror or exc}") from None


def _load_pkcs12(
    data: bytes, password: str | None, password_config: str
) -> tuple[PrivateKeyTypes | None, x509.Certificate | None, list[x509.Certificate]]:
    try:
        key, certificate, others = pkcs12.load_key_and_certificates(
            data, None if password is None else password.encode()
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SslConfigError(
            password_config, f"cannot open the PKCS12 store: wrong password or not PKCS12 ({exc})"
        ) from None
    return key, certificate, others


def _pem_blocks(text: str, label: str) -> list[str]:
    """The bodies of the PEM blocks labelled ``label``, in order (Kafka's inline values may
    have lost their line breaks, which the bodies need not have)."""
    return [body for found, body in _PEM_BLOCK.findall(text) if found == label]


def _pem_der(body: str, config: str) -> bytes:
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SslConfigError(config, "holds a PEM block that is not valid base64") from None


def _pem_certificates(text: str, config: str) -> list[x509.Certificate]:
    ders = [_pem_der(body, config) for body in _pem_blocks(text, "CERTIFICATE")]
    if not ders:
        raise SslConfigError(config, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        return [x509.load_der_x509_certificate(der) for der in ders]
    except ValueError as exc:
        raise SslConfigError(config, f"holds an invalid certificate ({exc})") from None


def _pem_private_key(text: str, password: str | None, config: str) -> PrivateKeyTypes:
    plain = [(body, False) for body in _pem_blocks(text, "PRIVATE KEY")]
    encrypted = [(body, True) for body in _pem_blocks(text, "ENCRYPTED PRIVATE KEY")]
    keys = plain + encrypted
    if len(keys) != 1:
        raise SslConfigError(
            config,
            f"must hold one PKCS#8 private key (-----BEGIN PRIVATE KEY----- or -----BEGIN "
            f"ENCRYPTED PRIVATE KEY-----), found {len(keys)}",
        )
    body, is_encrypted = keys[0]
    if is_encrypted and password is None:
        raise SslConfigError(
            SSL_KEY_PASSWORD_CONFIG, f"must be set: the key of {config} is encrypted"
        )
    if not is_encrypted and password is not None:
        raise SslConfigError(
            SSL_KEY_PASSWORD_CONFIG, f"is set, but the key of {config} is not encrypted"
        )
    der = _pem_der(body, config)
    try:
        return serialization.load_der_private_key(
            der, None if password is None else password.encode()
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        if is_encrypted:
            raise SslConfigError(
                SSL_KEY_PASSWORD_CONFIG, f"cannot decrypt the key of {config}: wrong password?"
            ) from None
        raise SslConfigError(config, f"holds an invalid private key ({exc})") from None
