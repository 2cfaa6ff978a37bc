"""Java ``.properties`` parsing: server.properties files and the client tools' config files."""

from __future__ import annotations

from pathlib import Path

import pytest

from odradek.config.properties import parse_properties, read_properties


def test_separators_and_comments() -> None:
    text = (
        "# a comment\n"
        "! another comment\n"
        "\n"
        "   \n"
        "a=1\n"
        "b: 2\n"
        "c 3\n"
        "d = spaced\n"
        "e :colon\n"
        "   f=indented\n"
        "empty=\n"
        "lone\n"
    )
    assert parse_properties(text) == {
        "a": "1",
        "b": "2",
        "c": "3",
        "d": "spaced",
        "e": "colon",
        "f": "indented",
        "empty": "",
        "lone": "",
    }


def test_value_keeps_later_separators() -> None:
    assert parse_properties("listeners=PLAINTEXT://host:9092\n") == {
        "listeners": "PLAINTEXT://host:9092"
    }
    assert parse_properties("a=b=c\n") == {"a": "b=c"}
    assert parse_properties("url: http://x:1\n") == {"url": "http://x:1"}


def test_hash_inside_value_is_not_a_comment() -> None:
    assert parse_properties("a=x#y\n") == {"a": "x#y"}


def test_continuation_lines_strip_leading_whitespace() -> None:
    text = "log.dirs=/a,\\\n    /b,\\\n\t/c\nnext=1\n"
    assert parse_properties(text) == {"log.dirs": "/a,/b,/c", "next": "1"}


def test_comment_marker_inside_continuation_is_data() -> None:
    # Java: a continuation line is never a comment line.
    assert parse_properties("a=x\\\n#y\n") == {"a": "x#y"}


def test_continuation_at_end_of_file() -> None:
    assert parse_properties("a=x\\\n") == {"a": "x"}


def test_later_key_wins() -> None:
    assert parse_properties("a=1\na=2\n") == {"a": "2"}


def test_crlf_line_endings() -> None:
    assert parse_properties("a=1\r\nb=2\r\n") == {"a": "1", "b": "2"}


def test_backslash_escapes_as_java_properties() -> None:
    text = (
        "path=C:\\\\kafka\\\\logs\n"
        "key\\=with\\:seps=v\n"
        "tab=a\\tb\n"
        "uni=\\u0041\n"
        "even=x\\\\\n"
        "after=1\n"
    )
    assert parse_properties(text) == {
        "path": "C:\\kafka\\logs",
        "key=with:seps": "v",
        "tab": "a\tb",
        "uni": "A",
        "even": "x\\",
        "after": "1",
    }


# -- each piece of the syntax, one by one -------------------------------------------------------


@pytest.mark.parametrize("line", ["# a=1", "!a=1", "   # a=1", "\t! a=1", "\f#a=1"])
def test_comment_lines_with_hash_and_bang(line: str) -> None:
    assert parse_properties(line + "\nb=2\n") == {"b": "2"}


def test_comment_line_ending_in_backslash_does_not_continue() -> None:
    assert parse_properties("# comment \\\na=1\n") == {"a": "1"}


@pytest.mark.parametrize(
    "line",
    [
        "key=value",
        "key = value",
        "key:value",
        "key : value",
        "key value",
        "key\tvalue",
        "key\fvalue",
        "  key   value  ",
    ],
)
def test_every_separator_form(line: str) -> None:
    assert parse_properties(line) == {"key": "value" + ("  " if line.endswith("  ") else "")}


def test_trailing_whitespace_of_a_value_is_kept() -> None:
    assert parse_properties("a=b  \n") == {"a": "b  "}


def test_only_one_separator_is_dropped() -> None:
    assert parse_properties("a==b\n") == {"a": "=b"}
    assert parse_properties("a = : b\n") == {"a": ": b"}
    assert parse_properties("a b=c\n") == {"a": "b=c"}


def test_form_feed_is_white_space_not_a_line_end() -> None:
    assert parse_properties("\fa=1\fb\n") == {"a": "1\fb"}


def test_old_mac_line_endings() -> None:
    assert parse_properties("a=1\rb=2\r") == {"a": "1", "b": "2"}


def test_backslash_continuation_of_keys_and_values() -> None:
    text = 'sasl.jaas.config=org.Module required \\\n    username="u" \\\n  password="p";\n'
    assert parse_properties(text) == {
        "sasl.jaas.config": 'org.Module required username="u" password="p";'
    }
    assert parse_properties("long.\\\n   key=v\n") == {"long.key": "v"}


def test_blank_line_ends_a_continuation() -> None:
    assert parse_properties("a=x\\\n\nb=2\n") == {"a": "x", "b": "2"}


def test_even_backslashes_do_not_continue() -> None:
    assert parse_properties("a=x\\\\\nb=2\n") == {"a": "x\\", "b": "2"}


@pytest.mark.parametrize(
    ("escaped", "value"),
    [
        ("\\t", "\t"),
        ("\\n", "\n"),
        ("\\r", "\r"),
        ("\\f", "\f"),
        ("\\u00e9", "\u00e9"),
        ("\\u00E9", "\u00e9"),
        ("\\=", "="),
        ("\\:", ":"),
        ("\\#", "#"),
        ("\\!", "!"),
        ("\\ ", " "),
        ("\\\\", "\\"),
        ("\\q", "q"),
    ],
)
def test_escapes(escaped: str, value: str) -> None:
    assert parse_properties(f"k=a{escaped}b\n") == {"k": f"a{value}b"}


def test_escaped_white_space_and_separators_belong_to_the_key() -> None:
    assert parse_properties("my\\ key\\:x\\=y = v\n") == {"my key:x=y": "v"}


def test_escaped_leading_space_of_a_value_is_kept() -> None:
    assert parse_properties("a=\\  b\n") == {"a": "  b"}


@pytest.mark.parametrize("escaped", ["\\u12", "\\u+123", "\\u 123", "\\uzzzz"])
def test_malformed_unicode_escape_is_read_leniently(escaped: str) -> None:
    assert parse_properties(f"k={escaped}\n") == {"k": escaped[1:]}


def test_empty_key_is_skipped() -> None:
    assert parse_properties("=value\n: other\na=1\n") == {"a": "1"}


def test_read_properties_reads_utf8(tmp_path: Path) -> None:
    path = tmp_path / "client.properties"
    path.write_text(
        "# admin client\nclient.id = caf\u00e9\nsecurity.protocol: PLAINTEXT\n", encoding="utf-8"
    )
    assert read_properties(path) == {"client.id": "caf\u00e9", "security.protocol": "PLAINTEXT"}
    assert read_properties(str(path)) == read_properties(path)


def test_read_properties_raises_os_error_for_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        read_properties(tmp_path / "missing.properties")
