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
    """Records appended to ``tp`` up to (not including) ``end_offset``."""

    tp: TopicPartition
    end_offset: int


class PendingWrites:
    """The internal writes one request made, to be replicated before it is answered."""

    __slots__ = ("_offsets",)

    def __init__(self) -> None:
        self._offsets: dict[TopicPartition, int] = {}

    def add(self, write: InternalWrite | None) -> None:
        """Remember a write (None: one that needs no waiting, e.g. an unreplicated log)."""
        if write is not None:
            offsets = self._offsets
            offsets[write.tp] = max(offsets.get(write.tp, 0), write.end_offset)

    def add_all(self, writes: Iterable[InternalWrite | None]) -> None:
        for write in writes:
            self.add(write)

    def offsets(self) -> dict[TopicPartition, int]:
        """The offset each written partition's high watermark has to reach."""
        return dict(self._offsets)

    def __bool__(self) -> bool:
        return bool(self._offsets)
