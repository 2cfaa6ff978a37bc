"""The ``client-metrics`` config resource (ConfigResource type 16): its keys ``metrics``,
``interval.ms`` and ``match``, their validation, and the subscription a resource defines."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from odradek.common.errors import InvalidConfigError, InvalidRequestError

RESOURCE_TYPE = 16  # ConfigResource.Type.CLIENT_METRICS
ENTITY_TYPE = "client-metrics"  # the entity path prefix: client-metrics/<name>
CONFIG_SOURCE = 7  # DescribeConfigs' CLIENT_METRICS_CONFIG source

METRICS = "metrics"
INTERVAL_MS = "interval.ms"
MATCH = "match"
DEFAULT_INTERVAL_MS = 300_000
MIN_INTERVAL_MS = 100
MAX_INTERVAL_MS = 3_600_000
ALL_METRICS = "*"

# DescribeConfigs' config types: LIST and INT.
CONFIG_TYPES = {METRICS: 7, INTERVAL_MS: 3, MATCH: 7}
DOCS = {
    METRICS: "Telemetry metric name prefixes the matching clients push; '*' for all metrics.",
    INTERVAL_MS: "How often, in milliseconds, the matching clients push their metrics.",
    MATCH: "Selectors (key=regex) a client must all match: client_id, client_instance_id, "
    "client_software_name, client_software_version, client_source_address, "
    "client_source_port.",
}
DEFAULTS = {METRICS: "", INTERVAL_MS: str(DEFAULT_INTERVAL_MS), MATCH: ""}

CLIENT_ID = "client_id"
CLIENT_INSTANCE_ID = "client_instance_id"
CLIENT_SOFTWARE_NAME = "client_software_name"
CLIENT_SOFTWARE_VERSION = "client_software_version"
CLIENT_SOURCE_ADDRESS = "client_source_address"
CLIENT_SOURCE_PORT = "client_source_port"
MATCH_KEYS = frozenset(
    {
        CLIENT_ID,
        CLIENT_INSTANCE_ID,
        CLIENT_SOFTWARE_NAME,
        CLIENT_SOFTWARE_VERSION,
        CLIENT_SOURCE_ADDRESS,
        CLIENT_SOURCE_PORT,
    }
)


def parse_list(value: str) -> list[str]:
    """A LIST config's items, as Kafka splits them: on commas, trimmed, empty ones dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass(frozen=True, slots=True)
class Subscription:
    """One ``client-metrics`` resource: the metric prefixes that the clients its selectors
    match are asked for, and their push interval."""

    name: str
    metrics: tuple[str, ...]
    interval_ms: int
    match: tuple[tuple[str, re.Pattern[str]], ...]

    def matches(self, client: Mapping[str, str]) -> bool:
        """Whether every selector's regex matches the whole of the client's attribute (a
        resource without selectors matches every client)."""
        return all(
            pattern.fullmatch(client.get(key, "")) is not None for key, pattern in self.match
        )


def _interval(value: str) -> int:
    try:
        interval = int(value.strip())
    except ValueError:
        raise InvalidConfigError(
            f"Invalid value {value} for configuration {INTERVAL_MS}: Not a number of type INT"
        ) from None
    if not MIN_INTERVAL_MS <= interval <= MAX_INTERVAL_MS:
        raise InvalidConfigError(
            f"Invalid value {interval} for configuration {INTERVAL_MS}: Value must be in "
            f"[{MIN_INTERVAL_MS}, {MAX_INTERVAL_MS}]"
        )
    return interval


def _selectors(value: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    selectors = []
    for item in parse_list(value):
        key, sep, pattern = item.partition("=")
        key, pattern = key.strip(), pattern.strip()
        if not sep or not pattern:
            raise InvalidConfigError(f"Illegal client matching pattern: {item}")
        if key not in MATCH_KEYS:
            raise InvalidConfigError(f"Invalid client matching key: {key}")
        try:
            selectors.append((key, re.compile(pattern)))
        except re.error as exc:
            raise InvalidConfigError(f"Illegal regex pattern {pattern!r}: {exc}") from None
    return tuple(selectors)


def subscription(name: str, configs: Mapping[str, str]) -> Subscription:
    """The subscription of resource ``name``; raises InvalidRequestError for an unknown key
    and InvalidConfigError for an invalid value."""
    unknown = sorted(set(configs) - set(DEFAULTS))
    if unknown:
        raise InvalidRequestError(f"Unknown client metric configuration: {', '.join(unknown)}")
    return Subscription(
        name,
        tuple(parse_list(configs.get(METRICS, ""))),
        _interval(configs.get(INTERVAL_MS, DEFAULTS[INTERVAL_MS])),
        _selectors(configs.get(MATCH, "")),
    )


def check_name(name: str) -> None:
    """A resource name is a znode name: not empty, no ``/``."""
    if not name:
        raise InvalidRequestError("Resource name cannot be empty for client-metrics")
    if "/" in name or name in (".", ".."):
        raise InvalidRequestError(f"Invalid client-metrics resource name: {name}")


SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3  # IncrementalAlterConfigs' operations


def altered(
    current: Mapping[str, str], ops: Sequence[tuple[str, int, str | None]], incremental: bool
) -> dict[str, str]:
    """The resource's configs after an alteration: AlterConfigs replaces them all, the
    incremental form applies SET, DELETE, APPEND and SUBTRACT (the last two to the LIST keys
    only). Raises as :func:`subscription` does for a result that is not valid."""
    configs = dict(current) if incremental else {}
    for name, op, value in ops:
        if op == SET:
            configs[name] = value or ""
        elif op == DELETE:
            configs.pop(name, None)
        elif op in (APPEND, SUBTRACT):
            if CONFIG_TYPES.get(name) != 7:
                raise InvalidConfigError(f"Config value append is not allowed for config {name}")
            items = parse_list(configs.get(name, ""))
            given = parse_list(value or "")
            if op == APPEND:
                items += [i for i in given if i not in items]
            else:
                items = [i for i in items if i not in given]
            configs[name] = ",".join(items)
        else:
            raise InvalidRequestError(f"Unknown alter config operation {op}")
    configs = {k: v for k, v in configs.items() if v != "" or k not in CONFIG_TYPES}
    subscription("", configs)
    return configs
