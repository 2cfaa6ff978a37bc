"""Topic lifecycle against a LocalMetadataStore and a LogManager on disk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kio.schema.errors import ErrorCode

from odradek.cluster.admin_manager import AdminManager, TopicSpec
from odradek.cluster.metadata import LocalMetadataStore
from odradek.common.clock import FakeClock
from odradek.common.errors import (
    InvalidConfigError,
    InvalidPartitionsError,
    InvalidReplicationFactorError,
    InvalidRequestError,
    InvalidTopicError,
    KafkaError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
    error_code_for,
)
from odradek.common.ids import TopicPartition
from odradek.config.broker import build_broker_config
from odradek.storage.log_manager import LogManager
from tests.unit.storage.helpers import append, make_batch, read_all

NODE_ID = 1
T0 = 1_700_000_000_000


@dataclass
class Setup:
    data: Path
    controller: AdminManager
    log_manager: LogManager
    store: LocalMetadataStore


def start(data: Path, **overrides: str) -> Setup:
    raw = {"node.id": str(NODE_ID), "log.dirs": str(data), "num.partitions": "3"}
    raw.update(overrides)
    config = build_broker_config(raw)
    log_manager = LogManager(config.log_dirs, FakeClock(T0))
    log_manager.startup(NODE_ID, None)
    store = LocalMetadataStore(data)
    controller = AdminManager(NODE_ID, config, store, log_manager)
    controller.load()
    return Setup(data, controller, log_manager, store)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    running = start(tmp_path / "data")
    yield running
    running.log_manager.shutdown()


def partition_dirs(data: Path) -> list[str]:
    return sorted(p.name for p in data.iterdir() if p.is_dir())


def test_create_with_broker_defaults(setup: Setup) -> None:
    topic = setup.controller.create_topic(TopicSpec("orders"))
    assert topic.name == "orders"
    assert topic.partitions == 3  # num.partitions
    assert topic.replication_factor == 1
    assert topic.configs == {}
    assert not topic.internal
    assert topic.topic_id.int > 1
    assert partition_dirs(setup.data) == ["orders-0", "orders-1", "orders-2"]
    assert set(setup.log_manager.logs) == {TopicPartition("orders", p) for p in range(3)}
    assert setup.store.topics["orders"] is topic
    assert setup.store.by_id[topic.topic_id] is topic


def test_create_with_explicit_counts_and_configs(setup: Setup) -> None:
    topic = setup.controller.create_topic(
        TopicSpec(
            "events",
            num_partitions=2,
            replication_factor=1,
            configs={"retention.ms": "1000", "cleanup.policy": "compact,delete"},
        )
    )
    assert topic.partitions == 2
    assert topic.configs == {"retention.ms": "1000", "cleanup.policy": "compact,delete"}
    log = setup.log_manager.logs[TopicPartition("events", 1)]
    assert log.config["retention.ms"] == 1000
    assert log.config.compact


def test_validate_only_creates_nothing(setup: Setup) -> None:
    topic = setup.controller.create_topic(TopicSpec("dry", num_partitions=4), validate_only=True)
    assert topic.partitions == 4
    assert "dry" not in setup.store.topics
    assert partition_dirs(setup.data) == []


def test_duplicate_topic(setup: Setup) -> None:
    setup.controller.create_topic(TopicSpec("orders"))
    with pytest.raises(TopicAlreadyExistsError):
        setup.controller.create_topic(TopicSpec("orders", num_partitions=1))


@pytest.mark.parametrize(
    "name", ["", ".", "..", "has space", "slash/name", "a" * 250, "ünïcode", "semi;colon"]
)
def test_invalid_topic_name(setup: Setup, name: str) -> None:
    with pytest.raises(InvalidTopicError):
        setup.controller.create_topic(TopicSpec(name))
    assert setup.store.topics == {}


def test_longest_legal_topic_name(setup: Setup) -> None:
    name = "a" * 249
    setup.controller.create_topic(TopicSpec(name, num_partitions=1))
    assert name in setup.store.topics


def test_topic_name_with_trailing_newline_is_invalid(setup: Setup) -> None:
    with pytest.raises(InvalidTopicError):
        setup.controller.create_topic(TopicSpec("orders\n", num_partitions=1))


def test_topic_names_colliding_on_dot_and_underscore(setup: Setup) -> None:
    setup.controller.create_topic(TopicSpec("metrics.cpu", num_partitions=1))
    with pytest.raises(InvalidTopicError):
        setup.controller.create_topic(TopicSpec("metrics_cpu", num_partitions=1))


@pytest.mark.parametrize("replication", [2, 3])
def test_replication_factor_above_broker_count(setup: Setup, replication: int) -> None:
    with pytest.raises(InvalidReplicationFactorError):
        setup.controller.create_topic(TopicSpec("orders", replication_factor=replication))


@pytest.mark.parametrize("replication", [0, -2])
def test_non_positive_replication_factor(setup: Setup, replication: int) -> None:
    with pytest.raises(InvalidReplicationFactorError):
        setup.controller.create_topic(TopicSpec("orders", replication_factor=replication))


@pytest.mark.parametrize("partitions", [0, -2])
def test_non_positive_partitions(setup: Setup, partitions: int) -> None:
    with pytest.raises(InvalidPartitionsError):
        setup.controller.create_topic(TopicSpec("orders", num_partitions=partitions))
    assert partition_dirs(setup.data) == []


@pytest.mark.parametrize(
    "configs",
    [
        {"retention.ms": "soon"},
        {"no.such.config": "1"},
        {"cleanup.policy": "shred"},
        {"segment.bytes": "1"},
    ],
)
def test_bad_config(setup: Setup, configs: dict[str, str]) -> None:
    with pytest.raises(InvalidConfigError):
        setup.controller.create_topic(TopicSpec("orders", configs=configs))
    assert "orders" not in setup.store.topics
    assert partition_dirs(setup.data) == []


def test_null_config_value(setup: Setup) -> None:
    with pytest.raises(InvalidConfigError):
        setup.controller.create_topic(TopicSpec("orders", configs={"retention.ms": None}))


def test_explicit_assignment_with_this_node(setup: Setup) -> None:
    topic = setup.controller.create_topic(
        TopicSpec("assigned", assignments={0: [NODE_ID], 1: [NODE_ID]})
    )
    assert topic.partitions == 2
    assert topic.replication_factor == 1
    assert partition_dirs(setup.data) == ["assigned-0", "assigned-1"]


def test_assignment_together_with_counts_is_invalid_request(setup: Setup) -> None:
    with pytest.raises(InvalidRequestError):
        setup.controller.create_topic(TopicSpec("x", num_partitions=1, assignments={0: [NODE_ID]}))


@pytest.mark.parametrize(
    "assignments",
    [
        {0: [NODE_ID + 1]},  # a broker that is not registered
        {0: [NODE_ID, NODE_ID]},  # the same broker twice
        {0: [NODE_ID], 2: [NODE_ID]},  # partitions not 0..n-1
        {0: []},  # an empty replica list
    ],
    ids=["unknown-broker", "duplicate", "gap", "empty"],
)
def test_bad_manual_assignment(setup: Setup, assignments: dict[int, list[int]]) -> None:
    with pytest.raises(KafkaError) as info:
        setup.controller.create_topic(TopicSpec("x", assignments=assignments))
    assert error_code_for(info.value) == ErrorCode.invalid_replica_assignment


def test_bad_manual_assignment_is_rejected(setup: Setup) -> None:
    for assignments in ({0: [NODE_ID + 1]}, {0: [NODE_ID, NODE_ID]}, {0: [NODE_ID], 2: [NODE_ID]}):
        with pytest.raises(KafkaError):
            setup.controller.create_topic(TopicSpec("x", assignments=assignments))
    assert setup.store.topics == {}


def test_delete_removes_partition_directories(setup: Setup) -> None:
    setup.controller.create_topic(TopicSpec("doomed", num_partitions=2))
    setup.controller.create_topic(TopicSpec("kept", num_partitions=1))
    append(setup.log_manager.logs[TopicPartition("doomed", 0)], make_batch(3))
    deleted = setup.controller.delete_topic("doomed")
    assert deleted.name == "doomed"
    assert partition_dirs(setup.data) == ["kept-0"]
    assert "doomed" not in setup.store.topics
    assert deleted.topic_id not in setup.store.by_id
    assert TopicPartition("doomed", 0) not in setup.log_manager.logs
    with pytest.raises(UnknownTopicOrPartitionError):
        setup.controller.delete_topic("doomed")


def test_delete_by_topic_id(setup: Setup) -> None:
    topic = setup.controller.create_topic(TopicSpec("by-id", num_partitions=1))
    setup.controller.delete_topic(topic_id=topic.topic_id)
    assert partition_dirs(setup.data) == []


def test_delete_unknown_topic(setup: Setup) -> None:
    with pytest.raises(UnknownTopicOrPartitionError):
        setup.controller.delete_topic("missing")
    with pytest.raises(UnknownTopicOrPartitionError):
        setup.controller.delete_topic()


def test_recreate_after_delete_gets_a_new_id_and_empty_logs(setup: Setup) -> None:
    first = setup.controller.create_topic(TopicSpec("again", num_partitions=1))
    append(setup.log_manager.logs[TopicPartition("again", 0)], make_batch(2))
    setup.controller.delete_topic("again")
    second = setup.controller.create_topic(TopicSpec("again", num_partitions=1))
    assert second.topic_id != first.topic_id
    assert setup.log_manager.logs[TopicPartition("again", 0)].log_end_offset == 0


def test_metadata_and_data_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start(data)
    created = first.controller.create_topic(
        TopicSpec("durable", num_partitions=2, configs={"segment.bytes": "1048576"})
    )
    log = first.log_manager.logs[TopicPartition("durable", 1)]
    for n in range(4):
        append(log, make_batch(2, tag=f"n{n}"))
    before = read_all(log)
    first.log_manager.shutdown()

    store = LocalMetadataStore(data)
    store.load()
    loaded = store.topics["durable"]
    assert loaded.topic_id == created.topic_id
    assert loaded.partitions == 2
    assert loaded.configs == {"segment.bytes": "1048576"}
    assert store.by_id[created.topic_id].name == "durable"

    second = start(data)
    assert second.store.topics["durable"].topic_id == created.topic_id
    reopened = second.log_manager.logs[TopicPartition("durable", 1)]
    assert reopened.topic_id == created.topic_id
    assert reopened.config.segment_bytes == 1_048_576
    assert read_all(reopened) == before
    with pytest.raises(TopicAlreadyExistsError):
        second.controller.create_topic(TopicSpec("durable"))
    second.log_manager.shutdown()


def test_deletion_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start(data)
    first.controller.create_topic(TopicSpec("gone", num_partitions=1))
    first.controller.delete_topic("gone")
    first.log_manager.shutdown()
    second = start(data)
    assert "gone" not in second.store.topics
    assert second.log_manager.logs == {}
    second.log_manager.shutdown()
