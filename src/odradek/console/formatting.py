"""How the console shows values: record keys and values (UTF-8, JSON, hex), sizes, counts
and timestamps. Pure functions, no I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

FORMATS = ("auto", "utf8", "json", "hex")
_SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


@dataclass(frozen=True)
class ShownBytes:
    """A key, value or header value as shown: its text and the format it was shown in."""

    text: str
    format: str  # "null", "utf8", "json" or "hex"


def show_bytes(data: bytes | None, wanted: str = "auto") -> ShownBytes:
    """``data`` in the ``wanted`` format; ``auto`` is JSON pretty-printed when it parses as a
    JSON object or array, else UTF-8 text when it decodes, else hex. A format that does not
    fit the data (``json`` of non-JSON, ``utf8`` of binary) falls back to ``auto``'s choice."""
    if data is None:
        return ShownBytes("null", "null")
    if wanted == "hex":
        return ShownBytes(hex_dump(data), "hex")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ShownBytes(hex_dump(data), "hex")
    if wanted in ("auto", "json"):
        pretty = pretty_json(text, structured_only=wanted == "auto")
        if pretty is not None:
            return ShownBytes(pretty, "json")
    if not _printable(text):
        return ShownBytes(hex_dump(data), "hex")
    return ShownBytes(text, "utf8")


def pretty_json(text: str, structured_only: bool = True) -> str | None:
    """``text`` indented when it is JSON (an object or array only, if ``structured_only``)."""
    stripped = text.strip()
    if structured_only and not stripped.startswith(("{", "[")):
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    return json.dumps(parsed, indent=2, ensure_ascii=False, sort_keys=False)


def hex_dump(data: bytes) -> str:
    """Bytes as space-separated hex pairs, 16 to a line."""
    return "\n".join(data[i : i + 16].hex(" ") for i in range(0, len(data), 16))


def _printable(text: str) -> bool:
    return all(ch.isprintable() or ch in "\t\n\r" for ch in text)


def human_bytes(size: int | None) -> str:
    """A byte count with a binary unit (``1.5 MiB``); ``-`` when unknown."""
    if size is None or size < 0:
        return "-"
    value = float(size)
    for unit in _SIZE_UNITS:
        if value < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_count(count: int | None) -> str:
    """A count with thousands separators; ``-`` when unknown."""
    return "-" if count is None else f"{count:,}"


def human_rate(per_second: float | None, unit: str = "B") -> str:
    """A rate such as ``1.2 KiB/s`` (bytes) or ``35.0 /s`` (messages); ``-`` when unknown."""
    if per_second is None:
        return "-"
    if unit == "B":
        return human_bytes(round(per_second)) + "/s"
    return f"{per_second:,.1f} /s"


def format_timestamp_ms(millis: int | None) -> str:
    """A Kafka timestamp (ms since the epoch) as UTC ISO 8601 with milliseconds."""
    if millis is None or millis < 0:
        return "-"
    moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{millis % 1000:03d}Z"


def parse_timestamp(text: str) -> int:
    """Milliseconds since the epoch from a number of ms or an ISO 8601 date-time (UTC when it
    names no zone); ``ValueError`` otherwise."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    moment = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
