"""Producer id allocation in blocks reserved durably through the metadata store, so ids are
never reused after a restart (Kafka's ProducerIdManager)."""

from __future__ import annotations

from typing import Protocol

BLOCK_SIZE = 1000


class ProducerIdBlockStore(Protocol):
    def allocate_producer_id_block(self, size: int) -> int: ...


class ProducerIdManager:
    def __init__(self, store: ProducerIdBlockStore, block_size: int = BLOCK_SIZE) -> None:
        self.store = store
        self.block_size = block_size
        self._next = 0
        self._end = 0

    def generate_producer_id(self) -> int:
        if self._next >= self._end:
            self._next = self.store.allocate_producer_id_block(self.block_size)
            self._end = self._next + self.block_size
        producer_id = self._next
        self._next += 1
        return producer_id
