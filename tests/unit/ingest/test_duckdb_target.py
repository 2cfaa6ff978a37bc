"""The DuckDB target on a file in a temp dir: tables, type checks, and the one transaction
that holds a block's rows with its offsets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from odradek.ingest.batch import PartitionBlock, WriteJob
from odradek.ingest.errors import IngestError, OffsetConflict, TableMismatch
from odradek.ingest.formats import JSONEachRow, RawBLOB
from odradek.ingest.settings import build_settings
from odradek.ingest.tables import prepare
from odradek.ingest.targets.base import Destination
from odradek.ingest.targets.duckdb import DuckDBTarget, path_of

COLUMNS = (
    "id Int64, name String, _offset UInt64, _timestamp_ms DateTime64(3), "
    "`_headers.name` Array(String)"
)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[DuckDBTarget]:
    target = DuckDBTarget(f"duckdb:///{tmp_path}/db/ingest.duckdb")
    yield target
    target.close()


def destination(target: DuckDBTarget, **values: object) -> Destination:
    settings = build_settings(
        {
            "bootstrap_server": "b:1",
            "topics": "t",
            "group": "g",
            "format": "JSONEachRow",
            "table": "users",
            **values,
        }
    )
    return prepare(target, settings, JSONEachRow())


def test_urls() -> None:
    assert path_of("duckdb:///relative/x.duckdb") == "relative/x.duckdb"
    assert path_of("duckdb:////abs/x.duckdb") == "/abs/x.duckdb"


def test_rows_and_offsets_in_one_transaction(target: DuckDBTarget) -> None:
    dest = destination(target, create_table=COLUMNS, handle_error_mode="stream")
    session = target.session()
    assert session.stored_offsets(dest, [("t", 0), ("t", 1)]) == {("t", 0): None, ("t", 1): None}
    stamp = dt.datetime(2024, 1, 1, 12, 0, 0, 250000)
    job = WriteJob(
        {
            ("t", 0): PartitionBlock(
                None, 2, rows=[(1, "a", 0, stamp, ["h"]), (2, None, 1, None, [])]
            ),
            ("t", 1): PartitionBlock(
                None, 1, error_rows=[("t", 1, 0, None, stamp, b"{bad", "JSONEachRow: ...")]
            ),
        }
    )
    session.write(dest, job)
    assert session.stored_offsets(dest, [("t", 0), ("t", 1)]) == {("t", 0): 2, ("t", 1): 1}
    con = target.connection
    assert con.execute("SELECT * FROM users ORDER BY id").fetchall() == [
        (1, "a", 0, stamp, ["h"]),
        (2, None, 1, None, []),
    ]
    assert con.execute("SELECT _raw_message, _error FROM users_errors").fetchall() == [
        (b"{bad", "JSONEachRow: ...")
    ]


def test_stale_expected_offset_rolls_back_everything(target: DuckDBTarget) -> None:
    dest = destination(target, create_table=COLUMNS)
    session = target.session()
    first = WriteJob({("t", 0): PartitionBlock(None, 1, rows=[(1, "a", 0, None, [])])})
    session.write(dest, first)
    with pytest.raises(OffsetConflict):
        session.write(dest, first)  # a second writer that also started from nothing
    stale = WriteJob(
        {
            ("t", 1): PartitionBlock(None, 1, rows=[(2, "b", 1, None, [])]),
            ("t", 0): PartitionBlock(0, 1, rows=[(9, "x", 0, None, [])]),
        }
    )
    with pytest.raises(OffsetConflict, match="no longer 0"):
        session.write(dest, stale)
    assert target.connection.execute("SELECT id FROM users").fetchall() == [(1,)]
    assert session.stored_offsets(dest, [("t", 1)]) == {("t", 1): None}


def test_offsets_are_per_group_and_table(target: DuckDBTarget) -> None:
    one = destination(target, create_table=COLUMNS)
    other = destination(target, group="g2")
    session = target.session()
    session.write(one, WriteJob({("t", 0): PartitionBlock(None, 5)}))
    assert session.stored_offsets(other, [("t", 0)]) == {("t", 0): None}


def test_existing_table_is_checked(target: DuckDBTarget) -> None:
    target.connection.execute(
        'CREATE TABLE users (id BIGINT, "_timestamp" BIGINT, "_offset" VARCHAR, m MAP(INT, INT))'
    )
    with pytest.raises(TableMismatch) as refused:
        destination(target)
    message = str(refused.value)
    assert "'_timestamp' has type BIGINT" in message
    assert "'_offset' has type VARCHAR" in message
    assert "'m' has type MAP(INTEGER, INTEGER), which ingest cannot fill" in message


def test_missing_table_and_different_create_table(target: DuckDBTarget) -> None:
    with pytest.raises(TableMismatch, match=r"does not exist.*--create-table"):
        destination(target)
    target.connection.execute("CREATE TABLE users (id VARCHAR, extra INT)")
    with pytest.raises(TableMismatch) as refused:
        destination(target, create_table="id Int64, name String")
    message = str(refused.value)
    assert "'id' is VARCHAR in the table, Int64 in --create-table" in message
    assert "'name' (String) is missing" in message
    assert "'extra' (INTEGER) is not in --create-table" in message


def test_raw_blob_needs_one_text_column(target: DuckDBTarget) -> None:
    target.connection.execute("CREATE TABLE users (a VARCHAR, b VARCHAR)")
    settings = build_settings(
        {
            "bootstrap_server": "b",
            "topics": "t",
            "group": "g",
            "format": "RawBLOB",
            "table": "users",
        }
    )
    with pytest.raises(TableMismatch, match="RawBLOB fills exactly one"):
        prepare(target, settings, RawBLOB())


def test_a_row_the_table_refuses_is_an_error_not_a_conflict(target: DuckDBTarget) -> None:
    dest = destination(target, create_table="id Int64 NOT NULL")
    with pytest.raises(IngestError, match="NOT NULL") as refused:
        target.session().write(dest, WriteJob({("t", 0): PartitionBlock(None, 1, rows=[(None,)])}))
    assert not isinstance(refused.value, OffsetConflict)
    assert target.session().stored_offsets(dest, [("t", 0)]) == {("t", 0): None}


def test_file_survives_reopening(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/x.duckdb"
    target = DuckDBTarget(url)
    dest = destination(target, create_table="id Int64")
    target.session().write(dest, WriteJob({("t", 0): PartitionBlock(None, 1, rows=[(1,)])}))
    target.close()
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    assert con.execute("SELECT next_offset FROM odradek_ingest_offsets").fetchall() == [(1,)]
    con.close()
