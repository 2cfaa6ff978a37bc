"""GetTelemetrySubscriptions and PushTelemetry (KIP-714): the broker's
:class:`ClientMetricsManager` answers them, and the metrics clients push are served on the
broker's Prometheus endpoint. Neither API needs an ACL (as in Kafka)."""

from __future__ import annotations

import weakref
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from odradek.protocol import api_versions as keys
from odradek.protocol.codec import build, response_module
from odradek.telemetry import configs as cm
from odradek.telemetry.manager import ClientMetricsManager
from odradek.telemetry.series import TelemetryCollector

if TYPE_CHECKING:
    from odradek.server.broker import BrokerServer
    from odradek.server.request_context import RequestContext

ZERO = timedelta(0)


class _BrokerTelemetry:
    """A broker's manager, and whether its series are on the metrics endpoint yet (the
    endpoint starts after the listeners)."""

    def __init__(self, broker: BrokerServer) -> None:
        store = broker.metadata_store
        self.manager = ClientMetricsManager(
            lambda: store.entity_configs, int(broker.config.get("telemetry.max.bytes"))
        )
        self.exported = False
        self._clock = broker.clock

    def now_ms(self) -> int:
        return int(self._clock.monotonic() * 1000)

    def export(self, broker: BrokerServer) -> None:
        endpoint = broker.metrics_endpoint
        if self.exported or endpoint is None:
            return
        manager = self.manager
        endpoint.registry.register(
            TelemetryCollector(manager.series, lambda: manager.expire(self.now_ms()))
        )
        self.exported = True


_BROKERS: weakref.WeakKeyDictionary[BrokerServer, _BrokerTelemetry] = weakref.WeakKeyDictionary()


def _telemetry(broker: BrokerServer) -> _BrokerTelemetry:
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
    broker: BrokerServer, ctx: RequestContext, request: Any
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


def handle_push_telemetry(broker: BrokerServer, ctx: RequestContext, request: Any) -> Any:
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
