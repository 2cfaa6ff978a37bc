"""SASL clients (a broker connecting to another): PLAIN and SCRAM exchanges against the
broker's own SASL servers, and the server answers a client must refuse."""

from __future__ import annotations

import base64

import pytest

from odradek.security.sasl import (
    INVALID_USERNAME_OR_PASSWORD,
    SaslAuthenticationError,
    SaslServer,
    create_sasl_server,
)
from odradek.security.sasl_client import (
    PlainSaslClient,
    SaslClient,
    ScramSaslClient,
    create_sasl_client,
)
from odradek.security.scram import ScramCredential, ScramMechanism, credential_from_password

ALL = list(ScramMechanism)
USERS = {"broker": "broker-secret", "a,b=c": "odd-name"}


def credentials(mechanism: str, user: str) -> ScramCredential | None:
    password = USERS.get(user)
    if password is None:
        return None
    return credential_from_password(ScramMechanism.from_mechanism_name(mechanism), password, 4096)


def server_for(mechanism: str) -> SaslServer:
    return create_sasl_server(mechanism, plain_users=USERS, scram_credentials=credentials)


def run(client: SaslClient, server: SaslServer) -> None:
    """The exchange as a connection drives it: tokens to the server until the client is
    complete; the server's failures propagate."""
    challenge = server.evaluate_response(client.initial_response())
    while not client.complete:
        token = client.evaluate_challenge(challenge)
        if client.complete:
            break
        challenge = server.evaluate_response(token)


# -- PLAIN -----------------------------------------------------------------------------------


def test_plain_exchange() -> None:
    client = create_sasl_client("PLAIN", "broker", "broker-secret")
    assert isinstance(client, PlainSaslClient) and client.mechanism == "PLAIN"
    server = server_for("PLAIN")
    assert client.initial_response() == b"\0broker\0broker-secret"
    assert client.complete
    assert server.evaluate_response(b"\0broker\0broker-secret") == b""
    assert server.authorization_id == "broker"
    with pytest.raises(SaslAuthenticationError):
        client.evaluate_challenge(b"")
    with pytest.raises(SaslAuthenticationError):
        client.initial_response()


def test_plain_wrong_password_is_refused_by_the_server() -> None:
    with pytest.raises(SaslAuthenticationError, match=INVALID_USERNAME_OR_PASSWORD):
        run(create_sasl_client("PLAIN", "broker", "wrong"), server_for("PLAIN"))


def test_plain_needs_credentials_without_nul() -> None:
    for user, password in (("", "x"), ("broker", ""), ("bro\0ker", "x")):
        with pytest.raises(ValueError, match="PLAIN"):
            PlainSaslClient(user, password)


# -- SCRAM -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ALL)
def test_scram_exchange(mechanism: ScramMechanism) -> None:
    name = mechanism.mechanism_name
    client = create_sasl_client(name, "broker", "broker-secret")
    assert isinstance(client, ScramSaslClient) and client.mechanism == name
    server = server_for(name)
    run(client, server)
    assert client.complete and server.complete
    assert server.authorization_id == "broker"
    with pytest.raises(SaslAuthenticationError, match="complete"):
        client.evaluate_challenge(b"v=anything")


def test_scram_user_name_is_escaped() -> None:
    client = create_sasl_client("SCRAM-SHA-256", "a,b=c", "odd-name")
    server = server_for("SCRAM-SHA-256")
    run(client, server)
    assert server.authorization_id == "a,b=c"


@pytest.mark.parametrize("mechanism", ALL)
def test_scram_wrong_password_is_refused_by_the_server(mechanism: ScramMechanism) -> None:
    with pytest.raises(SaslAuthenticationError, match="invalid credentials"):
        run(
            create_sasl_client(mechanism.mechanism_name, "broker", "wrong"),
            server_for(mechanism.mechanism_name),
        )


@pytest.mark.parametrize("mechanism", ALL)
def test_a_wrong_server_signature_fails_the_exchange(mechanism: ScramMechanism) -> None:
    """A server that does not know the credential cannot prove it: the client refuses its
    final message."""
    name = mechanism.mechanism_name
    client = create_sasl_client(name, "broker", "broker-secret")
    server = server_for(name)
    client_final = client.evaluate_challenge(server.evaluate_response(client.initial_response()))
    server.evaluate_response(client_final)  # the real server-final message is dropped
    forged = b"v=" + base64.b64encode(b"\0" * 32)
    with pytest.raises(SaslAuthenticationError, match="server-final"):
        client.evaluate_challenge(forged)
    assert not client.complete
    with pytest.raises(SaslAuthenticationError):
        client.evaluate_challenge(forged)  # no second attempt


def test_server_errors_and_malformed_messages_fail_the_exchange() -> None:
    client = create_sasl_client("SCRAM-SHA-256", "broker", "broker-secret")
    client.initial_response()
    with pytest.raises(SaslAuthenticationError, match="server-first"):
        client.evaluate_challenge(b"e=other-error")
    client = create_sasl_client("SCRAM-SHA-256", "broker", "broker-secret")
    client.initial_response()
    with pytest.raises(SaslAuthenticationError, match="server-first"):
        client.evaluate_challenge(b"r=not-my-nonce,s=c2FsdA==,i=4096")
    client = create_sasl_client("SCRAM-SHA-256", "broker", "broker-secret")
    client.initial_response()
    with pytest.raises(SaslAuthenticationError):
        client.evaluate_challenge(b"\xff\xfe")


def test_too_few_iterations_are_refused() -> None:
    """Kafka's clients refuse a server-first message asking for fewer than 4096 iterations
    (scramp checks it)."""
    client = create_sasl_client("SCRAM-SHA-512", "broker", "broker-secret")
    client_first = client.initial_response().decode()
    nonce = client_first.rpartition("r=")[2]
    salt = base64.b64encode(b"sixteen salt byt").decode()
    with pytest.raises(SaslAuthenticationError, match="4096"):
        client.evaluate_challenge(f"r={nonce}server,s={salt},i=1000".encode())


def test_initial_response_only_once() -> None:
    client = create_sasl_client("SCRAM-SHA-256", "broker", "broker-secret")
    client.initial_response()
    with pytest.raises(SaslAuthenticationError, match="initial response"):
        client.initial_response()


@pytest.mark.parametrize(
    ("user", "password"),
    [("broker", "no\u00a0break"), ("bro\u2163", "secret"), ("broker", "bell\u0007"), ("", "x")],
)
def test_credentials_saslprep_would_change_are_refused(user: str, password: str) -> None:
    """Kafka hashes names and passwords as they are; scramp would SASLprep them first."""
    with pytest.raises(ValueError, match="SCRAM-SHA-256"):
        create_sasl_client("SCRAM-SHA-256", user, password)


def test_unsupported_mechanism() -> None:
    with pytest.raises(ValueError, match="GSSAPI"):
        create_sasl_client("GSSAPI", "broker", "broker-secret")
