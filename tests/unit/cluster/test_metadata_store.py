"""The single-node metadata store through the MetadataStore protocol: topics, their partitions
and config overrides, dynamic broker configs and producer id blocks are durable (a new store
on the same log dir reads them back), and the awaitable writes need no ZooKeeper."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from odradek.cluster.admin_manager import AdminManager, TopicSpec
from odradek.cluster.metadata import LocalMetadataStore, MetadataStore, TopicMetadata
from odradek.cluster.metadata_log import LOG_FILE
from odradek.common.clock import FakeClock
from odradek.common.errors import TopicAlreadyExistsError
from odradek.common.ids import TopicPartition, new_topic_id
from odradek.config.broker import build_broker_config
from odradek.coordinator.producer_ids import ProducerIdManager
from odradek.storage.log_manager import LogManager

NODE_ID = 1


def open_store(directory: Path) -> MetadataStore:
    store = LocalMetadataStore(directory)
    store.load()
    return store


def orders(partitions: int = 2, **configs: str) -> TopicMetadata:
    return TopicMetadata("orders", new_topic_id(), partitions, 1, dict(configs))


async def test_created_topic_survives_a_reload(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    topic = orders(3, **{"retention.ms": "1000"})
    await store.create_topic_async(topic)
    assert store.topics["orders"] is topic
    assert store.by_id[topic.topic_id] is topic
    assert (tmp_path / LOG_FILE).exists()

    reloaded = open_store(tmp_path)
    again = reloaded.topics["orders"]
    assert (again.topic_id, again.partitions, again.replication_factor, again.configs) == (
        topic.topic_id,
        3,
        1,
        {"retention.ms": "1000"},
    )
    assert reloaded.by_id[topic.topic_id] is again


async def test_creating_an_existing_topic_fails(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    first = orders()
    await store.create_topic_async(first)
    with pytest.raises(TopicAlreadyExistsError):
        await store.create_topic_async(orders())
    with pytest.raises(TopicAlreadyExistsError):
        store.create_topic(orders())
    assert store.topics["orders"] is first
    assert open_store(tmp_path).topics["orders"].topic_id == first.topic_id


async def test_new_partitions_and_configs_survive_a_reload(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    topic = orders(2)
    await store.create_topic_async(topic)
    grown = replace(topic, partitions=5, configs={"cleanup.policy": "compact"})
    await store.update_topic_async(grown)
    assert store.topics["orders"] is grown
    assert store.by_id[topic.topic_id] is grown

    reloaded = open_store(tmp_path).topics["orders"]
    assert reloaded.topic_id == topic.topic_id
    assert reloaded.partitions == 5
    assert reloaded.configs == {"cleanup.policy": "compact"}


async def test_deleted_topic_stays_deleted(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    doomed, kept = orders(), TopicMetadata("kept", new_topic_id(), 1)
    await store.create_topic_async(doomed)
    await store.create_topic_async(kept)
    await store.delete_topic_async("orders")
    await store.delete_topic_async("missing")  # nothing to do
    assert set(store.topics) == {"kept"}
    assert doomed.topic_id not in store.by_id

    reloaded = open_store(tmp_path)
    assert set(reloaded.topics) == {"kept"}
    assert set(reloaded.by_id) == {kept.topic_id}


async def test_dynamic_broker_configs_survive_a_reload(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    await store.set_broker_configs_async("", {"log.retention.ms": "5000"})
    await store.set_broker_configs_async(str(NODE_ID), {"log.cleaner.threads": "2"})
    await store.set_broker_configs_async("7", {"log.cleaner.threads": "3"})
    await store.set_broker_configs_async("7", {})  # an empty set removes the entity
    expected = {"": {"log.retention.ms": "5000"}, "1": {"log.cleaner.threads": "2"}}
    assert store.broker_configs == expected
    assert open_store(tmp_path).broker_configs == expected


async def test_producer_id_blocks_never_overlap_across_reloads(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert await store.allocate_producer_id_block_async(1000) == 0
    assert store.allocate_producer_id_block(1000) == 1000  # the blocking form
    reloaded = open_store(tmp_path)
    assert await reloaded.allocate_producer_id_block_async(10) == 2000
    assert await open_store(tmp_path).allocate_producer_id_block_async(10) == 2010


def test_a_single_node_has_no_registrations_states_or_controller(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert store.brokers == {}
    assert store.states == {}
    assert store.controller is None


# -- the producer id manager on the store -------------------------------------------------------


async def test_producer_ids_come_from_reserved_blocks(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    ids = ProducerIdManager(store, block_size=3)
    assert not ids.has_reserved()
    await ids.reserve()
    assert ids.has_reserved()
    assert [ids.generate_producer_id() for _ in range(3)] == [0, 1, 2]
    assert not ids.has_reserved()
    await ids.reserve()
    await ids.reserve()  # still the same block: nothing reserved twice
    assert ids.generate_producer_id() == 3

    # After a restart ids continue past every block reserved before, never reused.
    restarted = ProducerIdManager(open_store(tmp_path), block_size=3)
    await restarted.reserve()
    assert restarted.generate_producer_id() == 6


def test_producer_id_without_a_reservation_falls_back_to_a_blocking_allocation(
    tmp_path: Path,
) -> None:
    ids = ProducerIdManager(open_store(tmp_path), block_size=2)
    assert [ids.generate_producer_id() for _ in range(3)] == [0, 1, 2]


# -- the controller's awaitable writes ----------------------------------------------------------


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[AdminManager]:
    data = tmp_path / "data"
    config = build_broker_config(
        {"node.id": str(NODE_ID), "log.dirs": str(data), "num.partitions": "2"}
    )
    log_manager = LogManager(config.log_dirs, FakeClock(1_700_000_000_000))
    log_manager.startup(NODE_ID, None)
    controller = AdminManager(NODE_ID, config, LocalMetadataStore(data), log_manager)
    controller.load()
    yield controller
    log_manager.shutdown()


async def test_controller_creates_grows_and_deletes_a_topic(controller: AdminManager) -> None:
    logs = controller.log_manager.logs
    topic = await controller.create_topic_async(TopicSpec("orders"))
    assert set(logs) == {TopicPartition("orders", p) for p in range(2)}

    await controller.create_partitions("orders", 4, None, validate_only=False)
    grown = controller.store.topics["orders"]
    assert (grown.topic_id, grown.partitions) == (topic.topic_id, 4)
    assert topic.partitions == 2  # the store got a grown copy
    assert set(logs) == {TopicPartition("orders", p) for p in range(4)}
    assert open_store(controller.log_manager.log_dirs[0]).topics["orders"].partitions == 4

    await controller.create_partitions("orders", 6, None, validate_only=True)
    assert controller.store.topics["orders"].partitions == 4

    deleted = await controller.delete_topic_async("orders")
    assert deleted.topic_id == topic.topic_id
    assert "orders" not in controller.store.topics
    assert logs == {}
