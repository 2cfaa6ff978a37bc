"""The client side of Kafka's SASL mechanisms PLAIN (RFC 4616) and SCRAM-SHA-256/512
(RFC 5802, RFC 7677), sans-IO: what a broker sends when it connects to another broker on a
SASL listener. The mirror of :mod:`odradek.security.sasl`: the client opens with
:meth:`SaslClient.initial_response` and answers each server challenge until it is complete.

As in Kafka, SCRAM names and passwords are used as their UTF-8 bytes, without SASLprep (the
user name only escaped: ``,`` as ``=2C``, ``=`` as ``=3D``). scramp applies SASLprep, so a
name or password that SASLprep would change is refused rather than sent altered. A server
whose final message does not prove it knows the credential fails the exchange, and so does
one asking for fewer than 4096 iterations."""

from __future__ import annotations

from enum import Enum
from typing import Protocol

import scramp  # type: ignore[import-untyped]
from scramp.utils import saslprep  # type: ignore[import-untyped]

from odradek.security.sasl import PLAIN, SUPPORTED_MECHANISMS, SaslAuthenticationError
from odradek.security.scram import ScramMechanism


class SaslClient(Protocol):
    """One connection's client side of one SASL exchange."""

    mechanism: str

    def initial_response(self) -> bytes:
        """The first token the client sends."""
        ...

    def evaluate_challenge(self, challenge: bytes) -> bytes:
        """The token answering the server's ``challenge`` (empty once complete); raises
        SaslAuthenticationError."""
        ...

    @property
    def complete(self) -> bool: ...


class PlainSaslClient:
    """SASL/PLAIN: one message ``NUL user NUL password``; complete once it is sent."""

    mechanism = PLAIN

    def __init__(self, username: str, password: str) -> None:
        if not username or not password or "\0" in username + password:
            raise ValueError("SASL/PLAIN needs a user name and a password without NUL")
        self._token = f"\0{username}\0{password}".encode()
        self._sent = False

    @property
    def complete(self) -> bool:
        return self._sent

    def initial_response(self) -> bytes:
        if self._sent:
            raise SaslAuthenticationError("SASL/PLAIN: the initial response was already sent")
        self._sent = True
        return self._token

    def evaluate_challenge(self, challenge: bytes) -> bytes:
        raise SaslAuthenticationError("Unexpected SASL/PLAIN challenge: the exchange is complete")


class _Step(Enum):
    CLIENT_FIRST = "about to send the client-first message"
    SERVER_FIRST = "waiting for the server-first message"
    SERVER_FINAL = "waiting for the server-final message"
    COMPLETE = "complete"
    FAILED = "failed"


class ScramSaslClient:
    """SASL/SCRAM-SHA-256 or -512: client-first, then client-final for the server-first
    message; complete once the server-final message carries the right server signature."""

    def __init__(self, mechanism: ScramMechanism, username: str, password: str) -> None:
        self.mechanism = mechanism.mechanism_name
        for what, value in (("user name", username), ("password", password)):
            if not value:
                raise ValueError(f"SASL/{self.mechanism} needs a {what}")
            try:
                unchanged = saslprep(value) == value
            except scramp.ScramException:
                unchanged = False
            if not unchanged:
                raise ValueError(
                    f"SASL/{self.mechanism}: the {what} has characters SASLprep changes or "
                    "forbids; Kafka would hash it as it is and odradek's SCRAM client cannot"
                )
        self._client = scramp.ScramClient([self.mechanism], username, password)
        self._step = _Step.CLIENT_FIRST

    @property
    def complete(self) -> bool:
        return self._step is _Step.COMPLETE

    def initial_response(self) -> bytes:
        if self._step is not _Step.CLIENT_FIRST:
            raise SaslAuthenticationError(
                f"SASL/{self.mechanism}: no initial response, the exchange is {self._step.value}"
            )
        self._step = _Step.SERVER_FIRST
        return str(self._client.get_client_first()).encode()

    def evaluate_challenge(self, challenge: bytes) -> bytes:
        step = self._step
        if step not in (_Step.SERVER_FIRST, _Step.SERVER_FINAL):
            raise SaslAuthenticationError(
                f"Unexpected SASL/{self.mechanism} challenge: the exchange is {step.value}"
            )
        self._step = _Step.FAILED  # until the message is accepted
        try:
            message = challenge.decode("utf-8")
            if step is _Step.SERVER_FIRST:
                self._client.set_server_first(message)
            else:
                self._client.set_server_final(message)  # checks the server signature
        except (UnicodeDecodeError, scramp.ScramException) as exc:
            raise SaslAuthenticationError(
                f"SASL/{self.mechanism}: invalid {step.name.lower().replace('_', '-')} "
                f"message: {exc}"
            ) from None
        if step is _Step.SERVER_FINAL:
            self._step = _Step.COMPLETE
            return b""
        self._step = _Step.SERVER_FINAL
        return str(self._client.get_client_final()).encode()


def create_sasl_client(mechanism: str, username: str, password: str) -> SaslClient:
    """The client for one exchange of ``mechanism`` as ``username``. Raises ValueError for a
    mechanism not in :data:`SUPPORTED_MECHANISMS` or credentials it cannot send."""
    if mechanism == PLAIN:
        return PlainSaslClient(username, password)
    if mechanism not in SUPPORTED_MECHANISMS:
        raise ValueError(f"Unsupported SASL mechanism {mechanism}")
    return ScramSaslClient(ScramMechanism.from_mechanism_name(mechanism), username, password)
