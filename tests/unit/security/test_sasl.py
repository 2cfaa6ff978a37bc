"""SASL servers: PLAIN and SCRAM exchanges driven by standard clients, and their failures."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
import scramp  # type: ignore[import-untyped]
from kafka.net.sasl.scram import ScramClient as KafkaPythonScramClient

from odradek.security.sasl import (
    AUTHORIZATION_ID_MISMATCH,
    AUTHORIZATION_ID_UNSUPPORTED,
    INVALID_USERNAME_OR_PASSWORD,
    SUPPORTED_MECHANISMS,
    TOKEN_AUTH_UNSUPPORTED,
    PlainSaslServer,
    SaslAuthenticationError,
    SaslServer,
    ScramSaslServer,
    create_sasl_server,
)
from odradek.security.scram import ScramCredential, ScramMechanism, credential_from_password

ALL = list(ScramMechanism)
USERS = {"alice": "alice-secret", "admin": "admin-secret"}


def generic(mechanism: str) -> str:
    return (
        "Authentication failed during authentication due to invalid credentials "
        f"with SASL mechanism {mechanism}"
    )


class Store:
    """SCRAM credentials by (mechanism, user), recording the look-ups."""

    def __init__(self, iterations: int = 4096) -> None:
        self.credentials = {
            (mechanism.mechanism_name, user): credential_from_password(
                mechanism, password, iterations
            )
            for mechanism in ScramMechanism
            for user, password in {**USERS, "a,b=c": "odd-name"}.items()
        }
        self.lookups: list[tuple[str, str]] = []

    def __call__(self, mechanism: str, user: str) -> ScramCredential | None:
        self.lookups.append((mechanism, user))
        return self.credentials.get((mechanism, user))


def scram_server(mechanism: ScramMechanism, store: Store | None = None) -> SaslServer:
    return create_sasl_server(
        mechanism.mechanism_name, plain_users={}, scram_credentials=store or Store()
    )


def scramp_client(mechanism: ScramMechanism, user: str, password: str) -> scramp.ScramClient:
    return scramp.ScramClient([mechanism.mechanism_name], user, password)


def first_round(server: SaslServer, client: scramp.ScramClient) -> str:
    """The client's first message through the server; the client-final message."""
    server_first = server.evaluate_response(client.get_client_first().encode())
    client.set_server_first(server_first.decode())
    client_final: str = client.get_client_final()
    return client_final


# -- SCRAM -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ALL)
def test_scram_exchange_with_scramps_client(mechanism: ScramMechanism) -> None:
    store = Store()
    server = scram_server(mechanism, store)
    assert server.mechanism == mechanism.mechanism_name
    client = scramp_client(mechanism, "alice", "alice-secret")
    client_final = first_round(server, client)
    assert not server.complete
    server_final = server.evaluate_response(client_final.encode())
    client.set_server_final(server_final.decode())  # verifies the server's signature
    assert server.complete
    assert server.authorization_id == "alice"
    assert store.lookups == [(mechanism.mechanism_name, "alice")]


@pytest.mark.parametrize("mechanism", ALL)
def test_scram_exchange_with_a_kafka_client_that_does_not_saslprep(
    mechanism: ScramMechanism,
) -> None:
    """kafka-python, like Kafka's own client, hashes the password's UTF-8 bytes as they are."""
    password = "no\u00a0break \u00e9t\u00e9"
    credential = credential_from_password(mechanism, password, 4096)
    server = create_sasl_server(
        mechanism.mechanism_name,
        plain_users={},
        scram_credentials=lambda _mechanism, user: credential if user == "bob" else None,
    )
    client = KafkaPythonScramClient("bob", password, mechanism.mechanism_name)
    client.process_server_first_message(server.evaluate_response(client.first_message()))
    client.process_server_final_message(server.evaluate_response(client.final_message()))
    assert server.authorization_id == "bob"


def test_escaped_user_name_is_looked_up_unescaped() -> None:
    store = Store()
    server = scram_server(ScramMechanism.SCRAM_SHA_256, store)
    client = scramp_client(ScramMechanism.SCRAM_SHA_256, "a,b=c", "odd-name")
    assert client.get_client_first().startswith("n,,n=a=2Cb=3Dc,")
    client = scramp_client(ScramMechanism.SCRAM_SHA_256, "a,b=c", "odd-name")
    server.evaluate_response(first_round(server, client).encode())
    assert server.authorization_id == "a,b=c"
    assert store.lookups == [("SCRAM-SHA-256", "a,b=c")]


@pytest.mark.parametrize("mechanism", ALL)
def test_scram_wrong_password_fails_the_final_round(mechanism: ScramMechanism) -> None:
    server = scram_server(mechanism)
    client_final = first_round(server, scramp_client(mechanism, "alice", "wrong"))
    with pytest.raises(SaslAuthenticationError) as failure:
        server.evaluate_response(client_final.encode())
    assert str(failure.value) == generic(mechanism.mechanism_name)
    assert not server.complete


@pytest.mark.parametrize("mechanism", ALL)
def test_scram_unknown_user_fails_like_a_wrong_password(mechanism: ScramMechanism) -> None:
    server = scram_server(mechanism)
    client = scramp_client(mechanism, "mallory", "guess")
    server_first = server.evaluate_response(client.get_client_first().encode()).decode()
    client.set_server_first(server_first)
    with pytest.raises(SaslAuthenticationError) as failure:
        server.evaluate_response(client.get_client_final().encode())
    assert str(failure.value) == generic(mechanism.mechanism_name)

    # A made-up salt, the same on the next attempt, as a real user's would be.
    salt_and_iterations = server_first.split(",", 1)[1]
    assert salt_and_iterations.endswith(",i=4096")
    assert salt_and_iterations == salt_and_iterations_for("mallory", mechanism)
    assert salt_and_iterations != salt_and_iterations_for("mallory2", mechanism)


def salt_and_iterations_for(user: str, mechanism: ScramMechanism) -> str:
    server_first = scram_server(mechanism).evaluate_response(f"n,,n={user},r=abc".encode())
    return server_first.decode().split(",", 1)[1]


def tamper_proof(client_final: str) -> str:
    head, proof = client_final.rsplit(",p=", 1)
    raw = bytearray(base64.b64decode(proof))
    raw[0] ^= 1
    return f"{head},p={base64.b64encode(raw).decode()}"


def tamper_nonce(client_final: str) -> str:
    channel, nonce, proof = client_final.split(",")
    return f"{channel},{nonce[:-1]}{'A' if nonce[-1] != 'A' else 'B'},{proof}"


def tamper_channel_binding(client_final: str) -> str:
    return client_final.replace("c=biws,", "c=eSws,", 1)  # "y,," for "n,,"


@pytest.mark.parametrize("tamper", [tamper_proof, tamper_nonce, tamper_channel_binding])
@pytest.mark.parametrize("mechanism", ALL)
def test_scram_tampered_final_message(
    mechanism: ScramMechanism, tamper: Callable[[str], str]
) -> None:
    server = scram_server(mechanism)
    client_final = first_round(server, scramp_client(mechanism, "alice", "alice-secret"))
    with pytest.raises(SaslAuthenticationError, match=generic(mechanism.mechanism_name)):
        server.evaluate_response(tamper(client_final).encode())


@pytest.mark.parametrize(
    "client_first",
    [
        b"y,,n=alice,r=abc",  # Kafka accepts only gs2 flag "n"
        b"p=tls-server-end-point,,n=alice,r=abc",
        b"n,,n=alice",
        b"n,,r=abc,n=alice",
        b"n,,n=,r=abc",
        b"n,,n=al=ice,r=abc",
        b"n,,n=\xc3\xa9,r=abc",  # Kafka's user names are ASCII
        b"n,,n=alice,r=abc,p=proof",
        b"n,,n=alice,r=abc,ext=value",  # scramp cannot parse multi-letter extensions
        b"\xff\xfe",
        b"",
    ],
)
def test_scram_malformed_client_first(client_first: bytes) -> None:
    server = scram_server(ScramMechanism.SCRAM_SHA_512)
    with pytest.raises(SaslAuthenticationError, match=generic("SCRAM-SHA-512")):
        server.evaluate_response(client_first)


def test_scram_malformed_client_final() -> None:
    server = scram_server(ScramMechanism.SCRAM_SHA_256)
    first_round(server, scramp_client(ScramMechanism.SCRAM_SHA_256, "alice", "alice-secret"))
    with pytest.raises(SaslAuthenticationError, match=generic("SCRAM-SHA-256")):
        server.evaluate_response(b"c=biws,p=xyz")


def test_scram_token_authentication_is_refused_clearly() -> None:
    server = scram_server(ScramMechanism.SCRAM_SHA_256)
    with pytest.raises(SaslAuthenticationError) as failure:
        server.evaluate_response(b"n,,n=tokenid,r=abc,tokenauth=true")
    assert str(failure.value) == TOKEN_AUTH_UNSUPPORTED


def test_scram_authorization_id() -> None:
    server = scram_server(ScramMechanism.SCRAM_SHA_256)
    with pytest.raises(SaslAuthenticationError) as failure:
        server.evaluate_response(b"n,a=admin,n=alice,r=abc")
    assert str(failure.value) == AUTHORIZATION_ID_MISMATCH
    server = scram_server(ScramMechanism.SCRAM_SHA_256)
    with pytest.raises(SaslAuthenticationError) as failure:
        server.evaluate_response(b"n,a=alice,n=alice,r=abc")
    assert str(failure.value) == AUTHORIZATION_ID_UNSUPPORTED


def test_scram_credential_below_the_minimum_iterations_fails() -> None:
    weak = ScramCredential(b"0123456789abcdef", b"s" * 32, b"k" * 32, 1000)
    server = ScramSaslServer(ScramMechanism.SCRAM_SHA_256, lambda _user: weak)
    with pytest.raises(SaslAuthenticationError, match=generic("SCRAM-SHA-256")):
        server.evaluate_response(b"n,,n=alice,r=abc")


def test_scram_failure_ends_the_exchange() -> None:
    server = scram_server(ScramMechanism.SCRAM_SHA_256)
    with pytest.raises(SaslAuthenticationError):
        server.evaluate_response(b"garbage")
    client = scramp_client(ScramMechanism.SCRAM_SHA_256, "alice", "alice-secret")
    with pytest.raises(SaslAuthenticationError, match="exchange is failed"):
        server.evaluate_response(client.get_client_first().encode())


def test_scram_no_token_after_completion() -> None:
    server = scram_server(ScramMechanism.SCRAM_SHA_256)
    client = scramp_client(ScramMechanism.SCRAM_SHA_256, "alice", "alice-secret")
    server.evaluate_response(first_round(server, client).encode())
    with pytest.raises(SaslAuthenticationError, match="exchange is complete"):
        server.evaluate_response(b"n,,n=alice,r=abc")
    assert server.authorization_id == "alice"


def test_reauthentication_wording() -> None:
    server = create_sasl_server(
        "SCRAM-SHA-512",
        plain_users={},
        scram_credentials=Store(),
        reauthentication=True,
    )
    with pytest.raises(SaslAuthenticationError) as failure:
        server.evaluate_response(b"nonsense")
    assert str(failure.value) == (
        "Authentication failed during re-authentication due to invalid credentials "
        "with SASL mechanism SCRAM-SHA-512"
    )


def test_authorization_id_before_completion() -> None:
    server = scram_server(ScramMechanism.SCRAM_SHA_256)
    with pytest.raises(RuntimeError, match="has not completed"):
        _ = server.authorization_id


# -- PLAIN -----------------------------------------------------------------------------------


def plain_server() -> SaslServer:
    return create_sasl_server("PLAIN", plain_users=USERS, scram_credentials=Store())


@pytest.mark.parametrize("authzid", [b"", b"alice"])
def test_plain_success(authzid: bytes) -> None:
    server = plain_server()
    assert isinstance(server, PlainSaslServer)
    assert server.mechanism == "PLAIN"
    assert server.evaluate_response(authzid + b"\0alice\0alice-secret") == b""
    assert server.complete
    assert server.authorization_id == "alice"


@pytest.mark.parametrize(
    "token", [b"\0alice\0admin-secret", b"\0mallory\0alice-secret", b"\0alice\0alice-secre"]
)
def test_plain_invalid_username_or_password(token: bytes) -> None:
    server = plain_server()
    with pytest.raises(SaslAuthenticationError) as failure:
        server.evaluate_response(token)
    assert str(failure.value) == INVALID_USERNAME_OR_PASSWORD
    assert not server.complete


def test_plain_authorization_id_must_be_the_user() -> None:
    with pytest.raises(SaslAuthenticationError) as failure:
        plain_server().evaluate_response(b"admin\0alice\0alice-secret")
    assert str(failure.value) == AUTHORIZATION_ID_MISMATCH
    # The password is checked first: a wrong one says so, whatever the authzid.
    with pytest.raises(SaslAuthenticationError, match=INVALID_USERNAME_OR_PASSWORD):
        plain_server().evaluate_response(b"admin\0alice\0wrong")


@pytest.mark.parametrize(
    "token",
    [
        b"",
        b"alice",
        b"alice\0alice-secret",
        b"\0alice\0alice-secret\0",
        b"\0\0alice-secret",
        b"\0alice\0",
        b"\0alice\0\xff",
    ],
)
def test_plain_malformed(token: bytes) -> None:
    with pytest.raises(SaslAuthenticationError, match=generic("PLAIN")):
        plain_server().evaluate_response(token)


def test_plain_one_message_only() -> None:
    server = plain_server()
    with pytest.raises(SaslAuthenticationError):
        server.evaluate_response(b"\0alice\0wrong")
    with pytest.raises(SaslAuthenticationError, match="exchange is failed"):
        server.evaluate_response(b"\0alice\0alice-secret")
    server = plain_server()
    server.evaluate_response(b"\0alice\0alice-secret")
    with pytest.raises(SaslAuthenticationError, match="exchange is complete"):
        server.evaluate_response(b"\0alice\0alice-secret")


# -- the factory -----------------------------------------------------------------------------


def test_supported_mechanisms() -> None:
    assert SUPPORTED_MECHANISMS == ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
    for mechanism in SUPPORTED_MECHANISMS:
        server = create_sasl_server(mechanism, plain_users={}, scram_credentials=Store())
        assert server.mechanism == mechanism
        assert not server.complete


@pytest.mark.parametrize("mechanism", ["GSSAPI", "OAUTHBEARER", "SCRAM-SHA-1", "plain"])
def test_unsupported_mechanism(mechanism: str) -> None:
    with pytest.raises(ValueError, match=f"Unsupported SASL mechanism {mechanism}"):
        create_sasl_server(mechanism, plain_users={}, scram_credentials=Store())
