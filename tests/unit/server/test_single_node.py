"""A single node is a cluster of one broker (server/single_node.py): its own controller, the
leader and only in-sync replica of every partition, its metadata changes visible at once,
and the controller's requests answered as in a cluster where nothing can move."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kio.schema.errors import ErrorCode

from odradek.cluster.admin_manager import TopicSpec
from odradek.cluster.leadership import LocalLeadership
from odradek.common.ids import TopicPartition
from odradek.config.broker import load_broker_config
from odradek.server.broker import BrokerServer
from odradek.server.single_node import SingleNodeCluster

TOPIC = "single"


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[BrokerServer]:
    config = load_broker_config(
        None,
        {
            "log.dirs": str(tmp_path / "data"),
            "listeners": "PLAINTEXT://127.0.0.1:0",
            "metrics.port": "-1",
            "node.id": "7",
        },
        environ={},
    )
    server = BrokerServer(config)
    await server.start()
    try:
        await server.admin_manager.create_topic_async(TopicSpec(TOPIC, 3, 1))
        yield server
    finally:
        await server.stop()


async def test_it_is_its_own_controller_and_only_broker(broker: BrokerServer) -> None:
    cluster = broker.cluster
    assert isinstance(cluster, SingleNodeCluster)
    assert cluster.controller_id() == 7
    assert cluster.is_active_controller()
    host, port = broker.advertised_endpoint
    assert [tuple(b) for b in cluster.broker_endpoints("PLAINTEXT")] == [(7, host, port, None)]
    assert cluster.broker_endpoints("ELSEWHERE") == []
    assert cluster.broker_endpoint(7, "PLAINTEXT") == (host, port)
    assert cluster.broker_endpoint(8, "PLAINTEXT") is None


async def test_it_leads_every_partition_and_names_no_other_leader(broker: BrokerServer) -> None:
    cluster = broker.cluster
    tp = TopicPartition(TOPIC, 1)
    assert cluster.leader_of(tp) == 7
    assert cluster.known_leader(tp) is None
    assert not cluster.is_follower(3)  # a fetch with a replica id is read as a consumer's
    assert cluster.leader_count() == 3
    assert cluster.offline_partition_count() == 0
    assert cluster.under_replicated_count() == 0
    assert cluster.under_min_isr_count() == 0
    assert broker.gauges()  # the metrics view reads it through the same seam


async def test_an_append_is_replicated_once_written(broker: BrokerServer) -> None:
    leadership = broker.replica_manager.leadership
    assert isinstance(leadership, LocalLeadership)
    assert leadership.isr_offset(10) is None
    tp = TopicPartition(TOPIC, 0)
    assert await broker.replica_manager.wait_for_isr({tp: 10}, 60.0) == {tp: None}


async def test_metadata_changes_need_no_waiting(broker: BrokerServer) -> None:
    # A ready() that never holds would keep a cluster's answer until its timeout.
    await asyncio.wait_for(broker.cluster.wait_for_metadata(lambda: False, 3600.0), 30.0)


async def test_no_election_is_ever_needed(broker: BrokerServer) -> None:
    results = await broker.cluster.elect_leaders(None, unclean=False)
    assert {(r.tp.partition, r.error) for r in results} == {
        (p, ErrorCode.election_not_needed) for p in range(3)
    }
    missing = TopicPartition(TOPIC, 5)
    [result] = await broker.cluster.elect_leaders([missing], unclean=True)
    assert (result.tp, result.error) == (missing, ErrorCode.unknown_topic_or_partition)


async def test_only_a_reassignment_to_itself_is_valid(broker: BrokerServer) -> None:
    tps = [TopicPartition(TOPIC, p) for p in range(3)]
    unknown = TopicPartition("nowhere", 0)
    results = await broker.cluster.alter_reassignments(
        {tps[0]: [7], tps[1]: None, tps[2]: [7, 9], unknown: [7]}
    )
    assert results[tps[0]] == (ErrorCode.none, None)
    assert results[tps[1]][0] == ErrorCode.no_reassignment_in_progress
    assert results[tps[2]] == (
        ErrorCode.invalid_replica_assignment,
        "Unknown broker(s) in replica assignment: [9].",
    )
    assert results[unknown][0] == ErrorCode.unknown_topic_or_partition
    assert await broker.cluster.list_reassignments(None) == []
