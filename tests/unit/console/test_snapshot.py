"""The shared metadata snapshot: fresh snapshots served as they are, stale ones served while
one refresh runs, old ones waited for, writes dropping it."""

from __future__ import annotations

import asyncio

import pytest

from odradek.console.models import ClusterView
from odradek.console.snapshot import MetadataSnapshot


class Source:
    """Cluster views numbered by fetch (the cluster id), released one at a time."""

    def __init__(self) -> None:
        self.fetches = 0
        self.release = asyncio.Event()

    async def fetch(self) -> ClusterView:
        self.fetches += 1
        number = self.fetches
        await self.release.wait()
        return ClusterView(str(number), 1, (), {})


@pytest.fixture
def clock() -> list[float]:
    return [100.0]


async def test_fresh_stale_and_old(clock: list[float]) -> None:
    source = Source()
    snapshot = MetadataSnapshot(source.fetch, fresh_s=3, stale_s=60, clock=lambda: clock[0])
    source.release.set()
    assert (await snapshot.get()).cluster_id == "1"  # none yet: waited for
    clock[0] += 2
    assert (await snapshot.get()).cluster_id == "1"  # fresh: no fetch
    assert source.fetches == 1

    source.release.clear()
    clock[0] += 5  # stale: served, one refresh started
    assert (await snapshot.get()).cluster_id == "1"
    assert (await snapshot.get()).cluster_id == "1"
    await asyncio.sleep(0)
    assert source.fetches == 2  # one refresh for both requests
    source.release.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert (await snapshot.get()).cluster_id == "2"

    clock[0] += 120  # too old: waited for
    assert (await snapshot.get()).cluster_id == "3"


async def test_invalidate_makes_the_next_request_wait(clock: list[float]) -> None:
    source = Source()
    source.release.set()
    snapshot = MetadataSnapshot(source.fetch, clock=lambda: clock[0])
    assert (await snapshot.get()).cluster_id == "1"
    snapshot.invalidate()
    assert (await snapshot.get()).cluster_id == "2"


async def test_a_failed_refresh_is_raised_to_a_waiting_request(clock: list[float]) -> None:
    async def failing() -> ClusterView:
        raise RuntimeError("no broker")

    snapshot = MetadataSnapshot(failing, clock=lambda: clock[0])
    with pytest.raises(RuntimeError, match="no broker"):
        await snapshot.get()
