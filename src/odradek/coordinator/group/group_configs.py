"""KIP-848's dynamic group configs: the GROUP config resource (ConfigResource type 32, Kafka
4.0's ``GroupConfig``) and how the consumer-group coordinator reads them.

A group may override ``consumer.session.timeout.ms`` and ``consumer.heartbeat.interval.ms``;
a key it does not set takes the broker's ``group.consumer.session.timeout.ms`` /
``group.consumer.heartbeat.interval.ms``. A value must lie within the broker's
``group.consumer.min/max.*`` bounds and the session timeout must exceed the heartbeat
interval (Kafka's ``GroupConfig.validate``, with its messages).

Kafka 4.0's GroupConfig also defines ``share.session.timeout.ms``,
``share.heartbeat.interval.ms``, ``share.record.lock.duration.ms`` and
``share.auto.offset.reset`` (KIP-932 share groups). odradek has no share groups, so it
neither describes nor accepts them: setting one fails as an unknown name does
(INVALID_CONFIG, "Unknown group config name: ...").

The configs live in the metadata store as the ``groups/<group id>`` entity (the group id
sanitized as Kafka writes entity names), beside ``client-metrics/<name>``; in a cluster that
is a ZooKeeper znode every broker follows, so the coordinator of a group that moves finds
them. The coordinator stays sans-IO: it is given a :class:`GroupConfigLookup` (in
:mod:`.model`) and reads a group's values through its CoordinatorContext.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from odradek.common.errors import InvalidConfigError, InvalidRequestError
from odradek.coordinator.group.model import GroupConfig
from odradek.security.client_quotas import desanitize, sanitize

RESOURCE_TYPE = 32  # ConfigResource.Type.GROUP
ENTITY_TYPE = "groups"  # the entity path prefix: groups/<sanitized group id>
CONFIG_SOURCE = 8  # DescribeConfigs' GROUP_CONFIG source (Admin: DYNAMIC_GROUP_CONFIG)

CONSUMER_SESSION_TIMEOUT_MS = "consumer.session.timeout.ms"
CONSUMER_HEARTBEAT_INTERVAL_MS = "consumer.heartbeat.interval.ms"
# Kafka defines them in this order (ConfigDef parses, and so fails, in it).
NAMES = (CONSUMER_SESSION_TIMEOUT_MS, CONSUMER_HEARTBEAT_INTERVAL_MS)
CONFIG_TYPE_INT = 3  # DescribeConfigs' ConfigType.INT
DOCS = {
    CONSUMER_SESSION_TIMEOUT_MS: "The timeout to detect client failures when using the "
    "consumer group protocol.",
    CONSUMER_HEARTBEAT_INTERVAL_MS: "The heartbeat interval given to the members of a "
    "consumer group.",
}
# The broker keys that bound a group's values.
MIN_SESSION = "group.consumer.min.session.timeout.ms"
MAX_SESSION = "group.consumer.max.session.timeout.ms"
MIN_HEARTBEAT = "group.consumer.min.heartbeat.interval.ms"
MAX_HEARTBEAT = "group.consumer.max.heartbeat.interval.ms"

SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3  # IncrementalAlterConfigs' operations
_OP_NAMES = {APPEND: "APPEND", SUBTRACT: "SUBTRACT"}


def entity_path(group_id: str) -> str:
    """The metadata store's entity path of a group's configs."""
    return f"{ENTITY_TYPE}/{sanitize(group_id)}"


def group_of(path: str) -> str | None:
    """The group id an entity path names, None for another kind of entity."""
    prefix = ENTITY_TYPE + "/"
    return desanitize(path[len(prefix) :]) if path.startswith(prefix) else None


def defaults(config: GroupConfig) -> dict[str, int]:
    """A group's values when it sets none: the broker's ``group.consumer.*`` settings."""
    return {
        CONSUMER_SESSION_TIMEOUT_MS: config.consumer_session_timeout_ms,
        CONSUMER_HEARTBEAT_INTERVAL_MS: config.consumer_heartbeat_interval_ms,
    }


def effective(config: GroupConfig, overrides: Mapping[str, str]) -> dict[str, int]:
    """A group's values: its overrides (validated when they were set) over the broker's
    defaults."""
    values = defaults(config)
    for name in NAMES:
        text = overrides.get(name)
        if text is not None and re.fullmatch(r"[+-]?[0-9]+", text.strip()):
            values[name] = int(text.strip())
    return values


def _parse(name: str, text: str) -> int:
    """An INT value as Kafka's ConfigDef parses it (``atLeast(1)``)."""
    trimmed = text.strip()
    value = int(trimmed) if re.fullmatch(r"[+-]?[0-9]+", trimmed) else None
    if value is None or not -(2**31) <= value < 2**31:  # Java's Integer.parseInt
        raise InvalidConfigError(
            f"Invalid value {text} for configuration {name}: Not a number of type INT"
        )
    if value < 1:
        raise InvalidConfigError(
            f"Invalid value {value} for configuration {name}: Value must be at least 1"
        )
    return value


def validate(configs: Mapping[str, str], config: GroupConfig) -> dict[str, int]:
    """The group's values after checking ``configs`` as Kafka's GroupConfig.validate does:
    names, then each value's type and ``atLeast(1)``, then the broker's bounds, then the
    session timeout above the heartbeat interval. Raises InvalidConfigError."""
    for name in configs:
        if name not in NAMES:
            raise InvalidConfigError(f"Unknown group config name: {name}")
    values = defaults(config)
    for name in NAMES:
        if name in configs:
            values[name] = _parse(name, configs[name])
    bounds = (
        (
            CONSUMER_HEARTBEAT_INTERVAL_MS,
            (config.consumer_min_heartbeat_interval_ms, MIN_HEARTBEAT),
            (config.consumer_max_heartbeat_interval_ms, MAX_HEARTBEAT),
        ),
        (
            CONSUMER_SESSION_TIMEOUT_MS,
            (config.consumer_min_session_timeout_ms, MIN_SESSION),
            (config.consumer_max_session_timeout_ms, MAX_SESSION),
        ),
    )
    for name, (low, low_key), (high, high_key) in bounds:
        if values[name] < low:
            raise InvalidConfigError(f"{name} must be greater than or equal to {low_key}")
        if values[name] > high:
            raise InvalidConfigError(f"{name} must be less than or equal to {high_key}")
    heartbeat = values[CONSUMER_HEARTBEAT_INTERVAL_MS]
    session = values[CONSUMER_SESSION_TIMEOUT_MS]
    if session <= heartbeat:
        raise InvalidConfigError(
            f"{CONSUMER_SESSION_TIMEOUT_MS} must be greater than {CONSUMER_HEARTBEAT_INTERVAL_MS}"
        )
    return values


def altered(
    current: Mapping[str, str],
    ops: Sequence[tuple[str, int, str | None]],
    incremental: bool,
    config: GroupConfig,
) -> dict[str, str]:
    """A group's configs after an alteration, validated: AlterConfigs replaces them all, the
    incremental form applies SET and DELETE (APPEND and SUBTRACT fail, as neither key is a
    LIST). Raises InvalidConfigError for a result Kafka would refuse."""
    configs = dict(current) if incremental else {}
    for name, op, value in ops:
        if op == SET:
            configs[name] = value or ""
        elif op == DELETE:
            configs.pop(name, None)
        elif op in _OP_NAMES:
            raise InvalidConfigError(
                f"Can't {_OP_NAMES[op]} to key {name} because its type is not LIST."
            )
        else:
            raise InvalidRequestError(f"Unknown alter config operation {op}")
    validate(configs, config)
    return configs


def check_name(name: str, describing: bool) -> None:
    """A group resource needs a name (Kafka: there is no default group resource)."""
    if not name:
        raise InvalidRequestError(
            "Group name must not be empty"
            if describing
            else "Default group resources are not allowed."
        )
