"""Table columns: their kinds (what ingest can put in them), type names and virtual columns.

A column list is written the way the seed's ClickHouse tables are (``id Int32, name String,
`_headers.name` Array(String)``) or in SQL (``id INTEGER, name VARCHAR``); each type name
maps to a :class:`Kind`, and each target spells a kind in its own DDL.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from odradek.ingest.errors import SettingsError


class Kind(enum.Enum):
    """What a column holds, as far as ingest fills it."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STRING = "string"
    BYTES = "bytes"
    TIMESTAMP = "timestamp"
    DATE = "date"
    JSON = "json"
    STRING_ARRAY = "string[]"


@dataclass(frozen=True)
class Column:
    """A table column: its name, kind, and the type name it was declared or found with."""

    name: str
    kind: Kind | None  # None: a type ingest cannot fill
    type_name: str
    nullable: bool = True


# Type names (lower case, without Nullable()/LowCardinality()) -> kind. ClickHouse's names,
# SQL's, DuckDB's and PostgreSQL's (as information_schema reports them).
_INT_NAMES = (
    "int8 int16 int32 int64 uint8 uint16 uint32 uint64 tinyint smallint int integer bigint "
    "hugeint ubigint uinteger usmallint utinyint int2 int4 long"
)
_TIMESTAMP_NAMES = (
    "datetime",
    "datetime64",
    "timestamp",
    "timestamp without time zone",
    "timestamp with time zone",
    "timestamptz",
    "timestamp_ms",
    "timestamp_s",
)
_TYPE_KINDS: dict[str, Kind] = {
    **dict.fromkeys(_INT_NAMES.split(), Kind.INT),
    **dict.fromkeys(
        ("float32", "float64", "float", "real", "double", "double precision", "float4", "float8"),
        Kind.FLOAT,
    ),
    **dict.fromkeys(("numeric", "decimal"), Kind.FLOAT),
    **dict.fromkeys(("bool", "boolean"), Kind.BOOL),
    **dict.fromkeys(
        ("string", "varchar", "text", "character varying", "char", "bpchar", "uuid"), Kind.STRING
    ),
    **dict.fromkeys(("blob", "bytea", "varbinary", "binary"), Kind.BYTES),
    **dict.fromkeys(_TIMESTAMP_NAMES, Kind.TIMESTAMP),
    "date": Kind.DATE,
    **dict.fromkeys(("json", "jsonb"), Kind.JSON),
    **dict.fromkeys(
        ("array(string)", "varchar[]", "text[]", "string[]", "_text", "_varchar"),
        Kind.STRING_ARRAY,
    ),
}

_WRAPPER = re.compile(r"^(nullable|lowcardinality)\((.*)\)$", re.IGNORECASE)
_PARAMS = re.compile(r"\(.*\)$")


def kind_of(type_name: str) -> tuple[Kind | None, bool]:
    """The kind a type name stands for (None when ingest cannot fill it), and whether the
    name says the column is nullable (``Nullable(...)``)."""
    name = " ".join(type_name.strip().split())
    nullable = False
    while match := _WRAPPER.match(name):
        nullable = nullable or match.group(1).lower() == "nullable"
        name = match.group(2).strip()
    lowered = name.lower()
    if lowered in _TYPE_KINDS:
        return _TYPE_KINDS[lowered], nullable
    # Parameters that do not change the kind: VARCHAR(20), DateTime64(3), DECIMAL(10,2), ...
    base = _PARAMS.sub("", lowered).strip()
    if base in _TYPE_KINDS and _TYPE_KINDS[base] is not Kind.STRING_ARRAY:
        return _TYPE_KINDS[base], nullable
    return None, nullable


def parse_columns(spec: str) -> list[Column]:
    """``"id Int32, name String, `_headers.name` Array(String)"`` -> columns.

    Columns are nullable (a field missing from a record is NULL) unless the type ends in
    ``NOT NULL``. Names may be quoted with backquotes or double quotes (they must be for
    ``_headers.*``); commas inside a type's parentheses do not split."""
    columns: list[Column] = []
    for part in _split_top_level(spec):
        name, type_name = _name_and_type(part)
        not_null = type_name.upper().endswith(" NOT NULL")
        type_name = type_name[: -len(" NOT NULL")].strip() if not_null else type_name
        kind, _ = kind_of(type_name)
        if kind is None:
            raise SettingsError(f"column {name!r}: ingest cannot fill type {type_name!r}")
        columns.append(Column(name, kind, type_name, nullable=not not_null))
    if not columns:
        raise SettingsError("the column list is empty")
    names = [c.name for c in columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SettingsError(f"column(s) named twice: {', '.join(duplicates)}")
    return columns


def _split_top_level(spec: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    quote = ""
    for char in spec:
        if quote:
            quote = "" if char == quote else quote
        elif char in '`"':
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _name_and_type(part: str) -> tuple[str, str]:
    if part[0] in '`"':
        end = part.find(part[0], 1)
        if end < 0:
            raise SettingsError(f"unterminated quoted column name in {part!r}")
        name, rest = part[1:end], part[end + 1 :].strip()
    else:
        name, _, rest = part.partition(" ")
        rest = rest.strip()
    if not name or not rest:
        raise SettingsError(f"expected 'name Type', got {part!r}")
    return name, rest


# The Kafka table engine's virtual columns and the kinds they need.
VIRTUAL_COLUMNS: dict[str, Kind] = {
    "_topic": Kind.STRING,
    "_key": Kind.STRING,
    "_offset": Kind.INT,
    "_timestamp": Kind.TIMESTAMP,
    "_timestamp_ms": Kind.TIMESTAMP,
    "_partition": Kind.INT,
    "_headers.name": Kind.STRING_ARRAY,
    "_headers.value": Kind.STRING_ARRAY,
}

# Kinds a column may have to receive each kind of value: headers go to a JSON column where
# the target has no arrays; a key may land in a BYTES column.
_ACCEPTS: dict[Kind, frozenset[Kind]] = {
    Kind.STRING: frozenset({Kind.STRING, Kind.BYTES}),
    Kind.INT: frozenset({Kind.INT, Kind.FLOAT}),
    Kind.TIMESTAMP: frozenset({Kind.TIMESTAMP}),
    Kind.STRING_ARRAY: frozenset({Kind.STRING_ARRAY, Kind.JSON}),
}


def check_virtual(column: Column) -> str | None:
    """Why ``column`` (a virtual column's name) cannot hold its value, or None."""
    needed = VIRTUAL_COLUMNS[column.name]
    if column.kind in _ACCEPTS[needed]:
        return None
    return (
        f"column {column.name!r} has type {column.type_name}, but the virtual column "
        f"{column.name} is {needed.value}: give it a {needed.value} type"
    )


# The error table of --handle-error-mode stream: where the record came from, what it held
# and why it did not parse.
ERROR_COLUMNS: list[Column] = [
    Column("_topic", Kind.STRING, "String", False),
    Column("_partition", Kind.INT, "Int64", False),
    Column("_offset", Kind.INT, "Int64", False),
    Column("_key", Kind.STRING, "String"),
    Column("_timestamp_ms", Kind.TIMESTAMP, "DateTime64(3)"),
    Column("_raw_message", Kind.BYTES, "String"),
    Column("_error", Kind.STRING, "String", False),
]
