"""Describing and altering topic and broker configs (Kafka's ConfigHelper/ConfigAdminManager):
values with their source and synonyms, validation, persistence in the metadata store, and
live application to the logs. Altering awaits the store's write (in a cluster a ZooKeeper
write, which never blocks the event loop)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from odradek.cluster.metadata import MetadataStore, TopicMetadata
from odradek.common.errors import (
    InvalidConfigError,
    InvalidRequestError,
    UnknownTopicOrPartitionError,
)
from odradek.config.broker import (
    BROKER_CONFIG_DEFS,
    DYNAMIC_BROKER_CONFIGS,
    BrokerConfig,
)
from odradek.config.definitions import ConfigDef, ConfigType
from odradek.config.docs import broker_doc, topic_doc
from odradek.config.topic import TOPIC_CONFIG_DEFS, TOPIC_TO_BROKER_SYNONYM, validate_topic_configs


class ConfigSource(enum.IntEnum):
    UNKNOWN = 0
    DYNAMIC_TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    DYNAMIC_DEFAULT_BROKER_CONFIG = 3
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5


class AlterOp(enum.IntEnum):
    SET = 0
    DELETE = 1
    APPEND = 2
    SUBTRACT = 3


_TYPE_IDS = {
    ConfigType.BOOLEAN: 1,
    ConfigType.STRING: 2,
    ConfigType.INT: 3,
    ConfigType.LONG: 5,
    ConfigType.DOUBLE: 6,
    ConfigType.LIST: 7,
    ConfigType.CLASS: 8,
    ConfigType.PASSWORD: 9,
}
_TIME_SYNONYMS = {
    "log.retention.ms": ("log.retention.minutes", "log.retention.hours"),
    "log.roll.ms": ("log.roll.hours",),
    "log.roll.jitter.ms": ("log.roll.jitter.hours",),
}


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    name: str
    value: str | None
    source: ConfigSource
    read_only: bool
    sensitive: bool
    config_type: int
    documentation: str | None
    synonyms: tuple[tuple[str, str | None, ConfigSource], ...]


def render(value: Any) -> str | None:
    """A config value as Kafka prints it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


class ConfigManager:
    def __init__(
        self,
        node_id: int,
        config: BrokerConfig,
        store: MetadataStore,
        apply_topic: Callable[[TopicMetadata], None],
        apply_all: Callable[[], None],
    ) -> None:
        self.node_id = node_id
        self.config = config
        self.store = store
        self._apply_topic = apply_topic
        self._apply_all = apply_all

    def load_dynamic_broker_configs(self) -> None:
        stored = self.store.broker_configs
        self.config.dynamic_default = _parse_broker(stored.get("", {}))
        self.config.dynamic_broker = _parse_broker(stored.get(str(self.node_id), {}))

    # -- describe ------------------------------------------------------------------------------

    def describe_topic(self, name: str, keys: Iterable[str] | None) -> list[ConfigEntry]:
        return self.describe_topic_metadata(self._topic(name), keys)

    def describe_topic_metadata(
        self, topic: TopicMetadata, keys: Iterable[str] | None
    ) -> list[ConfigEntry]:
        wanted = set(keys) if keys is not None else None
        defaults = self.config.topic_defaults()
        entries = []
        for config_name, definition in sorted(TOPIC_CONFIG_DEFS.items()):
            if wanted is not None and config_name not in wanted:
                continue
            synonyms = self._topic_synonyms(topic, config_name)
            value = (
                topic.configs[config_name]
                if config_name in topic.configs
                else render(defaults[config_name])
            )
            entries.append(
                ConfigEntry(
                    config_name,
                    value,
                    synonyms[0][2],
                    False,
                    definition.type is ConfigType.PASSWORD,
                    _TYPE_IDS.get(definition.type, 0),
                    topic_doc(config_name),
                    tuple(synonyms),
                )
            )
        return entries

    def _topic_synonyms(
        self, topic: TopicMetadata, name: str
    ) -> list[tuple[str, str | None, ConfigSource]]:
        """Kafka's order: the topic override, then the broker synonyms (dynamic per broker,
        dynamic default, static), then their defaults."""
        synonyms: list[tuple[str, str | None, ConfigSource]] = []
        if name in topic.configs:
            synonyms.append((name, topic.configs[name], ConfigSource.DYNAMIC_TOPIC_CONFIG))
        broker_name = TOPIC_TO_BROKER_SYNONYM.get(name)
        if broker_name is not None:
            synonyms += self._broker_synonyms(broker_name, include_default=True)
        if not synonyms or synonyms[-1][2] is not ConfigSource.DEFAULT_CONFIG:
            synonyms.append(
                (name, render(TOPIC_CONFIG_DEFS[name].default), ConfigSource.DEFAULT_CONFIG)
            )
        return synonyms

    def _topic_default(self, name: str) -> str | None:
        broker_name = TOPIC_TO_BROKER_SYNONYM.get(name)
        if broker_name is not None and broker_name in BROKER_CONFIG_DEFS:
            default = BROKER_CONFIG_DEFS[broker_name].default
            if default is not None:
                return render(default)
        return render(TOPIC_CONFIG_DEFS[name].default)

    def _broker_synonyms(
        self, name: str, include_default: bool = True
    ) -> list[tuple[str, str | None, ConfigSource]]:
        result: list[tuple[str, str | None, ConfigSource]] = []
        names = (name, *_TIME_SYNONYMS.get(name, ()))
        for layer, source in (
            (self.config.dynamic_broker, ConfigSource.DYNAMIC_BROKER_CONFIG),
            (self.config.dynamic_default, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
            (self.config.explicit, ConfigSource.STATIC_BROKER_CONFIG),
        ):
            result += [(n, render(layer[n]), source) for n in names if n in layer]
        if include_default:
            for each in names:
                definition = BROKER_CONFIG_DEFS.get(each)
                if definition is not None and definition.default is not None:
                    result.append((each, render(definition.default), ConfigSource.DEFAULT_CONFIG))
        return result

    def describe_broker(self, broker: str, keys: Iterable[str] | None) -> list[ConfigEntry]:
        if broker not in ("", str(self.node_id)):
            raise InvalidRequestError(
                f"Unexpected broker id, expected {self.node_id} or "
                f"empty string, but received {broker}"
            )
        wanted = set(keys) if keys is not None else None
        entries = []
        for name, definition in sorted(BROKER_CONFIG_DEFS.items()):
            if wanted is not None and name not in wanted:
                continue
            if broker == "":
                layer = self.config.dynamic_default
                synonyms = (
                    [(name, render(layer[name]), ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG)]
                    if name in layer
                    else []
                )
            else:
                synonyms = self._broker_synonyms(name)
            if broker == "" and not synonyms:
                continue
            own = next((v for n, v, _ in synonyms if n == name), None)
            source = synonyms[0][2] if synonyms else ConfigSource.DEFAULT_CONFIG
            entries.append(
                ConfigEntry(
                    name,
                    own,
                    source,
                    name not in DYNAMIC_BROKER_CONFIGS,
                    definition.type is ConfigType.PASSWORD,
                    _TYPE_IDS.get(definition.type, 0),
                    broker_doc(name),
                    tuple(synonyms),
                )
            )
        return entries

    # -- alter ---------------------------------------------------------------------------------

    async def alter_topic(
        self, name: str, configs: Mapping[str, str | None], validate_only: bool
    ) -> None:
        """AlterConfigs: the given set replaces every override of the topic."""
        topic = self._topic(name)
        await self._set_topic(topic, dict(configs), validate_only)

    async def incremental_alter_topic(
        self, name: str, ops: list[tuple[str, int, str | None]], validate_only: bool
    ) -> None:
        topic = self._topic(name)
        updated: dict[str, str | None] = dict(topic.configs)
        for key, op, value in ops:
            definition = TOPIC_CONFIG_DEFS.get(key)
            if definition is None:
                raise InvalidConfigError(f"Unknown topic config name: {key}")
            updated = _apply_op(updated, key, op, value, definition, self._topic_default(key))
        await self._set_topic(topic, updated, validate_only)

    async def _set_topic(
        self, topic: TopicMetadata, configs: dict[str, str | None], validate_only: bool
    ) -> None:
        nulls = [k for k, v in configs.items() if v is None]
        if nulls:
            raise InvalidConfigError(
                f"Null value not supported for topic configs: {','.join(nulls)}"
            )
        clean = {k: str(v) for k, v in configs.items()}
        validate_topic_configs(clean)
        if validate_only:
            return
        updated = replace(topic, configs=clean)  # the cached topic changes once written
        await self.store.update_topic_async(updated)
        self._apply_topic(updated)

    async def alter_broker(
        self,
        broker: str,
        ops: list[tuple[str, int, str | None]],
        validate_only: bool,
        incremental: bool,
    ) -> None:
        if broker not in ("", str(self.node_id)):
            raise InvalidRequestError(
                f"Unexpected broker id, expected {self.node_id} or "
                f"empty string, but received {broker}"
            )
        stored: dict[str, str | None] = (
            dict(self.store.broker_configs.get(broker, {})) if incremental else {}
        )
        for key, op, value in ops:
            if key not in DYNAMIC_BROKER_CONFIGS:
                # Kafka answers INVALID_REQUEST here (ConfigAdminManager), not INVALID_CONFIG.
                raise InvalidRequestError(f"Cannot update these configs dynamically: Set({key})")
            definition = BROKER_CONFIG_DEFS.get(key)
            if definition is None:
                raise InvalidConfigError(f"Unknown broker config name: {key}")
            stored = _apply_op(stored, key, op, value, definition, None)
        parsed = _parse_broker(stored)
        if validate_only:
            return
        await self.store.set_broker_configs_async(broker, {k: str(v) for k, v in stored.items()})
        if broker == "":
            self.config.dynamic_default = parsed
        else:
            self.config.dynamic_broker = parsed
        self._apply_all()

    def _topic(self, name: str) -> TopicMetadata:
        topic = self.store.topics.get(name)
        if topic is None:
            raise UnknownTopicOrPartitionError(f"Topic {name} does not exist")
        return topic


def _apply_op(
    current: dict[str, str | None],
    key: str,
    op: int,
    value: str | None,
    definition: ConfigDef,
    default: str | None,
) -> dict[str, str | None]:
    updated = dict(current)
    if op == AlterOp.SET:
        updated[key] = value
    elif op == AlterOp.DELETE:
        updated.pop(key, None)
    elif op in (AlterOp.APPEND, AlterOp.SUBTRACT):
        if definition.type is not ConfigType.LIST:
            raise InvalidConfigError(
                f"Config value append is not allowed for config key: {key}"
                if op == AlterOp.APPEND
                else f"Config value subtract is not allowed for config key: {key}"
            )
        base = current.get(key, default) or ""
        items = [i for i in base.split(",") if i]
        given = [i.strip() for i in (value or "").split(",") if i.strip()]
        if op == AlterOp.APPEND:
            items += [i for i in given if i not in items]
        else:
            items = [i for i in items if i not in given]
        updated[key] = ",".join(items)
    else:
        raise InvalidRequestError(f"Unknown config operation {op}")
    return updated


def _parse_broker(raw: Mapping[str, str | None]) -> dict[str, Any]:
    parsed = {}
    for key, value in raw.items():
        definition = BROKER_CONFIG_DEFS.get(key)
        if definition is None:
            raise InvalidConfigError(f"Unknown broker config name: {key}")
        parsed[key] = definition.parse(value)
    return parsed
