from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import fastavro
import pytest

from odradek.ingest.columns import parse_columns
from odradek.ingest.errors import BrokenMessage, SettingsError
from odradek.ingest.formats import CSV, TSV, Avro, JSONEachRow, RawBLOB
from odradek.ingest.rows import RowBuilder, error_row
from tests.unit.ingest.records import FakeRecord

VIRTUALS = (
    "_topic String, _key String, _offset UInt64, _partition UInt64, _timestamp DateTime, "
    "_timestamp_ms DateTime64(3), `_headers.name` Array(String), `_headers.value` Array(String)"
)


def test_json_each_row_maps_by_name_and_fills_virtual_columns() -> None:
    builder = RowBuilder(parse_columns(f"id Int32, name String, {VIRTUALS}"), JSONEachRow())
    record = FakeRecord(
        b'{"id": 7, "name": "zs", "extra": 1}\n{"id": "8"}',
        offset_=42,
        partition_=3,
        topic_="user-queue",
        key_=b"k",
        headers_=[("a", b"1"), ("b", None)],
    )
    rows = builder.rows(record)
    stamp = dt.datetime(2023, 11, 14, 22, 13, 20, 123000)
    common = (
        "user-queue",
        "k",
        42,
        3,
        stamp.replace(microsecond=0),
        stamp,
        ["a", "b"],
        ["1", None],
    )
    assert rows == [(7, "zs", *common), (8, None, *common)]


@pytest.mark.parametrize(
    "value", [b"{not json", b"[1, 2]", b"", b'{"id": "x1"}', b'{"id": 1.5}', b"\xff\xfe"]
)
def test_broken_json_records(value: bytes) -> None:
    builder = RowBuilder(parse_columns("id Int64, name String"), JSONEachRow())
    with pytest.raises(BrokenMessage):
        builder.rows(FakeRecord(value))


def test_csv_and_tsv_map_by_position() -> None:
    columns = parse_columns("id Int64, name String, ok Bool, tags Array(String), _offset UInt64")
    csv_rows = RowBuilder(columns, CSV()).rows(
        FakeRecord(b'1,"a, b",true,"[""x""]"\n2,,,[]', offset_=5)
    )
    assert csv_rows == [(1, "a, b", True, ["x"], 5), (2, "", None, [], 5)]
    tsv_rows = RowBuilder(columns, TSV()).rows(FakeRecord(b'3\ttab\\there\tfalse\t["y"]\n'))
    assert tsv_rows == [(3, "tab\there", False, ["y"], 0)]
    assert RowBuilder(columns, TSV()).rows(FakeRecord(b"4\t\\N\t0\t[]"))[0][1] is None
    with pytest.raises(BrokenMessage, match="field"):
        RowBuilder(columns, CSV()).rows(FakeRecord(b"1,2"))


def test_raw_blob_is_the_whole_value() -> None:
    builder = RowBuilder(parse_columns("body String, _partition UInt64"), RawBLOB())
    assert builder.rows(FakeRecord(b"any \xff bytes", partition_=2)) == [("any \ufffd bytes", 2)]


def test_tombstone_is_broken() -> None:
    builder = RowBuilder(parse_columns("body String"), RawBLOB())
    with pytest.raises(BrokenMessage, match="tombstone"):
        builder.rows(FakeRecord(None))


SCHEMA = {
    "type": "record",
    "name": "User",
    "fields": [
        {"name": "id", "type": "int"},
        {"name": "name", "type": ["null", "string"]},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}


def test_avro_datum_and_container(tmp_path: Path) -> None:
    schema_file = tmp_path / "user.avsc"
    schema_file.write_text(json.dumps(SCHEMA))
    fmt = Avro(schema_file)
    builder = RowBuilder(parse_columns("id Int32, name String, at DateTime64(3)"), fmt)
    at = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    datum = io.BytesIO()
    fastavro.schemaless_writer(
        datum, fastavro.parse_schema(SCHEMA), {"id": 1, "name": "a", "at": at}
    )
    container = io.BytesIO()
    fastavro.writer(container, SCHEMA, [{"id": 2, "name": None, "at": at}] * 2)
    naive = at.replace(tzinfo=None)
    assert builder.rows(FakeRecord(datum.getvalue())) == [(1, "a", naive)]
    assert builder.rows(FakeRecord(container.getvalue())) == [(2, None, naive)] * 2
    with pytest.raises(BrokenMessage):
        builder.rows(FakeRecord(b"\x02"))


def test_avro_schema_must_be_a_record(tmp_path: Path) -> None:
    schema_file = tmp_path / "bad.avsc"
    schema_file.write_text('"string"')
    with pytest.raises(SettingsError, match="record"):
        Avro(schema_file)


def test_error_row_keeps_the_raw_record() -> None:
    record = FakeRecord(b"{oops", offset_=9, partition_=1, key_=b"k")
    assert error_row(record, "bad") == (
        "t",
        1,
        9,
        "k",
        dt.datetime(2023, 11, 14, 22, 13, 20, 123000),
        b"{oops",
        "bad",
    )
