"""Client quotas (KIP-13, KIP-55, KIP-124, KIP-546), sans-IO: which quota applies to a
(user, client-id) pair, the windowed rate Kafka measures, and how long a client is throttled.

Quotas are entity configs (``users/<user>``, ``clients/<client-id>``,
``users/<user>/clients/<client-id>``, ``<default>`` for either name), resolved in Kafka's
order of precedence, most specific first. A client over its quota is not refused: its
response carries ``throttle_time_ms`` and the broker stops reading from its connection for
that long (KIP-219)."""

from __future__ import annotations

import enum
import math
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass

DEFAULT_ENTITY = "<default>"
RESOLVED_TTL_S = 1.0
RESOLVED_CACHE_SIZE = 10_000


class QuotaType(enum.StrEnum):
    """A quota and its config key."""

    PRODUCE = "producer_byte_rate"  # bytes/s appended
    FETCH = "consumer_byte_rate"  # bytes/s sent to consumers
    REQUEST = "request_percentage"  # % of one request-handling thread's time


QUOTA_KEYS = frozenset(t.value for t in QuotaType)


def sanitize(name: str) -> str:
    """A user or client id as Kafka writes it into an entity path (its ``Sanitizer``:
    URL encoding, with ``*`` as ``%2A`` and space as ``%20``)."""
    return urllib.parse.quote(name, safe="-_.").replace("~", "%7E")


def desanitize(name: str) -> str:
    return urllib.parse.unquote(name)


def quota_entity_paths(user: str, client_id: str) -> list[str]:
    """The entity paths that may hold a quota for (user, client id), most specific first
    (Kafka's precedence; a user of ANONYMOUS still matches users/<default>)."""
    u, c = sanitize(user), sanitize(client_id)
    d = DEFAULT_ENTITY
    return [
        f"users/{u}/clients/{c}",
        f"users/{u}/clients/{d}",
        f"users/{u}",
        f"users/{d}/clients/{c}",
        f"users/{d}/clients/{d}",
        f"users/{d}",
        f"clients/{c}",
        f"clients/{d}",
    ]


@dataclass(frozen=True, slots=True)
class Quota:
    entity_path: str  # the entity whose config set it: clients sharing it share the budget
    bound: float


def resolve_quota(
    entity_configs: Mapping[str, Mapping[str, str]],
    user: str,
    client_id: str,
    quota_type: QuotaType,
) -> Quota | None:
    for path in quota_entity_paths(user, client_id):
        value = entity_configs.get(path, {}).get(quota_type.value)
        if value is not None:
            try:
                return Quota(path, float(value))
            except ValueError:
                continue
    return None


class Rate:
    """Kafka's sampled Rate: the sum over ``samples`` windows of ``window_s`` each, divided
    by the elapsed window, counted as at least ``samples - 1`` full windows (so a first
    burst is not measured over a few milliseconds)."""

    def __init__(self, samples: int, window_s: float) -> None:
        self.samples = samples
        self.window_s = window_s
        self._starts: list[float] = []  # one start time per live sample, oldest first
        self._values: list[float] = []

    def record(self, value: float, now: float) -> None:
        if not self._starts or now >= self._starts[-1] + self.window_s:
            self._starts.append(now)
            self._values.append(0.0)
        self._values[-1] += value
        self._purge(now)

    def measure(self, now: float) -> float:
        self._purge(now)
        return sum(self._values) / self.window_size(now)

    def window_size(self, now: float) -> float:
        elapsed = now - self._starts[0] if self._starts else 0.0
        full_windows = int(elapsed / self.window_s)
        if full_windows < self.samples - 1:
            elapsed += (self.samples - 1 - full_windows) * self.window_s
        return elapsed

    def _purge(self, now: float) -> None:
        expired = now - self.samples * self.window_s
        while self._starts and self._starts[0] + self.window_s <= expired:
            self._starts.pop(0)
            self._values.pop(0)


class ClientQuotaManager:
    """One quota type's rates, per quota entity; the throttle time of each recording."""

    def __init__(
        self,
        quota_type: QuotaType,
        entity_configs: Callable[[], Mapping[str, Mapping[str, str]]],
        samples: int = 11,
        window_s: float = 1.0,
    ) -> None:
        self.quota_type = quota_type
        self._entity_configs = entity_configs
        self.samples = samples
        self.window_s = window_s
        self._rates: dict[str, Rate] = {}
        self.throttled_ms_total = 0
        # (user, client id) -> (resolved until, quota): resolving on every request would
        # sanitize both names and probe eight entities; a quota change applies within this.
        self._resolved: dict[tuple[str, str], tuple[float, Quota | None]] = {}

    def quota(self, user: str, client_id: str) -> Quota | None:
        now = time.monotonic()
        cached = self._resolved.get((user, client_id))
        if cached is not None and cached[0] > now:
            return cached[1]
        configs = self._entity_configs()
        quota = resolve_quota(configs, user, client_id, self.quota_type) if configs else None
        if len(self._resolved) >= RESOLVED_CACHE_SIZE:
            self._resolved.clear()
        self._resolved[(user, client_id)] = (now + RESOLVED_TTL_S, quota)
        return quota

    def record(self, user: str, client_id: str, value: float, now: float) -> int:
        """Record ``value`` for the client's quota entity; the throttle time in ms
        (0 within quota or without one). Kafka's formula: the excess over the bound,
        relative to the bound, times the measured window."""
        quota = self.quota(user, client_id)
        if quota is None:
            return 0
        rate = self._rates.get(quota.entity_path)
        if rate is None:
            rate = self._rates[quota.entity_path] = Rate(self.samples, self.window_s)
        rate.record(value, now)
        return self._throttle_ms(rate, quota, now)

    def unrecord(self, user: str, client_id: str, value: float, now: float) -> None:
        """Take back a recording (a throttled fetch sends no data: Kafka unrecords it)."""
        quota = self.quota(user, client_id)
        rate = None if quota is None else self._rates.get(quota.entity_path)
        if rate is not None:
            rate.record(-value, now)

    def throttle_ms(self, user: str, client_id: str, now: float) -> int:
        """The throttle time the client's current rate implies, recording nothing."""
        quota = self.quota(user, client_id)
        rate = None if quota is None else self._rates.get(quota.entity_path)
        if quota is None or rate is None:
            return 0
        return self._throttle_ms(rate, quota, now)

    def _throttle_ms(self, rate: Rate, quota: Quota, now: float) -> int:
        observed = rate.measure(now)
        if observed <= quota.bound:
            return 0
        if quota.bound <= 0:
            throttle = self.samples * self.window_s * 1000
        else:
            throttle = (observed - quota.bound) / quota.bound * rate.window_size(now) * 1000
        capped = min(math.ceil(throttle), int(self.samples * self.window_s * 1000))
        self.throttled_ms_total += capped
        return capped
