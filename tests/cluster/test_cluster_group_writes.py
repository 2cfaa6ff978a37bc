"""The group coordinator's writes are acks=all: a SyncGroup is answered only once the
in-sync replicas of the group's ``__consumer_offsets`` partition have the group's metadata
(Kafka's GroupMetadataManager.storeGroup), however the handler is written.

The coordinator's two followers are stopped (SIGSTOP) with the ISR still full, so the
leader's high watermark cannot pass the group record: the SyncGroup must stay unanswered.
When the followers continue, they fetch the record and the answer arrives."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from odradek.coordinator.group.records import partition_for
from tests.support.cluster import Cluster, wait_until
from tests.support.raw_client import RawClient, request_module

FIND_COORDINATOR, JOIN_GROUP, SYNC_GROUP, OFFSET_COMMIT = 10, 11, 14, 8
OFFSETS_TOPIC = "__consumer_offsets"
# Nothing may shrink the ISR while the followers are stopped: no lag timeout, no session expiry.
OVERRIDES = {"replica.lag.time.max.ms": "60000", "zookeeper.session.timeout.ms": "40000"}
UNANSWERED_FOR = 3.0


def _coordinator_of(c: Cluster, group: str) -> int:
    mod = request_module(FIND_COORDINATOR, 4)

    def found() -> int | None:
        with c.raw(c.ids[0]) as raw:
            response = raw.call(mod.FindCoordinatorRequest(key_type=0, coordinator_keys=(group,)))
        [coordinator] = response.coordinators
        return int(coordinator.node_id) if coordinator.error_code == 0 else None

    return wait_until(found, 30, f"no coordinator for {group}")


def _join(raw: RawClient, group: str) -> Any:
    mod = request_module(JOIN_GROUP, 3)
    response = raw.call(
        mod.JoinGroupRequest(
            group_id=group,
            session_timeout=timedelta(seconds=30),
            rebalance_timeout=timedelta(seconds=30),
            member_id="",
            protocol_type="consumer",
            protocols=(mod.JoinGroupRequestProtocol(name="range", metadata=b""),),
        )
    )
    assert response.error_code == 0, response
    return response


def _sync_request(group: str, join: Any) -> Any:
    mod = request_module(SYNC_GROUP, 3)
    return mod.SyncGroupRequest(
        group_id=group,
        generation_id=join.generation_id,
        member_id=join.member_id,
        group_instance_id=None,
        assignments=(mod.SyncGroupRequestAssignment(member_id=join.member_id, assignment=b"plan"),),
    )


def _answered_within(raw: RawClient, seconds: float) -> bool:
    raw.sock.settimeout(seconds)
    try:
        raw.sock.recv(1, socket.MSG_PEEK)
        return True
    except TimeoutError:
        return False
    finally:
        raw.sock.settimeout(30)


def test_sync_group_is_answered_once_the_isr_has_the_group(cluster: Callable[..., Cluster]) -> None:
    c = cluster(3, overrides=OVERRIDES)
    group = f"isr-{uuid.uuid4().hex[:8]}"
    coordinator = _coordinator_of(c, group)
    partition = partition_for(group, 4)  # offsets.topic.num.partitions in the test cluster
    c.wait_full_isr(OFFSETS_TOPIC, [partition])
    assert c.leader(OFFSETS_TOPIC, partition) == coordinator
    followers = [b for b in c.ids if b != coordinator]

    with c.raw(coordinator, timeout=30) as raw:
        join = _join(raw, group)
        for follower in followers:
            c.pause(follower)
        try:
            correlation_id = raw.send(_sync_request(group, join))
            assert not _answered_within(raw, UNANSWERED_FOR), (
                "SyncGroup was answered before any follower had the group's metadata"
            )
        finally:
            for follower in followers:
                c.resume(follower)
        got, response = raw.receive(SYNC_GROUP, 3)
        assert got == correlation_id
        assert response.error_code == 0, response
        assert response.assignment == b"plan"
