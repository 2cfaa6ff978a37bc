"""DescribeClientQuotas and AlterClientQuotas (KIP-546): client quotas kept as Kafka keeps
them, as the configs of the ``users/<user>``, ``clients/<client-id>`` and
``users/<user>/clients/<client-id>`` entities (ZooKeeper's ``/config/...`` in a cluster)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.protocol.api_versions import ALTER_CLIENT_QUOTAS_KEY, DESCRIBE_CLIENT_QUOTAS_KEY
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.security.client_quotas import (
    DEFAULT_ENTITY,
    QUOTA_KEYS,
    QuotaType,
    desanitize,
    sanitize,
)
from odradek.server.authorization import CLUSTER_AUTHORIZATION_FAILED, authorize
from odradek.server.collaborators import Authorizing, HasMetadataStore

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class ClientQuotasCollaborators(Authorizing, HasMetadataStore, Protocol):
    """What DescribeClientQuotas and AlterClientQuotas read from the broker."""


ZERO = timedelta(0)
USER, CLIENT_ID = "user", "client-id"
_PATH_NAMES = {USER: "users", CLIENT_ID: "clients"}
MATCH_EXACT, MATCH_DEFAULT, MATCH_SPECIFIED = 0, 1, 2
Entity = dict[str, str | None]  # entity type -> name (None: the default entity)


class _Invalid(Exception):
    pass


def entity_path(entity: Entity) -> str:
    """``users/<u>``, ``clients/<c>`` or ``users/<u>/clients/<c>``, names sanitized."""
    parts = []
    for entity_type in (USER, CLIENT_ID):
        if entity_type in entity:
            name = entity[entity_type]
            parts.append(
                f"{_PATH_NAMES[entity_type]}/{DEFAULT_ENTITY if name is None else sanitize(name)}"
            )
    return "/".join(parts)


def parse_entity_path(path: str) -> Entity | None:
    """The quota entity of an entity-config path; None for anything else."""
    parts = path.split("/")
    if len(parts) not in (2, 4) or (len(parts) == 4 and parts[0] != "users"):
        return None
    entity: Entity = {}
    for kind, name in zip(parts[::2], parts[1::2], strict=True):
        entity_type = {"users": USER, "clients": CLIENT_ID}.get(kind)
        if entity_type is None or entity_type in entity:
            return None
        entity[entity_type] = None if name == DEFAULT_ENTITY else desanitize(name)
    return entity


# -- DescribeClientQuotas ------------------------------------------------------------------------


def handle_describe_client_quotas(
    broker: ClientQuotasCollaborators, ctx: RequestContext, request: Any
) -> Any:
    module = response_module(DESCRIBE_CLIENT_QUOTAS_KEY, ctx.header.api_version)

    def response(error: ErrorCode, message: str | None, entries: tuple[Any, ...] | None) -> Any:
        return build(
            module.DescribeClientQuotasResponse,
            throttle_time=ZERO,
            error_code=error,
            error_message=message,
            entries=entries,
        )

    if not authorize(ctx, broker, AclOperation.DESCRIBE_CONFIGS, ResourceType.CLUSTER):
        return response(ErrorCode.cluster_authorization_failed, CLUSTER_AUTHORIZATION_FAILED, None)
    try:
        filters = _filters(request.components)
    except _Invalid as exc:
        return response(ErrorCode.invalid_request, str(exc), None)
    entries = []
    for path, configs in sorted(broker.metadata_store.entity_configs.items()):
        entity = parse_entity_path(path)
        values = {k: v for k, v in configs.items() if k in QUOTA_KEYS}
        if entity is None or not values or not _matches(entity, filters, request.strict):
            continue
        entries.append(
            build(
                module.EntryData,
                entity=tuple(
                    build(module.EntityData, entity_type=t, entity_name=n)
                    for t, n in entity.items()
                ),
                values=tuple(
                    build(module.ValueData, key=k, value=float(v))
                    for k, v in sorted(values.items())
                ),
            )
        )
    return response(ErrorCode.none, None, tuple(entries))


def _filters(components: Any) -> dict[str, tuple[int, str | None]]:
    filters: dict[str, tuple[int, str | None]] = {}
    for component in components:
        if component.entity_type not in _PATH_NAMES:
            raise _Invalid(f"Custom entity type '{component.entity_type}' not supported")
        if component.entity_type in filters:
            raise _Invalid(f"Duplicate {component.entity_type} filter")
        if component.match_type == MATCH_EXACT and component.match is None:
            raise _Invalid("An exact match needs a name")
        if component.match_type not in (MATCH_EXACT, MATCH_DEFAULT, MATCH_SPECIFIED):
            raise _Invalid(f"Unknown match type {component.match_type}")
        filters[component.entity_type] = (component.match_type, component.match)
    return filters


def _matches(entity: Entity, filters: dict[str, tuple[int, str | None]], strict: bool) -> bool:
    if strict and set(entity) != set(filters):
        return False
    for entity_type, (match_type, match) in filters.items():
        if entity_type not in entity:
            return False
        name = entity[entity_type]
        if match_type == MATCH_EXACT and name != match:
            return False
        if match_type == MATCH_DEFAULT and name is not None:
            return False
        if match_type == MATCH_SPECIFIED and name is None:
            return False
    return True


# -- AlterClientQuotas ---------------------------------------------------------------------------


async def handle_alter_client_quotas(
    broker: ClientQuotasCollaborators, ctx: RequestContext, request: Any
) -> Any:
    module = response_module(ALTER_CLIENT_QUOTAS_KEY, ctx.header.api_version)
    allowed = authorize(ctx, broker, AclOperation.ALTER_CONFIGS, ResourceType.CLUSTER)
    results = []
    for entry in request.entries:
        error, message = ErrorCode.none, None
        if not allowed:
            error, message = ErrorCode.cluster_authorization_failed, CLUSTER_AUTHORIZATION_FAILED
        else:
            try:
                path, configs = _altered(broker, entry)
                if not request.validate_only:
                    await broker.metadata_store.set_entity_configs_async(path, configs)
            except _Invalid as exc:
                error, message = ErrorCode.invalid_request, str(exc)
        results.append(
            build(
                module.EntryData,
                error_code=error,
                error_message=message,
                entity=tuple(
                    build(module.EntityData, entity_type=e.entity_type, entity_name=e.entity_name)
                    for e in entry.entity
                ),
            )
        )
    return build(module.AlterClientQuotasResponse, throttle_time=ZERO, entries=tuple(results))


def _altered(broker: ClientQuotasCollaborators, entry: Any) -> tuple[str, dict[str, str]]:
    """The entity's path and its configs after the entry's operations (Kafka's checks)."""
    entity: Entity = {}
    for item in entry.entity:
        if item.entity_type == "ip":
            raise _Invalid("IP connection-rate quotas are not supported by odradek")
        if item.entity_type not in _PATH_NAMES:
            raise _Invalid(f"Unhandled client quota entity type: {item.entity_type}")
        if item.entity_type in entity:
            raise _Invalid(f"Duplicate {item.entity_type} entity in the request")
        if item.entity_name is not None and not item.entity_name:
            raise _Invalid(f"Empty {item.entity_type} name")
        entity[item.entity_type] = item.entity_name
    if not entity:
        raise _Invalid("The entity has no components")
    path = entity_path(entity)
    configs = dict(broker.metadata_store.entity_configs.get(path, {}))
    for op in entry.ops:
        if op.key not in QUOTA_KEYS:
            raise _Invalid(f"Unrecognized quota key: {op.key}")
        if op.remove:
            configs.pop(op.key, None)
            continue
        value = float(op.value)
        if value <= 0:
            raise _Invalid(f"Quota {op.key} must be greater than 0, not {value}")
        if op.key != QuotaType.REQUEST and not value.is_integer():
            raise _Invalid(f"Quota {op.key} must be a whole number of bytes per second")
        configs[op.key] = str(value)
    return path, configs
