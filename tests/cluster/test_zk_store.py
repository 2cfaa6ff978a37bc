"""The ZooKeeper metadata store against a real ZooKeeper: Kafka's znode layout and JSON."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from kazoo.exceptions import BadVersionError

from odradek.cluster.metadata import TopicMetadata
from odradek.cluster.zk_store import BrokerRegistration, PartitionState, ZkMetadataStore
from odradek.common.errors import ConfigError
from odradek.common.ids import new_topic_id


@pytest.fixture
def store(zk_connect: str) -> Iterator[ZkMetadataStore]:
    zk = ZkMetadataStore(zk_connect, session_timeout_ms=4000)
    zk.start()
    yield zk
    zk.close()


def test_cluster_id_is_created_once(store: ZkMetadataStore) -> None:
    first = store.cluster_id()
    assert store.cluster_id() == first
    data, _ = store.raw().get("/cluster/id")
    assert json.loads(data) == {"version": "1", "id": first}


def test_broker_registration_is_ephemeral_and_exclusive(
    store: ZkMetadataStore, zk_connect: str
) -> None:
    endpoints = {"PLAINTEXT": ("127.0.0.1", 9093)}
    registration = BrokerRegistration(1, "127.0.0.1", 9093, "rack-a", endpoints)
    store.register_broker(registration, {"PLAINTEXT": "PLAINTEXT"})
    assert store.live_brokers() == {1: registration}
    body = json.loads(store.raw().get("/brokers/ids/1")[0])
    assert body["endpoints"] == ["PLAINTEXT://127.0.0.1:9093"] and body["rack"] == "rack-a"
    other = ZkMetadataStore(zk_connect, session_timeout_ms=2000)
    other.start()
    try:
        # Another session holds id 1: waited for (a session's length and a half), then refused.
        started = time.monotonic()
        with pytest.raises(ConfigError, match="already registered"):
            other.register_broker(BrokerRegistration(1, "127.0.0.1", 9094, None), {})
        assert 2.5 < time.monotonic() - started < 10
        assert set(other.live_brokers()) == {1}
        store.close()
        assert other.live_brokers() == {}  # the ephemeral node went with the session
    finally:
        other.close()


def test_registration_waits_for_another_sessions_node_to_go(
    store: ZkMetadataStore, zk_connect: str
) -> None:
    """A broker restarted while ZooKeeper still holds its previous session's node (ZooKeeper
    went away and came back, the session restored) registers once that session is gone."""
    store.register_broker(BrokerRegistration(1, "127.0.0.1", 9093, None), {})
    again = ZkMetadataStore(zk_connect, session_timeout_ms=20_000)
    again.start()
    try:
        threading.Timer(1.0, store.close).start()  # the old session ends a second later
        started = time.monotonic()
        again.register_broker(BrokerRegistration(1, "127.0.0.1", 9094, None), {})
        assert 0.9 < time.monotonic() - started < 10
        assert again.live_brokers()[1].port == 9094
    finally:
        again.close()


def test_controller_election_and_epoch(store: ZkMetadataStore, zk_connect: str) -> None:
    assert store.try_become_controller(1) == 1
    assert store.controller_id() == 1
    rival = ZkMetadataStore(zk_connect, session_timeout_ms=4000)
    rival.start()
    try:
        assert rival.try_become_controller(2) is None
        store.close()
        assert rival.try_become_controller(2) == 2  # epoch bumped by the new controller
        assert rival.controller_id() == 2
        assert json.loads(rival.raw().get("/controller")[0])["brokerid"] == 2
    finally:
        rival.close()


def test_topics_configs_and_partition_state(store: ZkMetadataStore, zk_connect: str) -> None:
    topic = TopicMetadata(
        "orders", new_topic_id(), 2, 2, {"retention.ms": "1000"}, assignment={0: [1, 2], 1: [2, 1]}
    )
    store.create_topic(topic)
    body = json.loads(store.raw().get("/brokers/topics/orders")[0])
    assert body["partitions"] == {"0": [1, 2], "1": [2, 1]} and body["version"] == 3
    assert json.loads(store.raw().get("/config/topics/orders")[0])["config"] == {
        "retention.ms": "1000"
    }
    version = store.set_partition_state("orders", 0, PartitionState(1, 0, (1, 2), 1))
    state = store.partition_state("orders", 0)
    assert state == PartitionState(1, 0, (1, 2), 1, version)
    store.set_partition_state("orders", 0, PartitionState(2, 1, (2,), 1, version))
    with pytest.raises(BadVersionError):  # a stale writer loses
        store.set_partition_state("orders", 0, PartitionState(1, 1, (1,), 1, version))
    fresh = ZkMetadataStore(zk_connect, session_timeout_ms=4000)
    fresh.start()
    try:
        fresh.load()
        loaded = fresh.topics["orders"]
        assert loaded.topic_id == topic.topic_id and loaded.assignment == topic.assignment
        assert loaded.configs == {"retention.ms": "1000"} and loaded.replication_factor == 2
        assert fresh.delete_topic("orders") is not None
        assert store.raw().exists("/brokers/topics/orders") is None
    finally:
        fresh.close()


def test_producer_id_blocks_never_overlap(store: ZkMetadataStore, zk_connect: str) -> None:
    other = ZkMetadataStore(zk_connect, session_timeout_ms=4000)
    other.start()
    try:
        starts = [
            store.allocate_producer_id_block(1000),
            other.allocate_producer_id_block(1000),
            store.allocate_producer_id_block(1000),
        ]
        assert starts == [0, 1000, 2000]
    finally:
        other.close()


def test_dynamic_broker_configs(store: ZkMetadataStore, zk_connect: str) -> None:
    store.set_broker_configs("", {"log.retention.ms": "5000"})
    store.set_broker_configs("1", {"num.io.threads": "4"})
    fresh = ZkMetadataStore(zk_connect, session_timeout_ms=4000)
    fresh.start()
    try:
        fresh.load()
        assert fresh.broker_configs == {
            "": {"log.retention.ms": "5000"},
            "1": {"num.io.threads": "4"},
        }
    finally:
        fresh.close()
