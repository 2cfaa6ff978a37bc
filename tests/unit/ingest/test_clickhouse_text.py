"""What the ClickHouse target sends, without a server: TabSeparated rows (the same rows make
the same bytes), the URL, the keeper address and the DDL types."""

from __future__ import annotations

import datetime as dt

import pytest

from odradek.ingest.columns import ERROR_COLUMNS, parse_columns
from odradek.ingest.errors import SettingsError
from odradek.ingest.keeper import PartitionState, split_hosts
from odradek.ingest.targets.clickhouse import ddl_type
from odradek.ingest.targets.clickhouse_http import parse_url, quote
from odradek.ingest.targets.clickhouse_tsv import TSVWriter


def test_rows_as_tab_separated_text() -> None:
    columns = parse_columns(
        "id Int64, x Float64, ok Bool, s String, b BLOB, ts DateTime, ms DateTime64(3), "
        "d Date, `_headers.value` Array(String)"
    )
    stamp = dt.datetime(2023, 11, 14, 22, 13, 20, 123000)
    rows = [
        (
            1,
            0.5,
            True,
            "tab\there\nnew \\ line",
            b"\xff\t",
            stamp,
            stamp,
            stamp.date(),
            ["a'b", None],
        ),
        (None, None, None, None, None, None, None, None, []),
    ]
    text = TSVWriter(columns).encode(rows)
    assert text == (
        b"1\t0.5\t1\ttab\\there\\nnew \\\\ line\t\xff\\t\t1700000000\t1700000000.123\t"
        b"2023-11-14\t['a\\'b','']\n"
        b"\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t[]\n"
    )
    assert TSVWriter(columns).encode(rows) == text  # a replay makes the same bytes


def test_urls_and_keeper_addresses() -> None:
    url = parse_url("clickhouse://ingest:s%40cret@ch.example:8124/analytics")
    assert (url.host, url.port, url.database, url.user, url.password) == (
        "ch.example",
        8124,
        "analytics",
        "ingest",
        "s@cret",
    )
    assert url.redacted == "clickhouse://ingest:***@ch.example:8124/analytics"
    assert (
        parse_url("clickhouse://h").port == 8123
        and parse_url("clickhouse://h").database == "default"
    )
    with pytest.raises(SettingsError):
        parse_url("clickhouse:///db")
    assert split_hosts("zk1:2181,zk2:2181/apps") == ("zk1:2181,zk2:2181", "/apps")
    assert split_hosts("zk:2181") == ("zk:2181", "")
    with pytest.raises(SettingsError, match="--keeper expects"):
        split_hosts("zk")
    assert quote("_headers.name") == "`_headers.name`"


def test_a_begun_block_is_where_the_partition_continues() -> None:
    assert PartitionState().stored is None
    assert PartitionState(committed=10).stored == 10
    assert PartitionState(committed=10, block=(10, 17), version=3).stored == 10
    assert PartitionState(committed=None, block=(4, 9), version=0).stored == 4


def test_ddl_types_on_old_and_new_servers() -> None:
    columns = {
        c.name: c
        for c in parse_columns(
            "a INTEGER, b UInt16 NOT NULL, c DateTime64(3), d Array(String), e Bool"
        )
    }
    assert ddl_type(columns["a"], 18) == "Nullable(Int32)"
    assert ddl_type(columns["b"], 18) == "UInt16"
    assert ddl_type(columns["c"], 18) == "Nullable(DateTime)"  # 18.16 has no DateTime64
    assert ddl_type(columns["c"], 23) == "Nullable(DateTime64(3))"
    assert ddl_type(columns["d"], 18) == "Array(String)"
    assert ddl_type(columns["e"], 18) == "Nullable(UInt8)"
    assert [ddl_type(c, 18) for c in ERROR_COLUMNS][:3] == ["String", "Int64", "Int64"]
