"""A follower's fetch refused with a non-retriable error (a missing CLUSTER_ACTION: the
follower's principal not in the leader's super.users) is logged at WARNING, once per
partition and error until the partition fetches again; retriable errors (leadership moving)
stay at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from kio.schema.errors import ErrorCode

from odradek.cluster.replica_fetcher import FetchState, ReplicaFetcher, ReplicaFetcherManager
from odradek.common.ids import TopicPartition
from odradek.config.broker import build_broker_config

LEADER = 1
TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


@pytest.fixture
async def fetcher() -> AsyncIterator[ReplicaFetcher]:
    config = build_broker_config({"node.id": "2", "log.dirs": "/nonexistent"})
    manager = ReplicaFetcherManager(2, config, lambda tp: None, lambda broker: None)
    running = ReplicaFetcher(manager, LEADER, 0)  # no partitions: its task waits
    yield running
    running.stop()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def test_authorization_failure_is_a_warning_once_per_partition_and_error(
    fetcher: ReplicaFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="odradek.cluster.replica_fetcher")
    for _ in range(3):
        fetcher._on_partition_error(TP0, FetchState(0), ErrorCode.topic_authorization_failed)
    (message,) = warnings(caplog)
    assert message.startswith("t-0: the leader (broker 1) answered this follower's fetch")
    assert "TOPIC_AUTHORIZATION_FAILED" in message and "super.users" in message
    fetcher._on_partition_error(TP1, FetchState(0), ErrorCode.topic_authorization_failed)
    fetcher._on_partition_error(TP0, FetchState(0), ErrorCode.unsupported_version)
    assert len(warnings(caplog)) == 3
    assert "super.users" not in warnings(caplog)[-1]


async def test_retriable_errors_stay_at_debug(
    fetcher: ReplicaFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="odradek.cluster.replica_fetcher")
    state = FetchState(0, truncating=False)
    fetcher._on_partition_error(TP0, state, ErrorCode.not_leader_or_follower)
    fetcher._on_partition_error(TP0, state, ErrorCode.unknown_leader_epoch)
    assert not warnings(caplog)
    assert [r.levelno for r in caplog.records] == [logging.DEBUG, logging.DEBUG]
    assert state.truncating  # leadership moved: truncate before fetching again


async def test_logged_again_once_the_partition_has_fetched_or_moved(
    fetcher: ReplicaFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    refused = ErrorCode.topic_authorization_failed
    fetcher._on_partition_error(TP0, FetchState(0), refused)
    fetcher._forget_errors(TP0)  # a fetch of it succeeded
    fetcher._on_partition_error(TP0, FetchState(0), refused)
    fetcher.add(TP1, 0)
    fetcher._on_partition_error(TP1, FetchState(0), refused)
    fetcher.remove(TP1)  # another leader now
    fetcher._on_partition_error(TP1, FetchState(0), refused)
    assert len(warnings(caplog)) == 4
