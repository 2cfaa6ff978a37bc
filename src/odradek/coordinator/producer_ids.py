"""Producer id allocation in blocks reserved durably through the metadata store, so ids are
never reused after a restart (Kafka's ProducerIdManager).

InitProducerId awaits :meth:`ProducerIdManager.reserve` when the current block is used up: in
a cluster the next block is a conditional update of ``/latest_producer_id_block`` in
ZooKeeper, which must not block the event loop. :meth:`ProducerIdManager.generate_producer_id`
then hands out an id of the reserved block without waiting; only a caller that did not reserve
(the transaction coordinator's timers, when a producer epoch runs out) falls back to the
store's blocking allocation."""

from __future__ import annotations

import asyncio
from typing import Protocol

BLOCK_SIZE = 1000


class ProducerIdBlockStore(Protocol):
    def allocate_producer_id_block(self, size: int) -> int: ...

    async def allocate_producer_id_block_async(self, size: int) -> int: ...


class ProducerIdManager:
    def __init__(self, store: ProducerIdBlockStore, block_size: int = BLOCK_SIZE) -> None:
        self.store = store
        self.block_size = block_size
        self._next = 0
        self._end = 0
        self._refilling = asyncio.Lock()  # one block reservation at a time

    def has_reserved(self) -> bool:
        """Whether the next :meth:`generate_producer_id` is served without the store."""
        return self._next < self._end

    async def reserve(self) -> None:
        """Make sure an id is ready: when the block is used up, reserve the next one without
        blocking the loop. The id is the caller's if it generates it before its next await."""
        async with self._refilling:
            if self.has_reserved():
                return
            start = await self.store.allocate_producer_id_block_async(self.block_size)
            if not self.has_reserved():  # else a blocking fallback refilled it meanwhile
                self._next, self._end = start, start + self.block_size

    def generate_producer_id(self) -> int:
        if not self.has_reserved():
            self._next = self.store.allocate_producer_id_block(self.block_size)
            self._end = self._next + self.block_size
        producer_id = self._next
        self._next += 1
        return producer_id
