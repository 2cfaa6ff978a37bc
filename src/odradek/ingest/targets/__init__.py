"""Targets by URL scheme: ``duckdb:///...`` (embedded, the default), ``postgresql://...``,
``clickhouse://...``. Each driver is imported only when its target is used."""

from __future__ import annotations

from odradek.ingest.errors import SettingsError
from odradek.ingest.settings import IngestSettings
from odradek.ingest.targets.base import Destination, Session, Target

__all__ = ["Destination", "Session", "Target", "open_target"]


def open_target(settings: IngestSettings) -> Target:
    url = settings.target
    scheme = url.partition("://")[0].lower()
    if scheme == "duckdb":
        from odradek.ingest.targets.duckdb import DuckDBTarget

        return DuckDBTarget(url)
    if scheme in ("postgresql", "postgres"):
        try:
            from odradek.ingest.targets.postgresql import PostgreSQLTarget
        except ImportError as exc:
            raise SettingsError(_driver_hint("psycopg", "postgresql", exc)) from None
        return PostgreSQLTarget(url)
    if scheme == "clickhouse":
        from odradek.ingest.targets.clickhouse import ClickHouseTarget

        return ClickHouseTarget(settings)
    raise SettingsError(
        f"unknown target {url!r}: duckdb:///FILE, duckdb:////ABSOLUTE/FILE, postgresql://... "
        "or clickhouse://HOST:HTTP_PORT/DATABASE"
    )


def _driver_hint(module: str, extra: str, exc: ImportError) -> str:
    if not (exc.name or "").startswith(module):
        raise exc
    return f"the {extra} target needs {module}: pip install 'odradek[{extra}]'"
