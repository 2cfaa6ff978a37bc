"""Typed configuration definitions, as Kafka's ``ConfigDef``: a name, a type, a default, a check."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from odradek.common.errors import InvalidConfigError


class ConfigType(enum.Enum):
    BOOLEAN = "BOOLEAN"
    INT = "INT"
    LONG = "LONG"
    DOUBLE = "DOUBLE"
    STRING = "STRING"
    LIST = "LIST"
    PASSWORD = "PASSWORD"
    CLASS = "CLASS"


Validator = Callable[[str, Any], None]
INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class ConfigDef:
    name: str
    type: ConfigType
    default: Any
    doc: str = ""
    validator: Validator | None = None
    dynamic: bool = False

    def parse(self, raw: object) -> Any:
        """Parse and validate ``raw``; raises InvalidConfigError with a message a person reads."""
        value = parse_value(self.name, self.type, raw)
        if self.validator is not None and value is not None:
            self.validator(self.name, value)
        return value


def at_least(minimum: float) -> Validator:
    def check(name: str, value: Any) -> None:
        if value < minimum:
            raise InvalidConfigError(
                f"Invalid value {value} for configuration {name}: Value must be at least {minimum}"
            )

    return check


def between(minimum: float, maximum: float) -> Validator:
    """Kafka's ``Range.between``: its message names the bound that is crossed."""

    def check(name: str, value: Any) -> None:
        if value < minimum:
            raise InvalidConfigError(
                f"Invalid value {value} for configuration {name}: Value must be at least {minimum}"
            )
        if value > maximum:
            raise InvalidConfigError(
                f"Invalid value {value} for configuration {name}: "
                f"Value must be no more than {maximum}"
            )

    return check


def one_of(*choices: str, case_insensitive: bool = False) -> Validator:
    def check(name: str, value: Any) -> None:
        items = value if isinstance(value, list) else [value]
        for item in items:
            probe = item.lower() if case_insensitive else item
            if probe not in choices:
                raise InvalidConfigError(
                    f"Invalid value {item} for configuration {name}: "
                    f"String must be one of: {', '.join(choices)}"
                )

    return check


# What Java's Integer/Long.parseInt and Double.parseDouble accept (no "1_000", no "inf").
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DOUBLE = re.compile(
    r"[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"[fFdD]?)"
)


class _BadValue(Exception):
    """The reason a raw value does not parse, in Kafka's words (ConfigDef.parseType)."""


def parse_value(name: str, kind: ConfigType, raw: object) -> Any:
    """``raw`` as a value of ``kind``; a value that does not parse raises InvalidConfigError
    with Kafka's message (``Invalid value abc for configuration retention.ms: Not a number of
    type LONG``)."""
    if raw is None:
        return None
    text = raw.strip() if isinstance(raw, str) else raw
    try:
        return _parse(kind, text)
    except _BadValue as exc:
        raise InvalidConfigError(f"Invalid value {raw} for configuration {name}: {exc}") from None


def _parse(kind: ConfigType, value: object) -> Any:
    if kind is ConfigType.BOOLEAN:
        if isinstance(value, bool):
            return value
        lowered = str(value).lower()
        if lowered not in ("true", "false"):
            raise _BadValue("Expected value to be either true or false")
        return lowered == "true"
    if kind in (ConfigType.INT, ConfigType.LONG):
        return _integer(kind, value)
    if kind is ConfigType.DOUBLE:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, str))
            or (isinstance(value, str) and not _DOUBLE.fullmatch(value))
        ):
            raise _BadValue("Not a number of type DOUBLE")
        return float(str(value).rstrip("fFdD").replace("Infinity", "inf"))
    if kind is ConfigType.LIST:
        if isinstance(value, list):
            return value
        return [item.strip() for item in str(value).split(",") if item.strip()]
    return str(value)


def _integer(kind: ConfigType, value: object) -> int:
    problem = f"Not a number of type {kind.value}"
    if isinstance(value, bool):
        raise _BadValue(problem)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value):
        number = int(value)
    else:
        raise _BadValue(problem)
    limit = INT_MAX if kind is ConfigType.INT else LONG_MAX
    if not -limit - 1 <= number <= limit:
        raise _BadValue(problem)
    return number


def parse_all(defs: Mapping[str, ConfigDef], raw: Mapping[str, object]) -> dict[str, Any]:
    """Parse every key of ``raw`` that ``defs`` knows; unknown keys are the caller's business."""
    return {key: defs[key].parse(value) for key, value in raw.items() if key in defs}
