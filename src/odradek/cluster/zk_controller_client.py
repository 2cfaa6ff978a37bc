"""The controller's ZooKeeper reads and its writes, fenced by the controller epoch."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError, RolledBackError

from odradek.cluster.elections import (
    LeaderAndIsr,
)
from odradek.cluster.metadata import PartitionState
from odradek.cluster.reassignment import (
    ReplicaAssignment,
)
from odradek.cluster.zk_data import (
    BROKERS,
    CONTROLLED_SHUTDOWN,
    CONTROLLER_EPOCH,
    DELETE_TOPICS,
    TOPIC_CONFIGS,
    TOPICS,
    json_bytes,
    state_body,
)
from odradek.cluster.zk_store import ZkMetadataStore
from odradek.common.ids import TopicPartition

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TopicAssignment:
    """A topic znode as the controller read it: replicas, ongoing reassignments, version."""

    name: str
    body: dict[str, Any]
    zk_version: int
    partitions: dict[int, list[int]] = field(default_factory=dict)
    adding: dict[int, list[int]] = field(default_factory=dict)
    removing: dict[int, list[int]] = field(default_factory=dict)
    unclean: bool = False

    def assignment(self, partition: int) -> ReplicaAssignment:
        return ReplicaAssignment(
            tuple(self.partitions[partition]),
            tuple(self.adding.get(partition, ())),
            tuple(self.removing.get(partition, ())),
        )

    def assign(self, partition: int, assignment: ReplicaAssignment) -> None:
        self.partitions[partition] = list(assignment.replicas)
        for key, replicas in (
            (self.adding, assignment.adding),
            (self.removing, assignment.removing),
        ):
            if replicas:
                key[partition] = list(replicas)
            else:
                key.pop(partition, None)


class ControllerFencedError(Exception):
    """Another broker became controller (the epoch znode moved on)."""


def _fenced(results: list[Any]) -> bool:
    """Whether an epoch-checked transaction failed on its epoch check. When a later operation
    fails instead (a partition state or topic changed meanwhile), ZooKeeper answers the check
    with RolledBackError: that is no sign of another controller."""
    first = results[0]
    return isinstance(first, Exception) and not isinstance(first, RolledBackError)


class ControllerZkClient:
    """The controller's ZooKeeper reads (brokers, topics, partition states) and writes: every
    partition-state and topic write is a transaction that checks the controller epoch znode's
    version; deleting a topic removes its znodes."""

    store: ZkMetadataStore
    zk: KazooClient
    epoch: int
    epoch_zk_version: int
    unclean_default: bool

    # -- reading the cluster ----------------------------------------------------------------

    def _live_brokers(self) -> set[int]:
        return {int(c) for c in self.zk.get_children(BROKERS)}

    def _shutting_down(self) -> set[int]:
        return {int(c) for c in self.zk.get_children(CONTROLLED_SHUTDOWN)}

    def _topic(self, name: str) -> TopicAssignment | None:
        try:
            data, stat = self.zk.get(f"{TOPICS}/{name}")
        except NoNodeError:
            return None
        body = json.loads(data)

        def ints(key: str) -> dict[int, list[int]]:
            return {int(p): [int(r) for r in rs] for p, rs in (body.get(key) or {}).items()}

        value = self.store.topic_configs(name).get("unclean.leader.election.enable")
        unclean = self.unclean_default if value is None else value.lower() == "true"
        return TopicAssignment(
            name,
            body,
            stat.version,
            ints("partitions"),
            ints("adding_replicas"),
            ints("removing_replicas"),
            unclean,
        )

    def _state(self, tp: TopicPartition) -> PartitionState | None:
        return self.store.partition_state(tp.topic, tp.partition)

    # -- writing, fenced by the controller epoch --------------------------------------------

    def _write_state(
        self, tp: TopicPartition, state: LeaderAndIsr, current: PartitionState | None
    ) -> bool:
        """Create the partition state, or update ``current`` if it is still the one in
        ZooKeeper; False if it changed meanwhile."""
        path = f"{TOPICS}/{tp.topic}/partitions/{tp.partition}/state"
        body = state_body(PartitionState(state.leader, state.leader_epoch, state.isr, self.epoch))
        if current is None:
            self.zk.ensure_path(f"{TOPICS}/{tp.topic}/partitions/{tp.partition}")
        transaction = self.zk.transaction()
        transaction.check(CONTROLLER_EPOCH, self.epoch_zk_version)
        if current is None:
            transaction.create(path, body)
        else:
            transaction.set_data(path, body, version=current.zk_version)
        results = transaction.commit()
        if _fenced(results):
            raise ControllerFencedError()
        if isinstance(results[1], Exception):
            return False
        log.info(
            "%s: leader %d, epoch %d, ISR %s", tp, state.leader, state.leader_epoch, list(state.isr)
        )
        return True

    def _write_topic(self, topic: TopicAssignment) -> bool:
        body = dict(topic.body)
        body["partitions"] = {str(p): r for p, r in sorted(topic.partitions.items())}
        body["adding_replicas"] = {str(p): r for p, r in sorted(topic.adding.items()) if r}
        body["removing_replicas"] = {str(p): r for p, r in sorted(topic.removing.items()) if r}
        transaction = self.zk.transaction()
        transaction.check(CONTROLLER_EPOCH, self.epoch_zk_version)
        transaction.set_data(f"{TOPICS}/{topic.name}", json_bytes(body), version=topic.zk_version)
        results = transaction.commit()
        if _fenced(results):
            raise ControllerFencedError()
        if isinstance(results[1], Exception):
            return False
        topic.zk_version += 1
        topic.body = body
        return True

    def _delete_topic(self, name: str) -> None:
        try:
            self.zk.delete(f"{TOPICS}/{name}", recursive=True)
        except NoNodeError:
            pass
        try:
            self.zk.delete(f"{TOPIC_CONFIGS}/{name}")
        except NoNodeError:
            pass
        try:
            self.zk.delete(f"{DELETE_TOPICS}/{name}")
        except NoNodeError:
            pass
        log.info("deleted topic %s", name)
