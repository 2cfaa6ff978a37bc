"""User and client configs and ACLs in ZooKeeper as Kafka keeps them, against a real ZooKeeper: two
stores on two sessions stand for two brokers, and a change written through one is in the
other's cache within a second, through Kafka's change notifications."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest

from odradek.cluster.zk_store import MetadataListener, WatchedMetadata, ZkMetadataStore
from odradek.security.acl import (
    AccessControlEntry,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourceType,
    decode_acls,
    encode_acls,
)

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


ORDERS = ResourcePattern(ResourceType.TOPIC, "orders", PatternType.LITERAL)
APPS = ResourcePattern(ResourceType.GROUP, "app-", PatternType.PREFIXED)
READ = AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW)
WRITE = AccessControlEntry("User:bob", "*", AclOperation.WRITE, AclPermissionType.ALLOW)
DENY = AccessControlEntry("User:eve", "10.0.0.1", AclOperation.ALL, AclPermissionType.DENY)


async def test_acls_reach_every_broker_as_kafka_writes_them(
    brokers: tuple[ZkMetadataStore, ZkMetadataStore], zk_connect: str
) -> None:
    first, second = brokers
    seen: list[tuple[ResourcePattern, frozenset[AccessControlEntry]]] = []
    second.on_acls_changed = lambda pattern, entries: seen.append((pattern, entries))
    zk = first.raw()

    await first.set_acls_async(ORDERS, frozenset({READ}))
    assert first.acls == {ORDERS: frozenset({READ})}
    await within_a_second(lambda: second.acls == {ORDERS: frozenset({READ})})
    assert seen == [(ORDERS, frozenset({READ}))]
    assert zk.get("/kafka-acl/Topic/orders")[0] == (
        b'{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow",'
        b'"operation":"Read","host":"*"}]}'
    )
    assert zk.get_children("/kafka-acl-changes") == ["acl_changes_0000000000"]
    assert notifications(first, "/kafka-acl-changes") == [b"TOPIC:orders"]

    await second.set_acls_async(APPS, frozenset({DENY}))
    await within_a_second(lambda: APPS in first.acls)
    assert json.loads(zk.get("/kafka-acl-extended/prefixed/Group/app-")[0])["acls"] == [
        {"principal": "User:eve", "permissionType": "Deny", "operation": "All", "host": "10.0.0.1"}
    ]
    assert [json.loads(n) for n in notifications(first, "/kafka-acl-extended-changes")] == [
        {"version": 1, "resourceType": "GROUP", "name": "app-", "patternType": "PREFIXED"}
    ]

    # A change first has not heard of (written behind its back): first's change is applied to
    # what ZooKeeper holds, not over it.
    zk.set("/kafka-acl/Topic/orders", encode_acls({READ, DENY}))
    await first.set_acls_async(ORDERS, frozenset({READ, WRITE}))
    assert first.acls[ORDERS] == frozenset({READ, WRITE, DENY})
    assert decode_acls(zk.get("/kafka-acl/Topic/orders")[0]) == {READ, WRITE, DENY}
    await within_a_second(lambda: second.acls.get(ORDERS) == frozenset({READ, WRITE, DENY}))

    await first.set_acls_async(ORDERS, frozenset())  # none left: the znode is deleted
    assert zk.exists("/kafka-acl/Topic/orders") is None
    await within_a_second(lambda: ORDERS not in second.acls)
    assert seen[-1] == (ORDERS, frozenset())

    # Both brokers adding at once: the conditional writes conflict and are retried, none lost.
    users = [f"User:u{i}" for i in range(8)]
    adds = [
        store.set_acls_async(ORDERS, frozenset({READ, replace(READ, principal=user)}))
        for store, user in zip([first, second] * 4, users, strict=True)
    ]
    await asyncio.gather(*adds)
    everyone = {READ} | {replace(READ, principal=user) for user in users}
    assert decode_acls(zk.get("/kafka-acl/Topic/orders")[0]) == everyone
    await within_a_second(lambda: first.acls[ORDERS] == second.acls[ORDERS] == everyone)

    restarted = ZkMetadataStore(zk_connect, session_timeout_ms=4000)
    await asyncio.to_thread(restarted.start)
    try:
        await asyncio.to_thread(restarted.load)
        assert restarted.acls == {APPS: frozenset({DENY}), ORDERS: everyone}
    finally:
        await asyncio.to_thread(restarted.close)
