"""Records -> table rows: the virtual columns from the record's metadata, the others from its
parsed value, each converted to its column's kind (a value that does not convert makes the
record broken)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from odradek.ingest.columns import VIRTUAL_COLUMNS, Column, Kind
from odradek.ingest.errors import BrokenMessage
from odradek.ingest.formats import InputFormat, Row

Value = Any
Converter = Callable[[Value], Value]
EPOCH = dt.datetime(1970, 1, 1)


class Record(Protocol):
    """What ingest reads from a consumed record: confluent-kafka's ``Message`` has these."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> str | bytes | None: ...
    def value(self) -> str | bytes | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def headers(
        self,
    ) -> list[tuple[str, str | bytes | None]] | dict[str, str | bytes | None] | None: ...


def _to_int(value: Value) -> Value:
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text else None
    raise ValueError(f"not an integer: {value!r}")


def _to_float(value: Value) -> Value:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        return float(text) if text else None
    raise ValueError(f"not a number: {value!r}")


_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _to_bool(value: Value) -> Value:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return None
        if text in _BOOLS:
            return _BOOLS[text]
    raise ValueError(f"not a boolean: {value!r}")


def _to_string(value: Value) -> Value:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return json.dumps(value)


def _to_bytes(value: Value) -> Value:
    if isinstance(value, bytes):
        return value
    return _to_string(value).encode()


def _to_timestamp(value: Value) -> Value:
    """A datetime (naive, UTC); numbers are seconds since the epoch, as ClickHouse reads them."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return EPOCH + dt.timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.isdigit():
            return EPOCH + dt.timedelta(seconds=int(text))
        return _to_timestamp(dt.datetime.fromisoformat(text))
    raise ValueError(f"not a timestamp: {value!r}")


def _to_date(value: Value) -> Value:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        return dt.date.fromisoformat(text) if text else None
    raise ValueError(f"not a date: {value!r}")


def _to_json(value: Value) -> Value:
    return json.dumps(value, default=str)


def _to_json_text(value: Value) -> Value:
    """From a text format: the field is JSON text already; it must parse."""
    if isinstance(value, str):
        json.loads(value)
        return value
    return _to_json(value)


def _to_strings(value: Value) -> Value:
    if isinstance(value, str):  # from a text format: a JSON array
        value = json.loads(value)
    if not isinstance(value, list):
        raise ValueError(f"not an array: {value!r}")
    return [None if v is None else _to_string(v) for v in value]


CONVERTERS: dict[Kind, Converter] = {
    Kind.INT: _to_int,
    Kind.FLOAT: _to_float,
    Kind.BOOL: _to_bool,
    Kind.STRING: _to_string,
    Kind.BYTES: _to_bytes,
    Kind.TIMESTAMP: _to_timestamp,
    Kind.DATE: _to_date,
    Kind.JSON: _to_json,
    Kind.STRING_ARRAY: _to_strings,
}


def converter(column: Column, textual: bool) -> Converter:
    """The function turning a format's value into ``column``'s; None stays None."""
    if column.kind is None:
        raise ValueError(f"column {column.name!r}: ingest cannot fill {column.type_name}")
    convert = _to_json_text if column.kind is Kind.JSON and textual else CONVERTERS[column.kind]
    if textual and column.kind not in (Kind.STRING, Kind.BYTES):
        # An empty text field is NULL for a non-text column.
        def from_text(value: Value) -> Value:
            return None if value is None or value == "" else convert(value)

        return from_text

    def typed(value: Value) -> Value:
        return None if value is None else convert(value)

    return typed


def _text_or_none(data: str | bytes | None) -> str | None:
    if data is None or isinstance(data, str):
        return data
    return data.decode(errors="replace")


def _timestamp(record: Record, unit_ms: bool) -> dt.datetime | None:
    kind, millis = record.timestamp()
    if kind == 0:  # TIMESTAMP_NOT_AVAILABLE
        return None
    if not unit_ms:
        millis -= millis % 1000
    return EPOCH + dt.timedelta(milliseconds=millis)


def _headers(record: Record) -> list[tuple[str, str | bytes | None]]:
    headers = record.headers() or []
    return list(headers.items()) if isinstance(headers, dict) else headers


VIRTUAL_VALUES: dict[str, Callable[[Record], Value]] = {
    "_topic": lambda r: r.topic(),
    "_key": lambda r: _text_or_none(r.key()),
    "_offset": lambda r: r.offset(),
    "_timestamp": lambda r: _timestamp(r, unit_ms=False),
    "_timestamp_ms": lambda r: _timestamp(r, unit_ms=True),
    "_partition": lambda r: r.partition(),
    "_headers.name": lambda r: [name for name, _ in _headers(r)],
    "_headers.value": lambda r: [_text_or_none(value) for _, value in _headers(r)],
}


class RowBuilder:
    """Builds the row tuples of one table (columns in table order) from records."""

    def __init__(self, columns: Sequence[Column], fmt: InputFormat) -> None:
        self.columns = list(columns)
        self.format = fmt
        self.data_columns = [c for c in self.columns if c.name not in VIRTUAL_COLUMNS]
        self._virtual = [
            (i, VIRTUAL_VALUES[c.name], converter(c, textual=False))
            for i, c in enumerate(self.columns)
            if c.name in VIRTUAL_COLUMNS
        ]
        self._data = [
            (i, c.name, converter(c, fmt.textual))
            for i, c in enumerate(self.columns)
            if c.name not in VIRTUAL_COLUMNS
        ]

    def rows(self, record: Record) -> list[tuple[Value, ...]]:
        """The rows of one record; raises :class:`BrokenMessage` when it does not parse."""
        value = record.value()
        if value is None:
            raise BrokenMessage("the record has no value (a tombstone)")
        if isinstance(value, str):
            value = value.encode()
        parsed = self.format.parse(value)
        template: list[Value] = [None] * len(self.columns)
        for index, get, convert in self._virtual:
            template[index] = convert(get(record))
        return [self._row(template, row) for row in parsed]

    def _row(self, template: list[Value], row: Row) -> tuple[Value, ...]:
        out = list(template)
        if isinstance(row, Mapping):
            for index, name, convert in self._data:
                try:
                    out[index] = convert(row.get(name))
                except (ValueError, TypeError, OverflowError) as exc:
                    raise BrokenMessage(f"column {name}: {exc}") from None
            return tuple(out)
        if len(row) != len(self._data):
            raise BrokenMessage(
                f"{self.format.name}: {len(row)} field(s), the table has "
                f"{len(self._data)} non-virtual column(s)"
            )
        for (index, name, convert), field in zip(self._data, row, strict=True):
            try:
                out[index] = convert(field)
            except (ValueError, TypeError, OverflowError) as exc:
                raise BrokenMessage(f"column {name}: {exc}") from None
        return tuple(out)


def error_row(record: Record, error: str) -> tuple[Value, ...]:
    """A row of the error table (``columns.ERROR_COLUMNS``) for a broken record."""
    value = record.value()
    raw = value.encode() if isinstance(value, str) else (value or b"")
    return (
        record.topic(),
        record.partition(),
        record.offset(),
        _text_or_none(record.key()),
        _timestamp(record, unit_ms=True),
        raw,
        error,
    )
