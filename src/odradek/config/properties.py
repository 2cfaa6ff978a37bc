"""Java ``.properties`` parsing, enough for Kafka's server.properties files."""

from __future__ import annotations


def parse_properties(text: str) -> dict[str, str]:
    """key=value / key: value / key value lines; # and ! comments; backslash continuations."""
    result: dict[str, str] = {}
    logical = ""
    for raw_line in text.splitlines():
        line = raw_line.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            logical += line[:-1]
            continue
        logical += line
        key, value = _split(logical)
        if key:
            result[key] = value
        logical = ""
    if logical:
        key, value = _split(logical)
        result[key] = value
    return result


def _split(line: str) -> tuple[str, str]:
    for index, char in enumerate(line):
        if char in "=:" or char.isspace():
            key = line[:index].strip()
            rest = line[index:].lstrip()
            if rest and rest[0] in "=:":
                rest = rest[1:]
            return key, rest.strip()
    return line.strip(), ""
