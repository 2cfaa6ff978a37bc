"""Java ``.properties`` parsing (``java.util.Properties.load``): the one parser of the project,
for the broker's ``server.properties`` and ``meta.properties`` and for the client tools'
``--command-config`` / ``--producer.config`` / ``--consumer.config`` style files.

- ``key=value``, ``key: value`` or ``key value``: the key ends at the first unescaped ``=``,
  ``:`` or white space; white space around the separator is dropped, and the value keeps
  any later separators (``a==b`` is ``a`` -> ``=b``);
- comment lines start with ``#`` or ``!`` (after white space); blank lines are skipped;
- a line that ends with an odd number of backslashes continues on the next line, whose
  leading white space is dropped (a continuation line is never a comment);
- escapes ``\\t \\n \\r \\f \\uXXXX``, and ``\\x`` for any other ``x`` (``\\=``, ``\\:``,
  ``\\ ``, ``\\\\``, ``\\#``);
- white space is space, tab and form feed; lines end at ``\\n``, ``\\r`` or ``\\r\\n`` only.

Two leniencies where Java throws or keeps junk: a malformed ``\\u`` escape is read as ``u``
followed by its characters, and a line with an empty key (``=value``) is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["parse_properties", "read_properties"]

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_WHITESPACE = " \t\f"
_SEPARATORS = "=:"
_LINE_END = re.compile(r"\r\n|\r|\n")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")


def parse_properties(text: str) -> dict[str, str]:
    """The properties of ``text``; a later key wins over an earlier one."""
    result: dict[str, str] = {}
    for line in _logical_lines(text):
        key, value = _split(line)
        if key:
            result[_unescape(key)] = _unescape(value)
    return result


def read_properties(path: str | Path) -> dict[str, str]:
    """The properties of a UTF-8 file; raises ``OSError`` when it cannot be read (and
    ``UnicodeDecodeError`` when it is not UTF-8)."""
    return parse_properties(Path(path).read_text(encoding="utf-8"))


def _ends_with_odd_backslashes(line: str) -> bool:
    count = len(line) - len(line.rstrip("\\"))
    return count % 2 == 1


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending: str | None = None
    for raw in _LINE_END.split(text):
        line = raw.lstrip(_WHITESPACE)
        if pending is None and (not line or line[0] in "#!"):
            continue
        if _ends_with_odd_backslashes(line):
            pending = (pending or "") + line[:-1]
            continue
        lines.append((pending or "") + line)
        pending = None
    if pending is not None:
        lines.append(pending)
    return lines


def _split(line: str) -> tuple[str, str]:
    """(escaped key, escaped value) of a logical line."""
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if char in _SEPARATORS or char in _WHITESPACE:
            break
        index += 1
    key = line[:index]
    rest = line[index:].lstrip(_WHITESPACE)
    if rest and rest[0] in _SEPARATORS:
        rest = rest[1:].lstrip(_WHITESPACE)
    return key, rest


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "\\" or index + 1 >= len(text):
            out.append(char)
            index += 1
            continue
        nxt = text[index + 1]
        digits = text[index + 2 : index + 6]
        if nxt == "u" and _HEX4.fullmatch(digits):
            out.append(chr(int(digits, 16)))
            index += 6
            continue
        out.append(_ESCAPES.get(nxt, nxt))
        index += 2
    return "".join(out)
