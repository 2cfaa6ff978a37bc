"""What ``odradek reassign-partitions`` reads from and writes to the cluster through the
AdminClient: the replica assignment and brokers, and the replication throttles --execute sets
and --verify and --cancel clear (as topic and broker configs), with the pure arithmetic of
which replicas those throttles cover.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException

from odradek.cli.tools.common import Admin, ToolError, kafka_message
from odradek.cli.tools.kafka import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from odradek.cli.tools.reassignment_api import OngoingReassignment, TopicPartition, partition_name
from odradek.cli.tools.reassignment_plan import Broker, Target, id_list, plural

BROKER_THROTTLES = (
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
)
LEADER_THROTTLED_REPLICAS = "leader.replication.throttled.replicas"
FOLLOWER_THROTTLED_REPLICAS = "follower.replication.throttled.replicas"


# -- reading the cluster -----------------------------------------------------------------------


def replica_assignment(admin: Admin) -> dict[str, dict[int, list[int]]]:
    """topic -> partition -> replicas, from the metadata of every topic."""
    metadata = admin.metadata()
    return {
        name: {int(p.id): [int(r) for r in p.replicas] for p in t.partitions.values()}
        for name, t in metadata.topics.items()
        if t.error is None
    }


def describe_brokers(admin: Admin) -> list[Broker]:
    cluster = admin.wait(admin.client.describe_cluster(request_timeout=admin.timeout))
    return [Broker(int(n.id), n.rack or None) for n in cluster.nodes]


def assignment_of_topics(admin: Admin, topics: Sequence[str]) -> dict[TopicPartition, list[int]]:
    known = replica_assignment(admin)
    for topic in topics:
        if topic not in known:
            raise ToolError(f"Topic {topic} not found.")
    return {(t, p): replicas for t in topics for p, replicas in known[t].items()}


def assignment_of_partitions(
    admin: Admin, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, list[int]]:
    known = replica_assignment(admin)
    wanted = sorted(set(partitions))
    missing = [tp for tp in wanted if tp[1] not in known.get(tp[0], {})]
    if missing:
        raise ToolError(
            "Unable to find partition: " + ", ".join(partition_name(tp) for tp in missing)
        )
    return {tp: known[tp[0]][tp[1]] for tp in wanted}


# -- throttles ---------------------------------------------------------------------------------


@dataclass
class Move:
    sources: set[int]
    destinations: set[int]


def proposed_moves(
    ongoing: Mapping[TopicPartition, OngoingReassignment],
    proposed: Mapping[TopicPartition, Sequence[int]],
    current: Mapping[TopicPartition, Sequence[int]],
) -> dict[str, dict[int, Move]]:
    """topic -> partition -> the brokers replicas move from and to: the ongoing moves, then
    the proposed ones (whose sources are those of an ongoing move of the partition, if any,
    else its current replicas)."""
    moves: dict[str, dict[int, Move]] = {}
    for (topic, partition), r in ongoing.items():
        moves.setdefault(topic, {})[partition] = Move(
            set(r.replicas) - set(r.adding), set(r.adding)
        )
    for (topic, partition), replicas in proposed.items():
        by_partition = moves.setdefault(topic, {})
        if partition in by_partition:
            sources = set(by_partition[partition].sources)
        else:
            sources = set(current[(topic, partition)])
        by_partition[partition] = Move(sources, set(replicas) - sources)
    return moves


def leader_throttles(moves: Mapping[str, Mapping[int, Move]]) -> dict[str, str]:
    """``leader.replication.throttled.replicas`` per topic: partition:source pairs."""
    return {
        topic: ",".join(sorted({f"{p}:{b}" for p, m in parts.items() for b in m.sources}))
        for topic, parts in moves.items()
    }


def follower_throttles(moves: Mapping[str, Mapping[int, Move]]) -> dict[str, str]:
    """``follower.replication.throttled.replicas`` per topic: partition:destination pairs."""
    return {
        topic: ",".join(
            sorted({f"{p}:{b}" for p, m in parts.items() for b in m.destinations - m.sources})
        )
        for topic, parts in moves.items()
    }


def reassigning_brokers(moves: Mapping[str, Mapping[int, Move]]) -> list[int]:
    return sorted(
        {b for parts in moves.values() for m in parts.values() for b in m.sources | m.destinations}
    )


def alter_configs(admin: Admin, changes: Mapping[tuple[Any, str], Sequence[Any]]) -> None:
    resources = [
        ConfigResource(kind, name, incremental_configs=list(ops))
        for (kind, name), ops in changes.items()
        if ops
    ]
    if not resources:
        return
    # librdkafka takes at most one BROKER resource per call (each goes to its own broker).
    brokers = [r for r in resources if r.restype == ResourceType.BROKER]
    batches = [[r for r in resources if r.restype != ResourceType.BROKER]] + [[b] for b in brokers]
    futures: dict[Any, Any] = {}
    for batch in batches:
        if batch:
            futures.update(
                admin.client.incremental_alter_configs(batch, request_timeout=admin.timeout)
            )
    for resource in resources:
        try:
            admin.wait(futures[resource])
        except KafkaException as exc:
            raise ToolError(
                f"cannot change the configs of {resource.name}: {kafka_message(exc)}"
            ) from exc


def _set(name: str, value: str) -> Any:
    return ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)


def _delete(name: str) -> Any:
    return ConfigEntry(name, "", incremental_operation=AlterConfigOpType.DELETE)


def set_topic_throttles(admin: Admin, moves: Mapping[str, Mapping[int, Move]]) -> None:
    leaders, followers = leader_throttles(moves), follower_throttles(moves)
    alter_configs(
        admin,
        {
            (ResourceType.TOPIC, topic): [
                _set(LEADER_THROTTLED_REPLICAS, leaders[topic]),
                _set(FOLLOWER_THROTTLED_REPLICAS, followers[topic]),
            ]
            for topic in sorted(moves)
        },
    )


def set_broker_throttles(admin: Admin, brokers: Iterable[int], rate: int) -> None:
    alter_configs(
        admin,
        {
            (ResourceType.BROKER, str(b)): [_set(name, str(rate)) for name in BROKER_THROTTLES[:2]]
            for b in brokers
        },
    )


def clear_throttles(admin: Admin, targets: Sequence[Target]) -> None:
    """Remove every reassignment throttle of the brokers (all of the cluster's and those in
    the file) and of the topics in the file, as Kafka does once nothing moves."""
    brokers = sorted(
        {b.id for b in describe_brokers(admin)} | {r for t in targets for r in t.replicas}
    )
    print(f"Clearing broker-level throttles on broker{plural(brokers)} {id_list(brokers)}")
    alter_configs(
        admin,
        {(ResourceType.BROKER, str(b)): [_delete(n) for n in BROKER_THROTTLES] for b in brokers},
    )
    topics = sorted({t.topic for t in targets})
    print(f"Clearing topic-level throttles on topic{plural(topics)} {','.join(topics)}")
    alter_configs(
        admin,
        {
            (ResourceType.TOPIC, topic): [
                _delete(LEADER_THROTTLED_REPLICAS),
                _delete(FOLLOWER_THROTTLED_REPLICAS),
            ]
            for topic in topics
        },
    )
