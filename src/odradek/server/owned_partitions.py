"""Which partitions of an internal topic (``__consumer_offsets``, ``__transaction_state``) this
broker's coordinator answers for. A single node leads them all from the start and loads them
at once (``AllPartitions``); a broker of a cluster answers for those whose leadership arrived
here and that it has loaded, one by one as the leaderships move (``LedPartitions``). The
cluster membership picks one when the coordinator starts (``follow_leadership``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class OwnedPartitions(Protocol):
    @property
    def follows_leadership(self) -> bool:
        """Whether partitions are loaded and unloaded one by one as leaderships move."""
        ...

    def coordinates(self, key: str, partition_for: Callable[[str], int]) -> bool:
        """Whether this broker answers for ``key`` (a group or transactional id), whose
        partition ``partition_for`` gives."""
        ...

    def add(self, partition: int) -> None: ...

    def discard(self, partition: int) -> None: ...


class AllPartitions:
    """A single node: every partition is led here, always; nothing moves."""

    follows_leadership = False

    def coordinates(self, key: str, partition_for: Callable[[str], int]) -> bool:
        return True

    def add(self, partition: int) -> None:
        pass

    def discard(self, partition: int) -> None:
        pass


class LedPartitions:
    """A broker of a cluster: the partitions led here and loaded (none at first)."""

    follows_leadership = True

    def __init__(self) -> None:
        self._led: set[int] = set()

    def coordinates(self, key: str, partition_for: Callable[[str], int]) -> bool:
        return partition_for(key) in self._led

    def add(self, partition: int) -> None:
        self._led.add(partition)

    def discard(self, partition: int) -> None:
        self._led.discard(partition)
