"""The broker side of Kafka's SASL mechanisms PLAIN (RFC 4616) and SCRAM-SHA-256/512
(RFC 5802, RFC 7677), sans-IO: one server per connection turns each client token into the
next challenge until the exchange is complete.

The caller frames the tokens (SaslHandshake/SaslAuthenticate) and delays failures. A failure
raises :class:`SaslAuthenticationError`, whose message is the ``error_message`` Kafka sends:
its own text where Kafka names the reason, else the generic one that names only the mechanism,
so that a client cannot tell an unknown user from a wrong password."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Protocol

import scramp  # type: ignore[import-untyped]

from odradek.security.scram import ScramCredential, ScramMechanism

PLAIN = "PLAIN"
SUPPORTED_MECHANISMS = (PLAIN, "SCRAM-SHA-256", "SCRAM-SHA-512")

INVALID_USERNAME_OR_PASSWORD = "Authentication failed: Invalid username or password"
AUTHORIZATION_ID_MISMATCH = (
    "Authentication failed: Client requested an authorization id that is different from username"
)
TOKEN_AUTH_UNSUPPORTED = (
    "Authentication failed: delegation token authentication (SCRAM extension tokenauth) "
    "is not supported"
)
AUTHORIZATION_ID_UNSUPPORTED = (
    "Authentication failed: an authorization id in the SCRAM client-first message is not supported"
)


class SaslAuthenticationError(Exception):
    """A failed exchange; the message is the client's ``error_message``."""


def generic_failure(mechanism: str, *, reauthentication: bool = False) -> SaslAuthenticationError:
    """The failure Kafka reports when it does not name the reason."""
    phase = "re-authentication" if reauthentication else "authentication"
    return SaslAuthenticationError(
        f"Authentication failed during {phase} due to invalid credentials "
        f"with SASL mechanism {mechanism}"
    )


class SaslServer(Protocol):
    """One connection's side of one SASL exchange."""

    mechanism: str

    def evaluate_response(self, token: bytes) -> bytes:
        """The challenge answering the client's ``token``; raises SaslAuthenticationError."""
        ...

    @property
    def complete(self) -> bool: ...

    @property
    def authorization_id(self) -> str:
        """The authenticated user; only once complete."""
        ...


class _State(Enum):
    CLIENT_FIRST = "waiting for the client-first message"
    CLIENT_FINAL = "waiting for the client-final message"
    COMPLETE = "complete"
    FAILED = "failed"


class _Exchange:
    """State shared by the servers: the rounds, the outcome, the failure messages."""

    def __init__(self, mechanism: str, reauthentication: bool) -> None:
        self.mechanism = mechanism
        self._reauthentication = reauthentication
        self._state = _State.CLIENT_FIRST
        self._user: str | None = None

    @property
    def complete(self) -> bool:
        return self._state is _State.COMPLETE

    @property
    def authorization_id(self) -> str:
        if self._state is not _State.COMPLETE or self._user is None:
            raise RuntimeError(f"the SASL/{self.mechanism} exchange has not completed")
        return self._user

    def _generic_failure(self) -> SaslAuthenticationError:
        return generic_failure(self.mechanism, reauthentication=self._reauthentication)

    def _fail(self, error: SaslAuthenticationError) -> SaslAuthenticationError:
        self._state = _State.FAILED
        return error

    def _check_open(self) -> None:
        if self._state in (_State.COMPLETE, _State.FAILED):
            raise SaslAuthenticationError(
                f"Unexpected SASL/{self.mechanism} token: the exchange is {self._state.value}"
            )

    def _complete(self, user: str) -> None:
        self._user = user
        self._state = _State.COMPLETE


class PlainSaslServer(_Exchange):
    """SASL/PLAIN: one message ``[authzid] NUL user NUL password`` against the JAAS users."""

    def __init__(self, users: Mapping[str, str], *, reauthentication: bool = False) -> None:
        super().__init__(PLAIN, reauthentication)
        self._users = users

    def evaluate_response(self, token: bytes) -> bytes:
        self._check_open()
        try:
            authzid, user, password = token.decode("utf-8").split("\0")
        except (UnicodeDecodeError, ValueError):
            raise self._fail(self._generic_failure()) from None
        if not user or not password:
            raise self._fail(self._generic_failure())
        expected = self._users.get(user)
        if expected is None or not hmac.compare_digest(
            expected.encode("utf-8"), password.encode("utf-8")
        ):
            raise self._fail(SaslAuthenticationError(INVALID_USERNAME_OR_PASSWORD))
        if authzid and authzid != user:
            raise self._fail(SaslAuthenticationError(AUTHORIZATION_ID_MISMATCH))
        self._complete(user)
        return b""


# The client-first message Kafka accepts: gs2 header "n" (no channel binding) with an optional
# authzid, an ASCII user name (',' and '=' escaped as =2C and =3D), the nonce, extensions.
_SASLNAME = r"(?:[\x01-\x2b\x2d-\x3c\x3e-\x7f]|=2C|=3D)+"
_CLIENT_FIRST = re.compile(
    rf"n,(?:a=(?P<authzid>{_SASLNAME}))?,n=(?P<saslname>{_SASLNAME}),r=[\x21-\x2b\x2d-\x7e]+"
    r"(?P<extensions>(?:,[A-Za-z]+=[\x01-\x2b\x2d-\x7f]+)*)"
)
_SASLNAME_ESCAPE = re.compile("=2C|=3D")
_TOKEN_AUTH = "tokenauth"

# Salts for unknown users: stable for a name while the process runs, so that a client
# probing names sees what it would see for a real user.
_UNKNOWN_USER_KEY = secrets.token_bytes(32)


class ScramSaslServer(_Exchange):
    """SASL/SCRAM-SHA-256 or -512: client-first -> server-first, client-final -> server-final.

    ``credentials`` looks a user's credential up (None: no such user); its exceptions
    propagate. An unknown user is answered with a made-up salt and fails the second round,
    exactly like a wrong password."""

    def __init__(
        self,
        mechanism: ScramMechanism,
        credentials: Callable[[str], ScramCredential | None],
        *,
        reauthentication: bool = False,
    ) -> None:
        super().__init__(mechanism.mechanism_name, reauthentication)
        self._scram_mechanism = mechanism
        self._credentials = credentials
        self._scramp_server: scramp.core.ScramServer | None = None
        self._username = ""

    def evaluate_response(self, token: bytes) -> bytes:
        self._check_open()
        try:
            message = token.decode("utf-8")
        except UnicodeDecodeError:
            raise self._fail(self._generic_failure()) from None
        if self._state is _State.CLIENT_FIRST:
            return self._client_first(message).encode("utf-8")
        return self._client_final(message).encode("utf-8")

    def _client_first(self, message: str) -> str:
        username = self._username_of(message)
        credential = self._credentials(username)
        if credential is None:
            credential = self._unknown_user(username)
        elif credential.iterations < self._scram_mechanism.min_iterations:
            raise self._fail(self._generic_failure())
        auth_info = (
            credential.salt,
            credential.stored_key,
            credential.server_key,
            credential.iterations,
        )
        server = scramp.ScramMechanism(self.mechanism).make_server(lambda _user: auth_info)
        try:
            server.set_client_first(message)
            server_first: str = server.get_server_first()
        except scramp.ScramException:
            raise self._fail(self._generic_failure()) from None
        self._scramp_server = server
        self._username = username
        self._state = _State.CLIENT_FINAL
        return server_first

    def _username_of(self, client_first: str) -> str:
        """The user a client-first message names, if Kafka accepts the message."""
        match = _CLIENT_FIRST.fullmatch(client_first)
        if match is None:
            raise self._fail(self._generic_failure())
        extensions = match["extensions"].split(",")[1:]
        if any(extension.partition("=")[0] == _TOKEN_AUTH for extension in extensions):
            raise self._fail(SaslAuthenticationError(TOKEN_AUTH_UNSUPPORTED))
        username = _unescape_saslname(match["saslname"])
        authzid = match["authzid"]
        if authzid is not None and _unescape_saslname(authzid) != username:
            raise self._fail(SaslAuthenticationError(AUTHORIZATION_ID_MISMATCH))
        if authzid is not None:  # scramp accepts no authzid in the gs2 header
            raise self._fail(SaslAuthenticationError(AUTHORIZATION_ID_UNSUPPORTED))
        return username

    def _client_final(self, message: str) -> str:
        server = self._scramp_server
        assert server is not None  # set with the CLIENT_FINAL state
        self._scramp_server = None  # one attempt, like the credential it holds
        _accept_prefixed_nonce(server, message)
        try:
            server.set_client_final(message)
            server_final: str = server.get_server_final()
        except scramp.ScramException:
            raise self._fail(self._generic_failure()) from None
        self._complete(self._username)
        return server_final

    def _unknown_user(self, username: str) -> ScramCredential:
        """A credential no password matches, with a salt stable for ``username``."""
        name = f"{self.mechanism}\0{username}".encode()
        digest_size = hashlib.new(self._scram_mechanism.hash_name).digest_size
        return ScramCredential(
            salt=hmac.digest(_UNKNOWN_USER_KEY, name, "sha256"),
            stored_key=secrets.token_bytes(digest_size),
            server_key=secrets.token_bytes(digest_size),
            iterations=self._scram_mechanism.min_iterations,
        )


def _accept_prefixed_nonce(server: scramp.core.ScramServer, client_final: str) -> None:
    """Kafka checks only that the client-final nonce *ends with* the nonce of its
    server-first message, and librdkafka before 2.1 (Debian's kcat, ClickHouse's Kafka
    engine) sends its client nonce in front of the whole combined nonce. Accept that as Kafka
    does: scramp then checks the proof over the messages exactly as the client sent them."""
    for attribute in client_final.split(","):
        if attribute.startswith("r="):
            sent, expected = attribute[2:], str(server.nonce)
            if sent != expected and sent.endswith(expected):
                server.nonce = type(server.nonce)(sent)
            return


def _unescape_saslname(saslname: str) -> str:
    return _SASLNAME_ESCAPE.sub(lambda m: "," if m[0] == "=2C" else "=", saslname)


def create_sasl_server(
    mechanism: str,
    *,
    plain_users: Mapping[str, str],
    scram_credentials: Callable[[str, str], ScramCredential | None],
    reauthentication: bool = False,
) -> SaslServer:
    """The server for one exchange of ``mechanism``; ``scram_credentials(mechanism, user)``
    looks a SCRAM credential up. ``reauthentication`` (KIP-368) only words the failures.
    Raises ValueError for a mechanism not in :data:`SUPPORTED_MECHANISMS`."""
    if mechanism == PLAIN:
        return PlainSaslServer(plain_users, reauthentication=reauthentication)
    if mechanism not in SUPPORTED_MECHANISMS:
        raise ValueError(f"Unsupported SASL mechanism {mechanism}")
    scram = ScramMechanism.from_mechanism_name(mechanism)
    return ScramSaslServer(
        scram,
        lambda user: scram_credentials(scram.mechanism_name, user),
        reauthentication=reauthentication,
    )
