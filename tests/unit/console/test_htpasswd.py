"""htpasswd entries: APR1/MD5-crypt, {SHA} and plain verify; schemes the console cannot check
are refused when the file is read."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from odradek.console.htpasswd import HtpasswdError, md5_crypt, parse_htpasswd, read_htpasswd

# `openssl passwd -apr1 -salt abcdefgh secret` and `openssl passwd -1 -salt abcdefgh secret`.
APR1_SECRET = "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"
MD5_SECRET = "$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1"


def test_md5_crypt_matches_openssl() -> None:
    assert md5_crypt("secret", "abcdefgh") == APR1_SECRET
    assert md5_crypt("secret", "abcdefgh", "$1$") == MD5_SECRET


def test_md5_crypt_of_long_and_empty_passwords_round_trips() -> None:
    long = "p" * 40  # more than 16 bytes: the alternate digest is added more than once
    users = parse_htpasswd(f"a:{md5_crypt(long, 'salt1234')}\nb:{md5_crypt('', 'x')}\n")
    assert users.verify("a", long)
    assert not users.verify("a", long[:-1])
    assert users.verify("b", "")


def test_schemes_verify() -> None:
    sha = "{SHA}" + base64.b64encode(hashlib.sha1(b"pw-sha").digest()).decode()
    users = parse_htpasswd(
        f"# comment\n\nalice:{APR1_SECRET}\nbob:{MD5_SECRET}\ncarol:{sha}\ndave:plain pw\n"
    )
    assert users.verify("alice", "secret")
    assert users.verify("bob", "secret")
    assert users.verify("carol", "pw-sha")
    assert users.verify("dave", "plain pw")
    assert not users.verify("alice", "Secret")
    assert not users.verify("carol", "pw")
    assert not users.verify("erin", "secret")


@pytest.mark.parametrize(
    ("entry", "scheme"),
    [
        ("$2y$05$abcdefghijklmnopqrstuuQv6t5dkhVzF4yRr0ZQ5oKQk6Q0Yxv1W", "bcrypt"),
        ("$6$salt$hash", "SHA-512-crypt"),
        ("abJnggxhB/yWI", "crypt(3) DES"),
    ],
)
def test_unsupported_schemes_are_refused_naming_the_line(entry: str, scheme: str) -> None:
    with pytest.raises(HtpasswdError) as caught:
        parse_htpasswd(f"alice:{APR1_SECRET}\nbob:{entry}\n", "users.htpasswd")
    assert str(caught.value) == (
        f"users.htpasswd line 2 (bob): {scheme} hashes are not supported; write the file with "
        "htpasswd -m (APR1 MD5) or -s (SHA-1)"
    )


def test_malformed_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(HtpasswdError, match="line 1: expected user:hash"):
        parse_htpasswd("no separator\n")
    with pytest.raises(HtpasswdError, match="no users"):
        parse_htpasswd("# only a comment\n")
    with pytest.raises(HtpasswdError, match="cannot read"):
        read_htpasswd(tmp_path / "missing")
    path = tmp_path / "users"
    path.write_text(f"alice:{APR1_SECRET}\n")
    assert read_htpasswd(path).verify("alice", "secret")
