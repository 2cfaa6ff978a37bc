"""GetTelemetrySubscriptions and PushTelemetry (KIP-714): the broker's
:class:`ClientMetricsManager` answers them, and the metrics clients push are served on the
broker's Prometheus endpoint. Neither API needs an ACL (as in Kafka). ListClientMetricsResources
(v0 of what Kafka 4.1 renamed ListConfigResources) lists the client-metrics resources; it needs
DESCRIBE_CONFIGS on the cluster."""

from __future__ import annotations

import weakref
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import authorize
from odradek.server.collaborators import Authorizing, HasClock, HasConfig, HasMetadataStore
from odradek.telemetry import configs as cm
from odradek.telemetry.manager import ClientMetricsManager
from odradek.telemetry.series import TelemetryCollector

if TYPE_CHECKING:
    from odradek.observability.http import MetricsEndpoint
    from odradek.server.request_context import RequestContext


class TelemetryCollaborators(Authorizing, HasClock, HasConfig, HasMetadataStore, Protocol):
    """What the KIP-714 requests read from the broker, with the metrics endpoint the pushed
    series are exported to."""

    @property
    def metrics_endpoint(self) -> MetricsEndpoint | None: ...


ZERO = timedelta(0)


class _BrokerTelemetry:
    """A broker's manager, and whether its series are on the metrics endpoint yet (the
    endpoint starts after the listeners)."""

    def __init__(self, broker: TelemetryCollaborators) -> None:
        store = broker.metadata_store
        self.manager = ClientMetricsManager(
            lambda: store.entity_configs, int(broker.config.get("telemetry.max.bytes"))
        )
        self.exported = False
        self._clock = broker.clock

    def now_ms(self) -> int:
        return int(self._clock.monotonic() * 1000)

    def export(self, broker: TelemetryCollaborators) -> None:
        endpoint = broker.metrics_endpoint
        if self.exported or endpoint is None:
            return
        manager = self.manager
        endpoint.registry.register(
            TelemetryCollector(manager.series, lambda: manager.expire(self.now_ms()))
        )
        self.exported = True


_BROKERS: weakref.WeakKeyDictionary[TelemetryCollaborators, _BrokerTelemetry] = (
    weakref.WeakKeyDictionary()
)


def _telemetry(broker: TelemetryCollaborators) -> _BrokerTelemetry:
    telemetry = _BROKERS.get(broker)
    if telemetry is None:
        telemetry = _BROKERS[broker] = _BrokerTelemetry(broker)
    telemetry.export(broker)
    return telemetry


def _client(ctx: RequestContext) -> dict[str, str]:
    """What the broker knows of the client for the resources' selectors and the labels."""
    connection = ctx.connection
    return {
        cm.CLIENT_ID: ctx.header.client_id or "",
        cm.CLIENT_SOURCE_ADDRESS: connection.peer_host,
        cm.CLIENT_SOURCE_PORT: str(connection.peer_port),
        cm.CLIENT_SOFTWARE_NAME: connection.client.software_name,
        cm.CLIENT_SOFTWARE_VERSION: connection.client.software_version,
    }


def handle_get_telemetry_subscriptions(
    broker: TelemetryCollaborators, ctx: RequestContext, request: Any
) -> Any:
    module = response_module(keys.GET_TELEMETRY_SUBSCRIPTIONS_KEY, ctx.header.api_version)
    telemetry = _telemetry(broker)
    answer = telemetry.manager.get_subscriptions(
        request.client_instance_id, _client(ctx), telemetry.now_ms()
    )
    return build(
        module.GetTelemetrySubscriptionsResponse,
        throttle_time=ZERO,
        error_code=answer.error,
        client_instance_id=answer.instance_id,
        subscription_id=answer.subscription_id,
        accepted_compression_types=answer.accepted_compression_types,
        push_interval=timedelta(milliseconds=answer.push_interval_ms),
        telemetry_max_bytes=answer.telemetry_max_bytes,
        delta_temporality=True,
        requested_metrics=answer.requested_metrics,
    )


def handle_push_telemetry(broker: TelemetryCollaborators, ctx: RequestContext, request: Any) -> Any:
    module = response_module(keys.PUSH_TELEMETRY_KEY, ctx.header.api_version)
    telemetry = _telemetry(broker)
    error = telemetry.manager.push(
        request.client_instance_id,
        _client(ctx),
        request.subscription_id,
        request.terminating,
        request.compression_type,
        request.metrics,
        telemetry.now_ms(),
    )
    return build(module.PushTelemetryResponse, throttle_time=ZERO, error_code=error)


def handle_list_client_metrics_resources(
    broker: TelemetryCollaborators, ctx: RequestContext, request: Any
) -> Any:
    """The names of the client-metrics resources that exist (those with configs)."""
    module = response_module(keys.LIST_CONFIG_RESOURCES_KEY, ctx.header.api_version)
    if not authorize(ctx, broker, AclOperation.DESCRIBE_CONFIGS, ResourceType.CLUSTER):
        return build(
            module.ListConfigResourcesResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.cluster_authorization_failed,
            config_resources=(),
        )
    prefix = cm.ENTITY_TYPE + "/"
    names = sorted(
        path.removeprefix(prefix)
        for path, configs in broker.metadata_store.entity_configs.items()
        if path.startswith(prefix) and configs
    )
    return build(
        module.ListConfigResourcesResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        config_resources=tuple(build(module.ConfigResource, resource_name=n) for n in names),
    )
