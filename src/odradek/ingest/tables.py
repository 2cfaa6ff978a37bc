"""The target table, checked before the first record: created from ``--create-table``'s
column list, or found and checked against what ingest will write into it."""

from __future__ import annotations

from typing import Any

from odradek.ingest.columns import (
    ERROR_COLUMNS,
    VIRTUAL_COLUMNS,
    Column,
    Kind,
    check_virtual,
    parse_columns,
)
from odradek.ingest.errors import TableMismatch
from odradek.ingest.formats import Avro, InputFormat
from odradek.ingest.settings import IngestSettings
from odradek.ingest.targets.base import Destination, Target


def prepare(target: Target, settings: IngestSettings, fmt: InputFormat) -> Destination:
    """Create or check the table (and the error and offsets tables); the destination."""
    columns = _table(target, settings)
    problems = column_problems(columns, fmt)
    if problems:
        raise TableMismatch(
            f"table {settings.table!r} in {target.url} cannot take the {fmt.name} records:\n  "
            + "\n  ".join(problems)
        )
    error_table = None
    if settings.handle_error_mode == "stream":
        error_table = settings.errors_table
        _error_table(target, error_table)
    target.create_offsets_table(settings.offsets_table)
    destination = Destination(
        settings.table, tuple(columns), settings.group, settings.offsets_table, error_table
    )
    refusals = target.refusals(destination)
    if refusals:
        raise TableMismatch(
            f"{target.url} cannot take the records exactly once:\n  " + "\n  ".join(refusals)
        )
    return destination


def _table(target: Target, settings: IngestSettings) -> list[Column]:
    existing = target.columns(settings.table)
    if settings.create_table is None:
        if existing is None:
            raise TableMismatch(
                f"table {settings.table!r} does not exist in {target.url}: create it, or give "
                "--create-table 'name Type, ...'"
            )
        return existing
    wanted = parse_columns(settings.create_table)
    if existing is None:
        target.create_table(settings.table, wanted)
        return wanted
    differences = _differences(wanted, existing)
    if differences:
        raise TableMismatch(
            f"table {settings.table!r} exists in {target.url} with other columns than "
            "--create-table gives:\n  " + "\n  ".join(differences)
        )
    return existing


def _differences(wanted: list[Column], existing: list[Column]) -> list[str]:
    found = {c.name: c for c in existing}
    out = []
    for column in wanted:
        have = found.pop(column.name, None)
        if have is None:
            out.append(f"column {column.name!r} ({column.type_name}) is missing")
        elif have.kind is not column.kind:
            out.append(
                f"column {column.name!r} is {have.type_name} in the table, "
                f"{column.type_name} in --create-table"
            )
    out += [
        f"column {name!r} ({c.type_name}) is not in --create-table" for name, c in found.items()
    ]
    return out


def column_problems(columns: list[Column], fmt: InputFormat) -> list[str]:
    """Why the columns cannot receive this format's rows (empty when they can)."""
    problems = []
    for column in columns:
        if column.kind is None:  # a type ingest cannot fill
            problems.append(
                f"column {column.name!r} has type {column.type_name}, which ingest cannot fill"
            )
        elif column.name in VIRTUAL_COLUMNS:
            problem = check_virtual(column)
            if problem:
                problems.append(problem)
    data = [c for c in columns if c.name not in VIRTUAL_COLUMNS and c.kind is not None]
    if fmt.name == "RawBLOB" and (
        len(data) != 1 or data[0].kind not in (Kind.STRING, Kind.BYTES, Kind.JSON)
    ):
        problems.append(
            "RawBLOB fills exactly one non-virtual column of a string or binary type; "
            f"the table has {', '.join(c.name for c in data) or 'none'}"
        )
    if isinstance(fmt, Avro):
        problems += _avro_problems(data, fmt.fields)
    return problems


_AVRO_KINDS: dict[str, frozenset[Kind]] = {
    "int": frozenset({Kind.INT, Kind.FLOAT, Kind.STRING}),
    "long": frozenset({Kind.INT, Kind.FLOAT, Kind.STRING}),
    "float": frozenset({Kind.FLOAT, Kind.STRING}),
    "double": frozenset({Kind.FLOAT, Kind.STRING}),
    "boolean": frozenset({Kind.BOOL, Kind.INT, Kind.STRING}),
    "string": frozenset({Kind.STRING, Kind.BYTES, Kind.JSON}),
    "bytes": frozenset({Kind.BYTES, Kind.STRING}),
    "timestamp": frozenset({Kind.TIMESTAMP}),
    "date": frozenset({Kind.DATE, Kind.TIMESTAMP}),
    "array": frozenset({Kind.STRING_ARRAY, Kind.JSON}),
}


def _avro_type(avro: Any) -> str:
    """The Avro type's family: a primitive name, timestamp, date, array or complex."""
    if isinstance(avro, list):  # a union: its non-null branch, when there is one
        branches = [b for b in avro if b != "null"]
        return _avro_type(branches[0]) if len(branches) == 1 else "complex"
    if isinstance(avro, dict):
        logical = str(avro.get("logicalType", ""))
        if logical.startswith("timestamp"):
            return "timestamp"
        if logical == "date":
            return "date"
        return str(avro["type"]) if avro["type"] in _AVRO_KINDS else "complex"
    return str(avro) if avro in _AVRO_KINDS else "complex"


def _avro_problems(columns: list[Column], fields: dict[str, Any]) -> list[str]:
    problems = []
    for column in columns:
        if column.name not in fields:
            continue  # NULL in every row, as a missing JSON field
        family = _avro_type(fields[column.name])
        allowed = _AVRO_KINDS.get(family, frozenset({Kind.JSON, Kind.STRING}))
        if column.kind not in allowed:
            problems.append(
                f"column {column.name!r} has type {column.type_name}, the Avro field is {family}"
            )
    return problems


def _error_table(target: Target, table: str) -> None:
    existing = target.columns(table)
    if existing is None:
        target.create_table(table, ERROR_COLUMNS)
        return
    have = {c.name: c for c in existing}
    missing = [c.name for c in ERROR_COLUMNS if c.name not in have]
    if missing:
        raise TableMismatch(
            f"error table {table!r} lacks column(s) {', '.join(missing)} "
            "(it needs _topic, _partition, _offset, _key, _timestamp_ms, _raw_message, _error)"
        )
