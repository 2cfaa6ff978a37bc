"""PostgreSQL over psycopg 3: ``postgresql://user:password@host:port/database``.

A block is one transaction: the rows through ``COPY ... FROM STDIN``, the error rows the same
way, then each partition's stored offset moved by a compare-and-set ``UPDATE`` (or an
``INSERT ... ON CONFLICT DO NOTHING`` for a partition with nothing stored). A concurrent
writer of the same partition blocks on the row lock and then finds the offset moved: it
matches no row, and rolls back."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from odradek.ingest.batch import TopicPartition, WriteJob
from odradek.ingest.columns import ERROR_COLUMNS, Column, Kind, kind_of
from odradek.ingest.errors import IngestError, OffsetConflict, SettingsError, TargetUnavailable
from odradek.ingest.rows import Value
from odradek.ingest.targets.base import Destination, int_type, quote

_DDL = {
    Kind.FLOAT: "double precision",
    Kind.BOOL: "boolean",
    Kind.STRING: "text",
    Kind.BYTES: "bytea",
    Kind.TIMESTAMP: "timestamp",
    Kind.DATE: "date",
    Kind.JSON: "jsonb",
    Kind.STRING_ARRAY: "text[]",
}


def ddl_type(column: Column) -> str:
    if column.kind is Kind.INT:
        return int_type(column.type_name).lower()
    if column.kind is Kind.FLOAT and "32" in column.type_name:
        return "real"
    if column.kind is None:
        raise SettingsError(f"column {column.name!r}: ingest cannot fill {column.type_name}")
    return _DDL[column.kind]


def _connect(url: str) -> psycopg.Connection[tuple[Value, ...]]:
    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        raise TargetUnavailable(f"cannot connect to {_redacted(url)}: {exc}") from None


def _redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


class PostgreSQLTarget:
    """A PostgreSQL database; each consumer gets its own connection."""

    def __init__(self, url: str) -> None:
        self.url = _redacted(url)
        self._dsn = url
        self.connection = _connect(url)

    def columns(self, table: str) -> list[Column] | None:
        found = self.connection.execute(
            "SELECT column_name, data_type, udt_name, is_nullable FROM information_schema.columns "
            "WHERE table_name = %s AND table_schema = current_schema() ORDER BY ordinal_position",
            [table],
        ).fetchall()
        if not found:
            return None
        columns = []
        for name, data_type, udt_name, nullable in found:
            type_name = str(udt_name if data_type == "ARRAY" else data_type)
            kind, _ = kind_of(type_name)
            columns.append(Column(str(name), kind, type_name, nullable == "YES"))
        return columns

    def create_table(self, table: str, columns: Sequence[Column]) -> None:
        spec = ", ".join(
            f"{quote(c.name)} {ddl_type(c)}{'' if c.nullable else ' NOT NULL'}" for c in columns
        )
        self.connection.execute(f"CREATE TABLE IF NOT EXISTS {quote(table)} ({spec})".encode())

    def create_offsets_table(self, table: str) -> None:
        self.connection.execute(
            f"CREATE TABLE IF NOT EXISTS {quote(table)} (consumer_group text NOT NULL, "
            "target_table text NOT NULL, topic text NOT NULL, kafka_partition integer NOT NULL, "
            "next_offset bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), "
            "PRIMARY KEY (consumer_group, target_table, topic, kafka_partition))".encode()
        )

    def refusals(self, destination: Destination) -> list[str]:
        return []  # a block and its offsets are one transaction

    def session(self) -> PostgreSQLSession:
        return PostgreSQLSession(_connect(self._dsn))

    def close(self) -> None:
        self.connection.close()


class PostgreSQLSession:
    """One consumer's connection."""

    def __init__(self, connection: psycopg.Connection[tuple[Value, ...]]) -> None:
        self.connection = connection

    def stored_offsets(
        self, destination: Destination, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int | None]:
        try:
            found = self.connection.execute(
                f"SELECT topic, kafka_partition, next_offset FROM "
                f"{quote(destination.offsets_table)} WHERE consumer_group = %s "
                "AND target_table = %s".encode(),
                [destination.group, destination.table],
            ).fetchall()
        except psycopg.OperationalError as exc:
            raise TargetUnavailable(f"PostgreSQL: {exc}") from None
        stored = {(str(t), int(p)): int(o) for t, p, o in found}
        return {tp: stored.get(tp) for tp in partitions}

    def pending_blocks(
        self, destination: Destination, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return {}  # a block is one transaction: written, or not at all

    def write(self, destination: Destination, job: WriteJob) -> None:
        try:
            with self.connection.transaction():
                self._copy(destination.table, list(destination.columns), job.rows)
                if job.error_rows and destination.error_table:
                    self._copy(destination.error_table, ERROR_COLUMNS, job.error_rows)
                self._move_offsets(destination, job)
        except psycopg.OperationalError as exc:
            raise TargetUnavailable(f"PostgreSQL: {exc}") from None
        except psycopg.errors.SerializationFailure as exc:
            raise OffsetConflict(f"PostgreSQL: {exc}") from None
        except psycopg.Error as exc:
            raise IngestError(f"writing to {destination.table!r} failed: {exc}") from None

    def _copy(self, table: str, columns: list[Column], rows: list[tuple[Value, ...]]) -> None:
        if not rows:
            return
        names = ", ".join(quote(c.name) for c in columns)
        with (
            self.connection.cursor() as cursor,
            cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN".encode()) as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def _move_offsets(self, destination: Destination, job: WriteJob) -> None:
        table = quote(destination.offsets_table)
        key = [destination.group, destination.table]
        with self.connection.cursor() as cursor:
            for (topic, partition), move in sorted(job.partitions.items()):
                if move.expected is None:
                    cursor.execute(
                        f"INSERT INTO {table} (consumer_group, target_table, topic, "
                        "kafka_partition, next_offset) VALUES (%s, %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING".encode(),
                        [*key, topic, partition, move.next],
                    )
                else:
                    cursor.execute(
                        f"UPDATE {table} SET next_offset = %s, updated_at = now() "
                        "WHERE consumer_group = %s AND target_table = %s AND topic = %s "
                        "AND kafka_partition = %s AND next_offset = %s".encode(),
                        [move.next, *key, topic, partition, move.expected],
                    )
                if cursor.rowcount != 1:
                    raise OffsetConflict(
                        f"{topic}[{partition}]: the stored offset is no longer {move.expected}"
                    )

    def close(self) -> None:
        self.connection.close()
