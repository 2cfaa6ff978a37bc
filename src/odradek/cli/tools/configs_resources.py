"""Topic, broker and group configs in ``configs``: DescribeConfigs and
IncrementalAlterConfigs. Groups (``--entity-type groups``) are KIP-848's group configs,
ConfigResource type 32: ``consumer.session.timeout.ms`` and ``consumer.heartbeat.interval.ms``;
``--describe`` without ``--entity-name`` describes every consumer group, as kafka-configs
does."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException

from odradek.cli.tools.common import (
    Admin,
    ToolError,
    kafka_message,
    print_json,
    wants_json,
)
from odradek.cli.tools.configs_entities import (
    ENTITY_TYPES,
    WIRE_RESOURCE_TYPES,
    Entity,
    requested_changes,
)
from odradek.cli.tools.configs_wire import Synonym, describe_synonyms, rebuild
from odradek.cli.tools.kafka import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
)
from odradek.protocol.client import WireError

DYNAMIC_SOURCES = {
    "topics": "DYNAMIC_TOPIC_CONFIG",
    "brokers": "DYNAMIC_BROKER_CONFIG",
    "groups": "DYNAMIC_GROUP_CONFIG",
}
# confluent-kafka's names that differ from Kafka's Admin ConfigEntry.ConfigSource (kafka-configs
# prints Kafka's).
_KAFKA_SOURCE_NAMES = {"GROUP_CONFIG": "DYNAMIC_GROUP_CONFIG"}


def describe(admin: Admin, args: argparse.Namespace, entity_type: str, name: str | None) -> int:
    entities = [Entity(entity_type, n) for n in _names(admin, entity_type, name)]
    described = [(e, _configs(admin, e, args.all)) for e in entities]
    if wants_json(args):
        print_json(
            [
                {
                    "entity_type": e.type,
                    "entity_name": e.name,
                    "configs": [c.as_json() for c in configs],
                }
                for e, configs in described
            ]
        )
        return 0
    for entity, configs in described:
        tag = "All" if args.all else "Dynamic"
        print(f"{tag} configs for {entity.type[:-1]} {entity.name} are:")
        for config in configs:
            print(
                f"  {_value(config.name, config.value, config.sensitive)} "
                f"sensitive={str(config.sensitive).lower()} synonyms={{{config.synonym_text()}}}"
            )
    return 0


@dataclass
class Config:
    """One described config, with its synonyms in the broker's order."""

    name: str
    value: str | None
    source: str
    sensitive: bool
    read_only: bool
    default: bool
    synonyms: list[Synonym]

    def synonym_text(self) -> str:
        return ", ".join(
            f"{source}:{_value(name, value, self.sensitive)}"
            for name, value, source in self.synonyms
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": None if self.sensitive else self.value,
            "source": self.source,
            "sensitive": self.sensitive,
            "read_only": self.read_only,
            "default": self.default,
            "synonyms": [
                {"name": n, "value": None if self.sensitive else v, "source": s}
                for n, v, s in self.synonyms
            ],
        }


def _names(admin: Admin, entity_type: str, name: str | None) -> list[str]:
    if name is not None:
        return [name]
    if entity_type == "groups":  # Kafka's tool: listConsumerGroups
        listed = admin.wait(admin.client.list_consumer_groups(request_timeout=admin.timeout))
        return sorted(str(g.group_id) for g in listed.valid)
    metadata = admin.metadata()
    if entity_type == "topics":
        return sorted(metadata.topics)
    return [str(b) for b in sorted(metadata.brokers)]


def _configs(
    admin: Admin, entity: Entity, describe_all: bool, all_synonyms: bool = True
) -> list[Config]:
    future = admin.client.describe_configs([entity.resource], request_timeout=admin.timeout)[
        entity.resource
    ]
    try:
        entries = admin.wait(future)
    except KafkaException as exc:
        raise ToolError(f"cannot describe the {entity.label()}: {kafka_message(exc)}") from exc
    wanted = DYNAMIC_SOURCES[entity.type]
    chosen = [e for _, e in sorted(entries.items()) if describe_all or _source(e) == wanted]
    full = _wire_synonyms(admin, entity) if chosen and all_synonyms else {}
    return [
        Config(
            e.name,
            e.value,
            _source(e),
            bool(e.is_sensitive),
            bool(e.is_read_only),
            bool(e.is_default),
            full.get(e.name)
            or rebuild(
                e.name,
                e.value,
                _source(e),
                [(s.name, s.value, _source(s)) for s in (e.synonyms or {}).values()],
            ),
        )
        for e in chosen
    ]


def _wire_synonyms(admin: Admin, entity: Entity) -> dict[str, list[Synonym]]:
    """Every synonym, asked of the broker directly over PLAINTEXT (see configs_wire); empty
    when that is not possible, and the synonyms confluent-kafka kept are used."""
    if not admin.plaintext:
        return {}
    brokers = admin.metadata().brokers
    if entity.type == "brokers":
        broker = brokers.get(int(entity.name))
    else:
        broker = next(iter(sorted(brokers.items())), (None, None))[1]
    if broker is None:
        return {}
    try:
        return describe_synonyms(
            str(broker.host),
            int(broker.port),
            WIRE_RESOURCE_TYPES[entity.type],
            entity.name,
            admin.timeout,
        )
    except (OSError, ToolError, WireError):
        return {}


def _source(entry: Any) -> str:
    """The config source's name as Kafka's Admin calls it (librdkafka gives its number)."""
    source = entry.source
    if isinstance(source, int):
        try:
            source = ConfigSource(source)
        except ValueError:
            return str(source)
    name = str(getattr(source, "name", source))
    return _KAFKA_SOURCE_NAMES.get(name, name)


def _value(name: str, value: str | None, sensitive: bool) -> str:
    shown = None if sensitive else value
    return f"{name}={'null' if shown is None else shown}"


def alter(admin: Admin, args: argparse.Namespace, entity: Entity) -> int:
    to_add, to_delete = requested_changes(args)
    current = {c.name for c in _configs(admin, entity, describe_all=False, all_synonyms=False)}
    invalid = [k for k in to_delete if k not in current]
    if invalid:
        raise ToolError(f"Invalid config(s): {','.join(invalid)}")
    ops = [
        ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in to_add.items()
    ]
    ops += [ConfigEntry(k, "", incremental_operation=AlterConfigOpType.DELETE) for k in to_delete]
    resource = ConfigResource(ENTITY_TYPES[entity.type], entity.name, incremental_configs=ops)
    future = admin.client.incremental_alter_configs([resource], request_timeout=admin.timeout)[
        resource
    ]
    try:
        admin.wait(future)
    except KafkaException as exc:
        raise ToolError(f"cannot update the {entity.label()}: {kafka_message(exc)}") from exc
    if wants_json(args):
        print_json(
            {
                "entity_type": entity.type,
                "entity_name": entity.name,
                "set": to_add,
                "deleted": to_delete,
            }
        )
    else:
        print(f"Completed updating {entity.label()}.")
    return 0
