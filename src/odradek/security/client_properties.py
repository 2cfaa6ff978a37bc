"""Client properties as Kafka's Java clients name them, translated to librdkafka's: the one
translation behind the client tools' ``--command-config``, ``--producer.config``,
``--consumer.config`` and ``--*-property`` flags, the perf tools' properties and the console's
``--command-config``.

- librdkafka's own names pass through, and win over a Java name translated to the same one;
- Java names with a librdkafka equivalent are renamed (``send.buffer.bytes``, ...);
- ``sasl.jaas.config`` with Kafka's PLAIN or SCRAM login module becomes ``sasl.username`` and
  ``sasl.password``;
- ``ssl.truststore.location`` becomes ``ssl.ca.location`` (PEM only: librdkafka reads CA
  certificates in PEM), ``ssl.keystore.location`` stays a PKCS12 keystore or becomes
  ``ssl.certificate.location`` + ``ssl.key.location`` (PEM); the file's type is
  ``ssl.*store.type`` or, without it, what the file holds;
- Java-only settings that change nothing on the wire (serializers, metrics, ...) are dropped,
  and named in ``ClientConfig.ignored``;
- security settings librdkafka cannot honour are a ``ClientConfigError`` naming the property:
  never dropped, never a plaintext connection where security was asked for.

Anything else goes to librdkafka as it is, which rejects a name it does not know ("No such
configuration property").
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass

from odradek.security.jaas import (
    PLAIN_LOGIN_MODULE,
    SCRAM_LOGIN_MODULE,
    JaasConfigError,
    parse_jaas_config,
)

# Java client name -> librdkafka name.
RENAMED: Mapping[str, str] = {
    "send.buffer.bytes": "socket.send.buffer.bytes",
    "receive.buffer.bytes": "socket.receive.buffer.bytes",
    "max.request.size": "message.max.bytes",
    "fetch.max.wait.ms": "fetch.wait.max.ms",
    "ssl.truststore.certificates": "ssl.ca.pem",
    "ssl.keystore.certificate.chain": "ssl.certificate.pem",
    "ssl.keystore.key": "ssl.key.pem",
}

# Java client settings about the JVM client's own workings: nothing librdkafka sends depends
# on them, so they are dropped (and reported).
JAVA_ONLY: frozenset[str] = frozenset(
    {
        "key.serializer",
        "value.serializer",
        "key.deserializer",
        "value.deserializer",
        "max.block.ms",
        "max.poll.records",
        "interceptor.classes",
        "partitioner.class",
        "metric.reporters",
        "metrics.num.samples",
        "metrics.sample.window.ms",
        "metrics.recording.level",
        "exclude.internal.topics",
    }
)

# Read by the tools themselves (the admin request timeout), not by librdkafka.
TOOL_SETTINGS: frozenset[str] = frozenset({"default.api.timeout.ms"})

# Java security settings librdkafka has no equivalent for: honouring them is impossible and
# ignoring them would weaken what was asked for.
UNSUPPORTED: frozenset[str] = frozenset(
    {
        "ssl.protocol",
        "ssl.enabled.protocols",
        "ssl.provider",
        "ssl.keymanager.algorithm",
        "ssl.trustmanager.algorithm",
        "ssl.secure.random.implementation",
        "ssl.engine.factory.class",
        "security.providers",
        "sasl.login.class",
        "sasl.login.callback.handler.class",
        "sasl.client.callback.handler.class",
    }
)

# Java assignor classes -> librdkafka's partition.assignment.strategy names.
ASSIGNORS: Mapping[str, str] = {
    "org.apache.kafka.clients.consumer.RangeAssignor": "range",
    "org.apache.kafka.clients.consumer.RoundRobinAssignor": "roundrobin",
    "org.apache.kafka.clients.consumer.CooperativeStickyAssignor": "cooperative-sticky",
}

PEM = "PEM"
PKCS12 = "PKCS12"
JKS = "JKS"
_JKS_MAGIC = (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce")  # JKS, JCEKS
_SNIFF_BYTES = 1 << 20


class ClientConfigError(ValueError):
    """A client property that cannot be honoured; ``str()`` is one line naming it."""


@dataclass(frozen=True)
class ClientConfig:
    """librdkafka settings, and the Java-only properties left out of them."""

    settings: dict[str, str]
    ignored: tuple[str, ...]


def translate(props: Mapping[str, str]) -> ClientConfig:
    """The librdkafka settings for Java client properties (see the module docstring)."""
    native: dict[str, str] = {}
    derived: dict[str, str] = {}
    ignored: list[str] = []
    for key, value in props.items():
        if key in UNSUPPORTED:
            raise ClientConfigError(
                f"{key} is a Java client setting librdkafka has no equivalent for: remove it from "
                "the client properties"
            )
        if key in TOOL_SETTINGS:
            continue
        if key in JAVA_ONLY:
            ignored.append(key)
        elif key in RENAMED:
            derived[RENAMED[key]] = value
        elif key == "buffer.memory":
            derived["queue.buffering.max.kbytes"] = _kbytes(value)
        elif key == "partition.assignment.strategy":
            native[key] = _assignors(value)
        elif key == "ssl.endpoint.identification.algorithm":
            native[key] = value.strip().lower() or "none"  # Kafka disables the check with ""
        elif key == "sasl.jaas.config":
            derived.update(jaas_credentials(value))
        elif key not in _STORE_SETTINGS:
            native[key] = value
    derived.update(truststore(props))
    derived.update(keystore(props))
    ignored.extend(_unused_store_settings(props))
    return ClientConfig({**derived, **native}, tuple(sorted(ignored)))


def librdkafka_config(props: Mapping[str, str]) -> dict[str, str]:
    """``translate``, with a note on stderr for each property left out."""
    config = translate(props)
    for key in config.ignored:
        print(
            f"odradek: ignoring Java client property {key} (not used by librdkafka)",
            file=sys.stderr,
        )
    return config.settings


# -- SASL --------------------------------------------------------------------------------------

_CREDENTIAL_OPTIONS = {"username": "sasl.username", "password": "sasl.password"}


def jaas_credentials(value: str) -> dict[str, str]:
    """``sasl.username``/``sasl.password`` from a client's ``sasl.jaas.config`` (Kafka's PLAIN
    or SCRAM login module, one entry, as Kafka's clients require)."""
    try:
        modules = parse_jaas_config(value)
    except JaasConfigError as exc:
        raise ClientConfigError(f"sasl.jaas.config does not parse: {exc}") from exc
    if len(modules) != 1:
        raise ClientConfigError(
            f"sasl.jaas.config has {len(modules)} login modules; a client takes exactly one"
        )
    module = modules[0]
    if module.class_name not in (PLAIN_LOGIN_MODULE, SCRAM_LOGIN_MODULE):
        raise ClientConfigError(
            f"sasl.jaas.config: login module {module.class_name} has no librdkafka translation "
            "(PlainLoginModule and ScramLoginModule do); set librdkafka's sasl.* settings instead"
        )
    unknown = sorted(set(module.options) - set(_CREDENTIAL_OPTIONS))
    if unknown:
        raise ClientConfigError(
            f"sasl.jaas.config: option {unknown[0]} of {module.class_name.rsplit('.', 1)[-1]} "
            "has no librdkafka equivalent"
        )
    missing = [name for name in _CREDENTIAL_OPTIONS if name not in module.options]
    if missing:
        raise ClientConfigError(f"sasl.jaas.config: the login module has no {missing[0]} option")
    return {_CREDENTIAL_OPTIONS[k]: v for k, v in module.options.items()}


# -- SSL stores --------------------------------------------------------------------------------

_STORE_SETTINGS = frozenset(
    {
        "ssl.truststore.location",
        "ssl.truststore.type",
        "ssl.truststore.password",
        "ssl.keystore.location",
        "ssl.keystore.type",
        "ssl.keystore.password",
    }
)


def truststore(props: Mapping[str, str]) -> dict[str, str]:
    """``ssl.ca.location`` for a PEM ``ssl.truststore.location``; other truststores are an
    error (librdkafka reads CA certificates in PEM only)."""
    location = props.get("ssl.truststore.location")
    if location is None:
        return {}
    kind = store_type(props, "ssl.truststore")
    if kind != PEM:
        raise ClientConfigError(
            f"ssl.truststore.location {location} is a {kind} truststore, but librdkafka reads "
            "CA certificates in PEM only: export them to a PEM file (openssl pkcs12 -nokeys, "
            "keytool -list -rfc) and set ssl.ca.location (or ssl.truststore.location) to it"
        )
    return {"ssl.ca.location": location}


def keystore(props: Mapping[str, str]) -> dict[str, str]:
    """librdkafka's client certificate settings for ``ssl.keystore.location``: a PKCS12
    keystore as it is, a PEM one (certificate chain and private key) as
    ``ssl.certificate.location`` + ``ssl.key.location``; JKS is an error."""
    location = props.get("ssl.keystore.location")
    password = props.get("ssl.keystore.password")
    if location is None:
        return {} if password is None else {"ssl.keystore.password": password}
    kind = store_type(props, "ssl.keystore")
    if kind == PKCS12:
        settings = {"ssl.keystore.location": location}
        if password is not None:
            settings["ssl.keystore.password"] = password
        return settings
    if kind == PEM:
        if password is not None:
            raise ClientConfigError(
                "ssl.keystore.password cannot be used with a PEM keystore: the private key's "
                "password is ssl.key.password"
            )
        return {"ssl.certificate.location": location, "ssl.key.location": location}
    raise ClientConfigError(
        f"ssl.keystore.location {location} is a {kind} keystore, but librdkafka reads PKCS12 "
        "or PEM: convert it (keytool -importkeystore -deststoretype PKCS12)"
    )


def store_type(props: Mapping[str, str], prefix: str) -> str:
    """``<prefix>.type`` (upper case), or the type of the file at ``<prefix>.location`` as its
    content shows: PEM, PKCS12 or JKS."""
    declared = props.get(f"{prefix}.type")
    if declared is not None and declared.strip():
        return declared.strip().upper()
    location = props[f"{prefix}.location"]
    try:
        with open(location, "rb") as file:
            head = file.read(_SNIFF_BYTES)
    except OSError as exc:
        raise ClientConfigError(
            f"cannot read {prefix}.location {location}: {exc.strerror or exc}"
        ) from exc
    if b"-----BEGIN " in head:
        return PEM
    if head[:4] in _JKS_MAGIC:
        return JKS
    if head[:1] == b"\x30":  # DER: an ASN.1 SEQUENCE
        return PKCS12
    raise ClientConfigError(f"{prefix}.location {location} is neither PEM, PKCS12 nor JKS")


def _unused_store_settings(props: Mapping[str, str]) -> list[str]:
    """Store settings librdkafka has no use for once the stores are translated: the
    truststore's password (a PEM truststore has none) and types that went with no file."""
    unused = ["ssl.truststore.password"] if "ssl.truststore.password" in props else []
    unused += [
        f"{prefix}.type"
        for prefix in ("ssl.truststore", "ssl.keystore")
        if f"{prefix}.type" in props and f"{prefix}.location" not in props
    ]
    return unused


# -- values ------------------------------------------------------------------------------------


def _kbytes(value: str) -> str:
    """``buffer.memory`` (bytes) as ``queue.buffering.max.kbytes``."""
    text = value.strip()
    if not text.isdigit():
        raise ClientConfigError(
            f"Invalid value {value} for configuration buffer.memory: Not a number of type LONG"
        )
    return str(max(int(text) // 1024, 1))


def _assignors(value: str) -> str:
    """Java assignor classes as librdkafka's names (its own names pass)."""
    names = []
    for item in (part.strip() for part in value.split(",")):
        if "." in item and item not in ASSIGNORS:
            raise ClientConfigError(
                f"partition.assignment.strategy: {item} has no librdkafka equivalent "
                "(use range, roundrobin or cooperative-sticky)"
            )
        names.append(ASSIGNORS.get(item, item))
    return ",".join(name for name in names if name)
