"""A KIP-848 consumer group across a group-coordinator crash.

Two confluent-kafka members (``group.protocol=consumer``) share a 6-partition topic on a
3-broker cluster (everything replicated three times). The coordinator — the leader of the
group's ``__consumer_offsets`` partition, found with FindCoordinator — is SIGKILLed. Its
successor loads the group from the replicated ConsumerGroup* records: the same two member ids
go on heartbeating (no member rejoins under a new id), they keep their partitions, and they
consume what is produced after the failover from their committed offsets.
"""

from __future__ import annotations

from typing import Any

from tests.cluster.test_cluster_coordinators import GROUP, find_coordinator
from tests.integration.test_consumer_group_protocol import FAST, Member, produce, uid
from tests.support.cluster import Cluster, wait_until

PARTITIONS = 6
OVERRIDES = {**FAST, "min.insync.replicas": "2", "default.replication.factor": "3"}


def member_ids(c: Cluster, group: str) -> set[str]:
    """The group's member ids as ConsumerGroupDescribe reports them (retried: a describe
    racing a coordinator move times out)."""

    def described() -> set[str] | None:
        admin = c.admin()  # referenced until the result: a destroyed client never answers
        found = admin.describe_consumer_groups([group])[group].result(15)
        return {m.member_id for m in found.members} or None

    return wait_until(described, 90, f"a description of {group}")


def test_a_consumer_group_survives_its_coordinator_crash(cluster: Any) -> None:
    c: Cluster = cluster(3, overrides=OVERRIDES)
    topic, group = uid("kip848-failover"), uid("kip848-failover-group")
    c.create_topic(topic, PARTITIONS, 3)
    members = [Member(c.bootstrap, group, topic) for _ in range(2)]
    try:

        def why() -> str:
            return "\n".join(m.describe() for m in members) + "\n" + c.logs()

        def balanced() -> bool:
            owned = [m.assignment() for m in members]
            return all(len(o) == PARTITIONS // 2 for o in owned) and frozenset().union(
                *owned
            ) == frozenset(range(PARTITIONS))

        wait_until(balanced, 90, "3 partitions each", context=why)
        first = produce(c.bootstrap, topic, range(300), PARTITIONS)
        wait_until(
            lambda: set().union(*(m.records() for m in members)) >= first,
            60,
            "300 records",
            context=why,
        )
        before_ids = member_ids(c, group)
        before_owned = [m.assignment() for m in members]
        coordinator = find_coordinator(c, group, GROUP)
        assert coordinator is not None

        c.kill(coordinator)
        wait_until(
            lambda: find_coordinator(c, group, GROUP) not in (None, coordinator),
            60,
            "a new group coordinator",
            context=why,
        )
        second = produce(c.bootstrap, topic, range(300, 600), PARTITIONS)
        wait_until(
            lambda: set().union(*(m.records() for m in members)) >= second,
            120,
            "the records produced after the failover",
            context=why,
        )
        assert member_ids(c, group) == before_ids, why()
        assert [m.assignment() for m in members] == before_owned, why()
    finally:
        for member in members:
            if member.is_alive():
                member.close()
