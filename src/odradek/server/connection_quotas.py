"""Connection limits, as Kafka's ConnectionQuotas applies them (no I/O here).

- ``max.connections.per.ip`` (with ``max.connections.per.ip.overrides``, ``host:count,...``):
  a connection over its address's limit is closed at once.
- ``max.connections``: beyond it a new connection is not served (Kafka does not accept it)
  until another closes; connections on the inter-broker listener are exempt.
- ``max.connection.creation.rate``: connections per second; faster ones wait their turn.
- ``queued.max.request.bytes``: the bytes of requests being received, broker-wide; a
  connection whose next request does not fit is not read until memory is freed.

The limits are read from the config on each decision, so dynamic changes apply at once."""

from __future__ import annotations

import enum
from collections import Counter, deque
from dataclasses import dataclass

from odradek.common.errors import ConfigError
from odradek.config.broker import BrokerConfig


class Admission(enum.Enum):
    ACCEPT = "accept"
    REFUSE = "refuse"  # over max.connections.per.ip: close it
    WAIT = "wait"  # over max.connections or the creation rate: serve it later


@dataclass(frozen=True, slots=True)
class Decision:
    admission: Admission
    reason: str = ""
    retry_after_s: float = 0.0  # WAIT for the creation rate: when to ask again


def parse_ip_overrides(text: str) -> dict[str, int]:
    """``max.connections.per.ip.overrides``: ``host:count`` pairs, comma separated."""
    overrides: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, sep, count = item.rpartition(":")
        try:
            if not sep or not host:
                raise ValueError
            overrides[host.strip("[]")] = int(count)
        except ValueError:
            raise ConfigError(
                f"Invalid value {text} for configuration max.connections.per.ip.overrides: "
                f"expected host:count pairs, got {item!r}"
            ) from None
    return overrides


class ConnectionQuotas:
    def __init__(self, config: BrokerConfig, exempt_listener: str | None = None) -> None:
        self._config = config
        self._exempt_listener = exempt_listener
        self.per_ip: Counter[str] = Counter()
        self.total = 0
        self._created: deque[float] = deque()  # admission times in the last second
        self._overrides_text: str | None = None
        self._overrides: dict[str, int] = {}
        self.queued_request_bytes = 0

    def ip_limit(self, host: str) -> int:
        text = str(self._config.get("max.connections.per.ip.overrides") or "")
        if text != self._overrides_text:
            self._overrides, self._overrides_text = parse_ip_overrides(text), text
        return self._overrides.get(host, int(self._config.get("max.connections.per.ip")))

    def admit(self, host: str, listener: str, now: float) -> Decision:
        """Whether a new connection from ``host`` may be served now (it counts once
        :meth:`opened` is called)."""
        limit = self.ip_limit(host)
        if self.per_ip[host] >= limit:
            return Decision(
                Admission.REFUSE, f"{host} has {self.per_ip[host]} connections (limit {limit})"
            )
        if listener == self._exempt_listener:
            return Decision(Admission.ACCEPT)
        if self.total >= int(self._config.get("max.connections")):
            return Decision(Admission.WAIT, "max.connections reached")
        rate = int(self._config.get("max.connection.creation.rate"))
        created = self._created
        while created and created[0] <= now - 1.0:
            created.popleft()
        if len(created) >= rate:
            return Decision(
                Admission.WAIT,
                "max.connection.creation.rate reached",
                retry_after_s=max(created[0] + 1.0 - now, 0.001),
            )
        return Decision(Admission.ACCEPT)

    def opened(self, host: str, now: float) -> None:
        self.per_ip[host] += 1
        self.total += 1
        self._created.append(now)

    def closed(self, host: str) -> None:
        self.per_ip[host] -= 1
        if self.per_ip[host] <= 0:
            del self.per_ip[host]
        self.total -= 1

    # -- queued.max.request.bytes ------------------------------------------------------------

    def reserve_request_bytes(self, size: int) -> bool:
        """Room for a request of ``size`` bytes being received; False: wait for memory. A
        request larger than the whole pool is let in alone (else it could never be read)."""
        limit = int(self._config.get("queued.max.request.bytes"))
        if limit > 0 and self.queued_request_bytes + size > limit and self.queued_request_bytes:
            return False
        self.queued_request_bytes += size
        return True

    def release_request_bytes(self, size: int) -> None:
        self.queued_request_bytes -= size
