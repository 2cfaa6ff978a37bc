"""``odradek configs``: kafka-configs.sh for topics and brokers (DescribeConfigs and
IncrementalAlterConfigs)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException

from odradek.cli.tools.common import (
    Admin,
    ToolError,
    UsageError,
    kafka_message,
    load_properties,
    print_json,
    run_tool,
    wants_json,
)
from odradek.cli.tools.configs_wire import Synonym, describe_synonyms, rebuild
from odradek.cli.tools.kafka import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ResourceType,
)

ENTITY_TYPES = {"topics": ResourceType.TOPIC, "brokers": ResourceType.BROKER}
DYNAMIC_SOURCES = {"topics": "DYNAMIC_TOPIC_CONFIG", "brokers": "DYNAMIC_BROKER_CONFIG"}


@dataclass
class Entity:
    type: str  # "topics" or "brokers"
    name: str

    @property
    def resource(self) -> Any:
        return ConfigResource(ENTITY_TYPES[self.type], self.name)

    def label(self) -> str:
        return f"config for {self.type[:-1]} {self.name}"


def main(args: argparse.Namespace) -> int:
    return run_tool("configs", args, _run)


def _run(args: argparse.Namespace) -> int:
    entity_type, name = _entity(args)
    admin = Admin.from_args(args)
    if args.action == "describe":
        return describe(admin, args, entity_type, name)
    if name is None:
        raise UsageError("--alter needs --entity-name")
    return alter(admin, args, Entity(entity_type, name))


def _entity(args: argparse.Namespace) -> tuple[str, str | None]:
    """The entity type and name from --entity-* or the --topic/--broker shorthands."""
    choices = [
        (t, n)
        for t, n, given in (
            (args.entity_type, args.entity_name, args.entity_type is not None),
            ("topics", args.topic, args.topic is not None),
            ("brokers", args.broker, args.broker is not None),
            ("brokers", None, args.broker_defaults),
        )
        if given
    ]
    if len(choices) != 1:
        raise UsageError(
            "give exactly one of --entity-type, --topic, --broker or --broker-defaults"
        )
    entity_type, name = choices[0]
    if entity_type not in ENTITY_TYPES:
        raise UsageError(f"--entity-type must be topics or brokers, got {entity_type!r}")
    default = args.entity_default or args.broker_defaults
    if default:
        if entity_type != "brokers":
            raise UsageError("--entity-default is only valid with --entity-type brokers")
        if name is not None:
            raise UsageError("--entity-name and --entity-default cannot be used together")
        raise ToolError(
            "the cluster-wide broker default (--entity-default) cannot be "
            "described or altered with confluent-kafka: librdkafka rejects an "
            "empty broker resource name"
        )
    if entity_type == "brokers" and name is not None and not name.isdigit():
        raise UsageError(
            f"the entity name for brokers must be a valid integer broker id, but it is: {name}"
        )
    return entity_type, name


# -- describe ----------------------------------------------------------------------------------


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
            int(ENTITY_TYPES[entity.type].value),
            entity.name,
            admin.timeout,
        )
    except (OSError, ToolError):
        return {}


def _source(entry: Any) -> str:
    """The config source's name (librdkafka gives its number)."""
    source = entry.source
    if isinstance(source, int):
        try:
            source = ConfigSource(source)
        except ValueError:
            return str(source)
    return str(getattr(source, "name", source))


def _value(name: str, value: str | None, sensitive: bool) -> str:
    shown = None if sensitive else value
    return f"{name}={'null' if shown is None else shown}"


# -- alter -------------------------------------------------------------------------------------


def split_config_list(text: str) -> list[str]:
    """Split ``a=1,b=[x,y],c=2`` on the commas outside square brackets."""
    items: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        current += char
    items.append(current)
    return [i for i in (item.strip() for item in items) if i]


def parse_add_config(text: str | None) -> dict[str, str]:
    configs: dict[str, str] = {}
    for item in split_config_list(text or ""):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"invalid entity config: all configs to be added must be in the "
                f"format 'key=val', got {item!r}"
            )
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            value = value[1:-1]
        configs[key.strip()] = value
    return configs


def alter(admin: Admin, args: argparse.Namespace, entity: Entity) -> int:
    to_add = {**load_properties(args.add_config_file), **parse_add_config(args.add_config)}
    to_delete = [k.strip() for k in (args.delete_config or "").split(",") if k.strip()]
    if not to_add and not to_delete:
        raise UsageError("--alter needs --add-config, --add-config-file or --delete-config")
    both = sorted(set(to_add) & set(to_delete))
    if both:
        raise UsageError(f"config(s) can't be both added and deleted: {', '.join(both)}")
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
