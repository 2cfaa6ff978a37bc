"""SCRAM credentials: Kafka's mechanisms, derivation (RFC 7677 vector), Kafka's text form."""

from __future__ import annotations

import base64
import hashlib

import pytest
import scramp  # type: ignore[import-untyped]

from odradek.security.scram import (
    ScramCredential,
    ScramMechanism,
    credential_from_password,
    credential_from_salted_password,
    format_credential,
    parse_credential,
)

# RFC 7677 section 3: user "user", password "pencil".
RFC7677_SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
RFC7677_CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
RFC7677_SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
RFC7677_SERVER_FIRST = (
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
RFC7677_CLIENT_FINAL = (
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
RFC7677_SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

ALL = list(ScramMechanism)


def test_mechanisms_are_kafkas() -> None:
    assert [(m.type, m.mechanism_name) for m in ScramMechanism] == [
        (1, "SCRAM-SHA-256"),
        (2, "SCRAM-SHA-512"),
    ]
    assert ScramMechanism(2) is ScramMechanism.SCRAM_SHA_512
    assert ScramMechanism.from_mechanism_name("SCRAM-SHA-256") is ScramMechanism.SCRAM_SHA_256
    assert all((m.min_iterations, m.max_iterations) == (4096, 16384) for m in ScramMechanism)
    with pytest.raises(ValueError, match="Unknown SCRAM mechanism SCRAM-SHA-1"):
        ScramMechanism.from_mechanism_name("SCRAM-SHA-1")


def test_rfc7677_vector_authenticates_through_scramps_server() -> None:
    """The credential derived here answers RFC 7677's exchange byte for byte."""
    credential = credential_from_password(
        ScramMechanism.SCRAM_SHA_256, "pencil", 4096, RFC7677_SALT
    )
    auth_info = (credential.salt, credential.stored_key, credential.server_key, 4096)
    server = scramp.ScramMechanism("SCRAM-SHA-256").make_server(
        lambda user: auth_info if user == "user" else None, s_nonce=RFC7677_SERVER_NONCE
    )
    server.set_client_first(RFC7677_CLIENT_FIRST)
    assert server.get_server_first() == RFC7677_SERVER_FIRST
    server.set_client_final(RFC7677_CLIENT_FINAL)
    assert server.get_server_final() == RFC7677_SERVER_FINAL


@pytest.mark.parametrize("mechanism", ALL)
def test_same_credential_as_scramp_for_an_ascii_password(mechanism: ScramMechanism) -> None:
    salt = bytes(range(16))
    credential = credential_from_password(mechanism, "alice-secret", 8192, salt)
    expected = scramp.ScramMechanism(mechanism.mechanism_name).make_auth_info(
        "alice-secret", 8192, salt
    )
    assert (credential.salt, credential.stored_key, credential.server_key, 8192) == expected


@pytest.mark.parametrize("mechanism", ALL)
def test_salted_password_gives_the_same_credential(mechanism: ScramMechanism) -> None:
    salt = b"0123456789abcdef"
    salted = hashlib.pbkdf2_hmac(mechanism.hash_name, "s3cr\u00e9t".encode(), salt, 4096)
    assert credential_from_salted_password(
        mechanism, salted, salt, 4096
    ) == credential_from_password(mechanism, "s3cr\u00e9t", 4096, salt)


def test_password_is_not_saslprepped() -> None:
    """Kafka hashes the password's UTF-8 bytes; SASLprep would map U+00A0 to a space."""
    mechanism = ScramMechanism.SCRAM_SHA_256
    salt = b"0123456789abcdef"
    salted = hashlib.pbkdf2_hmac("sha256", "no\u00a0break".encode(), salt, 4096)
    assert credential_from_password(
        mechanism, "no\u00a0break", 4096, salt
    ) == credential_from_salted_password(mechanism, salted, salt, 4096)
    assert credential_from_password(
        mechanism, "no\u00a0break", 4096, salt
    ) != credential_from_password(mechanism, "no break", 4096, salt)


@pytest.mark.parametrize("mechanism", ALL)
def test_random_salt_and_key_sizes(mechanism: ScramMechanism) -> None:
    first = credential_from_password(mechanism, "pw", 4096)
    second = credential_from_password(mechanism, "pw", 4096)
    assert len(first.salt) == 32
    assert first.salt != second.salt
    assert first.stored_key != second.stored_key
    digest_size = hashlib.new(mechanism.hash_name).digest_size
    assert len(first.stored_key) == len(first.server_key) == digest_size


@pytest.mark.parametrize(
    ("iterations", "message"), [(4095, "Too few iterations"), (16385, "Too many iterations")]
)
def test_iterations_out_of_bounds(iterations: int, message: str) -> None:
    for mechanism in ScramMechanism:
        with pytest.raises(ValueError, match=message):
            credential_from_password(mechanism, "pw", iterations)
        with pytest.raises(ValueError, match=message):
            credential_from_salted_password(mechanism, b"x" * 32, b"salt", iterations)


def test_iterations_bounds_are_inclusive() -> None:
    mechanism = ScramMechanism.SCRAM_SHA_512
    assert credential_from_password(mechanism, "pw", 4096).iterations == 4096
    assert credential_from_password(mechanism, "pw", 16384).iterations == 16384


def test_kafka_text_form() -> None:
    credential = ScramCredential(
        salt=b"\x00\x01\x02", stored_key=b"stored", server_key=b"server!", iterations=4096
    )
    text = format_credential(credential)
    assert text == "salt=AAEC,stored_key=c3RvcmVk,server_key=c2VydmVyIQ==,iterations=4096"
    assert parse_credential(text) == credential


@pytest.mark.parametrize("mechanism", ALL)
def test_text_form_round_trip(mechanism: ScramMechanism) -> None:
    credential = credential_from_password(mechanism, "alice-secret", 4096)
    assert parse_credential(format_credential(credential)) == credential


def test_parse_accepts_any_key_order_and_unpadded_base64() -> None:
    credential = parse_credential(
        "iterations=8192,server_key=c2VydmVyIQ,stored_key=c3RvcmVk,salt=AAEC"
    )
    assert credential == ScramCredential(b"\x00\x01\x02", b"stored", b"server!", 8192)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "salt=AAEC,stored_key=c3RvcmVk,server_key=c2VydmVyIQ==",
        "salt=AAEC,stored_key=c3RvcmVk,server_key=c2VydmVyIQ==,iterations=4096,extra=1",
        "salt=AAEC,salt=AAEC,stored_key=c3RvcmVk,server_key=c2VydmVyIQ==,iterations=4096",
        "salt=AAEC,stored_key=c3RvcmVk,server_key=c2VydmVyIQ==,iterations=4096,",
        "AAEC,stored_key=c3RvcmVk,server_key=c2VydmVyIQ==,iterations=4096",
        "=AAEC,stored_key=c3RvcmVk,server_key=c2VydmVyIQ==,iterations=4096",
        "salt=AA*C,stored_key=c3RvcmVk,server_key=c2VydmVyIQ==,iterations=4096",
        "salt=A,stored_key=c3RvcmVk,server_key=c2VydmVyIQ==,iterations=4096",
        "salt=AAEC,stored_key=c3RvcmVk,server_key=c2VydmVyIQ==,iterations=many",
        "salt=AAEC,stored_key=c3RvcmVk,server_key=c2VydmVyIQ==,iterations=-4096",
        "salt=AAEC,stored_key=c3RvcmVk,server_key=c2VydmVyIQ==,iterations=",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="SCRAM credential not valid"):
        parse_credential(text)


def test_repr_hides_the_keys() -> None:
    credential = ScramCredential(b"salt-bytes", b"stored-bytes", b"server-bytes", 4096)
    assert repr(credential) == "ScramCredential(iterations=4096)"
