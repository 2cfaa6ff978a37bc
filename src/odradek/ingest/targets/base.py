"""What a target database does for ingest: describe and create tables, read the offsets it
stores, and write a block with its offsets in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from odradek.ingest.batch import TopicPartition, WriteJob
from odradek.ingest.columns import Column


@dataclass(frozen=True)
class Destination:
    """Where one ingest run writes: its table, error table (stream mode), offsets table, and
    the consumer group its offsets are stored under."""

    table: str
    columns: tuple[Column, ...]
    group: str
    offsets_table: str
    error_table: str | None = None


class Session(Protocol):
    """One consumer's connection to the target (each consumer thread has its own)."""

    def stored_offsets(
        self, destination: Destination, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int | None]:
        """The next offset to consume per partition as stored with the table (None: none)."""
        ...

    def pending_blocks(
        self, destination: Destination, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Per partition with a block begun but not known to be written, the offset that block
        ends at: it is read again and written with exactly the same records. Empty for a target
        with transactions, where a block is written or not."""
        ...

    def write(self, destination: Destination, job: WriteJob) -> None:
        """Rows, error rows and offset moves in one transaction. Raises ``OffsetConflict``
        (nothing written) when a stored offset is not the job's ``expected`` one."""
        ...

    def close(self) -> None: ...


class Target(Protocol):
    """A database ingest writes to, named by a URL."""

    url: str

    def columns(self, table: str) -> list[Column] | None:
        """The table's columns in order (kinds from their types), None if it does not exist."""
        ...

    def create_table(self, table: str, columns: Sequence[Column]) -> None: ...

    def create_offsets_table(self, table: str) -> None:
        """The offsets table, if it is missing."""
        ...

    def refusals(self, destination: Destination) -> list[str]:
        """Why this target cannot write the destination exactly once (empty: it can)."""
        ...

    def session(self) -> Session: ...

    def close(self) -> None: ...


def quote(name: str) -> str:
    """An SQL identifier in double quotes (DuckDB and PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'


_SMALL_INTS = frozenset({"int8", "int16", "uint8", "smallint", "tinyint", "int2", "utinyint"})
_INTEGERS = frozenset({"int32", "uint16", "integer", "int", "int4", "usmallint"})


def int_type(type_name: str) -> str:
    """SMALLINT, INTEGER or BIGINT for an integer type name (by the values it holds)."""
    base = type_name.lower().removeprefix("nullable(").rstrip(")")
    if base in _SMALL_INTS:
        return "SMALLINT"
    if base in _INTEGERS:
        return "INTEGER"
    return "BIGINT"
