from __future__ import annotations

import pytest

from odradek.ingest.columns import Column, Kind, check_virtual, kind_of, parse_columns
from odradek.ingest.errors import SettingsError


def test_seed_column_list_parses() -> None:
    columns = parse_columns(
        "_topic LowCardinality(String), _offset UInt64, _timestamp_ms Nullable(DateTime64(3)), "
        "`_headers.name` Array(String), id Int32 NOT NULL, name String, price Decimal(10, 2)"
    )
    assert [(c.name, c.kind) for c in columns] == [
        ("_topic", Kind.STRING),
        ("_offset", Kind.INT),
        ("_timestamp_ms", Kind.TIMESTAMP),
        ("_headers.name", Kind.STRING_ARRAY),
        ("id", Kind.INT),
        ("name", Kind.STRING),
        ("price", Kind.FLOAT),
    ]
    # SQL's default: a field missing from a record is NULL, unless the column says NOT NULL.
    assert columns[1].nullable and not columns[4].nullable
    assert columns[4].type_name == "Int32"


@pytest.mark.parametrize(
    ("type_name", "kind"),
    [
        ("BIGINT", Kind.INT),
        ("character varying", Kind.STRING),
        ("VARCHAR(20)", Kind.STRING),
        ("VARCHAR[]", Kind.STRING_ARRAY),
        ("timestamp without time zone", Kind.TIMESTAMP),
        ("jsonb", Kind.JSON),
        ("bytea", Kind.BYTES),
        ("GEOMETRY", None),
        ("STRUCT(a INTEGER)", None),
    ],
)
def test_type_names_of_each_database(type_name: str, kind: Kind | None) -> None:
    assert kind_of(type_name)[0] is kind


@pytest.mark.parametrize(
    ("spec", "message"),
    [("id Int32, id String", "named twice"), ("id Geometry", "cannot fill"), ("id", "name Type")],
)
def test_bad_column_lists_are_refused(spec: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_columns(spec)


def test_virtual_columns_need_their_kind() -> None:
    assert check_virtual(Column("_offset", Kind.INT, "BIGINT")) is None
    assert check_virtual(Column("_headers.name", Kind.JSON, "JSON")) is None  # no arrays: JSON
    problem = check_virtual(Column("_timestamp", Kind.INT, "BIGINT"))
    assert problem is not None and "timestamp" in problem
