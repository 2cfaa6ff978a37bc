"""DuckDB, the embedded default target: ``duckdb:///relative.duckdb``,
``duckdb:////absolute/path.duckdb``.

A block is one DuckDB transaction: the rows (scanned from NumPy object arrays, not inserted
row by row), the error rows and the compare-and-set of each partition's stored offset. Each
consumer thread works on its own cursor of one database connection."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from odradek.ingest.batch import TopicPartition, WriteJob
from odradek.ingest.columns import ERROR_COLUMNS, Column, Kind, kind_of
from odradek.ingest.errors import IngestError, OffsetConflict, SettingsError
from odradek.ingest.rows import Value
from odradek.ingest.targets.base import Destination, int_type, quote

_DDL = {
    Kind.FLOAT: "DOUBLE",
    Kind.BOOL: "BOOLEAN",
    Kind.STRING: "VARCHAR",
    Kind.BYTES: "BLOB",
    Kind.TIMESTAMP: "TIMESTAMP",
    Kind.DATE: "DATE",
    Kind.JSON: "JSON",
    Kind.STRING_ARRAY: "VARCHAR[]",
}


def ddl_type(column: Column) -> str:
    if column.kind is Kind.INT:
        return "UBIGINT" if "uint64" in column.type_name.lower() else int_type(column.type_name)
    if column.kind is Kind.FLOAT and "32" in column.type_name:
        return "REAL"
    if column.kind is None:
        raise SettingsError(f"column {column.name!r}: ingest cannot fill {column.type_name}")
    return _DDL[column.kind]


def path_of(url: str) -> str:
    """The database file of a ``duckdb:///...`` URL (``:memory:`` kept as is)."""
    prefix = "duckdb:///"
    if not url.startswith(prefix) or url == prefix:
        raise SettingsError(
            f"a DuckDB target is duckdb:///relative/file.duckdb or duckdb:////absolute/path, "
            f"got {url!r}"
        )
    return url[len(prefix) :]


def offsets_ddl(table: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(table)} (consumer_group VARCHAR NOT NULL, "
        "target_table VARCHAR NOT NULL, topic VARCHAR NOT NULL, kafka_partition INTEGER NOT NULL, "
        "next_offset BIGINT NOT NULL, updated_at TIMESTAMP NOT NULL DEFAULT now(), "
        "PRIMARY KEY (consumer_group, target_table, topic, kafka_partition))"
    )


class DuckDBTarget:
    """One database file, opened once per process (DuckDB allows one writing process)."""

    def __init__(self, url: str) -> None:
        self.url = url
        path = path_of(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.connection = duckdb.connect(path)
        except duckdb.Error as exc:
            raise SettingsError(f"cannot open {url}: {exc}") from None
        self._lock = threading.Lock()

    def columns(self, table: str) -> list[Column] | None:
        with self._lock:
            found = self.connection.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_name = ? AND table_schema = current_schema() "
                "ORDER BY ordinal_position",
                [table],
            ).fetchall()
        if not found:
            return None
        columns = []
        for name, data_type, nullable in found:
            kind, _ = kind_of(data_type)
            columns.append(Column(name, kind, data_type, nullable == "YES"))
        return columns

    def create_table(self, table: str, columns: Sequence[Column]) -> None:
        spec = ", ".join(
            f"{quote(c.name)} {ddl_type(c)}{'' if c.nullable else ' NOT NULL'}" for c in columns
        )
        with self._lock:
            self.connection.execute(f"CREATE TABLE IF NOT EXISTS {quote(table)} ({spec})")

    def create_offsets_table(self, table: str) -> None:
        with self._lock:
            self.connection.execute(offsets_ddl(table))

    def refusals(self, destination: Destination) -> list[str]:
        return []  # a block and its offsets are one transaction

    def session(self) -> DuckDBSession:
        with self._lock:
            return DuckDBSession(self.connection.cursor())

    def close(self) -> None:
        self.connection.close()


def _column_array(values: Sequence[Value]) -> np.ndarray[Any, np.dtype[np.object_]]:
    """One column as a NumPy object array (one element per row, lists included), which
    DuckDB scans in bulk."""
    return np.fromiter(values, dtype=object, count=len(values))


class DuckDBSession:
    """One consumer's cursor."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cursor

    def stored_offsets(
        self, destination: Destination, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int | None]:
        found = self.cursor.execute(
            f"SELECT topic, kafka_partition, next_offset FROM {quote(destination.offsets_table)} "
            "WHERE consumer_group = ? AND target_table = ?",
            [destination.group, destination.table],
        ).fetchall()
        stored = {(t, p): o for t, p, o in found}
        return {tp: stored.get(tp) for tp in partitions}

    def pending_blocks(
        self, destination: Destination, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return {}  # a block is one transaction: written, or not at all

    def write(self, destination: Destination, job: WriteJob) -> None:
        cursor = self.cursor
        cursor.begin()
        try:
            self._insert(destination.table, list(destination.columns), job.rows)
            if job.error_rows and destination.error_table:
                self._insert(destination.error_table, ERROR_COLUMNS, job.error_rows)
            self._move_offsets(destination, job)
            cursor.commit()
        except BaseException as exc:
            cursor.rollback()
            if isinstance(exc, duckdb.TransactionException) and "onflict" in str(exc):
                raise OffsetConflict(f"DuckDB: {exc}") from None
            if isinstance(exc, duckdb.Error):
                raise IngestError(f"writing to {destination.table!r} failed: {exc}") from None
            raise

    def _insert(self, table: str, columns: list[Column], rows: list[tuple[Value, ...]]) -> None:
        if not rows:
            return
        names = [f"c{i}" for i in range(len(columns))]
        data = {
            name: _column_array(values)
            for name, values in zip(names, zip(*rows, strict=True), strict=True)
        }
        self.cursor.register("odradek_ingest_block", data)
        try:
            self.cursor.execute(
                f"INSERT INTO {quote(table)} ({', '.join(quote(c.name) for c in columns)}) "
                f"SELECT {', '.join(names)} FROM odradek_ingest_block"
            )
        finally:
            # In a failed transaction this fails too; the next register replaces the view.
            with contextlib.suppress(duckdb.Error):
                self.cursor.unregister("odradek_ingest_block")

    def _move_offsets(self, destination: Destination, job: WriteJob) -> None:
        table = quote(destination.offsets_table)
        key = [destination.group, destination.table]
        for (topic, partition), move in sorted(job.partitions.items()):
            if move.expected is None:
                inserted = self.cursor.execute(
                    f"INSERT INTO {table} (consumer_group, target_table, topic, "
                    "kafka_partition, next_offset) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING RETURNING next_offset",
                    [*key, topic, partition, move.next],
                ).fetchall()
                if not inserted:
                    raise OffsetConflict(
                        f"{topic}[{partition}]: offsets were stored by another consumer"
                    )
                continue
            (updated,) = self.cursor.execute(
                f"UPDATE {table} SET next_offset = ?, updated_at = now() WHERE consumer_group = ? "
                "AND target_table = ? AND topic = ? AND kafka_partition = ? AND next_offset = ?",
                [move.next, *key, topic, partition, move.expected],
            ).fetchone() or (0,)
            if updated != 1:
                raise OffsetConflict(
                    f"{topic}[{partition}]: the stored offset is no longer {move.expected}"
                )

    def close(self) -> None:
        self.cursor.close()
