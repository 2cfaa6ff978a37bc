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
from odradek.config.broker import BrokerConfig
from odradek.config.broker_defs import BROKER_CONFIG_DEFS, DYNAMIC_BROKER_CONFIGS
from odradek.config.definitions import ConfigDef, ConfigType
from odradek.config.docs import broker_doc, topic_doc
from odradek.config.kafka_names import KAFKA_BROKER_CONFIG_NAMES
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
# Kafka's families of broker configs naming one setting (DynamicBrokerConfig.brokerConfigSynonyms),
# in precedence order.
_SYNONYM_FAMILIES = (
    ("log.retention.ms", "log.retention.minutes", "log.retention.hours"),
    ("log.roll.ms", "log.roll.hours"),
    ("log.roll.jitter.ms", "log.roll.jitter.hours"),
    ("log.flush.interval.ms", "log.flush.scheduler.interval.ms"),
)
_FAMILY_OF = {name: family for family in _SYNONYM_FAMILIES for name in family}


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
                    synonyms[0][2] if synonyms else ConfigSource.DEFAULT_CONFIG,
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
        """Kafka's chain (ConfigHelper.createTopicConfigEntry): the topic override, then the
        synonyms of the broker config it defaults to. A topic config with no broker config, or
        whose broker config is set nowhere (retention.ms: log.retention.ms has no default), has
        no synonyms past its override, and its source is then DEFAULT_CONFIG."""
        synonyms: list[tuple[str, str | None, ConfigSource]] = []
        if name in topic.configs:
            synonyms.append((name, topic.configs[name], ConfigSource.DYNAMIC_TOPIC_CONFIG))
        broker_name = TOPIC_TO_BROKER_SYNONYM.get(name)
        if broker_name is not None:
            synonyms += self._broker_synonyms(broker_name)
        return synonyms

    def _topic_default(self, name: str) -> str | None:
        broker_name = TOPIC_TO_BROKER_SYNONYM.get(name)
        if broker_name is not None and broker_name in BROKER_CONFIG_DEFS:
            default = BROKER_CONFIG_DEFS[broker_name].default
            if default is not None:
                return render(default)
        return render(TOPIC_CONFIG_DEFS[name].default)

    def _broker_synonyms(self, name: str) -> list[tuple[str, str | None, ConfigSource]]:
        """Kafka's synonyms of a broker config (ConfigHelper.configSynonyms): every name of its
        family set in each layer (per-broker dynamic, cluster-wide dynamic, static, default),
        layer by layer, from the first entry for ``name`` itself on; entries of the family
        before it are dropped, so log.retention.ms set nowhere has none, though
        log.retention.hours has its default."""
        result: list[tuple[str, str | None, ConfigSource]] = []
        names = _FAMILY_OF.get(name, (name,))
        for layer, source in (
            (self.config.dynamic_broker, ConfigSource.DYNAMIC_BROKER_CONFIG),
            (self.config.dynamic_default, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
            (self.config.explicit, ConfigSource.STATIC_BROKER_CONFIG),
        ):
            result += [(n, render(layer[n]), source) for n in names if n in layer]
        for each in names:
            definition = BROKER_CONFIG_DEFS.get(each)
            if definition is not None and definition.default is not None:
                result.append((each, render(definition.default), ConfigSource.DEFAULT_CONFIG))
        first = next((i for i, (n, _, _) in enumerate(result) if n == name), len(result))
        return result[first:]

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
        entries += self._describe_unknown(broker, wanted)
        return entries

    def _describe_unknown(self, broker: str, wanted: set[str] | None) -> list[ConfigEntry]:
        """Stored broker configs with names Kafka does not know: described as Kafka describes a
        config whose type it cannot tell, sensitive (so with no value), read-only, type
        UNKNOWN, from the dynamic layer that holds it."""
        layers = [("", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG)]
        if broker != "":
            layers.insert(0, (broker, ConfigSource.DYNAMIC_BROKER_CONFIG))
        chains: dict[str, list[tuple[str, str | None, ConfigSource]]] = {}
        for layer, source in layers:
            for name in self.store.broker_configs.get(layer, {}):
                if _is_unknown(name) and (wanted is None or name in wanted):
                    chains.setdefault(name, []).append((name, None, source))
        return [
            ConfigEntry(name, None, chain[0][2], True, True, 0, None, tuple(chain))
            for name, chain in sorted(chains.items())
        ]

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
            if _is_unknown(key):
                stored = _apply_unknown_op(stored, key, op, value)
                continue
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


def _is_unknown(name: str) -> bool:
    """A name that is no broker config of Kafka's (nor odradek's): ZooKeeper-mode Kafka
    stores such dynamic broker configs as given (only names it knows are validated)."""
    return name not in BROKER_CONFIG_DEFS and name not in KAFKA_BROKER_CONFIG_NAMES


def _apply_unknown_op(
    current: dict[str, str | None], key: str, op: int, value: str | None
) -> dict[str, str | None]:
    if op in (AlterOp.APPEND, AlterOp.SUBTRACT):
        raise InvalidConfigError(f"Unknown config name: {key}")
    if op == AlterOp.SET and value is None:
        raise InvalidRequestError(f"Null value not supported for : {key}")
    updated = dict(current)
    if op == AlterOp.SET:
        updated[key] = value
    elif op == AlterOp.DELETE:
        updated.pop(key, None)
    else:
        raise InvalidRequestError(f"Unknown config operation {op}")
    return updated


def _parse_broker(raw: Mapping[str, str | None]) -> dict[str, Any]:
    """The stored dynamic configs odradek acts on (names it defines), parsed; names Kafka
    does not know are kept in the store and described, nothing more."""
    parsed = {}
    for key, value in raw.items():
        definition = BROKER_CONFIG_DEFS.get(key)
        if definition is None:
            if _is_unknown(key):
                continue
            raise InvalidConfigError(f"Unknown broker config name: {key}")
        parsed[key] = definition.parse(value)
    return parsed
