"""Input formats: a record's value -> rows, by column name (JSONEachRow, Avro) or by position
(CSV, TSV, RawBLOB). One record may hold several rows (one per line in the text formats, one
per Avro object in a container file). An unparsable value raises :class:`BrokenMessage`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import fastavro

from odradek.ingest.errors import BrokenMessage, SettingsError

Row = Mapping[str, Any] | Sequence[Any]


class InputFormat(Protocol):
    """Turns one record's value into rows."""

    name: str
    by_name: bool  # rows are mappings by column name (else sequences by position)
    textual: bool  # values are text to convert (else typed values)

    def parse(self, value: bytes) -> list[Row]: ...


class JSONEachRow:
    """One JSON object per line; fields map to columns by name, unknown fields are ignored."""

    name, by_name, textual = "JSONEachRow", True, False

    def parse(self, value: bytes) -> list[Row]:
        rows: list[Row] = []
        for line in value.splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, UnicodeDecodeError) as exc:
                raise BrokenMessage(f"JSONEachRow: {exc}") from None
            if not isinstance(row, dict):
                raise BrokenMessage(f"JSONEachRow: expected an object, got {type(row).__name__}")
            rows.append(row)
        if not rows:
            raise BrokenMessage("JSONEachRow: no row in the record")
        return rows


def _text(value: bytes, fmt: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError as exc:
        raise BrokenMessage(f"{fmt}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


class CSV:
    """Comma-separated values, RFC 4180 quoting; fields map to columns by position."""

    name, by_name, textual = "CSV", False, True

    def parse(self, value: bytes) -> list[Row]:
        try:
            rows: list[Row] = [r for r in csv.reader(io.StringIO(_text(value, "CSV"))) if r]
        except csv.Error as exc:
            raise BrokenMessage(f"CSV: {exc}") from None
        if not rows:
            raise BrokenMessage("CSV: no row in the record")
        return rows


_TSV_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\", "0": "\0", "b": "\b", "f": "\f"}


def _tsv_field(field: str) -> str | None:
    if field == "\\N":
        return None
    if "\\" not in field:
        return field
    out, chars = [], iter(field)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            out.append(_TSV_ESCAPES.get(nxt, nxt))
        else:
            out.append(char)
    return "".join(out)


class TSV:
    """Tab-separated values (ClickHouse's TabSeparated escapes, ``\\N`` for NULL); by position."""

    name, by_name, textual = "TSV", False, True

    def parse(self, value: bytes) -> list[Row]:
        lines = [line for line in _text(value, "TSV").split("\n") if line]
        if not lines:
            raise BrokenMessage("TSV: no row in the record")
        return [[_tsv_field(f) for f in line.split("\t")] for line in lines]


class RawBLOB:
    """The whole value as one column's value (the table's one non-virtual column)."""

    name, by_name, textual = "RawBLOB", False, False

    def parse(self, value: bytes) -> list[Row]:
        return [(value,)]


_OCF_MAGIC = b"Obj\x01"


class Avro:
    """Avro: an object container file (schema embedded) or one datum written with the schema
    of ``--schema`` (``kafka_schema``); record fields map to columns by name."""

    name, by_name, textual = "Avro", True, False

    def __init__(self, schema_path: Path) -> None:
        try:
            self.schema = fastavro.parse_schema(json.loads(schema_path.read_text()))
        except (OSError, ValueError, fastavro.schema.SchemaParseException) as exc:
            raise SettingsError(f"Avro schema {schema_path}: {exc}") from None
        self.fields = _record_fields(self.schema)

    def parse(self, value: bytes) -> list[Row]:
        try:
            if value.startswith(_OCF_MAGIC):
                rows = list(fastavro.reader(io.BytesIO(value)))
            else:
                rows = [fastavro.schemaless_reader(io.BytesIO(value), self.schema, None)]
        except Exception as exc:  # fastavro raises whatever the bytes provoke
            raise BrokenMessage(f"Avro: {type(exc).__name__}: {exc}") from None
        records: list[Row] = [r for r in rows if isinstance(r, dict)]
        if len(records) != len(rows):
            raise BrokenMessage("Avro: the datum is not a record")
        return records


def _record_fields(schema: Any) -> dict[str, Any]:
    """Top-level field name -> Avro type of a record schema."""
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise SettingsError("the Avro schema must be a record (its fields become columns)")
    return {f["name"]: f["type"] for f in schema["fields"]}


def make_format(name: str, schema: Path | None) -> InputFormat:
    if name == "Avro":
        if schema is None:
            raise SettingsError("format Avro needs --schema FILE")
        return Avro(schema)
    formats: dict[str, InputFormat] = {
        "JSONEachRow": JSONEachRow(),
        "CSV": CSV(),
        "TSV": TSV(),
        "RawBLOB": RawBLOB(),
    }
    return formats[name]
