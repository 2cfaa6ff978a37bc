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

The config names are in ``ssl_configs``, the stores are read by ``ssl_stores`` and the peer's
subject is written by ``ssl_subject``; this module builds the contexts.
"""

from __future__ import annotations

import secrets
import ssl
import tempfile
from collections.abc import Mapping

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from odradek.security.ssl_configs import (
    SSL_CIPHER_SUITES_CONFIG,
    SSL_CLIENT_AUTH_CONFIG,
    SSL_DEFAULTS,
    SSL_ENABLED_PROTOCOLS_CONFIG,
    SSL_ENDPOINT_IDENTIFICATION_ALGORITHM_CONFIG,
    SSL_KEYMANAGER_ALGORITHM_CONFIG,
    SSL_KEYSTORE_LOCATION_CONFIG,
    SSL_PROTOCOL_CONFIG,
    SSL_TRUSTMANAGER_ALGORITHM_CONFIG,
    UNSET_BY_DEFAULT,
    SslConfigError,
    ssl_list_setting,
    ssl_setting,
)
from odradek.security.ssl_stores import KeyMaterial, load_keystore, load_truststore
from odradek.security.ssl_subject import peer_certificate_subject as peer_certificate_subject

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
    key_material = load_keystore(configs)
    if key_material is None:
        raise SslConfigError(
            SSL_KEYSTORE_LOCATION_CONFIG,
            "an SSL listener needs a keystore: set ssl.keystore.location (and "
            "ssl.keystore.type), or ssl.keystore.key and ssl.keystore.certificate.chain",
        )
    _load_key_material(context, key_material)
    trusted = load_truststore(configs)
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
    key_material = load_keystore(configs)
    if key_material is not None:
        _load_key_material(context, key_material)
    trusted = load_truststore(configs)
    if trusted is not None:
        _load_trusted(context, trusted)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    return context


def _check_java_only_settings(configs: Mapping[str, str]) -> None:
    for name in (SSL_KEYMANAGER_ALGORITHM_CONFIG, SSL_TRUSTMANAGER_ALGORITHM_CONFIG):
        value = ssl_setting(configs, name)
        if value.lower() != SSL_DEFAULTS[name].lower():
            raise SslConfigError(
                name,
                f"{value!r} is a Java security setting odradek cannot honour: it uses "
                f"OpenSSL; remove the setting or set Kafka's default, {SSL_DEFAULTS[name]}",
            )
    for name in UNSET_BY_DEFAULT:
        value = configs.get(name, "").strip()
        if value:
            raise SslConfigError(
                name,
                f"{value!r} is a Java security setting odradek cannot honour: it uses "
                "OpenSSL; remove the setting",
            )


def _client_auth(configs: Mapping[str, str]) -> ssl.VerifyMode:
    value = ssl_setting(configs, SSL_CLIENT_AUTH_CONFIG)
    mode = _CLIENT_AUTH.get(value.lower())
    if mode is None:
        raise SslConfigError(
            SSL_CLIENT_AUTH_CONFIG, f"{value!r} is not one of {', '.join(_CLIENT_AUTH)}"
        )
    return mode


def _endpoint_identification(configs: Mapping[str, str]) -> bool:
    value = ssl_setting(configs, SSL_ENDPOINT_IDENTIFICATION_ALGORITHM_CONFIG)
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
    ssl_protocol = ssl_setting(configs, SSL_PROTOCOL_CONFIG)
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
    suites = ssl_list_setting(configs, SSL_CIPHER_SUITES_CONFIG)
    if suites:
        _apply_suites(context, suites, versions)
    context.minimum_version = min(versions)
    context.maximum_version = max(versions)


def _enabled_versions(configs: Mapping[str, str]) -> set[ssl.TLSVersion]:
    default = SSL_DEFAULTS[SSL_ENABLED_PROTOCOLS_CONFIG].split(",")
    names = ssl_list_setting(configs, SSL_ENABLED_PROTOCOLS_CONFIG) or default  # empty: default
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


def _load_key_material(context: ssl.SSLContext, material: KeyMaterial) -> None:
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
