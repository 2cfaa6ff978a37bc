"""The entities and changes the ``configs`` flags ask for, read and checked as Kafka's tool does."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from odradek.cli.tools.common import (
    ToolError,
    UsageError,
    load_properties,
)
from odradek.cli.tools.kafka import (
    ConfigResource,
    ResourceType,
)

# groups: KIP-848's group configs (ConfigResource type 32; librdkafka sends its GROUP as 32
# in the config APIs, as Kafka's Admin does).
ENTITY_TYPES = {
    "topics": ResourceType.TOPIC,
    "brokers": ResourceType.BROKER,
    "groups": ResourceType.GROUP,
}
# The ConfigResource type on the wire (the tool's own DescribeConfigs, for the synonyms).
WIRE_RESOURCE_TYPES = {"topics": 2, "brokers": 4, "groups": 32}
CLIENT_ENTITY_TYPES = ("users", "clients")
CLIENT_METRICS_ENTITY_TYPE = "client-metrics"  # KIP-714 (configs_client_metrics)
# The entity flags in the order Kafka's tool reads them: (attribute, entity type).
_NAMED_SHORTHANDS = (
    ("topic", "topics"),
    ("client", "clients"),
    ("user", "users"),
    ("broker", "brokers"),
)
_DEFAULT_SHORTHANDS = (
    ("client_defaults", "clients"),
    ("user_defaults", "users"),
    ("broker_defaults", "brokers"),
)


@dataclass
class Entity:
    type: str  # "topics", "brokers" or "groups"
    name: str

    @property
    def resource(self) -> Any:
        return ConfigResource(ENTITY_TYPES[self.type], self.name)

    def label(self) -> str:
        return f"config for {self.type[:-1]} {self.name}"


@dataclass(frozen=True)
class Entities:
    """The entities the flags name, as Kafka's tool reads them: the entity types in order
    and the names, which pair with the types by position (``""`` is the default entity)."""

    types: list[str]
    names: list[str]


def requested_entities(args: argparse.Namespace) -> Entities:
    """The entity types and names of --entity-type/--entity-name/--entity-default or of the
    --topic, --broker, --user, --client and --*-defaults shorthands, with Kafka's checks."""
    shorthands = [
        (t, getattr(args, a)) for a, t in _NAMED_SHORTHANDS if getattr(args, a) is not None
    ]
    shorthands += [(t, "") for a, t in _DEFAULT_SHORTHANDS if getattr(args, a)]
    if (args.entity_types or args.entity_names) and shorthands:
        raise UsageError(
            "--entity-{type,name,default} should not be used in conjunction with specific "
            "entity flags"
        )
    types = [*(args.entity_types or ()), *(t for t, _ in shorthands)]
    names = [*(args.entity_names or ()), *(n for _, n in shorthands)]
    if not types:
        raise UsageError(
            "At least one entity type must be specified: --entity-type, or one of --topic, "
            "--broker, --user, --client and the --*-defaults flags"
        )
    duplicates = sorted({t for t in types if types.count(t) > 1})
    if duplicates:
        raise UsageError(f"Duplicate entity type(s) specified: {','.join(duplicates)}")
    for entity_type in types:
        if entity_type not in (*ENTITY_TYPES, *CLIENT_ENTITY_TYPES, CLIENT_METRICS_ENTITY_TYPE):
            raise UsageError(
                f"Invalid entity type {entity_type}, the entity type must be one of "
                "topics, brokers, users, clients, client-metrics, groups"
            )
    if len(types) > 1 and set(types) != set(CLIENT_ENTITY_TYPES):
        raise UsageError("Only 'users' and 'clients' entity types may be specified together")
    return Entities(types, names)


def resource_entity(entities: Entities) -> tuple[str, str | None]:
    """The topic, broker or group named, None for all of them."""
    entity_type, names = entities.types[0], entities.names
    if "" in names:
        if entity_type != "brokers":
            raise UsageError("--entity-default is only valid with brokers, users or clients")
        if len(names) > 1:
            raise UsageError("--entity-name and --entity-default cannot be used together")
        raise ToolError(
            "the cluster-wide broker default (--entity-default) cannot be "
            "described or altered with confluent-kafka: librdkafka rejects an "
            "empty broker resource name"
        )
    if len(names) > 1:
        raise UsageError(f"only one --entity-name can be given for {entity_type}")
    name = names[0] if names else None
    if entity_type == "brokers" and name is not None and not name.isdigit():
        raise UsageError(
            f"the entity name for brokers must be a valid integer broker id, but it is: {name}"
        )
    return entity_type, name


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


def requested_changes(args: argparse.Namespace) -> tuple[dict[str, str], list[str]]:
    """The configs to set (--add-config over --add-config-file) and to delete."""
    to_add = {**load_properties(args.add_config_file), **parse_add_config(args.add_config)}
    to_delete = [k.strip() for k in (args.delete_config or "").split(",") if k.strip()]
    if not to_add and not to_delete:
        raise UsageError("--alter needs --add-config, --add-config-file or --delete-config")
    both = sorted(set(to_add) & set(to_delete))
    if both:
        raise UsageError(f"config(s) can't be both added and deleted: {', '.join(both)}")
    return to_add, to_delete
