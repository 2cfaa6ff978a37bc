"""The single-node store over its metadata log: a directory of an earlier version (one JSON
file) is read and converted, every kind of write survives compaction and a reload, the
awaitable writes fsync off the event loop, and concurrent, blocking and cancelled writes leave
the cache equal to what a reload reads."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from odradek.cluster.metadata import METADATA_FILE, LocalMetadataStore, TopicMetadata
from odradek.cluster.metadata_log import LOG_FILE, SNAPSHOT_FILE
from odradek.common.errors import TopicAlreadyExistsError
from odradek.common.ids import new_topic_id
from odradek.security.acl import (
    AccessControlEntry,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourceType,
)

SMALL = 16 * 1024  # compacts every few dozen writes
ORDERS = ResourcePattern(ResourceType.TOPIC, "orders", PatternType.LITERAL)
READ = AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW)


def opened(directory: Path) -> LocalMetadataStore:
    store = LocalMetadataStore(directory, min_log_bytes=SMALL)
    store.load()
    return store


def topic(name: str, partitions: int = 1, **configs: str) -> TopicMetadata:
    return TopicMetadata(name, new_topic_id(), partitions, 1, dict(configs))


def contents(store: LocalMetadataStore) -> object:
    """What the store holds, comparable across stores."""
    return (
        {
            t.name: (t.topic_id, t.partitions, t.replication_factor, t.configs, t.internal)
            for t in store.topics.values()
        },
        {t.topic_id: t.name for t in store.by_id.values()},
        store.broker_configs,
        store.entity_configs,
        store.acls,
        store.next_producer_id_block,
    )


def assert_reload_matches(store: LocalMetadataStore, directory: Path) -> None:
    store.close()
    reloaded = opened(directory)
    assert contents(reloaded) == contents(store)
    reloaded.close()


def test_a_directory_of_an_earlier_version_is_converted(tmp_path: Path) -> None:
    topic_id = new_topic_id()
    (tmp_path / METADATA_FILE).write_text(
        json.dumps(
            {
                "version": 1,
                "next_producer_id_block": 2000,
                "broker_configs": {"": {"log.retention.ms": "1000"}},
                "entity_configs": {"users/alice": {"producer_byte_rate": "1024"}},
                "acls": {
                    "/kafka-acl/Topic/orders": {
                        "version": 1,
                        "acls": [
                            {
                                "principal": "User:alice",
                                "permissionType": "Allow",
                                "operation": "Read",
                                "host": "*",
                            }
                        ],
                    }
                },
                "topics": [
                    {
                        "name": "orders",
                        "topic_id": str(topic_id),
                        "partitions": 3,
                        "replication_factor": 1,
                        "configs": {"cleanup.policy": "compact"},
                        "internal": False,
                    },
                    {
                        "name": "__consumer_offsets",
                        "topic_id": str(new_topic_id()),
                        "partitions": 50,
                        "internal": True,
                    },
                ],
            }
        )
    )
    store = opened(tmp_path)
    assert store.topics["orders"].topic_id == topic_id
    assert store.topics["orders"].configs == {"cleanup.policy": "compact"}
    assert store.topics["__consumer_offsets"].internal
    assert store.by_id[topic_id].name == "orders"
    assert store.broker_configs == {"": {"log.retention.ms": "1000"}}
    assert store.entity_configs == {"users/alice": {"producer_byte_rate": "1024"}}
    assert store.acls == {ORDERS: frozenset({READ})}
    assert store.allocate_producer_id_block(1000) == 2000
    assert not (tmp_path / METADATA_FILE).exists()
    assert (tmp_path / SNAPSHOT_FILE).exists() and (tmp_path / LOG_FILE).exists()
    assert_reload_matches(store, tmp_path)


def test_an_earlier_file_left_beside_a_snapshot_is_removed(tmp_path: Path) -> None:
    """The crash between converting an earlier version's file and removing it."""
    store = opened(tmp_path)
    store.create_topic(topic("kept"))
    store.close()
    (tmp_path / METADATA_FILE).write_text(json.dumps({"topics": []}))
    store = opened(tmp_path)
    assert set(store.topics) == {"kept"}
    assert not (tmp_path / METADATA_FILE).exists()
    store.close()


async def test_every_kind_of_write_survives_compaction_and_a_reload(tmp_path: Path) -> None:
    store = opened(tmp_path)
    changes: list[ResourcePattern] = []
    store.on_acls_changed = lambda pattern, entries: changes.append(pattern)
    for i in range(300):
        name = f"t{i % 40}"
        existing = store.topics.get(name)
        if existing is None:
            await store.create_topic_async(topic(name, 1, **{"retention.ms": str(i)}))
        elif i % 3 == 0:
            await store.delete_topic_async(name)
        else:
            grown = TopicMetadata(name, existing.topic_id, existing.partitions + 1, 1, {"x": "y"})
            await store.update_topic_async(grown)
        await store.set_broker_configs_async(
            str(i % 3), {"log.retention.ms": str(i)} if i % 5 else {}
        )
        await store.set_entity_configs_async(f"clients/c{i % 7}", {"producer_byte_rate": str(i)})
        await store.set_acls_async(ORDERS, frozenset() if i % 2 else frozenset({READ}))
        await store.allocate_producer_id_block_async(1000)
    assert store.next_producer_id_block == 300_000
    assert len(changes) == 300
    assert os.path.getsize(tmp_path / LOG_FILE) < 4 * os.path.getsize(tmp_path / SNAPSHOT_FILE)
    assert_reload_matches(store, tmp_path)


async def test_the_awaitable_writes_fsync_on_the_writer_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = opened(tmp_path)
    synced_on: list[str] = []
    fdatasync: Callable[[int], None] = os.fdatasync

    def recording(fd: int) -> None:
        synced_on.append(threading.current_thread().name)
        fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", recording)
    await store.create_topic_async(topic("orders"))
    assert "orders" in store.topics
    assert synced_on and threading.current_thread().name not in synced_on
    assert all(name.startswith("metadata-writer") for name in synced_on)
    store.close()


async def test_concurrent_writes_are_applied_in_the_order_made(tmp_path: Path) -> None:
    store = opened(tmp_path)
    await asyncio.gather(
        *(store.set_broker_configs_async("", {"log.retention.ms": str(i)}) for i in range(50)),
        *(store.create_topic_async(topic(f"t{i}")) for i in range(50)),
    )
    assert store.broker_configs == {"": {"log.retention.ms": "49"}}
    pending = [
        asyncio.ensure_future(store.set_broker_configs_async("", {"log.retention.ms": str(i)}))
        for i in range(20)
    ]
    await asyncio.sleep(0)  # the writes are under way
    store.delete_topic("t3")  # a blocking write waits for those before it, and applies them
    assert store.broker_configs == {"": {"log.retention.ms": "19"}}
    assert "t3" not in store.topics and len(store.topics) == 49
    await asyncio.gather(*pending)
    assert store.broker_configs == {"": {"log.retention.ms": "19"}}
    assert_reload_matches(store, tmp_path)


async def test_one_of_two_concurrent_creates_of_a_name_fails(tmp_path: Path) -> None:
    store = opened(tmp_path)
    results = await asyncio.gather(
        store.create_topic_async(topic("same")),
        store.create_topic_async(topic("same")),
        return_exceptions=True,
    )
    assert sum(isinstance(r, TopicAlreadyExistsError) for r in results) == 1
    assert_reload_matches(store, tmp_path)


async def test_cancelled_writes_leave_the_cache_as_a_reload_reads_it(tmp_path: Path) -> None:
    store = opened(tmp_path)
    tasks = [asyncio.ensure_future(store.create_topic_async(topic(f"t{i}"))) for i in range(30)]
    await asyncio.sleep(0)
    for task in tasks[5:]:
        task.cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert done[:5] == [None] * 5
    # A cancelled create that had not started is dropped and may be made again.
    dropped = [f"t{i}" for i in range(30) if f"t{i}" not in store.topics]
    for name in dropped:
        await store.create_topic_async(topic(name))
    assert len(store.topics) == 30
    assert_reload_matches(store, tmp_path)


async def test_a_write_after_close_reopens_the_log(tmp_path: Path) -> None:
    store = opened(tmp_path)
    await store.create_topic_async(topic("first"))
    store.close()
    await store.create_topic_async(topic("second"))
    assert set(store.topics) == {"first", "second"}
    assert_reload_matches(store, tmp_path)


WRITER = """
import itertools, sys, uuid
from pathlib import Path
from odradek.cluster.metadata import LocalMetadataStore, TopicMetadata
store = LocalMetadataStore(Path(sys.argv[1]), min_log_bytes=16 * 1024)
store.load()
for k in itertools.count():
    if k % 4 == 3:
        store.delete_topic(f"t{k - 2}")
    else:
        store.create_topic(TopicMetadata(f"t{k}", uuid.uuid4(), 1, 1, {"retention.ms": str(k)}))
    print(k, flush=True)
"""


def topics_after(operations: int) -> set[str]:
    """The topics once the WRITER's first ``operations`` operations are made."""
    return {f"t{k}" for k in range(operations) if k % 4 != 3} - {
        f"t{k - 2}" for k in range(operations) if k % 4 == 3
    }


def test_every_acknowledged_write_survives_a_sigkill(tmp_path: Path) -> None:
    """A writer process killed mid-way (mid-append, mid-compaction): every write it saw
    return is read back; of the others, at most the one under way."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 120
        acknowledged = -1
        while acknowledged < 400 and time.monotonic() < deadline:
            acknowledged = int(child.stdout.readline())
        child.kill()
        for line in child.stdout:  # printed before the kill
            acknowledged = int(line)
    finally:
        child.kill()
        child.wait(30)
    assert acknowledged >= 400
    store = opened(tmp_path)
    assert set(store.topics) in (topics_after(acknowledged + 1), topics_after(acknowledged + 2))
    assert store.topics["t4"].configs == {"retention.ms": "4"}
    store.close()
