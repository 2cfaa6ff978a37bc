"""Metadata's auto-creation in AdminManager: topics are queued, created in the background one
step per turn of the event loop, at most MAX_AUTO_CREATIONS_PER_REQUEST per call, never twice
at once; refusals come back at once; stop() drops the queue. And the collision check by
spelling variants that creation relies on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from odradek.cluster import admin_manager
from odradek.cluster.admin_manager import AdminManager, TopicSpec
from odradek.cluster.metadata import LocalMetadataStore, TopicMetadata
from odradek.common.clock import FakeClock
from odradek.common.errors import InvalidReplicationFactorError, InvalidTopicError
from odradek.common.ids import TopicPartition
from odradek.config.broker import build_broker_config
from odradek.storage.log_manager import LogManager

NODE_ID = 1


def start(data: Path, **overrides: str) -> AdminManager:
    raw = {"node.id": str(NODE_ID), "log.dirs": str(data), "num.partitions": "2"}
    raw.update(overrides)
    config = build_broker_config(raw)
    log_manager = LogManager(config.log_dirs, FakeClock(1_700_000_000_000))
    log_manager.startup(NODE_ID, None)
    manager = AdminManager(NODE_ID, config, LocalMetadataStore(data), log_manager)
    manager.load()
    return manager


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[AdminManager]:
    running = start(tmp_path / "data")
    yield running
    await running.stop()
    running.log_manager.shutdown()


async def created(manager: AdminManager, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while manager.auto_creating:
            await asyncio.sleep(0.01)


async def test_queued_topics_are_created_in_the_background(manager: AdminManager) -> None:
    assert manager.auto_create(["auto-a", "auto-b"]) == {}
    assert set(manager.auto_creating) == {"auto-a", "auto-b"}
    assert "auto-a" not in manager.store.topics  # nothing written before the loop turns
    await created(manager)
    for name in ("auto-a", "auto-b"):
        topic = manager.store.topics[name]
        assert topic.partitions == 2 and topic.replication_factor == 1  # broker defaults
        assert {TopicPartition(name, p) for p in range(2)} <= set(manager.log_manager.logs)


async def test_the_loop_turns_between_the_steps_of_a_creation(manager: AdminManager) -> None:
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            await asyncio.sleep(0)
            turns += 1

    counter = asyncio.get_running_loop().create_task(count_turns())
    manager.auto_create([f"step-{i}" for i in range(5)])
    await created(manager)
    counter.cancel()
    # Per topic: its metadata write, then each of its 2 partitions' logs, each a turn.
    assert turns >= 5 * 3


async def test_at_most_the_cap_per_call_and_the_rest_later(
    manager: AdminManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin_manager, "MAX_AUTO_CREATIONS_PER_REQUEST", 3)
    names = [f"capped-{i}" for i in range(5)]
    manager.auto_create(names)
    assert list(manager.auto_creating) == names[:3]
    await created(manager)
    assert not any(name in manager.store.topics for name in names[3:])
    manager.auto_create(name for name in names if name not in manager.store.topics)
    await created(manager)
    assert all(name in manager.store.topics for name in names)


async def test_the_queue_is_bounded(manager: AdminManager, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin_manager, "MAX_PENDING_AUTO_CREATIONS", 4)
    manager.auto_create([f"first-{i}" for i in range(3)])
    manager.auto_create([f"second-{i}" for i in range(3)])
    assert len(manager.auto_creating) == 4
    await created(manager)
    assert "second-0" in manager.store.topics and "second-1" not in manager.store.topics


async def test_a_topic_is_never_created_twice_at_once(manager: AdminManager) -> None:
    writes: list[str] = []
    store = manager.store
    write = store.create_topic_async

    async def counted(topic: TopicMetadata) -> None:
        writes.append(topic.name)
        await write(topic)

    store.create_topic_async = counted  # type: ignore[method-assign]
    manager.auto_create(["once"])
    manager.auto_create(["once", "once"])  # a second request while it is queued
    await asyncio.sleep(0)
    manager.auto_create(["once"])  # while it is being created
    await created(manager)
    assert writes == ["once"]


async def test_refusals_come_back_at_once(manager: AdminManager) -> None:
    await manager.create_topic_async(TopicSpec("metrics.cpu"))
    refused = manager.auto_create(["metrics_cpu", "bad name", "fine"])
    assert set(refused) == {"metrics_cpu", "bad name"}
    assert all(isinstance(error, InvalidTopicError) for error in refused.values())
    assert list(manager.auto_creating) == ["fine"]
    await created(manager)


async def test_too_few_brokers_for_the_default_replication_factor(tmp_path: Path) -> None:
    manager = start(tmp_path / "data", **{"default.replication.factor": "3"})
    try:
        refused = manager.auto_create(["replicated"])
        assert isinstance(refused["replicated"], InvalidReplicationFactorError)
        assert not manager.auto_creating
    finally:
        manager.log_manager.shutdown()


async def test_names_queued_together_that_collide_create_only_the_first(
    manager: AdminManager,
) -> None:
    assert manager.auto_create(["a.b", "a_b"]) == {}  # neither collides with a topic yet
    await created(manager)
    assert "a.b" in manager.store.topics and "a_b" not in manager.store.topics


async def test_stop_drops_the_queue(manager: AdminManager) -> None:
    manager.auto_create([f"dropped-{i}" for i in range(20)])
    await asyncio.sleep(0)
    await manager.stop()
    assert not manager.auto_creating
    made = [name for name in manager.store.topics if name.startswith("dropped-")]
    await asyncio.sleep(0.05)
    assert [name for name in manager.store.topics if name.startswith("dropped-")] == made
    assert len(made) < 20


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        ("x.y_z", "x_y.z"),
        ("a.b.c.d.e.f.g.h.i.j.k.l", "a_b_c_d_e_f_g_h_i_j_k_l"),  # 11: compared with all
    ],
)
async def test_collisions_by_any_spelling(manager: AdminManager, existing: str, new: str) -> None:
    await manager.create_topic_async(TopicSpec(existing, num_partitions=1))
    with pytest.raises(InvalidTopicError, match=f"collides with existing topic: {existing}"):
        manager.validate(TopicSpec(new))
    manager.validate(TopicSpec(new + "-other"))
