"""Users and clients in ``configs``: SCRAM credentials and client quotas."""

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
    wants_json,
)
from odradek.cli.tools.configs_entities import (
    Entities,
    requested_changes,
)
from odradek.common import reachability
from odradek.security.scram import ScramMechanism

# confluent-kafka's SCRAM classes: its type stubs do not re-export them.
_admin: Any = importlib.import_module("confluent_kafka.admin")

SCRAM_MECHANISMS = {m.mechanism_name: m for m in ScramMechanism}
DEFAULT_SCRAM_ITERATIONS = 4096  # Kafka's tool, when --add-config gives none
_SCRAM_CREDENTIAL = re.compile(r"(?:iterations=(-?[0-9]*),)?password=(.*)", re.DOTALL)


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
