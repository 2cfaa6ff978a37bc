"""User and client configs in ZooKeeper as Kafka keeps them, against a real ZooKeeper: two
stores on two sessions stand for two brokers, and a change written through one is in the
other's cache within a second, through Kafka's change notifications."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

import pytest

from odradek.cluster.zk_store import MetadataListener, WatchedMetadata, ZkMetadataStore

CREDENTIAL = "salt=c2FsdA==,stored_key=c3RvcmVk,server_key=c2VydmVy,iterations=4096"


async def open_broker(zk_connect: str) -> ZkMetadataStore:
    """A store as a broker runs it: bound to the loop, loaded, and watching."""
    store = ZkMetadataStore(zk_connect, session_timeout_ms=4000)
    await asyncio.to_thread(store.start)
    store.bind_loop(asyncio.get_running_loop())
    await asyncio.to_thread(store.load)
    WatchedMetadata(store, MetadataListener()).start()
    return store


@pytest.fixture
async def brokers(zk_connect: str) -> AsyncIterator[tuple[ZkMetadataStore, ZkMetadataStore]]:
    first = await open_broker(zk_connect)
    second = await open_broker(zk_connect)
    yield first, second
    for store in (first, second):
        await asyncio.to_thread(store.close)


async def within_a_second(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 1.0
    while not condition():
        assert time.monotonic() < deadline, "not in the other broker's cache within a second"
        await asyncio.sleep(0.01)


def notifications(store: ZkMetadataStore, path: str) -> list[bytes]:
    zk = store.raw()
    return [zk.get(f"{path}/{child}")[0] for child in sorted(zk.get_children(path))]


async def test_entity_configs_reach_every_broker_as_kafka_writes_them(
    brokers: tuple[ZkMetadataStore, ZkMetadataStore], zk_connect: str
) -> None:
    first, second = brokers
    await first.set_entity_configs_async("users/alice", {"SCRAM-SHA-256": CREDENTIAL})
    assert first.entity_configs == {"users/alice": {"SCRAM-SHA-256": CREDENTIAL}}
    await within_a_second(lambda: "users/alice" in second.entity_configs)
    assert second.entity_configs["users/alice"] == {"SCRAM-SHA-256": CREDENTIAL}

    zk = first.raw()
    assert zk.get("/config/users/alice")[0] == (
        b'{"version":1,"config":{"SCRAM-SHA-256":"' + CREDENTIAL.encode() + b'"}}'
    )
    assert notifications(first, "/config/changes") == [b'{"version":2,"entity_path":"users/alice"}']
    assert zk.get_children("/config/changes") == ["config_change_0000000000"]

    await second.set_entity_configs_async("users/alice/clients/app1", {"producer_byte_rate": "10"})
    await second.set_entity_configs_async("clients/<default>", {"consumer_byte_rate": "20"})
    await second.set_entity_configs_async("users/alice", {})  # removed, the znode stays
    expected = {
        "users/alice/clients/app1": {"producer_byte_rate": "10"},
        "clients/<default>": {"consumer_byte_rate": "20"},
    }
    await within_a_second(lambda: first.entity_configs == expected)
    assert json.loads(zk.get("/config/users/alice")[0]) == {"version": 1, "config": {}}
    assert json.loads(zk.get("/config/users/alice/clients/app1")[0])["config"] == {
        "producer_byte_rate": "10"
    }
    assert [json.loads(n)["entity_path"] for n in notifications(first, "/config/changes")] == [
        "users/alice",
        "users/alice/clients/app1",
        "clients/<default>",
        "users/alice",
    ]

    restarted = ZkMetadataStore(zk_connect, session_timeout_ms=4000)
    await asyncio.to_thread(restarted.start)
    try:
        await asyncio.to_thread(restarted.load)
        assert restarted.entity_configs == expected
    finally:
        await asyncio.to_thread(restarted.close)
