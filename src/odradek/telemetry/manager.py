"""ClientMetricsManager: the broker's side of KIP-714. It resolves a client's subscription
from the ``client-metrics`` resources, assigns client instance ids, keeps each client
instance's state (its subscription, when it last asked and pushed, whether it terminated)
and validates pushes; the decoded metrics go to the :class:`ClientSeries` it holds.

Sans-IO: the caller passes the time (ms) and the client's attributes, and reads the
resources through ``entity_configs`` (the metadata store's entity configs, where
``client-metrics/<name>`` holds a resource's configs)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import crc32c
from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.protocol.records.compression import CompressionType
from odradek.telemetry import configs as cm
from odradek.telemetry.otlp import decode_metrics
from odradek.telemetry.series import ClientSeries

# Kafka's broker default for telemetry.max.bytes: the largest payload a client may push.
DEFAULT_TELEMETRY_MAX_BYTES = 1_048_576
# What the broker accepts, in the order of preference it tells clients.
ACCEPTED_COMPRESSION_TYPES = (
    CompressionType.ZSTD,
    CompressionType.LZ4,
    CompressionType.GZIP,
    CompressionType.SNAPPY,
)
# A client instance not heard from for this many push intervals is forgotten with its series.
EXPIRY_INTERVALS = 3
# At most this many client instances are kept (Kafka's cache size): past it, the one heard
# from least recently is forgotten.
MAX_INSTANCES = 16_384
EXPIRY_CHECK_MS = 1_000  # how often the idle instances are looked for
ZERO_UUID = uuid.UUID(int=0)


@dataclass(frozen=True, slots=True)
class ClientSubscription:
    """What one client instance is subscribed to (the union of the matching resources)."""

    subscription_id: int
    metrics: tuple[str, ...]  # () none; ("",) all (KIP-714's empty prefix)
    interval_ms: int
    version: int  # the resources' version it was computed from


@dataclass(slots=True)
class ClientInstance:
    """One client instance's state between its requests."""

    instance_id: uuid.UUID
    attributes: dict[str, str]
    subscription: ClientSubscription
    last_get_ms: int = -1
    last_push_ms: int = -1
    last_seen_ms: int = 0
    terminating: bool = False
    last_error: ErrorCode = ErrorCode.none


@dataclass(frozen=True, slots=True)
class SubscriptionAnswer:
    """GetTelemetrySubscriptions' answer (``error`` set: only it and the id are meaningful)."""

    error: ErrorCode
    instance_id: uuid.UUID
    subscription_id: int = 0
    accepted_compression_types: tuple[int, ...] = ()
    push_interval_ms: int = 0
    telemetry_max_bytes: int = 0
    requested_metrics: tuple[str, ...] = ()


@dataclass(slots=True)
class _Resources:
    """The parsed resources and the configs they were parsed from."""

    source: dict[str, dict[str, str]] = field(default_factory=dict)
    subscriptions: tuple[cm.Subscription, ...] = ()
    version: int = 0


class ClientMetricsManager:
    def __init__(
        self,
        entity_configs: Callable[[], Mapping[str, Mapping[str, str]]],
        telemetry_max_bytes: int = DEFAULT_TELEMETRY_MAX_BYTES,
    ) -> None:
        self._entity_configs = entity_configs
        self.telemetry_max_bytes = telemetry_max_bytes
        self.instances: dict[uuid.UUID, ClientInstance] = {}
        self.series = ClientSeries()
        self._resources = _Resources()
        self._next_expiry_check_ms: int | None = None

    # -- subscriptions --------------------------------------------------------------------------

    def subscriptions(self) -> tuple[cm.Subscription, ...]:
        """The ``client-metrics`` resources, re-parsed when their configs changed (a resource
        whose stored configs are not valid is skipped)."""
        prefix = cm.ENTITY_TYPE + "/"
        current = {
            path[len(prefix) :]: dict(configs)
            for path, configs in self._entity_configs().items()
            if path.startswith(prefix)
        }
        if current != self._resources.source:
            parsed = []
            for name, configs in sorted(current.items()):
                try:
                    parsed.append(cm.subscription(name, configs))
                except KafkaError:
                    continue
            self._resources = _Resources(current, tuple(parsed), self._resources.version + 1)
        return self._resources.subscriptions

    def _subscribe(
        self, instance_id: uuid.UUID, attributes: Mapping[str, str]
    ) -> ClientSubscription:
        matched = [s for s in self.subscriptions() if s.matches(attributes)]
        metrics: set[str] = set()
        for s in matched:
            metrics.update(s.metrics)
        interval = min((s.interval_ms for s in matched), default=cm.DEFAULT_INTERVAL_MS)
        requested = ("",) if cm.ALL_METRICS in metrics else tuple(sorted(metrics))
        return ClientSubscription(
            _subscription_id(requested, interval, instance_id),
            requested,
            interval,
            self._resources.version,
        )

    # -- the two requests -----------------------------------------------------------------------

    def get_subscriptions(
        self, instance_id: uuid.UUID | None, attributes: Mapping[str, str], now_ms: int
    ) -> SubscriptionAnswer:
        """GetTelemetrySubscriptions: a zero (or missing) id is given a new one; an instance
        asking again before its push interval is throttled, unless its last push failed on a
        stale subscription or a compression type the broker refused."""
        self.expire(now_ms)
        if instance_id is None or instance_id == ZERO_UUID:
            instance_id = self._new_instance_id()
        instance = self._instance(instance_id, attributes, now_ms)
        if instance.last_get_ms >= 0 or instance.last_push_ms >= 0:
            since = now_ms - max(instance.last_get_ms, instance.last_push_ms)
            retrying = instance.last_error in (
                ErrorCode.unknown_subscription_id,
                ErrorCode.unsupported_compression_type,
            )
            if since < instance.subscription.interval_ms and not retrying:
                return SubscriptionAnswer(ErrorCode.throttling_quota_exceeded, instance_id)
        instance.last_get_ms = now_ms
        instance.last_error = ErrorCode.none
        sub = instance.subscription
        return SubscriptionAnswer(
            ErrorCode.none,
            instance_id,
            sub.subscription_id,
            tuple(int(c) for c in ACCEPTED_COMPRESSION_TYPES),
            sub.interval_ms,
            self.telemetry_max_bytes,
            sub.metrics,
        )

    def push(
        self,
        instance_id: uuid.UUID | None,
        attributes: Mapping[str, str],
        subscription_id: int,
        terminating: bool,
        compression_type: int,
        payload: bytes,
        now_ms: int,
    ) -> ErrorCode:
        """PushTelemetry: validated in Kafka's order, then the payload is decoded into the
        instance's series. A terminating push is accepted before its interval, and is the
        instance's last."""
        self.expire(now_ms)
        if instance_id is None or instance_id == ZERO_UUID:
            return ErrorCode.invalid_request
        instance = self._instance(instance_id, attributes, now_ms)
        error = self._check_push(
            instance, subscription_id, terminating, compression_type, payload, now_ms
        )
        if error is ErrorCode.none:
            instance.last_push_ms = now_ms
            try:
                points = decode_metrics(compression_type, payload)
            except ValueError:
                error = ErrorCode.invalid_request
            else:
                self.series.record(instance_id, instance.attributes, points, now_ms)
        instance.last_error = error
        if error is ErrorCode.none and terminating:
            instance.terminating = True
        return error

    def _check_push(
        self,
        instance: ClientInstance,
        subscription_id: int,
        terminating: bool,
        compression_type: int,
        payload: bytes,
        now_ms: int,
    ) -> ErrorCode:
        if instance.terminating:
            return ErrorCode.invalid_request  # it already said its last push was its last
        if subscription_id != instance.subscription.subscription_id:
            return ErrorCode.unknown_subscription_id
        if not terminating and not self._push_due(instance, now_ms):
            return ErrorCode.throttling_quota_exceeded
        if compression_type != CompressionType.NONE and (
            compression_type not in ACCEPTED_COMPRESSION_TYPES
        ):
            return ErrorCode.unsupported_compression_type
        if len(payload) > self.telemetry_max_bytes:
            return ErrorCode.telemetry_too_large
        return ErrorCode.none

    @staticmethod
    def _push_due(instance: ClientInstance, now_ms: int) -> bool:
        """A push is due after a GetTelemetrySubscriptions (the first push is jittered by the
        client) or a push interval after the instance's last request."""
        if instance.last_get_ms > instance.last_push_ms:
            return True
        last = max(instance.last_get_ms, instance.last_push_ms)
        return last < 0 or now_ms - last >= instance.subscription.interval_ms

    # -- instances ------------------------------------------------------------------------------

    def _new_instance_id(self) -> uuid.UUID:
        while True:
            candidate = uuid.uuid4()
            if candidate not in self.instances:
                return candidate

    def _instance(
        self, instance_id: uuid.UUID, attributes: Mapping[str, str], now_ms: int
    ) -> ClientInstance:
        """The instance, created (or re-subscribed, when the resources changed since) with
        its subscription."""
        self.subscriptions()
        known = {**attributes, cm.CLIENT_INSTANCE_ID: str(instance_id)}
        instance = self.instances.pop(instance_id, None)
        if instance is None or instance.subscription.version != self._resources.version:
            subscription = self._subscribe(instance_id, known)
            if instance is None:
                instance = ClientInstance(instance_id, known, subscription)
            else:  # as a new instance: its timing starts again
                instance.subscription = subscription
                instance.last_get_ms = instance.last_push_ms = -1
        instance.attributes = known
        instance.last_seen_ms = now_ms
        self.instances[instance_id] = instance  # the dict is in last-seen order
        while len(self.instances) > MAX_INSTANCES:
            self._forget(next(iter(self.instances)))
        return instance

    def _forget(self, instance_id: uuid.UUID) -> None:
        del self.instances[instance_id]
        self.series.forget(instance_id)

    def expire(self, now_ms: int) -> None:
        """Forget the instances (and their series) not heard from for
        :data:`EXPIRY_INTERVALS` push intervals (looked for at most once a second)."""
        if self._next_expiry_check_ms is not None and now_ms < self._next_expiry_check_ms:
            return
        self._next_expiry_check_ms = now_ms + EXPIRY_CHECK_MS
        for instance_id, instance in list(self.instances.items()):
            idle = now_ms - instance.last_seen_ms
            if idle > EXPIRY_INTERVALS * instance.subscription.interval_ms:
                self._forget(instance_id)


def _subscription_id(metrics: tuple[str, ...], interval_ms: int, instance_id: uuid.UUID) -> int:
    """A hash of what the instance is subscribed to: it changes when the matching resources'
    metrics or interval change, and is the same after a broker restart."""
    text = "\n".join((*metrics, str(interval_ms), str(instance_id))).encode()
    value = crc32c.crc32c(text)
    return value - (1 << 32) if value >= 1 << 31 else value
