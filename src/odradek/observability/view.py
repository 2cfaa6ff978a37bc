"""What the metrics endpoint reads from a broker: the ``BrokerView`` protocol and the values
it answers with.

Observability sits below the server (the server imports ``metrics`` on its hot path and
starts the endpoint), so it must not import the server back, not even for type checking.
The endpoint and its two views (``collectors``, ``jolokia``) see the broker only through
``BrokerView``; ``odradek.server.broker.BrokerServer`` satisfies it structurally, and
``odradek.server.broker_view`` computes the answers from the broker's own structures (its
logs, metadata, group coordinator, connections and fetch purgatory).

Everything is read at scrape time on the broker's event loop (the endpoint is served
there), so the reads see a consistent state (except a scrape's gauges from a broker that
reads them in slices, ``GaugesInSlices``); nothing here is updated on the hot path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

Props = tuple[tuple[str, str], ...]
"""An MBean's key properties in Kafka's order: ``(("type", "Log"), ("name", "Size"), ...)``."""

Gauge = tuple[str, Props, float]
"""One gauge MBean now: (domain, key properties, value)."""


@dataclass(frozen=True, slots=True)
class GroupLag:
    """One consumer group's committed offset on one partition, against its high watermark."""

    group: str
    topic: str
    partition: int
    committed: int
    end_offset: int

    @property
    def lag(self) -> int:
        return max(self.end_offset - self.committed, 0)


class ListenerView(Protocol):
    """One configured listener (``odradek.config.broker.Listener`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def host(self) -> str: ...


class ConfigView(Protocol):
    """The broker config lookups the endpoint makes (``BrokerConfig`` satisfies it)."""

    def get(self, name: str) -> Any: ...

    @property
    def listeners(self) -> Sequence[ListenerView]: ...


class BrokerView(Protocol):
    """Everything the metrics, Jolokia and health endpoints read from one broker."""

    @property
    def node_id(self) -> int: ...

    @property
    def config(self) -> ConfigView:
        """``metrics.port``, ``metrics.host`` and the listeners (the endpoint's address)."""
        ...

    def not_ready_reason(self) -> str | None:
        """Why the broker should not be sent traffic (``/ready`` answers 503 with it), or
        None when it is ready."""
        ...

    def live_topics(self) -> set[str]:
        """The topics that exist now (per-topic meters of deleted topics are forgotten)."""
        ...

    def gauges(self) -> list[Gauge]:
        """Every gauge MBean (logs, partition health, controller, groups, queues,
        purgatory), for both views."""
        ...

    def connections_by_listener(self) -> dict[str, int]:
        """Open client connections per listener name."""
        ...

    def consumer_lag(self) -> list[GroupLag]:
        """Per group and partition, sorted by group, topic and partition."""
        ...

    def group_members(self) -> dict[str, int]:
        """Members per consumer group, sorted by group id."""
        ...


@runtime_checkable
class GaugesInSlices(Protocol):
    """A ``BrokerView`` that can also read its gauges a slice at a time, letting its event
    loop run between slices (with many partitions, reading them in one go holds it for tens
    of milliseconds). A scrape reads them so when the broker can; Jolokia reads ``gauges()``."""

    async def gauges_in_slices(self) -> list[Gauge]:
        """``BrokerView.gauges()``, the same gauges in the same order, read over several
        turns of the event loop: values read in different turns may be of different instants
        (as a JMX scrape's are)."""
        ...
