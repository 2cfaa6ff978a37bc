"""Apache htpasswd files for ``--basic-auth-file``: one ``user:hash`` a line.

Hashes understood: ``{SHA}`` (``htpasswd -s``), APR1 MD5 (``$apr1$``, ``htpasswd -m``, the
default of Apache's htpasswd) and the same MD5-crypt with ``$1$`` (``openssl passwd -1``), and
plain text (``htpasswd -p``). bcrypt (``$2y$``, ``htpasswd -B``), SHA-crypt (``$5$``, ``$6$``)
and crypt(3) DES entries are refused when the file is read, naming the line, so a user is
never silently locked out or let in by a hash the console cannot check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DES_CRYPT = re.compile(r"[./0-9A-Za-z]{13}")
# (first, second, third) bytes of the MD5-crypt digest, each triple encoded as 4 characters.
_MD5_CRYPT_ORDER = ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))
_REFUSED_PREFIXES = {
    "$2y$": "bcrypt",
    "$2a$": "bcrypt",
    "$2b$": "bcrypt",
    "$5$": "SHA-256-crypt",
    "$6$": "SHA-512-crypt",
}


class HtpasswdError(ValueError):
    """An htpasswd file that cannot be used; ``str()`` names the file and line."""


@dataclass(frozen=True)
class Htpasswd:
    """The users of an htpasswd file and their password hashes."""

    entries: Mapping[str, str]

    def verify(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s (False for an unknown user)."""
        stored = self.entries.get(user)
        if stored is None:
            return False
        return hmac.compare_digest(hash_like(stored, password).encode(), stored.encode())


def parse_htpasswd(text: str, source: str = "htpasswd") -> Htpasswd:
    """The entries of an htpasswd file's text; blank lines and ``#`` comments are skipped."""
    entries: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, stored = line.partition(":")
        if not sep or not user:
            raise HtpasswdError(f"{source} line {number}: expected user:hash")
        refused = _refused_scheme(stored)
        if refused is not None:
            raise HtpasswdError(
                f"{source} line {number} ({user}): {refused} hashes are not supported; "
                "write the file with htpasswd -m (APR1 MD5) or -s (SHA-1)"
            )
        entries[user] = stored
    if not entries:
        raise HtpasswdError(f"{source}: no users")
    return Htpasswd(entries)


def read_htpasswd(path: str | Path) -> Htpasswd:
    """``parse_htpasswd`` of a file; ``HtpasswdError`` when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HtpasswdError(f"cannot read {path}: {exc}") from exc
    return parse_htpasswd(text, str(path))


def _refused_scheme(stored: str) -> str | None:
    for prefix, name in _REFUSED_PREFIXES.items():
        if stored.startswith(prefix):
            return name
    if _DES_CRYPT.fullmatch(stored):
        return "crypt(3) DES"
    return None


def hash_like(stored: str, password: str) -> str:
    """``password`` hashed the way ``stored`` is (scheme and salt), to compare with it."""
    if stored.startswith("{SHA}"):
        return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    for magic in ("$apr1$", "$1$"):
        if stored.startswith(magic):
            salt = stored[len(magic) :].split("$", 1)[0]
            return md5_crypt(password, salt, magic)
    return password


def md5_crypt(password: str, salt: str, magic: str = "$apr1$") -> str:
    """Poul-Henning Kamp's MD5-crypt, as ``$apr1$`` (Apache) or ``$1$`` (glibc) name it."""
    secret, salt_bytes, magic_bytes = password.encode(), salt[:8].encode(), magic.encode()
    alternate = hashlib.md5(secret + salt_bytes + secret).digest()
    context = secret + magic_bytes + salt_bytes
    for remaining in range(len(secret), 0, -16):
        context += alternate[: min(16, remaining)]
    length = len(secret)
    while length:
        context += b"\x00" if length & 1 else secret[:1]
        length >>= 1
    digest = hashlib.md5(context).digest()
    for round_ in range(1000):
        step = secret if round_ & 1 else digest
        if round_ % 3:
            step += salt_bytes
        if round_ % 7:
            step += secret
        step += digest if round_ & 1 else secret
        digest = hashlib.md5(step).digest()
    encoded = "".join(
        _to64((digest[a] << 16) | (digest[b] << 8) | digest[c], 4) for a, b, c in _MD5_CRYPT_ORDER
    )
    encoded += _to64(digest[11], 2)
    return f"{magic}{salt[:8]}${encoded}"


def _to64(value: int, count: int) -> str:
    chars = []
    for _ in range(count):
        chars.append(_ITOA64[value & 0x3F])
        value >>= 6
    return "".join(chars)
