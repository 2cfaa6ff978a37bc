"""How keys, values, sizes and timestamps are shown."""

from __future__ import annotations

import pytest

from odradek.console.formatting import (
    ShownBytes,
    format_timestamp_ms,
    hex_dump,
    human_bytes,
    human_count,
    human_rate,
    parse_timestamp,
    show_bytes,
)


def test_auto_picks_json_then_text_then_hex() -> None:
    assert show_bytes(b'{"a":[1,2]}') == ShownBytes('{\n  "a": [\n    1,\n    2\n  ]\n}', "json")
    assert show_bytes("caf\u00e9 42".encode()) == ShownBytes("caf\u00e9 42", "utf8")
    assert show_bytes(b"42") == ShownBytes("42", "utf8")  # a JSON scalar stays text in auto
    assert show_bytes(b"\xff\xfe") == ShownBytes("ff fe", "hex")
    assert show_bytes(b"a\x00b") == ShownBytes("61 00 62", "hex")  # decodes, not printable
    assert show_bytes(None) == ShownBytes("null", "null")


def test_wanted_formats_and_their_fallbacks() -> None:
    assert show_bytes(b"42", "json") == ShownBytes("42", "json")
    assert show_bytes(b"not json", "json") == ShownBytes("not json", "utf8")
    assert show_bytes(b'{"a":1}', "utf8") == ShownBytes('{"a":1}', "utf8")
    assert show_bytes(b"ab", "hex") == ShownBytes("61 62", "hex")
    assert show_bytes(b"\xff", "utf8") == ShownBytes("ff", "hex")


def test_hex_dump_has_sixteen_bytes_a_line() -> None:
    assert hex_dump(bytes(range(18))) == ("00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n10 11")
    assert hex_dump(b"") == ""


def test_sizes_counts_rates() -> None:
    assert human_bytes(None) == "-"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(5 * 1024**3) == "5.0 GiB"
    assert human_bytes(3 * 1024**5) == "3072.0 TiB"
    assert human_count(1234567) == "1,234,567"
    assert human_count(None) == "-"
    assert human_rate(2048.0) == "2.0 KiB/s"
    assert human_rate(12.34, "msg") == "12.3 /s"
    assert human_rate(None) == "-"


def test_timestamps() -> None:
    assert format_timestamp_ms(1704067200123) == "2024-01-01 00:00:00.123Z"
    assert format_timestamp_ms(-1) == "-"
    assert parse_timestamp("1704067200123") == 1704067200123
    assert parse_timestamp("2024-01-01T00:00:00Z") == 1704067200000
    assert parse_timestamp("2024-01-01T01:00:00+01:00") == 1704067200000
    assert parse_timestamp("2024-01-01") == 1704067200000  # no zone: UTC
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")
