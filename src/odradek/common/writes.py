"""Completion handles for the broker's own writes (group and transaction state, markers).

Kafka answers a request that wrote internal state only once the in-sync replicas have that
state (the coordinators' writes are acks=all). A write that has to be replicated is named
by an :class:`InternalWrite`; the writes one request made are gathered in its
:class:`PendingWrites`, and the response waits until the ISR has every one of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from odradek.common.ids import TopicPartition


@dataclass(frozen=True, slots=True)
class InternalWrite:
    """Records appended to ``tp`` up to (not including) ``end_offset`` (-1: nothing to wait
    for: the log has no replicas). ``flush_at``: the time (``time.monotonic()``) before which
    the request that wrote them must not be answered: the group coordinator's append linger
    (Kafka answers once the linger window's batch is flushed); 0 for none."""

    tp: TopicPartition
    end_offset: int
    flush_at: float = 0.0


class PendingWrites:
    """The internal writes one request made, to be replicated before it is answered."""

    __slots__ = ("_offsets", "flush_at")

    def __init__(self) -> None:
        self._offsets: dict[TopicPartition, int] = {}
        self.flush_at = 0.0  # the latest of the writes' flush_at

    def add(self, write: InternalWrite | None) -> None:
        """Remember a write (None: one that needs no waiting, e.g. an unreplicated log)."""
        if write is None:
            return
        if write.end_offset >= 0:
            offsets = self._offsets
            offsets[write.tp] = max(offsets.get(write.tp, 0), write.end_offset)
        if write.flush_at > self.flush_at:
            self.flush_at = write.flush_at

    def add_all(self, writes: Iterable[InternalWrite | None]) -> None:
        for write in writes:
            self.add(write)

    def offsets(self) -> dict[TopicPartition, int]:
        """The offset each written partition's high watermark has to reach."""
        return dict(self._offsets)

    def __bool__(self) -> bool:
        return bool(self._offsets) or self.flush_at > 0
