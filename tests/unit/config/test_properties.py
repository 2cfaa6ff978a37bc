"""Java ``.properties`` parsing of server.properties files."""

from __future__ import annotations

from odradek.config.properties import parse_properties


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
        "a": "1", "b": "2", "c": "3", "d": "spaced", "e": "colon", "f": "indented",
        "empty": "", "lone": "",
    }


def test_value_keeps_later_separators() -> None:
    assert parse_properties("listeners=PLAINTEXT://host:9092\n") == {
        "listeners": "PLAINTEXT://host:9092"}
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
