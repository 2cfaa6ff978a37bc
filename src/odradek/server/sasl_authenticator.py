"""The SASL exchange of one connection on a SASL_PLAINTEXT or SASL_SSL listener, as Kafka's
server authenticator runs it: ApiVersions and SaslHandshake, then SaslAuthenticate requests
(or, after SaslHandshake v0, raw length-prefixed tokens: KIP-43) until the mechanism
completes. With ``connections.max.reauth.ms`` the session expires and the client
re-authenticates on the same connection (KIP-368) as the same principal.

The connection hands it every frame it owns (:meth:`owns`) and writes what it answers."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from kio.schema.errors import ErrorCode

from odradek.common.principal import USER_TYPE, KafkaPrincipal
from odradek.protocol.api_versions import (
    API_VERSIONS_KEY,
    SASL_AUTHENTICATE_KEY,
    SASL_HANDSHAKE_KEY,
)
from odradek.protocol.codec import (
    RequestHeader,
    build,
    encode_response,
    parse_request,
    peek_header,
    response_module,
)
from odradek.security.listener_security import ListenerSecurity
from odradek.security.sasl import SaslAuthenticationError, SaslServer, create_sasl_server
from odradek.security.scram import ScramCredential
from odradek.server.errors import CloseConnectionError

Chunks = list[bytes | bytearray | memoryview]
ScramLookup = Callable[[str, str], ScramCredential | None]

_INT32 = struct.Struct(">i")


@dataclass(slots=True)
class SaslReply:
    """What to send; ``failed``: then close the connection (after Kafka's failure delay)."""

    chunks: Chunks
    failed: str | None = None


class SaslAuthenticator:
    def __init__(
        self,
        listener: ListenerSecurity,
        scram_credentials: ScramLookup,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.listener = listener
        self._scram_credentials = scram_credentials
        self._now = now
        self.principal: KafkaPrincipal | None = None  # set once authenticated
        self._mechanism: str | None = None  # chosen by the last SaslHandshake
        self._server: SaslServer | None = None  # the exchange in progress
        self._raw_tokens = False  # SaslHandshake v0: tokens come without a request header
        self._expires_at: float | None = None

    @property
    def authenticated(self) -> bool:
        return self.principal is not None and self._server is None

    def owns(self, frame: memoryview) -> bool:
        """Whether ``frame`` is part of an authentication exchange (else: a normal request).
        Raises CloseConnectionError for a request the connection may not make now."""
        if self._raw_tokens:
            return True
        api_key = peek_header(frame)[0]
        if self.principal is None or self._server is not None:
            if api_key in (SASL_HANDSHAKE_KEY, SASL_AUTHENTICATE_KEY):
                return True
            if api_key == API_VERSIONS_KEY and self.principal is None:
                return False
            raise CloseConnectionError(
                f"Unexpected Kafka request of type {api_key} during SASL authentication"
            )
        if api_key == SASL_HANDSHAKE_KEY and self.listener.reauth_ms > 0:
            return True  # KIP-368 re-authentication
        if self._expires_at is not None and self._now() > self._expires_at:
            raise CloseConnectionError("SASL session expired: the client did not re-authenticate")
        return False

    def receive(self, frame: memoryview) -> SaslReply:
        if self._raw_tokens:
            return self._raw_token(bytes(frame))
        request = parse_request(frame)
        header = request.header
        if header.api_key == SASL_HANDSHAKE_KEY:
            return self._handshake(header, str(request.body.mechanism))
        if self._server is None:
            return self._auth_failure(
                header, ErrorCode.illegal_sasl_state, "SaslAuthenticate before SaslHandshake"
            )
        return self._authenticate(header, bytes(request.body.auth_bytes))

    # -- the steps -----------------------------------------------------------------------------

    def _handshake(self, header: RequestHeader, mechanism: str) -> SaslReply:
        module = response_module(SASL_HANDSHAKE_KEY, header.api_version)
        enabled = self.listener.sasl_mechanisms

        def answer(error: ErrorCode) -> Chunks:
            body = build(module.SaslHandshakeResponse, error_code=error, mechanisms=enabled)
            return encode_response(header, body)

        reauthenticating = self.principal is not None
        if self._server is not None:
            return SaslReply(answer(ErrorCode.illegal_sasl_state), "SASL handshake repeated")
        if mechanism not in enabled:
            return SaslReply(
                answer(ErrorCode.unsupported_sasl_mechanism),
                f"unsupported SASL mechanism {mechanism}",
            )
        if reauthenticating and (header.api_version < 1 or mechanism != self._mechanism):
            return SaslReply(
                answer(ErrorCode.illegal_sasl_state),
                "re-authentication must use SaslHandshake v1 and the same mechanism",
            )
        self._mechanism = mechanism
        self._server = create_sasl_server(
            mechanism,
            plain_users=self.listener.plain_users,
            scram_credentials=self._scram_credentials,
            reauthentication=reauthenticating,
        )
        self._raw_tokens = header.api_version == 0
        return SaslReply(answer(ErrorCode.none))

    def _authenticate(self, header: RequestHeader, token: bytes) -> SaslReply:
        module = response_module(SASL_AUTHENTICATE_KEY, header.api_version)
        try:
            challenge = self._evaluate(token)
        except SaslAuthenticationError as exc:
            return self._auth_failure(header, ErrorCode.sasl_authentication_failed, str(exc))
        lifetime_ms = 0
        if self.authenticated and self.listener.reauth_ms > 0 and header.api_version >= 1:
            lifetime_ms = self.listener.reauth_ms
            self._expires_at = self._now() + lifetime_ms / 1000
        body = build(
            module.SaslAuthenticateResponse,
            error_code=ErrorCode.none,
            error_message=None,
            auth_bytes=challenge,
            session_lifetime=timedelta(milliseconds=lifetime_ms),
        )
        return SaslReply(encode_response(header, body))

    def _raw_token(self, token: bytes) -> SaslReply:
        try:
            challenge = self._evaluate(token)
        except SaslAuthenticationError as exc:
            return SaslReply([], str(exc))  # KIP-43: the connection is closed, no error frame
        if self.authenticated:
            self._raw_tokens = False
        return SaslReply([_INT32.pack(len(challenge)), challenge])

    def _evaluate(self, token: bytes) -> bytes:
        """One round of the mechanism; on completion, the (re-)authenticated principal."""
        server = self._server
        assert server is not None
        challenge = server.evaluate_response(token)
        if server.complete:
            principal = KafkaPrincipal(USER_TYPE, server.authorization_id)
            if self.principal is not None and principal != self.principal:
                raise SaslAuthenticationError(
                    "Cannot change principals during re-authentication from "
                    f"{self.principal}: {principal}"
                )
            self.principal = principal
            self._server = None
        return challenge

    def _auth_failure(self, header: RequestHeader, error: ErrorCode, message: str) -> SaslReply:
        module = response_module(SASL_AUTHENTICATE_KEY, header.api_version)
        body = build(
            module.SaslAuthenticateResponse,
            error_code=error,
            error_message=message,
            auth_bytes=b"",
        )
        return SaslReply(encode_response(header, body), message)
