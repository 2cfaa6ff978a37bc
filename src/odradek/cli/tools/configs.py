"""``odradek configs``: kafka-configs.sh. Topics and brokers: DescribeConfigs and
IncrementalAlterConfigs. Users: SCRAM credentials (Describe/AlterUserScramCredentials).
Users and clients: quotas (DescribeClientQuotas/AlterClientQuotas, sent by the tool itself:
``client_quotas``)."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException

from odradek.cli.tools.client_quotas import (
    DESCRIBE_CLIENT_QUOTAS,
    QUOTA_CONFIGS,
    EntityQuotas,
    QuotaClient,
    entity_json,
    filter_components,
    quota_entity,
    quota_lines,
    quota_value,
)
from odradek.cli.tools.common import (
    Admin,
    ToolError,
    UsageError,
    api_timeout,
    check_reachable,
    client_config,
    error_code,
    kafka_message,
    load_properties,
    print_json,
    require_bootstrap,
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
from odradek.common import reachability
from odradek.protocol.client import WireError
from odradek.security.scram import ScramMechanism

# confluent-kafka's SCRAM classes: its type stubs do not re-export them.
_admin: Any = importlib.import_module("confluent_kafka.admin")

ENTITY_TYPES = {"topics": ResourceType.TOPIC, "brokers": ResourceType.BROKER}
CLIENT_ENTITY_TYPES = ("users", "clients")
DYNAMIC_SOURCES = {"topics": "DYNAMIC_TOPIC_CONFIG", "brokers": "DYNAMIC_BROKER_CONFIG"}
SCRAM_MECHANISMS = {m.mechanism_name: m for m in ScramMechanism}
DEFAULT_SCRAM_ITERATIONS = 4096  # Kafka's tool, when --add-config gives none
_SCRAM_CREDENTIAL = re.compile(r"(?:iterations=(-?[0-9]*),)?password=(.*)", re.DOTALL)

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
    type: str  # "topics" or "brokers"
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


def main(args: argparse.Namespace) -> int:
    return run_tool("configs", args, _run)


def _run(args: argparse.Namespace) -> int:
    entities = requested_entities(args)
    if entities.types[0] in CLIENT_ENTITY_TYPES:
        if args.action == "describe":
            return describe_client_entities(args, entities)
        return alter_client_entities(args, entities)
    entity_type, name = _resource_entity(entities)
    admin = Admin.from_args(args)
    if args.action == "describe":
        return describe(admin, args, entity_type, name)
    if name is None:
        raise UsageError("--alter needs --entity-name")
    return alter(admin, args, Entity(entity_type, name))


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
        if entity_type not in ENTITY_TYPES and entity_type not in CLIENT_ENTITY_TYPES:
            raise UsageError(
                f"Invalid entity type {entity_type}, the entity type must be one of "
                "topics, brokers, users, clients"
            )
    if len(types) > 1 and set(types) != set(CLIENT_ENTITY_TYPES):
        raise UsageError("Only 'users' and 'clients' entity types may be specified together")
    return Entities(types, names)


def _resource_entity(entities: Entities) -> tuple[str, str | None]:
    """The topic or broker named, None for all of them."""
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
    except (OSError, ToolError, WireError):
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


# -- users and clients -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScramDescription:
    """A user's SCRAM credentials ((mechanism, iterations) pairs), or why they could not be
    described."""

    user: str
    credentials: tuple[tuple[str, int], ...] = ()
    error: str | None = None

    def line(self) -> str:
        who = f"user-principal '{self.user}'"
        if self.error is not None:
            return f"Error retrieving SCRAM credential configs for {who}: {self.error}"
        text = ", ".join(f"{m}=iterations={i}" for m, i in self.credentials)
        return f"SCRAM credential configs for {who} are {text}"

    def as_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "credentials": [{"mechanism": m, "iterations": i} for m, i in self.credentials],
            "error": self.error,
        }


def _client_settings(args: argparse.Namespace) -> tuple[dict[str, str], float]:
    """The client config of --command-config and --bootstrap-server, and the admin timeout."""
    props = load_properties(args.command_config)
    return client_config(require_bootstrap(args), props, {}), api_timeout(props)


def _require_plaintext(config: Mapping[str, str]) -> None:
    if not reachability.uses_plaintext(config):
        protocol = config.get("security.protocol", "").upper()
        raise ToolError(
            f"quota configs are described and altered over PLAINTEXT only (security.protocol "
            f"is {protocol}): confluent-kafka has no client-quota API, and odradek's own "
            "DescribeClientQuotas/AlterClientQuotas requests support neither TLS nor SASL"
        )


def scram_users_to_describe(entities: Entities) -> list[str] | None:
    """The users whose SCRAM credentials --describe shows (empty: all), as Kafka's tool:
    none (None) when clients or a default entity are described."""
    if "clients" in entities.types or "" in entities.names:
        return None
    return list(entities.names)


def describe_client_entities(args: argparse.Namespace, entities: Entities) -> int:
    """Kafka's --describe of users and clients: the quotas of the matching entities, then
    the SCRAM credentials of the users."""
    components = filter_components(entities.types, entities.names)
    scram_users = scram_users_to_describe(entities)
    config, timeout = _client_settings(args)
    _require_plaintext(config)
    check_reachable(config, timeout)
    with QuotaClient(config["bootstrap.servers"], timeout) as client:
        if scram_users is not None and not client.supports(DESCRIBE_CLIENT_QUOTAS):
            print(
                "odradek: the broker does not support DescribeClientQuotas: "
                "no quota configs are shown",
                file=sys.stderr,
            )
            quotas: list[EntityQuotas] = []
        else:
            quotas = client.describe(components)
    scram = [] if scram_users is None else describe_scram(Admin(config, timeout), scram_users)
    if wants_json(args):
        print_json(
            {
                "quotas": [
                    {"entity": entity_json(q.entity), "configs": dict(q.values)} for q in quotas
                ],
                "scram_credentials": [d.as_json() for d in scram],
            }
        )
        return 0
    for line in [*quota_lines(quotas), *(d.line() for d in scram)]:
        print(line)
    return 0


def describe_scram(admin: Admin, users: Sequence[str]) -> list[ScramDescription]:
    """DescribeUserScramCredentials of ``users`` (all for none); users without credentials
    are left out, as Kafka's tool leaves them."""
    client: Any = admin.client  # one future for all users, a dict of them for a list
    if not users:
        future = client.describe_user_scram_credentials(None, request_timeout=admin.timeout)
        try:
            found = admin.wait(future)
        except KafkaException as exc:
            raise ToolError(f"cannot describe the SCRAM credentials: {kafka_message(exc)}") from exc
        return [_scram_description(d) for d in found.values()]
    futures = client.describe_user_scram_credentials(list(users), request_timeout=admin.timeout)
    described = []
    for user, future in futures.items():
        try:
            described.append(_scram_description(admin.wait(future)))
        except KafkaException as exc:
            code = error_code(exc)
            if code == KafkaError.RESOURCE_NOT_FOUND:
                continue
            if code is None or code <= 0 or code == KafkaError.CLUSTER_AUTHORIZATION_FAILED:
                raise ToolError(
                    f"cannot describe the SCRAM credentials: {kafka_message(exc)}"
                ) from exc
            described.append(ScramDescription(user, error=kafka_message(exc)))
    return described


def _scram_description(description: Any) -> ScramDescription:
    return ScramDescription(
        str(description.user),
        tuple(
            (str(info.mechanism.name).replace("_", "-"), int(info.iterations))
            for info in description.scram_credential_infos
        ),
    )


def alter_client_entities(args: argparse.Namespace, entities: Entities) -> int:
    """Kafka's --alter of users and clients: SCRAM credentials of one user, or quotas."""
    if len(entities.names) != len(entities.types):
        raise UsageError(
            "--entity-name or --entity-default must be specified with each --entity-type "
            "for --alter"
        )
    to_add, to_delete = requested_changes(args)
    config, timeout = _client_settings(args)
    if alteration_kind(entities, to_add, to_delete) == "scram":
        user = entities.names[0]
        alterations = scram_alterations(user, to_add, to_delete)  # checked before connecting
        changes = alter_scram(Admin(config, timeout), user, alterations)
    else:
        changes = alter_quotas(config, timeout, entities, to_add, to_delete)
    if wants_json(args):
        entity = quota_entity(entities.types, entities.names)
        print_json({"entity": entity_json(entity), "set": changes, "deleted": to_delete})
    elif entities.names[0]:
        print(f"Completed updating config for {entities.types[0][:-1]} {entities.names[0]}.")
    else:
        print(f"Completed updating default config for {entities.types[0]} in the cluster.")
    return 0


def alteration_kind(
    entities: Entities, to_add: Mapping[str, str], to_delete: Sequence[str]
) -> Literal["scram", "quotas"]:
    """Whether the configs are SCRAM credentials or quotas, with Kafka's checks: clients take
    quotas only, users quotas or SCRAM credentials (of a named user), never both at once."""
    added, deleted = list(to_add), list(to_delete)
    if "clients" in entities.types:
        allowed, what, entity_type = QUOTA_CONFIGS, "quota configs", "clients"
    else:
        allowed, what = QUOTA_CONFIGS | set(SCRAM_MECHANISMS), "quota and SCRAM credential configs"
        entity_type = "users"
    for verb, keys in (("added", added), ("deleted", deleted)):
        unexpected = [k for k in keys if k not in allowed]
        if unexpected:
            raise UsageError(
                f"Only {what} can be {verb} for '{entity_type}' using --bootstrap-server. "
                f"Unexpected config names: {', '.join(unexpected)}"
            )
    scram = [k for k in added + deleted if k in SCRAM_MECHANISMS]
    if not scram:
        return "quotas"
    if "" in entities.names:
        raise UsageError(
            "The use of --entity-default or --user-defaults is not allowed with User SCRAM "
            "Credentials using --bootstrap-server."
        )
    if len(scram) != len(added) + len(deleted):
        raise UsageError(
            "Cannot alter both quota and SCRAM credential configs simultaneously for "
            "'users' using --bootstrap-server."
        )
    return "scram"


def scram_credential(mechanism: str, value: str) -> tuple[int, str]:
    """(iterations, password) of ``[iterations=N,]password=P``: Kafka's tool's syntax, 4096
    iterations when none (or -1) are given."""
    match = _SCRAM_CREDENTIAL.fullmatch(value)
    if match is None:
        raise UsageError(
            f"Invalid credential property {mechanism}: the value must be [iterations=N,]password=P"
        )
    text, password = match.groups()
    try:
        iterations = DEFAULT_SCRAM_ITERATIONS if text in (None, "-1") else int(text)
    except ValueError as exc:
        raise UsageError(f"Invalid credential property {mechanism}: no iteration count") from exc
    minimum = SCRAM_MECHANISMS[mechanism].min_iterations
    if iterations < minimum:
        raise UsageError(
            f"Iterations {iterations} is less than the minimum {minimum} required for {mechanism}"
        )
    return iterations, password


def scram_alterations(user: str, to_add: Mapping[str, str], to_delete: Sequence[str]) -> list[Any]:
    """confluent-kafka's deletions and upsertions for the SCRAM configs of ``user``."""
    alterations: list[Any] = [
        _admin.UserScramCredentialDeletion(user, _admin.ScramMechanism[m.replace("-", "_")])
        for m in to_delete
    ]
    for mechanism, value in to_add.items():
        iterations, password = scram_credential(mechanism, value)
        info = _admin.ScramCredentialInfo(
            _admin.ScramMechanism[mechanism.replace("-", "_")], iterations
        )
        alterations.append(_admin.UserScramCredentialUpsertion(user, info, password.encode()))
    return alterations


def alter_scram(admin: Admin, user: str, alterations: Sequence[Any]) -> dict[str, Any]:
    """AlterUserScramCredentials; what was set, without the passwords."""
    futures = admin.client.alter_user_scram_credentials(
        list(alterations), request_timeout=admin.timeout
    )
    for future in futures.values():
        try:
            admin.wait(future)
        except KafkaException as exc:
            raise ToolError(
                f"cannot update the SCRAM credentials of user {user}: {kafka_message(exc)}"
            ) from exc
    return {
        a.scram_credential_info.mechanism.name.replace("_", "-"): {
            "iterations": a.scram_credential_info.iterations
        }
        for a in alterations
        if isinstance(a, _admin.UserScramCredentialUpsertion)
    }


def alter_quotas(
    config: Mapping[str, str],
    timeout: float,
    entities: Entities,
    to_add: Mapping[str, str],
    to_delete: Sequence[str],
) -> dict[str, Any]:
    """AlterClientQuotas for the one entity named, after checking that the quotas to delete
    are set (Kafka's ``Invalid config(s)``); the quotas set."""
    values = {key: quota_value(key, text) for key, text in to_add.items()}
    _require_plaintext(config)
    check_reachable(config, timeout)
    with QuotaClient(config["bootstrap.servers"], timeout) as client:
        if to_delete:
            current = client.describe(filter_components(entities.types, entities.names))
            existing = {key for key, _ in current[0].values} if current else set()
            invalid = [key for key in to_delete if key not in existing]
            if invalid:
                raise ToolError(f"Invalid config(s): {','.join(invalid)}")
        ops: dict[str, float | None] = {**values, **dict.fromkeys(to_delete)}
        client.alter(quota_entity(entities.types, entities.names), ops)
    return values
