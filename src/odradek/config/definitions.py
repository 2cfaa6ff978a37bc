"""Typed configuration definitions, as Kafka's ``ConfigDef``: a name, a type, a default, a check."""

from __future__ import annotations

import enum
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
            raise InvalidConfigError(f"Invalid value {value} for configuration {name}: "
                                     f"Value must be at least {minimum}")

    return check


def between(minimum: float, maximum: float) -> Validator:
    def check(name: str, value: Any) -> None:
        if not minimum <= value <= maximum:
            raise InvalidConfigError(f"Invalid value {value} for configuration {name}: "
                                     f"Value must be between {minimum} and {maximum}")

    return check


def one_of(*choices: str, case_insensitive: bool = False) -> Validator:
    def check(name: str, value: Any) -> None:
        items = value if isinstance(value, list) else [value]
        for item in items:
            probe = item.lower() if case_insensitive else item
            if probe not in choices:
                raise InvalidConfigError(f"Invalid value {item} for configuration {name}: "
                                         f"String must be one of: {', '.join(choices)}")

    return check


def parse_value(name: str, kind: ConfigType, raw: object) -> Any:
    if raw is None:
        return None
    text = raw.strip() if isinstance(raw, str) else raw
    try:
        if kind is ConfigType.BOOLEAN:
            if isinstance(text, bool):
                return text
            lowered = str(text).lower()
            if lowered not in ("true", "false"):
                raise ValueError("Expected value to be either true or false")
            return lowered == "true"
        if kind in (ConfigType.INT, ConfigType.LONG):
            if isinstance(text, bool):
                raise ValueError("not a number")
            value = int(text)  # type: ignore[call-overload]
            limit = INT_MAX if kind is ConfigType.INT else LONG_MAX
            if not -limit - 1 <= value <= limit:
                raise ValueError(f"Not a number of type {kind.value}")
            return value
        if kind is ConfigType.DOUBLE:
            return float(text)  # type: ignore[arg-type]
        if kind is ConfigType.LIST:
            if isinstance(text, list):
                return text
            return [item.strip() for item in str(text).split(",") if item.strip()]
        return str(text)
    except (TypeError, ValueError) as exc:
        raise InvalidConfigError(
            f"Invalid value {raw} for configuration {name}: {exc}"
        ) from exc


def parse_all(defs: Mapping[str, ConfigDef], raw: Mapping[str, object]) -> dict[str, Any]:
    """Parse every key of ``raw`` that ``defs`` knows; unknown keys are the caller's business."""
    return {key: defs[key].parse(value) for key, value in raw.items() if key in defs}
