"""The broker's client quotas: one manager per quota type, reading the quota entities of the
metadata store, and how a request's throttle time reaches its response and its connection.

A client over quota gets ``throttle_time_ms`` in its response and its connection is not read
for that long after the response is sent (KIP-219). Followers' fetches and the requests of
the authentication exchange are not throttled."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from odradek.config.broker import BrokerConfig
from odradek.observability import metrics
from odradek.security.client_quotas import ClientQuotaManager, QuotaType

if TYPE_CHECKING:
    from odradek.cluster.metadata import MetadataStore
    from odradek.server.request_context import RequestContext


class ClientQuotas:
    def __init__(self, config: BrokerConfig, store: MetadataStore) -> None:
        samples = int(config.get("quota.window.num"))
        window_s = float(config.get("quota.window.size.seconds"))

        def entity_configs() -> dict[str, dict[str, str]]:
            return store.entity_configs

        self.produce = ClientQuotaManager(QuotaType.PRODUCE, entity_configs, samples, window_s)
        self.fetch = ClientQuotaManager(QuotaType.FETCH, entity_configs, samples, window_s)
        self.request = ClientQuotaManager(QuotaType.REQUEST, entity_configs, samples, window_s)

    def record(
        self, manager: ClientQuotaManager, ctx: RequestContext, value: float, now: float
    ) -> int:
        """Record ``value`` against the request's (user, client id); the throttle time in ms,
        also kept on the request so its connection is muted after the response."""
        throttle = manager.record(ctx.principal.name, ctx.header.client_id or "", value, now)
        if throttle:
            ctx.throttle_ms = max(ctx.throttle_ms, throttle)
            metrics.client_throttled(manager.quota_type.value, throttle)
        return throttle

    def record_request_time(self, ctx: RequestContext, handling_s: float) -> None:
        """``request_percentage``: the handler's time, as a percentage of one thread's second
        (Kafka's request-handler time; here the event loop's time in the handler)."""
        self.record(self.request, ctx, handling_s * 100, time.monotonic())


def with_throttle_time(body: Any, throttle_ms: int) -> Any:
    """The response with ``throttle_time`` raised to ``throttle_ms`` (when it has one)."""
    current = getattr(body, "throttle_time", None)
    if not isinstance(current, timedelta) or current >= timedelta(milliseconds=throttle_ms):
        return body
    return dataclasses.replace(body, throttle_time=timedelta(milliseconds=throttle_ms))
