"""SCRAM credentials as Kafka stores them (RFC 5802): salt, StoredKey, ServerKey, iterations.

The broker never keeps a password. ``kafka-configs --add-config 'SCRAM-SHA-256=[password=…]'``
derives the credential from the password, AlterUserScramCredentials sends the salted password;
ZooKeeper keeps the credential in the text form of :func:`format_credential`.

As in Kafka, the password is hashed as its UTF-8 bytes, without SASLprep."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from enum import Enum

_SALT_BYTES = 32
_CREDENTIAL_KEYS = ("salt", "stored_key", "server_key", "iterations")


class ScramMechanism(Enum):
    """A SCRAM mechanism; the value is Kafka's type id (Describe/AlterUserScramCredentials)."""

    SCRAM_SHA_256 = 1
    SCRAM_SHA_512 = 2

    @property
    def type(self) -> int:
        return self.value

    @property
    def mechanism_name(self) -> str:
        """The SASL name: ``SCRAM-SHA-256``, ``SCRAM-SHA-512``."""
        return self.name.replace("_", "-")

    @property
    def hash_name(self) -> str:
        """The hashlib name of the mechanism's hash function."""
        return "sha256" if self is ScramMechanism.SCRAM_SHA_256 else "sha512"

    @property
    def min_iterations(self) -> int:
        return 4096

    @property
    def max_iterations(self) -> int:
        """The most AlterUserScramCredentials accepts."""
        return 16384

    @classmethod
    def from_mechanism_name(cls, name: str) -> ScramMechanism:
        for mechanism in cls:
            if mechanism.mechanism_name == name:
                return mechanism
        raise ValueError(f"Unknown SCRAM mechanism {name}")


@dataclass(frozen=True)
class ScramCredential:
    """What the broker stores for one user and mechanism; enough to verify, not to log in."""

    salt: bytes = field(repr=False)
    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)
    iterations: int


def credential_from_password(
    mechanism: ScramMechanism, password: str, iterations: int, salt: bytes | None = None
) -> ScramCredential:
    """The credential for ``password``, with a random salt unless one is given.
    Raises ValueError for iterations outside the mechanism's bounds."""
    _check_iterations(mechanism, iterations)
    if salt is None:
        salt = secrets.token_bytes(_SALT_BYTES)
    salted_password = hashlib.pbkdf2_hmac(
        mechanism.hash_name, password.encode("utf-8"), salt, iterations
    )
    return credential_from_salted_password(mechanism, salted_password, salt, iterations)


def credential_from_salted_password(
    mechanism: ScramMechanism, salted_password: bytes, salt: bytes, iterations: int
) -> ScramCredential:
    """The credential for a salted password ``Hi(password, salt, iterations)``, as
    AlterUserScramCredentials sends it. Raises ValueError for iterations outside the bounds
    (the messages are Kafka's, for UNACCEPTABLE_CREDENTIAL)."""
    _check_iterations(mechanism, iterations)
    client_key = hmac.digest(salted_password, b"Client Key", mechanism.hash_name)
    return ScramCredential(
        salt=salt,
        stored_key=hashlib.new(mechanism.hash_name, client_key).digest(),
        server_key=hmac.digest(salted_password, b"Server Key", mechanism.hash_name),
        iterations=iterations,
    )


def format_credential(credential: ScramCredential) -> str:
    """Kafka's text form: ``salt=<b64>,stored_key=<b64>,server_key=<b64>,iterations=<n>``."""
    return (
        f"salt={_b64(credential.salt)},stored_key={_b64(credential.stored_key)},"
        f"server_key={_b64(credential.server_key)},iterations={credential.iterations}"
    )


def parse_credential(text: str) -> ScramCredential:
    """A credential from Kafka's text form (the keys in any order). Raises ValueError."""
    fields: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not key or not sep or key in fields:
            raise ValueError("SCRAM credential not valid: expected " + _format_hint())
        fields[key] = value
    if sorted(fields) != sorted(_CREDENTIAL_KEYS):
        raise ValueError("SCRAM credential not valid: expected " + _format_hint())
    iterations = fields["iterations"]
    if not (iterations.isascii() and iterations.isdigit()):
        raise ValueError(f"SCRAM credential not valid: iterations {iterations!r} is not a number")
    return ScramCredential(
        salt=_unb64("salt", fields["salt"]),
        stored_key=_unb64("stored_key", fields["stored_key"]),
        server_key=_unb64("server_key", fields["server_key"]),
        iterations=int(iterations),
    )


def _check_iterations(mechanism: ScramMechanism, iterations: int) -> None:
    if iterations < mechanism.min_iterations:
        raise ValueError("Too few iterations")
    if iterations > mechanism.max_iterations:
        raise ValueError("Too many iterations")


def _format_hint() -> str:
    return ",".join(f"{key}=<…>" for key in _CREDENTIAL_KEYS)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(key: str, value: str) -> bytes:
    """Standard base64; like Java's decoder, the padding may be left out."""
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except binascii.Error:
        raise ValueError(f"SCRAM credential not valid: {key} is not base64") from None
