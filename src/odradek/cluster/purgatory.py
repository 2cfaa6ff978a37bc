"""Delayed fetches (Kafka's DelayedFetch in the fetch purgatory): a fetch that found fewer than
``fetch.min.bytes`` waits, and the append that brings enough bytes completes it at once —
not a timer tick. Sans-IO: completion is a callback; the server maps it onto a future."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from odradek.common.ids import TopicPartition


class DelayedFetch:
    __slots__ = ("_on_complete", "accumulated", "completed", "min_bytes", "partitions")

    def __init__(
        self,
        partitions: Iterable[TopicPartition],
        min_bytes: int,
        accumulated: int,
        on_complete: Callable[[], None],
    ) -> None:
        self.partitions = tuple(partitions)
        self.min_bytes = min_bytes
        self.accumulated = accumulated
        self.completed = False
        self._on_complete = on_complete

    def on_append(self, size: int) -> bool:
        self.accumulated += size
        if self.accumulated >= self.min_bytes:
            self.complete()
        return self.completed

    def complete(self) -> None:
        if not self.completed:
            self.completed = True
            self._on_complete()


class FetchPurgatory:
    def __init__(self) -> None:
        self._watchers: dict[TopicPartition, list[DelayedFetch]] = {}

    def watch(self, delayed: DelayedFetch) -> None:
        for tp in delayed.partitions:
            self._watchers.setdefault(tp, []).append(delayed)

    def unwatch(self, delayed: DelayedFetch) -> None:
        for tp in delayed.partitions:
            waiting = self._watchers.get(tp)
            if waiting is None:
                continue
            try:
                waiting.remove(delayed)
            except ValueError:
                pass
            if not waiting:
                del self._watchers[tp]

    def on_append(self, tp: TopicPartition, size: int) -> None:
        waiting = self._watchers.get(tp)
        if not waiting:
            return
        for delayed in tuple(waiting):
            if delayed.on_append(size):
                self.unwatch(delayed)

    def complete_all(self) -> None:
        for waiting in list(self._watchers.values()):
            for delayed in tuple(waiting):
                delayed.complete()
        self._watchers.clear()

    @property
    def size(self) -> int:
        return sum(len(w) for w in self._watchers.values())
