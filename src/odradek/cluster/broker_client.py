"""An asyncio Kafka client for broker-to-broker requests (replica fetches, transaction
markers): one connection, one request in flight, kio entities in and out.

On an SSL or SASL_SSL inter-broker listener the connection is TLS (the peer's host name
checked as ``ssl.endpoint.identification.algorithm`` says); on a SASL one the client
authenticates before its first request (SaslHandshake v1, then SaslAuthenticate), and again
on the same connection before the session the peer granted expires (KIP-368)."""

from __future__ import annotations

import asyncio
import io
import struct
import time
from functools import cache
from typing import Any

from kio.schema.errors import ErrorCode
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.schema.response_header.v0.header import ResponseHeader as ResponseHeaderV0
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.schema.sasl_authenticate.v2 import request as authenticate_v2
from kio.schema.sasl_handshake.v1 import request as handshake_v1
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i16, i32

from odradek.protocol.api_versions import API_VERSIONS_KEY
from odradek.protocol.codec import response_class
from odradek.security.inter_broker import InterBrokerSecurity, SaslCredentials
from odradek.security.sasl import SaslAuthenticationError

_SIZE = struct.Struct(">i")
# Re-authenticate once this share of the session lifetime has passed (Kafka's clients pick a
# point between 85 % and 95 %).
REAUTHENTICATE_AFTER = 0.85


class BrokerConnectionError(Exception):
    """The peer broker could not be reached or authenticated with, closed the connection or
    answered garbage."""


@cache
def _writer(entity_type: Any) -> Any:
    return entity_writer(entity_type)


@cache
def _reader(entity_type: Any) -> Any:
    return entity_reader(entity_type)


def _encode(entity: Any) -> bytes:
    buffer = io.BytesIO()
    _writer(type(entity))(buffer, entity)  # type: ignore[arg-type]
    return buffer.getvalue()


class BrokerClient:
    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        timeout_s: float = 30.0,
        security: InterBrokerSecurity | None = None,
    ) -> None:
        """``security``: the inter-broker listener's; None connects in PLAINTEXT."""
        self.host = host
        self.port = port
        self.client_id = client_id
        self.timeout_s = timeout_s
        self.security = security
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._correlation = 0
        self._lock = asyncio.Lock()
        self._reauthenticate_at: float | None = None

    async def _connect(self) -> None:
        ssl_context = None if self.security is None else self.security.ssl_context
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=ssl_context,
                    server_hostname=self.host if ssl_context is not None else None,
                ),
                self.timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            raise BrokerConnectionError(
                f"cannot connect to {self.host}:{self.port}: {exc}"
            ) from exc
        if self.security is not None and self.security.sasl is not None:
            await self._authenticate(self.security.sasl)

    async def request(self, entity: Any, timeout_s: float | None = None) -> Any:
        """Send ``entity`` (a kio request) and return the decoded response."""
        async with self._lock:
            try:
                return await asyncio.wait_for(self._request(entity), timeout_s or self.timeout_s)
            except BrokerConnectionError:
                self.close()
                raise
            except (
                OSError,
                TimeoutError,
                asyncio.IncompleteReadError,
                ValueError,
                struct.error,
                AttributeError,
            ) as exc:  # AttributeError: closed meanwhile
                self.close()
                raise BrokerConnectionError(
                    f"request to {self.host}:{self.port} failed: {exc!r}"
                ) from exc

    async def _request(self, entity: Any) -> Any:
        if self._writer is None:
            await self._connect()
        elif self._reauthenticate_at is not None and time.monotonic() >= self._reauthenticate_at:
            assert self.security is not None and self.security.sasl is not None
            await self._authenticate(self.security.sasl)
        return await self._exchange(entity)

    async def _authenticate(self, credentials: SaslCredentials) -> None:
        """The SASL exchange the broker's authenticator expects; the session it grants."""
        mechanism = credentials.mechanism
        started = time.monotonic()
        handshake = await self._exchange(handshake_v1.SaslHandshakeRequest(mechanism=mechanism))
        if handshake.error_code != ErrorCode.none:
            raise BrokerConnectionError(
                f"{self.host}:{self.port} refused SASL mechanism {mechanism} "
                f"({ErrorCode(handshake.error_code).name}); it offers "
                f"{', '.join(handshake.mechanisms) or 'none'}"
            )
        client = credentials.client()
        token = client.initial_response()
        while True:
            response = await self._exchange(
                authenticate_v2.SaslAuthenticateRequest(auth_bytes=token)
            )
            if response.error_code != ErrorCode.none:
                reason = response.error_message or ErrorCode(response.error_code).name
                raise BrokerConnectionError(
                    f"SASL/{mechanism} authentication at {self.host}:{self.port} as "
                    f"{credentials.username} failed: {reason}"
                )
            if client.complete:
                break
            try:
                token = client.evaluate_challenge(bytes(response.auth_bytes))
            except SaslAuthenticationError as exc:
                raise BrokerConnectionError(
                    f"SASL/{mechanism} authentication at {self.host}:{self.port}: {exc}"
                ) from exc
            if client.complete:
                break
        lifetime_s = response.session_lifetime.total_seconds()
        self._reauthenticate_at = (
            started + REAUTHENTICATE_AFTER * lifetime_s if lifetime_s > 0 else None
        )

    async def _exchange(self, entity: Any) -> Any:
        reader, writer = self._reader, self._writer
        if reader is None or writer is None:
            raise ValueError("connection closed")
        self._correlation += 1
        flexible = bool(entity.__flexible__)
        header_class = RequestHeaderV2 if flexible else RequestHeaderV1
        header = header_class(
            request_api_key=i16(entity.__api_key__),
            request_api_version=i16(entity.__version__),
            correlation_id=i32(self._correlation),
            client_id=self.client_id,
        )
        payload = _encode(header) + _encode(entity)
        writer.write(_SIZE.pack(len(payload)) + payload)
        await writer.drain()
        (size,) = _SIZE.unpack(await reader.readexactly(4))
        frame = await reader.readexactly(size)
        flexible_header = flexible and entity.__api_key__ != API_VERSIONS_KEY
        response_header, offset = _reader(
            ResponseHeaderV1 if flexible_header else ResponseHeaderV0
        )(frame, 0)
        if response_header.correlation_id != self._correlation:
            raise ValueError("correlation id mismatch")
        body, _ = _reader(response_class(entity.__api_key__, entity.__version__))(frame, offset)
        return body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
        self._reauthenticate_at = None
