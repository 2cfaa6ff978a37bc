"""The connection's SASL exchange without sockets: handshake versions, KIP-152 and KIP-43
framing, failures, requests out of turn, and KIP-368 session expiry and re-authentication."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from kio.serial import entity_reader

from odradek.config.listeners import SecurityProtocol
from odradek.protocol.codec import RequestParseError
from odradek.security.listener_security import ListenerSecurity
from odradek.server.errors import CloseConnectionError
from odradek.server.sasl_authenticator import SaslAuthenticator, SaslReply
from tests.support.raw_client import request_bytes, request_module, response_class

SASL_HANDSHAKE, SASL_AUTHENTICATE, METADATA, API_VERSIONS = 17, 36, 3, 18
USERS = {"alice": "alice-secret", "bob": "bob-secret"}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def authenticator(reauth_ms: int = 0) -> tuple[SaslAuthenticator, Clock]:
    listener = ListenerSecurity(
        "SASL_PLAINTEXT",
        SecurityProtocol.SASL_PLAINTEXT,
        sasl_mechanisms=("PLAIN", "SCRAM-SHA-256"),
        plain_users=USERS,
        reauth_ms=reauth_ms,
    )
    clock = Clock()
    return SaslAuthenticator(listener, lambda mechanism, user: None, clock), clock


def frame(api_key: int, version: int, **fields: Any) -> memoryview:
    module = request_module(api_key, version)
    names = {
        SASL_HANDSHAKE: "SaslHandshakeRequest",
        SASL_AUTHENTICATE: "SaslAuthenticateRequest",
        METADATA: "MetadataRequest",
        API_VERSIONS: "ApiVersionsRequest",
    }
    return memoryview(request_bytes(getattr(module, names[api_key])(**fields), 7))


def response(reply: SaslReply, api_key: int, version: int) -> Any:
    payload = b"".join(bytes(chunk) for chunk in reply.chunks)[4:]  # no size prefix
    body_class = response_class(api_key, version)
    offset = 4 if not body_class.__flexible__ else 5  # correlation id (+ tagged fields)
    body, _ = entity_reader(body_class)(payload, offset)
    return body


def plain(user: str, password: str) -> bytes:
    return f"\0{user}\0{password}".encode()


def login(auth: SaslAuthenticator, user: str, password: str, version: int = 2) -> Any:
    handshake = frame(SASL_HANDSHAKE, 1, mechanism="PLAIN")
    assert auth.owns(handshake)
    assert response(auth.receive(handshake), SASL_HANDSHAKE, 1).error_code == 0
    token = frame(SASL_AUTHENTICATE, version, auth_bytes=plain(user, password))
    assert auth.owns(token)
    reply = auth.receive(token)
    return reply, response(reply, SASL_AUTHENTICATE, version)


def test_api_versions_is_allowed_before_authentication() -> None:
    auth, _ = authenticator()
    assert not auth.owns(
        frame(API_VERSIONS, 3, client_software_name="t", client_software_version="1")
    )


def test_other_requests_before_authentication_close_the_connection() -> None:
    auth, _ = authenticator()
    with pytest.raises(CloseConnectionError, match="during SASL authentication"):
        auth.owns(frame(METADATA, 12, topics=None, allow_auto_topic_creation=False,
                        include_topic_authorized_operations=False))  # fmt: skip


def test_plain_login() -> None:
    auth, _ = authenticator()
    reply, body = login(auth, "alice", "alice-secret")
    assert reply.failed is None and body.error_code == 0
    assert auth.authenticated and str(auth.principal) == "User:alice"
    assert body.session_lifetime.total_seconds() == 0  # no connections.max.reauth.ms


def test_wrong_password_fails_with_kafkas_error() -> None:
    auth, _ = authenticator()
    reply, body = login(auth, "alice", "wrong")
    assert reply.failed is not None
    assert body.error_code == 58  # SASL_AUTHENTICATION_FAILED
    assert "Invalid username or password" in body.error_message
    assert not auth.authenticated


def test_unsupported_mechanism() -> None:
    auth, _ = authenticator()
    reply = auth.receive(frame(SASL_HANDSHAKE, 1, mechanism="GSSAPI"))
    body = response(reply, SASL_HANDSHAKE, 1)
    assert body.error_code == 33 and list(body.mechanisms) == ["PLAIN", "SCRAM-SHA-256"]
    assert reply.failed is not None


def test_handshake_v0_takes_raw_tokens() -> None:
    auth, _ = authenticator()
    assert (
        response(
            auth.receive(frame(SASL_HANDSHAKE, 0, mechanism="PLAIN")), SASL_HANDSHAKE, 0
        ).error_code
        == 0
    )
    raw = memoryview(plain("bob", "bob-secret"))  # no request header: KIP-43
    assert auth.owns(raw)
    reply = auth.receive(raw)
    assert reply.failed is None
    assert b"".join(bytes(c) for c in reply.chunks) == struct.pack(">i", 0)  # empty challenge
    assert auth.authenticated and str(auth.principal) == "User:bob"


def test_session_expires_without_reauthentication() -> None:
    auth, clock = authenticator(reauth_ms=1000)
    _, body = login(auth, "alice", "alice-secret", version=1)
    assert body.session_lifetime.total_seconds() == 1.0
    metadata = frame(METADATA, 12, topics=None, allow_auto_topic_creation=False,
                     include_topic_authorized_operations=False)  # fmt: skip
    assert not auth.owns(metadata)
    clock.now += 2
    with pytest.raises(CloseConnectionError, match="expired"):
        auth.owns(metadata)


def test_reauthentication_renews_the_session() -> None:
    auth, clock = authenticator(reauth_ms=1000)
    login(auth, "alice", "alice-secret")
    clock.now += 0.9
    _, body = login(auth, "alice", "alice-secret")  # KIP-368: a new handshake, same principal
    assert body.error_code == 0
    clock.now += 0.9
    metadata = frame(METADATA, 12, topics=None, allow_auto_topic_creation=False,
                     include_topic_authorized_operations=False)  # fmt: skip
    assert not auth.owns(metadata)


def test_reauthentication_cannot_change_the_principal() -> None:
    auth, _ = authenticator(reauth_ms=1000)
    login(auth, "alice", "alice-secret")
    reply, body = login(auth, "bob", "bob-secret")
    assert reply.failed is not None and body.error_code == 58
    assert str(auth.principal) == "User:alice"


def test_authenticate_before_handshake_is_illegal() -> None:
    auth, _ = authenticator()
    reply = auth.receive(frame(SASL_AUTHENTICATE, 2, auth_bytes=plain("alice", "alice-secret")))
    assert response(reply, SASL_AUTHENTICATE, 2).error_code == 34  # ILLEGAL_SASL_STATE
    assert reply.failed is not None


def test_malformed_frame_is_a_parse_error() -> None:
    auth, _ = authenticator()
    with pytest.raises(RequestParseError):
        auth.receive(memoryview(b"\x00\x11\x00\x01\x00\x00\x00\x07\xff"))
