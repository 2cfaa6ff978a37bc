"""ClickHouse over its HTTP interface, exactly once without transactions: the Kafka engine's
keeper design. ``clickhouse://[user[:password]@]host[:http_port]/database`` with
``--keeper HOST:PORT`` (ZooKeeper).

Each partition's block is written on its own, in three steps (``keeper.py``): its range is
*begun* in the keeper, its rows are inserted (``INSERT ... FORMAT TabSeparated`` with
``insert_deduplicate=1`` into a ``Replicated*MergeTree`` table), and the partition's offset is
*committed* in the keeper. A block begun and not committed (a crash, a failed insert) is read
again from the same offsets to the same end, so it makes the same rows in the same order and
the same bytes; ClickHouse's block deduplication (the part's checksum, remembered for the last
``replicated_deduplication_window`` blocks) drops it if the first insert happened."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from odradek.ingest.batch import PartitionBlock, TopicPartition, WriteJob
from odradek.ingest.columns import ERROR_COLUMNS, Column, Kind, kind_of
from odradek.ingest.errors import OffsetConflict, SettingsError
from odradek.ingest.keeper import Keeper
from odradek.ingest.rows import Value
from odradek.ingest.settings import IngestSettings
from odradek.ingest.targets.base import Destination
from odradek.ingest.targets.clickhouse_http import ClickHouseHTTP, literal, parse_url, quote
from odradek.ingest.targets.clickhouse_tsv import TSVWriter

_DDL = {
    Kind.BOOL: "UInt8",
    Kind.STRING: "String",
    Kind.BYTES: "String",
    Kind.DATE: "Date",
    Kind.JSON: "String",
    Kind.STRING_ARRAY: "Array(String)",
}
_CLICKHOUSE_INTS = {f"{u}int{n}": f"{u.upper()}Int{n}" for u in ("", "u") for n in (8, 16, 32, 64)}
_SQL_INTS = {"tinyint": "Int8", "smallint": "Int16", "int": "Int32", "integer": "Int32"}
DATETIME64_SINCE = 20  # the first major version with DateTime64


def base_type(column: Column, server_major: int) -> str:
    """The ClickHouse type a column of ``--create-table`` gets (without Nullable)."""
    name = column.type_name.lower()
    if column.kind is Kind.INT:
        return _CLICKHOUSE_INTS.get(name) or _SQL_INTS.get(name) or "Int64"
    if column.kind is Kind.FLOAT:
        return "Float32" if "32" in name or name in ("real", "float4") else "Float64"
    if column.kind is Kind.TIMESTAMP:
        return "DateTime64(3)" if "64" in name and server_major >= DATETIME64_SINCE else "DateTime"
    if column.kind is None:
        raise SettingsError(f"column {column.name!r}: ingest cannot fill {column.type_name}")
    return _DDL[column.kind]


def ddl_type(column: Column, server_major: int) -> str:
    base = base_type(column, server_major)
    if column.nullable and column.kind is not Kind.STRING_ARRAY:  # no Nullable(Array)
        return f"Nullable({base})"
    return base


def default_keeper_path(settings: IngestSettings, database: str) -> str:
    return f"/odradek-ingest/{settings.group}/{database}.{settings.table}"


class ClickHouseTarget:
    """One ClickHouse server (HTTP) and the keeper holding the offsets."""

    def __init__(self, settings: IngestSettings) -> None:
        parsed = parse_url(settings.target)
        self.url = parsed.redacted
        self.http = ClickHouseHTTP(parsed)
        if not settings.keeper:
            raise SettingsError(
                "the ClickHouse target keeps its offsets in ZooKeeper: give --keeper HOST:PORT"
            )
        version = self.http.query("SELECT version()").strip()
        self.server_major = int(version.split(".")[0])
        self.multiple_topics = len(settings.topics) > 1
        path = settings.keeper_path or default_keeper_path(settings, parsed.database)
        self.keeper = Keeper(settings.keeper, path)

    def columns(self, table: str) -> list[Column] | None:
        found = self.http.rows(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
            f"AND table = {literal(table)}"
        )
        if not found:
            return None
        columns = []
        for name, type_name in found:
            kind, nullable = kind_of(type_name)
            columns.append(Column(name, kind, type_name, nullable))
        return columns

    def engine(self, table: str) -> str:
        found = self.http.rows(
            f"SELECT engine FROM system.tables WHERE database = currentDatabase() "
            f"AND name = {literal(table)}"
        )
        return found[0][0] if found else ""

    def create_table(self, table: str, columns: Sequence[Column]) -> None:
        spec = ", ".join(f"{quote(c.name)} {ddl_type(c, self.server_major)}" for c in columns)
        zk_path = f"/clickhouse/tables/{self.http.url.database}/{table}"
        self.http.query(
            f"CREATE TABLE IF NOT EXISTS {quote(table)} ({spec}) ENGINE = ReplicatedMergeTree("
            f"{literal(zk_path)}, {literal(self._replica())}) ORDER BY tuple()"
        )

    def _replica(self) -> str:
        macros = dict(self.http.rows("SELECT macro, substitution FROM system.macros"))
        return "{replica}" if "replica" in macros else socket.gethostname()

    def create_offsets_table(self, table: str) -> None:
        """Nothing: the offsets are in the keeper (its znodes are made on first write)."""

    def refusals(self, destination: Destination) -> list[str]:
        """Why exactly-once cannot hold for this table: deduplication needs a replicated
        table, and rows that tell blocks apart (two blocks of equal bytes are one to it)."""
        problems = []
        for table in filter(None, (destination.table, destination.error_table)):
            engine = self.engine(table)
            if not engine.startswith("Replicated"):
                problems.append(
                    f"table {table!r} is {engine or 'missing'}: insert deduplication, which "
                    "exactly-once relies on, needs a Replicated*MergeTree table"
                )
        names = {c.name for c in destination.columns}
        needed = ["_partition", "_offset"] + (["_topic"] if self.multiple_topics else [])
        missing = [n for n in needed if n not in names]
        if missing:
            problems.append(
                f"table {destination.table!r} needs the column(s) {', '.join(missing)}: "
                "ClickHouse drops a block equal to one it has, so the rows of two blocks must "
                "differ"
            )
        return problems

    def session(self) -> ClickHouseSession:
        return ClickHouseSession(self)

    def close(self) -> None:
        self.keeper.close()


class ClickHouseSession:
    """One consumer's writes (the HTTP client and the keeper session are shared)."""

    def __init__(self, target: ClickHouseTarget) -> None:
        self.target = target
        self.keeper = target.keeper
        self._writers: dict[str, TSVWriter] = {}

    def stored_offsets(
        self, destination: Destination, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int | None]:
        return {tp: self.keeper.read(tp).stored for tp in partitions}

    def pending_blocks(
        self, destination: Destination, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        states = {tp: self.keeper.read(tp) for tp in partitions}
        return {tp: s.block[1] for tp, s in states.items() if s.block is not None}

    def write(self, destination: Destination, job: WriteJob) -> None:
        for tp, part in sorted(job.partitions.items()):
            self._write_partition(destination, tp, part)

    def _write_partition(
        self, destination: Destination, tp: TopicPartition, part: PartitionBlock
    ) -> None:
        state = self.keeper.read(tp)
        where = f"{tp[0]}[{tp[1]}]"
        if state.stored != part.expected:
            raise OffsetConflict(f"{where}: the stored offset is no longer {part.expected}")
        block = (part.first if part.expected is None else part.expected, part.next)
        if state.block is None:
            version = self.keeper.begin(tp, state, block)
        elif state.block == block and state.version is not None:  # a replay: the same bytes
            version = state.version
        else:
            raise OffsetConflict(f"{where}: block {state.block} is pending, not {block}")
        self._insert(destination.table, list(destination.columns), part.rows)
        if destination.error_table:
            self._insert(destination.error_table, ERROR_COLUMNS, part.error_rows)
        self.keeper.commit(tp, state, version, part.next)

    def _insert(self, table: str, columns: list[Column], rows: list[tuple[Value, ...]]) -> None:
        if not rows:
            return
        writer = self._writer(table, columns)
        self.target.http.insert(table, [c.name for c in columns], writer.encode(rows))

    def _writer(self, table: str, columns: list[Column]) -> TSVWriter:
        """Rows of ``columns`` in the types they have on the server (a DateTime64 asked for
        may be a DateTime on an old server)."""
        writer = self._writers.get(table)
        if writer is None:
            server = {c.name: c for c in self.target.columns(table) or []}
            writer = TSVWriter([server.get(c.name, c) for c in columns])
            self._writers[table] = writer
        return writer

    def close(self) -> None:
        """Nothing of its own to close."""
