"""The bounded key -> latest offset map (Kafka's SkimpyOffsetMap): keys are kept as 16-byte
MD5 digests; capacity follows ``log.cleaner.dedupe.buffer.size`` at 24 bytes per entry and a
0.9 load factor, as in Kafka."""

from __future__ import annotations

import hashlib

BYTES_PER_ENTRY = 24
LOAD_FACTOR = 0.9


def capacity_for(buffer_bytes: int, threads: int) -> int:
    return max(1, int(buffer_bytes / max(threads, 1) * LOAD_FACTOR) // BYTES_PER_ENTRY)


class OffsetMap:
    __slots__ = ("_entries", "capacity", "latest_offset")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: dict[bytes, int] = {}
        self.latest_offset = -1

    @staticmethod
    def digest(key: bytes) -> bytes:
        return hashlib.md5(key, usedforsecurity=False).digest()

    def put(self, key: bytes, offset: int) -> None:
        self._entries[self.digest(key)] = offset
        self.latest_offset = offset

    def get(self, key: bytes) -> int:
        return self._entries.get(self.digest(key), -1)

    @property
    def full(self) -> bool:
        return len(self._entries) >= self.capacity

    def __len__(self) -> int:
        return len(self._entries)
