"""TLS for Kafka's SSL and SASL_SSL listeners: ``ssl.SSLContext`` objects built from Kafka's
``ssl.*`` configs, and the peer's subject name as Kafka's principal builder sees it.

The configs come as one listener's resolved values (``listener.name.<l>.`` overrides applied);
a missing name means Kafka's default. What differs from Kafka's Java engine:

* Key and trust stores are PKCS12 or PEM (file or inline, as in KIP-651). JKS, Kafka's default
  type, is refused with the keytool command that converts it to PKCS12.
* A PKCS12 keystore is read with one password, ``ssl.keystore.password``; an
  ``ssl.key.password`` that differs from it is refused. PEM keys must be unencrypted or
  encrypted PKCS#8 (``BEGIN ENCRYPTED PRIVATE KEY``), as in Kafka.
* ``ssl.cipher.suites`` takes Kafka's (IANA) names. TLS 1.2 suites map to OpenSSL's names.
  Python's ssl module cannot choose among TLS 1.3 suites: naming any of OpenSSL's three
  default TLS 1.3 suites allows all three. A list without TLS 1.3 suites caps the connection at
  TLS 1.2, and one with only TLS 1.3 suites requires TLS 1.3, as a Java engine would negotiate.
* ``ssl.protocol`` TLSv1.2 caps client connections at TLS 1.2, as Kafka documents; servers
  are bound by ``ssl.enabled.protocols`` only, as in Java. TLSv1 and TLSv1.1 are refused.
* The Java-only settings (key and trust manager algorithms, secure random, provider, engine
  factory) accept Kafka's defaults only: a value odradek would not honour stops startup.

``SSLContext.load_cert_chain`` reads only files, so a key goes to it through a private
temporary file (mode 0600), encrypted under a random one-time passphrase and deleted as soon as
it is loaded.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

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

_DEFAULTS: dict[str, str] = {
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
_UNSET_BY_DEFAULT = (
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
        *_UNSET_BY_DEFAULT,
    }
)
"""Every ``ssl.*`` config the context builders read (``ssl.principal.mapping.rules`` is
odradek.security.principal_mapping's)."""

_PEM = "PEM"
_PKCS12 = "PKCS12"
_JKS = "JKS"

_CLIENT_AUTH = {
    "none": ssl.CERT_NONE,
    "requested": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}
_PROTOCOLS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_OBSOLETE_PROTOCOLS = frozenset({"SSLv2Hello", "SSLv3", "TLSv1", "TLSv1.1"})
_SSL_PROTOCOLS = frozenset({"TLS", "TLSv1.2", "TLSv1.3"})

# The TLS 1.2 suites in common use, Kafka's (IANA) name -> OpenSSL's.
_TLS12_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384": "ECDHE-ECDSA-AES256-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384": "ECDHE-RSA-AES256-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384": "DHE-RSA-AES256-GCM-SHA384",
    "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256": "DHE-RSA-AES128-GCM-SHA256",
    "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "DHE-RSA-CHACHA20-POLY1305",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256": "DHE-RSA-AES256-SHA256",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256": "DHE-RSA-AES128-SHA256",
    "TLS_DHE_RSA_WITH_AES_256_CBC_SHA": "DHE-RSA-AES256-SHA",
    "TLS_DHE_RSA_WITH_AES_128_CBC_SHA": "DHE-RSA-AES128-SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA256": "AES256-SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
}
# OpenSSL's default TLS 1.3 suites: Python's ssl module enables all of them, always.
_TLS13_SUITES = frozenset(
    {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"}
)
# Java lists this signalling value among its suites; OpenSSL always signals it.
_RENEGOTIATION_SCSV = "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)

_JKS_ADVICE = (
    "odradek reads PKCS12 and PEM stores only; convert the JKS store with `keytool "
    "-importkeystore -srckeystore <store.jks> -destkeystore <store.p12> -deststoretype PKCS12` "
    "and set {config}=PKCS12"
)


class SslConfigError(ValueError):
    """An ``ssl.*`` config odradek cannot honour; ``config`` names it."""

    def __init__(self, config: str, problem: str) -> None:
        super().__init__(f"Invalid {config}: {problem}")
        self.config = config


@dataclass(frozen=True, slots=True)
class _KeyMaterial:
    """A private key and its certificate chain, leaf first; ``source`` is the config that
    named them."""

    key: PrivateKeyTypes
    chain: list[x509.Certificate]
    source: str


class AlertingSSLObject(ssl.SSLObject):
    """A server-side TLS object whose failed handshake still tells the client why.

    asyncio's and uvloop's TLS transports abort the connection as soon as the handshake
    raises, dropping the alert OpenSSL has just queued (an untrusted client certificate's
    ``unknown_ca``), so a Java client sees a bare disconnect and retries until it times out
    instead of failing with SslAuthenticationException (CPython gh-98078). A failed handshake
    therefore first reports "want read": the transport flushes the alert and waits; the
    client, alerted, closes (or the handshake timeout does), and any further handshake step
    raises the real error."""

    _handshake_error: ssl.SSLError | None = None

    def do_handshake(self) -> None:
        if self._handshake_error is not None:
            raise self._handshake_error
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except ssl.SSLError as exc:
            self._handshake_error = exc
            raise ssl.SSLWantReadError("handshake failed; the alert is sent first") from exc


def server_ssl_context(configs: Mapping[str, str]) -> ssl.SSLContext:
    """The context an SSL or SASL_SSL listener serves with; it needs a keystore. With
    ``ssl.client.auth`` other than none, clients are verified against the truststore, or the
    system's CA certificates without one (Java's default trust)."""
    _check_java_only_settings(configs)
    _endpoint_identification(configs)  # a broker's client setting: checked, used by clients
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.sslobject_class = AlertingSSLObject
    _apply_protocols_and_suites(context, configs, client=False)
    context.verify_mode = _client_auth(configs)
    key_material = _keystore(configs)
    if key_material is None:
        raise SslConfigError(
            SSL_KEYSTORE_LOCATION_CONFIG,
            "an SSL listener needs a keystore: set ssl.keystore.location (and "
            "ssl.keystore.type), or ssl.keystore.key and ssl.keystore.certificate.chain",
        )
    _load_key_material(context, key_material)
    trusted = _truststore(configs)
    if trusted is not None:
        _load_trusted(context, trusted)
    elif context.verify_mode != ssl.CERT_NONE:
        context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    return context


def client_ssl_context(configs: Mapping[str, str]) -> ssl.SSLContext:
    """The context a client (another broker, a tool) connects with: the server is verified
    against the truststore, or the system's CA certificates without one; a keystore, if set,
    is the client's certificate for mutual TLS. The host name is checked unless
    ``ssl.endpoint.identification.algorithm`` is empty."""
    _check_java_only_settings(configs)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _apply_protocols_and_suites(context, configs, client=True)
    context.check_hostname = _endpoint_identification(configs)
    key_material = _keystore(configs)
    if key_material is not None:
        _load_key_material(context, key_material)
    trusted = _truststore(configs)
    if trusted is not None:
        _load_trusted(context, trusted)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    return context


def peer_certificate_subject(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> str | None:
    """The verified peer certificate's subject in Java's ``X500Principal.getName()`` form,
    which Kafka maps to a principal; None without a verified peer certificate."""
    if ssl_object.context.verify_mode == ssl.CERT_NONE:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    return rfc2253_name(x509.load_der_x509_certificate(der).subject)


# Java's RFC 2253 keywords; any other attribute is written as its OID with a hex value.
_RFC2253_KEYWORDS = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.9": "STREET",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}
# DER string types Java writes as text: Printable, T61, IA5, General, BMP and UTF8 strings.
_TEXT_TAGS = frozenset({0x13, 0x14, 0x16, 0x1B, 0x1E, 0x0C})
_ESCAPED = frozenset(',=+<>#;"\\')


def rfc2253_name(name: x509.Name) -> str:
    """``name`` as Java's ``X500Principal.getName()`` writes it (RFC 2253): the last RDN
    first, multi-valued RDNs joined by ``+`` in encoded order, Java's escapes, and attributes
    without an RFC 2253 keyword as ``OID=#<hex of the DER value>``."""
    return ",".join(
        "+".join(_rfc2253_attribute(attribute) for attribute in rdn) for rdn in reversed(name.rdns)
    )


def _rfc2253_attribute(attribute: x509.NameAttribute[str | bytes]) -> str:
    oid = attribute.oid.dotted_string
    value = _der_value(attribute)
    keyword = _RFC2253_KEYWORDS.get(oid)
    if keyword is None or value[0] not in _TEXT_TAGS:
        return f"{keyword or oid}=#{value.hex()}"
    # Java reads the content bytes as UTF-8 whatever the string type.
    text = value[_der_header_length(value, 0) :].decode("utf-8", errors="replace")
    chars = ["\\00" if c == "\0" else f"\\{c}" if c in _ESCAPED else c for c in text]
    lead = next((i for i, c in enumerate(chars) if c not in " \r"), len(chars))
    trail = next((i for i in range(len(chars) - 1, -1, -1) if chars[i] not in " \r"), -1)
    escaped = (f"\\{c}" if i < lead or i > trail else c for i, c in enumerate(chars))
    return f"{keyword}={''.join(escaped)}"


def _der_value(attribute: x509.NameAttribute[str | bytes]) -> bytes:
    """The DER encoding (tag, length, content) of an attribute's value."""
    # SEQUENCE { SET { SEQUENCE { OID, value } } }: step into three headers, skip the OID.
    der = x509.Name([x509.RelativeDistinguishedName([attribute])]).public_bytes()
    pos = 0
    for _ in range(3):
        pos += _der_header_length(der, pos)
    oid_header = _der_header_length(der, pos)
    pos += oid_header + _der_content_length(der, pos)
    return der[pos:]


def _der_header_length(der: bytes, pos: int) -> int:
    """The length of the tag and length octets of the DER element at ``pos``."""
    first = der[pos + 1]
    return 2 if first < 0x80 else 2 + (first & 0x7F)


def _der_content_length(der: bytes, pos: int) -> int:
    first = der[pos + 1]
    if first < 0x80:
        return first
    return int.from_bytes(der[pos + 2 : pos + 2 + (first & 0x7F)], "big")


def _setting(configs: Mapping[str, str], name: str) -> str:
    value = configs.get(name)
    return _DEFAULTS[name] if value is None else value.strip()


def _list_setting(configs: Mapping[str, str], name: str) -> list[str]:
    return [item.strip() for item in _setting(configs, name).split(",") if item.strip()]


def _check_java_only_settings(configs: Mapping[str, str]) -> None:
    for name in (SSL_KEYMANAGER_ALGORITHM_CONFIG, SSL_TRUSTMANAGER_ALGORITHM_CONFIG):
        value = _setting(configs, name)
        if value.lower() != _DEFAULTS[name].lower():
            raise SslConfigError(
                name,
                f"{value!r} is a Java security setting odradek cannot honour: it uses "
                f"OpenSSL; remove the setting or set Kafka's default, {_DEFAULTS[name]}",
            )
    for name in _UNSET_BY_DEFAULT:
        value = configs.get(name, "").strip()
        if value:
            raise SslConfigError(
                name,
                f"{value!r} is a Java security setting odradek cannot honour: it uses "
                "OpenSSL; remove the setting",
            )


def _client_auth(configs: Mapping[str, str]) -> ssl.VerifyMode:
    value = _setting(configs, SSL_CLIENT_AUTH_CONFIG)
    mode = _CLIENT_AUTH.get(value.lower())
    if mode is None:
        raise SslConfigError(
            SSL_CLIENT_AUTH_CONFIG, f"{value!r} is not one of {', '.join(_CLIENT_AUTH)}"
        )
    return mode


def _endpoint_identification(configs: Mapping[str, str]) -> bool:
    value = _setting(configs, SSL_ENDPOINT_IDENTIFICATION_ALGORITHM_CONFIG)
    if value.lower() not in ("https", ""):
        raise SslConfigError(
            SSL_ENDPOINT_IDENTIFICATION_ALGORITHM_CONFIG,
            f"{value!r} is not supported: use https (check the server's host name) or an "
            "empty value (do not)",
        )
    return value != ""


def _apply_protocols_and_suites(
    context: ssl.SSLContext, configs: Mapping[str, str], *, client: bool
) -> None:
    versions = _enabled_versions(configs)
    ssl_protocol = _setting(configs, SSL_PROTOCOL_CONFIG)
    if ssl_protocol not in _SSL_PROTOCOLS:
        raise SslConfigError(
            SSL_PROTOCOL_CONFIG,
            f"{ssl_protocol!r} is not one of {', '.join(sorted(_SSL_PROTOCOLS))}",
        )
    if client and ssl_protocol == "TLSv1.2":
        versions.discard(ssl.TLSVersion.TLSv1_3)
        if not versions:
            raise SslConfigError(
                SSL_PROTOCOL_CONFIG,
                "TLSv1.2 caps clients at TLS 1.2, but ssl.enabled.protocols allows TLSv1.3 only",
            )
    suites = _list_setting(configs, SSL_CIPHER_SUITES_CONFIG)
    if suites:
        _apply_suites(context, suites, versions)
    context.minimum_version = min(versions)
    context.maximum_version = max(versions)


def _enabled_versions(configs: Mapping[str, str]) -> set[ssl.TLSVersion]:
    default = _DEFAULTS[SSL_ENABLED_PROTOCOLS_CONFIG].split(",")
    names = _list_setting(configs, SSL_ENABLED_PROTOCOLS_CONFIG) or default  # empty: default
    versions = set()
    for name in names:
        if name in _OBSOLETE_PROTOCOLS:
            raise SslConfigError(
                SSL_ENABLED_PROTOCOLS_CONFIG,
                f"{name} is obsolete (RFC 8996) and not supported; use TLSv1.2 and/or TLSv1.3",
            )
        if name not in _PROTOCOLS:
            raise SslConfigError(
                SSL_ENABLED_PROTOCOLS_CONFIG,
                f"unknown protocol {name!r}; the protocols are {', '.join(_PROTOCOLS)}",
            )
        versions.add(_PROTOCOLS[name])
    return versions


def _apply_suites(
    context: ssl.SSLContext, suites: list[str], versions: set[ssl.TLSVersion]
) -> None:
    """Restricts TLS 1.2 to ``suites`` and drops a protocol no suite of the list serves."""
    tls12: list[str] = []
    tls13 = False
    for suite in suites:
        if suite in _TLS12_SUITES:
            tls12.append(_TLS12_SUITES[suite])
        elif suite in _TLS13_SUITES:
            tls13 = True
        elif suite != _RENEGOTIATION_SCSV:
            raise SslConfigError(
                SSL_CIPHER_SUITES_CONFIG,
                f"unknown or unsupported cipher suite {suite!r}; odradek knows the TLS 1.3 "
                f"suites {', '.join(sorted(_TLS13_SUITES))} and the TLS 1.2 suites "
                f"{', '.join(_TLS12_SUITES)}",
            )
    if not tls12:
        versions.discard(ssl.TLSVersion.TLSv1_2)
    if not tls13:
        versions.discard(ssl.TLSVersion.TLSv1_3)
    if not versions:
        raise SslConfigError(
            SSL_CIPHER_SUITES_CONFIG,
            "no suite of the list can be used with the protocols of ssl.enabled.protocols "
            "(and ssl.protocol)",
        )
    if not tls12:
        return
    try:
        context.set_ciphers(":".join(tls12))
    except ssl.SSLError:
        raise SslConfigError(
            SSL_CIPHER_SUITES_CONFIG, "OpenSSL offers none of the TLS 1.2 suites of the list"
        ) from None
    available = {cipher["name"] for cipher in context.get_ciphers()}
    missing = [
        iana for iana, name in _TLS12_SUITES.items() if name in tls12 and name not in available
    ]
    if missing:
        raise SslConfigError(
            SSL_CIPHER_SUITES_CONFIG, f"OpenSSL does not offer {', '.join(missing)}"
        )


def _store_type(configs: Mapping[str, str], name: str) -> str:
    """``ssl.keystore.type`` or ``ssl.truststore.type`` of a store that is configured."""
    value = _setting(configs, name)
    store_type = value.upper()
    if store_type == _JKS:
        default = " (Kafka's default)" if configs.get(name) is None else ""
        raise SslConfigError(
            name, f"{value}{default} is not supported: " + _JKS_ADVICE.format(config=name)
        )
    if store_type not in (_PEM, _PKCS12):
        raise SslConfigError(name, f"{value!r} is not supported: use PKCS12 or PEM")
    return store_type


def _keystore(configs: Mapping[str, str]) -> _KeyMaterial | None:
    location = configs.get(SSL_KEYSTORE_LOCATION_CONFIG)
    password = configs.get(SSL_KEYSTORE_PASSWORD_CONFIG)
    key_password = configs.get(SSL_KEY_PASSWORD_CONFIG)
    inline_key = configs.get(SSL_KEYSTORE_KEY_CONFIG)
    inline_chain = configs.get(SSL_KEYSTORE_CERTIFICATE_CHAIN_CONFIG)
    if inline_key is not None:
        if _setting(configs, SSL_KEYSTORE_TYPE_CONFIG).upper() != _PEM:
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
        return _KeyMaterial(
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
        return _KeyMaterial(
            _pem_private_key(text, key_password, SSL_KEYSTORE_LOCATION_CONFIG),
            _pem_certificates(text, SSL_KEYSTORE_LOCATION_CONFIG),
            SSL_KEYSTORE_LOCATION_CONFIG,
        )
    return _pkcs12_keystore(location, password, key_password)


def _pkcs12_keystore(location: str, password: str | None, key_password: str | None) -> _KeyMaterial:
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
    return _KeyMaterial(key, [certificate, *others], SSL_KEYSTORE_LOCATION_CONFIG)


def _truststore(configs: Mapping[str, str]) -> list[x509.Certificate] | None:
    location = configs.get(SSL_TRUSTSTORE_LOCATION_CONFIG)
    password = configs.get(SSL_TRUSTSTORE_PASSWORD_CONFIG)
    inline = configs.get(SSL_TRUSTSTORE_CERTIFICATES_CONFIG)
    if inline is not None:
        if _setting(configs, SSL_TRUSTSTORE_TYPE_CONFIG).upper() != _PEM:
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


def _load_key_material(context: ssl.SSLContext, material: _KeyMaterial) -> None:
    """Hands key and chain to ``context`` through a private temporary file (the key encrypted
    under a one-time passphrase), removed as soon as it is read."""
    if _public_key_der(material.key.public_key()) != _public_key_der(
        material.chain[0].public_key()
    ):
        raise SslConfigError(
            material.source, "the private key does not match the first certificate of the chain"
        )
    passphrase = secrets.token_bytes(32)
    pem = material.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    ) + b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in material.chain)
    # mkstemp (under NamedTemporaryFile) creates the file with mode 0600.
    with tempfile.NamedTemporaryFile(prefix="odradek-key-", suffix=".pem") as handle:
        handle.write(pem)
        handle.flush()
        try:
            context.load_cert_chain(handle.name, password=passphrase)
        except ssl.SSLError as exc:
            raise SslConfigError(
                material.source, f"OpenSSL refused the key or chain ({exc})"
            ) from None


def _public_key_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_trusted(context: ssl.SSLContext, certificates: list[x509.Certificate]) -> None:
    context.load_verify_locations(
        cadata=b"".join(cert.public_bytes(serialization.Encoding.DER) for cert in certificates)
    )
