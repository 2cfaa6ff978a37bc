"""Rows as ClickHouse's ``TabSeparated`` text: one line per row, ``\\N`` for NULL, strings
with ``\\``, tab and line breaks escaped, arrays as ``['a','b']``, timestamps as Unix seconds
(ClickHouse reads them so whatever the server's time zone).

Deterministic: the same rows always make the same bytes, which a replayed block needs for
ClickHouse to recognise it as a repeat."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from odradek.ingest.columns import Column, Kind
from odradek.ingest.rows import EPOCH, Value

Encoder = Callable[[Value], bytes]

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})
_QUOTED = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0", "'": "\\'"}
)


def _text(value: Value) -> bytes:
    return str(value).translate(_ESCAPES).encode()


def _bytes(value: Value) -> bytes:
    data = value if isinstance(value, bytes) else str(value).encode()
    for raw, escaped in ((b"\\", b"\\\\"), (b"\t", b"\\t"), (b"\n", b"\\n"), (b"\r", b"\\r")):
        data = data.replace(raw, escaped)
    return data


def _int(value: Value) -> bytes:
    return b"%d" % value


def _float(value: Value) -> bytes:
    return repr(float(value)).encode()


def _bool(value: Value) -> bytes:
    return b"1" if value else b"0"


def _seconds(value: dt.datetime) -> int:
    return (value - EPOCH) // dt.timedelta(seconds=1)


def _datetime(value: Value) -> bytes:
    return b"%d" % _seconds(value)


def _datetime64(value: Value) -> bytes:
    millis = (value - EPOCH) // dt.timedelta(milliseconds=1)
    return b"%d.%03d" % divmod(millis, 1000)


def _date(value: Value) -> bytes:
    return value.isoformat().encode()  # type: ignore[no-any-return]


def _strings(value: Value) -> bytes:
    # Array(String) holds no NULL: a header without a value is ''.
    items = ("'" + ("" if v is None else v).translate(_QUOTED) + "'" for v in value)
    return ("[" + ",".join(items) + "]").encode()


_ENCODERS: dict[Kind, Encoder] = {
    Kind.INT: _int,
    Kind.FLOAT: _float,
    Kind.BOOL: _bool,
    Kind.STRING: _text,
    Kind.JSON: _text,
    Kind.BYTES: _bytes,
    Kind.DATE: _date,
    Kind.STRING_ARRAY: _strings,
}


def encoder(column: Column) -> Encoder:
    """How ``column``'s values are written (NULL aside)."""
    if column.kind is Kind.TIMESTAMP:
        return _datetime64 if "64" in column.type_name else _datetime
    if column.kind is None:
        raise ValueError(f"column {column.name!r}: ingest cannot fill {column.type_name}")
    return _ENCODERS[column.kind]


class TSVWriter:
    """Rows of one table's columns -> ``TabSeparated`` bytes."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.encoders = [encoder(c) for c in columns]

    def encode(self, rows: Sequence[tuple[Value, ...]]) -> bytes:
        lines = []
        encoders = self.encoders
        for row in rows:
            fields = [b"\\N" if v is None else e(v) for e, v in zip(encoders, row, strict=True)]
            lines.append(b"\t".join(fields))
        lines.append(b"")
        return b"\n".join(lines)
