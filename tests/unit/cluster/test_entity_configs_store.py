"""The single-node metadata store keeps the configs of users and clients (quotas, SCRAM
credentials) and the ACLs durably: a new store on the same log dir reads them back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from odradek.cluster.metadata import METADATA_FILE, LocalMetadataStore, MetadataStore
from odradek.cluster.metadata_log import HEADER, LOG_FILE
from odradek.cluster.metadata_records import scan
from odradek.security.acl import (
    AccessControlEntry,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourcePattern,
    ResourceType,
)

CREDENTIAL = "salt=c2FsdA==,stored_key=c3RvcmVk,server_key=c2VydmVy,iterations=4096"


def open_store(directory: Path) -> MetadataStore:
    store = LocalMetadataStore(directory)
    store.load()
    return store


async def test_entity_configs_survive_a_reload(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    await store.set_entity_configs_async("users/alice", {"SCRAM-SHA-256": CREDENTIAL})
    await store.set_entity_configs_async("clients/app1", {"producer_byte_rate": "1024"})
    await store.set_entity_configs_async("users/alice/clients/app1", {"consumer_byte_rate": "2048"})
    await store.set_entity_configs_async("users/<default>", {"request_percentage": "50"})
    await store.set_entity_configs_async("clients/app2", {"producer_byte_rate": "1"})
    await store.set_entity_configs_async("clients/app2", {})  # removed
    expected = {
        "users/alice": {"SCRAM-SHA-256": CREDENTIAL},
        "clients/app1": {"producer_byte_rate": "1024"},
        "users/alice/clients/app1": {"consumer_byte_rate": "2048"},
        "users/<default>": {"request_percentage": "50"},
    }
    assert store.entity_configs == expected
    assert open_store(tmp_path).entity_configs == expected


@pytest.mark.parametrize(
    "path",
    ["topics/orders", "users", "users/", "users/a/b", "clients/c/users/u", "users/u/clients"],
)
async def test_only_user_and_client_entity_paths_are_accepted(tmp_path: Path, path: str) -> None:
    store = open_store(tmp_path)
    with pytest.raises(ValueError, match="entity path"):
        await store.set_entity_configs_async(path, {"producer_byte_rate": "1"})
    assert store.entity_configs == {}


def test_a_file_written_before_entity_configs_and_acls_still_loads(tmp_path: Path) -> None:
    (tmp_path / METADATA_FILE).write_text(
        json.dumps({"version": 1, "next_producer_id_block": 7, "broker_configs": {}, "topics": []})
    )
    store = open_store(tmp_path)
    assert store.entity_configs == {}
    assert store.acls == {}
    assert store.allocate_producer_id_block(1) == 7


# -- ACLs ---------------------------------------------------------------------------------------

ORDERS = ResourcePattern(ResourceType.TOPIC, "orders", PatternType.LITERAL)
APPS = ResourcePattern(ResourceType.GROUP, "app-", PatternType.PREFIXED)
READ = AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW)
WRITE = AccessControlEntry("User:bob", "10.0.0.1", AclOperation.WRITE, AclPermissionType.DENY)


async def test_acls_survive_a_reload_and_each_change_is_reported(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    changes: list[tuple[ResourcePattern, frozenset[AccessControlEntry]]] = []
    store.on_acls_changed = lambda pattern, entries: changes.append((pattern, entries))
    await store.set_acls_async(ORDERS, frozenset({READ, WRITE}))
    await store.set_acls_async(APPS, frozenset({READ}))
    await store.set_acls_async(APPS, frozenset({READ}))  # no change, not reported
    await store.set_acls_async(ORDERS, frozenset({WRITE}))
    assert changes == [
        (ORDERS, frozenset({READ, WRITE})),
        (APPS, frozenset({READ})),
        (ORDERS, frozenset({WRITE})),
    ]
    expected = {ORDERS: frozenset({WRITE}), APPS: frozenset({READ})}
    assert store.acls == expected
    assert open_store(tmp_path).acls == expected

    await store.set_acls_async(ORDERS, frozenset())  # none left: the pattern is gone
    assert changes[-1] == (ORDERS, frozenset())
    assert open_store(tmp_path).acls == {APPS: frozenset({READ})}


async def test_acls_are_kept_in_the_file_as_kafka_keeps_them_in_zookeeper(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    await store.set_acls_async(APPS, frozenset({READ}))
    (record,) = scan((tmp_path / LOG_FILE).read_bytes(), HEADER.size).records
    assert (record.namespace, record.key) == ("acls", "/kafka-acl-extended/prefixed/Group/app-")
    assert record.value is not None
    assert json.loads(record.value) == {
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


async def test_acls_of_a_filter_pattern_type_are_rejected(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with pytest.raises(ValueError, match="pattern type"):
        await store.set_acls_async(
            ResourcePattern(ResourceType.TOPIC, "orders", PatternType.MATCH), frozenset({READ})
        )
    assert store.acls == {}
