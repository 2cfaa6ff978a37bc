"""DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics, brokers, KIP-714's
``client-metrics`` resources (stored as the ``client-metrics/<name>`` entity) and KIP-848's
groups (ConfigResource type 32, stored as the ``groups/<group id>`` entity:
:mod:`odradek.coordinator.group.group_configs`). The altering handlers are coroutines: they
await the metadata store's writes (ZooKeeper in a cluster) resource by resource, in request
order."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.cluster.configs import AlterOp, ConfigEntry, ConfigSource
from odradek.common.errors import KafkaError
from odradek.coordinator.group import group_configs
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import (
    CLUSTER_AUTHORIZATION_FAILED,
    GROUP_AUTHORIZATION_FAILED,
    TOPIC_AUTHORIZATION_FAILED,
    authorize,
)
from odradek.server.collaborators import (
    GroupCoordination,
    HasConfigManager,
    HasMetadataStore,
    HasNodeId,
)
from odradek.telemetry import configs as client_metrics

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class AdminConfigsCollaborators(
    GroupCoordination, HasConfigManager, HasMetadataStore, HasNodeId, Protocol
):
    """What DescribeConfigs, AlterConfigs and IncrementalAlterConfigs read from the broker
    (the group coordinator's configuration: a group config's default and bounds; the
    GroupCoordination protocol brings the authorizer)."""


ZERO = timedelta(0)
TOPIC = 2
BROKER = 4
BROKER_LOGGER = 8
CLIENT_METRICS = client_metrics.RESOURCE_TYPE
GROUP = group_configs.RESOURCE_TYPE


def handle_describe_configs(
    broker: AdminConfigsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.DESCRIBE_CONFIGS_KEY, header.api_version)
    synonyms = bool(getattr(request, "include_synonyms", False))
    docs = bool(getattr(request, "include_documentation", False))
    results = []
    for resource in request.resources:
        configs: tuple[Any, ...] = ()
        outcome: tuple[ErrorCode, str | None] | None
        outcome = _refusal(broker, ctx, AclOperation.DESCRIBE_CONFIGS, resource)
        if outcome is None:
            try:
                if resource.resource_type == GROUP:
                    configs = _describe_group(broker, module, resource, synonyms, docs)
                else:
                    source = (
                        client_metrics.CONFIG_SOURCE
                        if resource.resource_type == CLIENT_METRICS
                        else None
                    )
                    entries = _describe(broker, resource)
                    configs = tuple(_entry(module, e, synonyms, docs, source) for e in entries)
                outcome = ErrorCode.none, None
            except KafkaError as exc:
                outcome = exc.error_code, str(exc)
        error, message = outcome
        results.append(
            build(
                module.DescribeConfigsResult,
                error_code=error,
                error_message=message,
                resource_type=resource.resource_type,
                resource_name=resource.resource_name,
                configs=configs,
            )
        )
    return build(module.DescribeConfigsResponse, throttle_time=ZERO, results=tuple(results))


def _refusal(
    broker: AdminConfigsCollaborators, ctx: RequestContext, operation: AclOperation, resource: Any
) -> tuple[ErrorCode, str] | None:
    """The error for a resource whose configs the principal may not DESCRIBE_CONFIGS or
    ALTER_CONFIGS: a topic's are the topic's to grant, a group's the group's, a broker's and
    a client-metrics resource's the cluster's."""
    kind = resource.resource_type
    if kind == TOPIC:
        if not authorize(ctx, broker, operation, ResourceType.TOPIC, resource.resource_name):
            return ErrorCode.topic_authorization_failed, TOPIC_AUTHORIZATION_FAILED
    elif kind == GROUP:
        if not authorize(ctx, broker, operation, ResourceType.GROUP, resource.resource_name):
            return ErrorCode.group_authorization_failed, GROUP_AUTHORIZATION_FAILED
    elif kind in (BROKER, BROKER_LOGGER, CLIENT_METRICS) and not authorize(
        ctx, broker, operation, ResourceType.CLUSTER
    ):
        return ErrorCode.cluster_authorization_failed, CLUSTER_AUTHORIZATION_FAILED
    return None


def _describe(broker: AdminConfigsCollaborators, resource: Any) -> list[ConfigEntry]:
    from odradek.common.errors import InvalidRequestError

    wanted = resource.configuration_keys
    if resource.resource_type == TOPIC:
        return broker.configs.describe_topic(resource.resource_name, wanted)
    if resource.resource_type == BROKER:
        entries = broker.configs.describe_broker(resource.resource_name, wanted)
        if resource.resource_name == "":
            return entries
        return _consistent_ids(entries, broker.node_id)
    if resource.resource_type == BROKER_LOGGER:
        return []
    if resource.resource_type == CLIENT_METRICS:
        return _describe_client_metrics(broker, resource.resource_name, wanted)
    raise InvalidRequestError(f"Unsupported resource type {resource.resource_type}")


ID_NAMES = ("broker.id", "node.id")


def _consistent_ids(entries: list[ConfigEntry], node_id: int) -> list[ConfigEntry]:
    """broker.id and node.id name the same thing: Kafka copies whichever is set to the other
    (KafkaConfig.populateSynonyms) before the config is built, so both describe as the
    broker's id, from the source of the one that was set. Without this, a broker started
    with node.id=0 described broker.id=-1 (its default)."""
    given = next(
        (e for e in entries if e.name in ID_NAMES and e.source is not ConfigSource.DEFAULT_CONFIG),
        None,
    )
    source = ConfigSource.STATIC_BROKER_CONFIG if given is None else given.source
    value = str(node_id)
    fixed = []
    for entry in entries:
        if entry.name in ID_NAMES and entry.value != value:
            defaults = tuple(s for s in entry.synonyms if s[2] is ConfigSource.DEFAULT_CONFIG)
            entry = dataclasses.replace(
                entry, value=value, source=source, synonyms=((entry.name, value, source), *defaults)
            )
        fixed.append(entry)
    return fixed


def _describe_client_metrics(
    broker: AdminConfigsCollaborators, name: str, wanted: tuple[str, ...] | None
) -> list[ConfigEntry]:
    """The keys a client-metrics resource sets (none for a resource that does not exist)."""
    client_metrics.check_name(name)
    stored = broker.metadata_store.entity_configs.get(f"{client_metrics.ENTITY_TYPE}/{name}", {})
    return [
        ConfigEntry(
            key,
            value,
            ConfigSource.UNKNOWN,  # the response says CLIENT_METRICS_CONFIG (see _entry)
            False,
            False,
            client_metrics.CONFIG_TYPES.get(key, 0),
            client_metrics.DOCS.get(key),
            (),
        )
        for key, value in sorted(stored.items())
        if not wanted or key in wanted
    ]


def _describe_group(
    broker: AdminConfigsCollaborators, module: Any, resource: Any, synonyms: bool, docs: bool
) -> tuple[Any, ...]:
    """A group's configs as Kafka's ConfigHelper describes them: every key of its
    GroupConfig (whether or not the group exists), GROUP_CONFIG for those the group sets and
    DEFAULT_CONFIG, with the broker's ``group.consumer.*`` value, for the others; the one
    synonym is the config itself."""
    name = resource.resource_name
    group_configs.check_name(name, describing=True)
    stored = broker.metadata_store.entity_configs.get(group_configs.entity_path(name), {})
    config = broker.groups.coordinator.config
    values = group_configs.effective(config, stored)
    wanted = resource.configuration_keys
    described = []
    for key in group_configs.NAMES:
        if wanted and key not in wanted:
            continue
        value = str(values[key])
        source = group_configs.CONFIG_SOURCE if key in stored else int(ConfigSource.DEFAULT_CONFIG)
        listed = (build(module.DescribeConfigsSynonym, name=key, value=value, source=source),)
        described.append(
            build(
                module.DescribeConfigsResourceResult,
                name=key,
                value=value,
                read_only=False,
                config_source=source,
                is_sensitive=False,
                synonyms=listed if synonyms else (),
                config_type=group_configs.CONFIG_TYPE_INT,
                documentation=group_configs.DOCS[key] if docs else None,
            )
        )
    return tuple(described)


def _entry(
    module: Any, entry: ConfigEntry, synonyms: bool, docs: bool, source: int | None = None
) -> Any:
    listed = (
        tuple(
            build(module.DescribeConfigsSynonym, name=n, value=v, source=int(s))
            for n, v, s in entry.synonyms
        )
        if synonyms
        else ()
    )
    return build(
        module.DescribeConfigsResourceResult,
        name=entry.name,
        value=None if entry.sensitive else entry.value,
        read_only=entry.read_only,
        config_source=int(entry.source) if source is None else source,
        is_sensitive=entry.sensitive,
        synonyms=listed,
        config_type=entry.config_type,
        documentation=entry.documentation if docs else None,
    )


async def handle_alter_configs(
    broker: AdminConfigsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.ALTER_CONFIGS_KEY, header.api_version)
    responses = await _alter_resources(
        broker, ctx, module, request, lambda c: (c.name, int(AlterOp.SET), c.value), False
    )
    return build(module.AlterConfigsResponse, throttle_time=ZERO, responses=responses)


async def handle_incremental_alter_configs(
    broker: AdminConfigsCollaborators, ctx: RequestContext, request: Any
) -> Any:
    header = ctx.header
    module = response_module(keys.INCREMENTAL_ALTER_CONFIGS_KEY, header.api_version)
    responses = await _alter_resources(
        broker, ctx, module, request, lambda c: (c.name, int(c.config_operation), c.value), True
    )
    return build(module.IncrementalAlterConfigsResponse, throttle_time=ZERO, responses=responses)


async def _alter_resources(
    broker: AdminConfigsCollaborators,
    ctx: RequestContext,
    module: Any,
    request: Any,
    op_of: Callable[[Any], tuple[str, int, str | None]],
    incremental: bool,
) -> tuple[Any, ...]:
    """AlterConfigs replaces a resource's overrides (every entry a SET); the incremental
    form applies SET/DELETE/APPEND/SUBTRACT to them."""
    responses = []
    for resource in request.resources:
        outcome: tuple[ErrorCode, str | None] | None
        outcome = _refusal(broker, ctx, AclOperation.ALTER_CONFIGS, resource)
        if outcome is None:
            ops = [op_of(c) for c in resource.configs]
            outcome = await _alter(broker, resource, ops, request.validate_only, incremental)
        error, message = outcome
        responses.append(
            build(
                module.AlterConfigsResourceResponse,
                error_code=error,
                error_message=message,
                resource_type=resource.resource_type,
                resource_name=resource.resource_name,
            )
        )
    return tuple(responses)


async def _alter(
    broker: AdminConfigsCollaborators,
    resource: Any,
    ops: list[tuple[str, int, str | None]],
    validate_only: bool,
    incremental: bool,
) -> tuple[ErrorCode, str | None]:
    names = [name for name, _, _ in ops]
    if len(set(names)) != len(names):
        return ErrorCode.invalid_request, "Error due to duplicate config keys"
    nulls = [name for name, op, value in ops if value is None and op != AlterOp.DELETE]
    if nulls:
        return ErrorCode.invalid_request, f"Null value not supported for : {','.join(nulls)}"
    try:
        if resource.resource_type == TOPIC:
            if incremental:
                await broker.configs.incremental_alter_topic(
                    resource.resource_name, ops, validate_only
                )
            else:
                await broker.configs.alter_topic(
                    resource.resource_name, {n: v for n, _, v in ops}, validate_only
                )
        elif resource.resource_type == BROKER:
            await broker.configs.alter_broker(
                resource.resource_name, ops, validate_only, incremental
            )
        elif resource.resource_type == CLIENT_METRICS:
            await _alter_client_metrics(
                broker, resource.resource_name, ops, validate_only, incremental
            )
        elif resource.resource_type == GROUP:
            await _alter_group(broker, resource.resource_name, ops, validate_only, incremental)
        else:
            return ErrorCode.invalid_request, f"Unsupported resource type {resource.resource_type}"
    except KafkaError as exc:
        return exc.error_code, str(exc)
    return ErrorCode.none, None


async def _alter_client_metrics(
    broker: AdminConfigsCollaborators,
    name: str,
    ops: list[tuple[str, int, str | None]],
    validate_only: bool,
    incremental: bool,
) -> None:
    """Validate the resource's new configs and store them (an empty set deletes it)."""
    client_metrics.check_name(name)
    path = f"{client_metrics.ENTITY_TYPE}/{name}"
    current = broker.metadata_store.entity_configs.get(path, {})
    configs = client_metrics.altered(current, ops, incremental)
    if not validate_only:
        await broker.metadata_store.set_entity_configs_async(path, configs)


async def _alter_group(
    broker: AdminConfigsCollaborators,
    name: str,
    ops: list[tuple[str, int, str | None]],
    validate_only: bool,
    incremental: bool,
) -> None:
    """Validate a group's new configs against the broker's bounds and store them (an empty
    set deletes the entity). The group need not exist: Kafka lets its configs come first."""
    group_configs.check_name(name, describing=False)
    path = group_configs.entity_path(name)
    current = broker.metadata_store.entity_configs.get(path, {})
    config = broker.groups.coordinator.config
    configs = group_configs.altered(current, ops, incremental, config)
    if not validate_only:
        await broker.metadata_store.set_entity_configs_async(path, configs)
