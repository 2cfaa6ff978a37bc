"""ClickHouse's HTTP interface, as old servers speak it (Debian's 18.16 included): a statement
in the ``query`` parameter, the data of an ``INSERT`` in the body, settings as parameters.

``clickhouse://[user[:password]@]host[:port][/database]`` (port 8123 by default). A server
that cannot be reached, or answers with an error that passes (ZooKeeper lost, too many parts,
an insert of unknown outcome), is :class:`TargetUnavailable`: the block is tried again. Any
other error is the server's message as an :class:`IngestError`."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from odradek.ingest.errors import IngestError, SettingsError, TargetUnavailable

DEFAULT_PORT = 8123
TIMEOUT_S = 300.0

# Error codes of a server that will accept the same request later: timeouts and network
# errors, ZooKeeper lost (a replicated table is read-only meanwhile), too many parts or
# queries, and UNKNOWN_STATUS_OF_INSERT.
RETRIABLE_CODES = frozenset({159, 164, 202, 209, 210, 225, 242, 252, 319, 999})
_CODE = re.compile(r"Code: (\d+)")


@dataclass(frozen=True)
class ClickHouseURL:
    host: str
    port: int
    database: str
    user: str | None = None
    password: str | None = None

    @property
    def redacted(self) -> str:
        user = f"{self.user}{':***' if self.password else ''}@" if self.user else ""
        return f"clickhouse://{user}{self.host}:{self.port}/{self.database}"


def parse_url(url: str) -> ClickHouseURL:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "clickhouse" or not parts.hostname:
        raise SettingsError(
            f"a ClickHouse target is clickhouse://HOST:HTTP_PORT/DATABASE, got {url!r}"
        )
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise SettingsError(f"bad port in {url!r}") from None
    return ClickHouseURL(
        parts.hostname,
        port,
        parts.path.strip("/") or "default",
        urllib.parse.unquote(parts.username) if parts.username else None,
        urllib.parse.unquote(parts.password) if parts.password else None,
    )


class ClickHouseHTTP:
    """Statements over HTTP to one server (a new connection per request: urllib's)."""

    def __init__(self, url: ClickHouseURL) -> None:
        self.url = url

    def query(self, sql: str) -> str:
        """A statement's output (TabSeparated for a SELECT)."""
        return self._post(sql, b"").decode()

    def rows(self, sql: str) -> list[list[str]]:
        return [line.split("\t") for line in self.query(sql).splitlines()]

    def insert(self, table: str, columns: list[str], data: bytes) -> None:
        """``data`` (TabSeparated) into ``table``, with insert deduplication on."""
        names = ", ".join(quote(c) for c in columns)
        self._post(
            f"INSERT INTO {quote(table)} ({names}) FORMAT TabSeparated",
            data,
            insert_deduplicate="1",
        )

    def _post(self, sql: str, body: bytes, **settings: str) -> bytes:
        params = {"query": sql, "database": self.url.database, **settings}
        if self.url.user:
            params["user"] = self.url.user
        if self.url.password:
            params["password"] = self.url.password
        address = f"http://{self.url.host}:{self.url.port}/?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(address, data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            message = exc.read().decode(errors="replace").strip()
            code = _CODE.search(message)
            if exc.code >= 500 and code is not None and int(code.group(1)) in RETRIABLE_CODES:
                raise TargetUnavailable(f"ClickHouse {self.url.redacted}: {message}") from None
            raise IngestError(f"ClickHouse {self.url.redacted}: {message}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise TargetUnavailable(f"ClickHouse {self.url.redacted}: {reason}") from None


def quote(name: str) -> str:
    """A ClickHouse identifier in backquotes."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def literal(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
