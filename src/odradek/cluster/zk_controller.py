"""The cluster controller (Kafka's KafkaController in ZooKeeper mode).

Every broker runs one; the one that creates the ephemeral ``/controller`` znode is active and
bumps ``/controller_epoch``. It runs on its own thread with an event queue, like Kafka's
controller event thread, and acts only through ZooKeeper: every partition-state write is a
ZooKeeper transaction that also checks the controller epoch znode's version, so a controller
that lost its session is fenced. Brokers watch the state znodes and take the roles they find.

Each event (a broker came or went, a topic appeared, a deletion or reassignment was asked
for, a timer) runs one reconciliation pass over the whole cluster:

* partitions without a state get one: leader = first live replica, ISR = live replicas;
* partitions whose leader is gone get a new one from the live ISR, in assignment order (or,
  with ``unclean.leader.election.enable``, any live replica); none: leader -1, ISR kept;
* dead or shutting-down replicas leave the ISR;
* reassignments whose target replicas are all in the ISR complete: leader moved into the
  target set if needed, ISR and assignment trimmed to it;
* topics queued in ``/admin/delete_topics`` are deleted;
* brokers asking for a controlled shutdown lose their leaderships to other ISR members.

The decisions are pure functions: the election rules in ``elections``, the reassignment
steps in ``reassignment``. The controller reads ZooKeeper and writes what they decide through
``zk_controller_client`` (the epoch-fenced writes and topic deletion) and runs its events on the
thread of ``zk_controller_events``; this module is the controller's lifecycle, its election and
the reconciliation, preferred-leader and reassignment passes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from kazoo.protocol.states import KazooState
from kazoo.recipe.watchers import ChildrenWatch, DataWatch
from kio.schema.errors import ErrorCode

from odradek.cluster.elections import (
    ElectionResult,
    LeaderAndIsr,
    imbalanced_brokers,
    partition_state_change,
    preferred_replica_election,
    unclean_election,
)
from odradek.cluster.metadata import PartitionState
from odradek.cluster.reassignment import (
    OngoingReassignment,
    ReplicaAssignment,
    alter_reassignment,
    completion_state,
    state_after_assignment_change,
)
from odradek.cluster.zk_controller_client import (
    ControllerZkClient,
    TopicAssignment,
)
from odradek.cluster.zk_controller_events import ControllerEventManager
from odradek.cluster.zk_data import (
    BROKERS,
    CONTROLLED_SHUTDOWN,
    CONTROLLER,
    DELETE_TOPICS,
    TOPICS,
)
from odradek.cluster.zk_store import ZkMetadataStore
from odradek.common.ids import TopicPartition

log = logging.getLogger(__name__)

# ElectionResult and OngoingReassignment are part of this module's API (admin handlers).
__all__ = ["ElectionResult", "OngoingReassignment", "ZkController"]


class ZkController(ControllerZkClient, ControllerEventManager):
    def __init__(
        self,
        store: ZkMetadataStore,
        broker_id: int,
        unclean_default: bool,
        auto_rebalance: bool,
        imbalance_check_s: float,
        imbalance_pct: int,
    ) -> None:
        self.store = store
        self.zk = store.client
        self.broker_id = broker_id
        self.unclean_default = unclean_default
        self.auto_rebalance = auto_rebalance
        self.imbalance_check_s = imbalance_check_s
        self.imbalance_pct = imbalance_pct
        self.active = False
        self.epoch = -1
        self.epoch_zk_version = -1
        super().__init__()
        self._last_rebalance = time.monotonic()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        DataWatch(self.zk, CONTROLLER, self._controller_changed)
        self.zk.add_listener(self._session_state)

    def stop(self) -> None:
        self._stopped = True
        self._events.put(None)
        self._thread.join(timeout=5)
        if self.active:
            self.active = False
            if not self.zk.connected:
                return  # /controller goes with our session; no call may wait on a lost server
            try:
                data, _ = self.zk.get(CONTROLLER)
                if int(json.loads(data)["brokerid"]) == self.broker_id:
                    self.zk.delete(CONTROLLER)
            except Exception:
                pass

    def _session_state(self, state: KazooState) -> None:
        if state == KazooState.LOST and self.active:
            log.warning("ZooKeeper session lost: resigning as controller")
            self.active = False

    def _controller_changed(self, data: bytes | None, _stat: Any) -> None:
        if data is None and not self._stopped:
            self._events.put(self._elect)

    # -- election ---------------------------------------------------------------------------

    def _elect(self) -> None:
        if self.active or self._stopped:
            return
        claimed = self.store.claim_controller(self.broker_id)
        if claimed is None:
            return
        self.epoch, self.epoch_zk_version = claimed
        self.active = True
        log.info("broker %d is now the controller (epoch %d)", self.broker_id, self.epoch)
        ChildrenWatch(self.zk, BROKERS, self._trigger)
        ChildrenWatch(self.zk, TOPICS, self._trigger)
        ChildrenWatch(self.zk, DELETE_TOPICS, self._trigger)
        ChildrenWatch(self.zk, CONTROLLED_SHUTDOWN, self._trigger)
        self._reconcile()

    # -- reconciliation ---------------------------------------------------------------------

    def _reconcile_event(self) -> None:
        if self.active:
            self._reconcile()
        else:
            self._busy = False
            self._last_reconcile = time.monotonic()

    def _reconcile(self) -> None:
        self._last_reconcile = time.monotonic()
        live = self._live_brokers()
        shutting = self._shutting_down()
        eligible = live - shutting
        busy = False
        for name in self.zk.get_children(DELETE_TOPICS):
            self._delete_topic(name)
        for name in self.zk.get_children(TOPICS):
            topic = self._topic(name)
            if topic is None:
                continue
            for partition, replicas in sorted(topic.partitions.items()):
                tp = TopicPartition(name, partition)
                if not self._reconcile_partition(tp, topic, replicas, live, shutting):
                    busy = True
                if topic.adding.get(partition) or topic.removing.get(partition):
                    busy = True
                    self._maybe_complete_reassignment(tp, topic, eligible)
        if self.auto_rebalance and time.monotonic() - self._last_rebalance > self.imbalance_check_s:
            self._last_rebalance = time.monotonic()
            self._rebalance_leaders(eligible)
        self._busy = busy or bool(shutting)

    def _reconcile_partition(
        self,
        tp: TopicPartition,
        topic: TopicAssignment,
        replicas: list[int],
        live: set[int],
        shutting: set[int],
    ) -> bool:
        """Bring one partition to a valid state; False when it stays offline."""
        state = self._state(tp)
        change = partition_state_change(
            replicas, _leader_and_isr(state), live, shutting, topic.unclean
        )
        if change.new is not None:
            if change.unclean:
                log.warning(
                    "%s: unclean leader election of %d (data may be lost)", tp, change.new.leader
                )
            self._write_state(tp, change.new, state)
        return change.online

    # -- preferred leaders ------------------------------------------------------------------

    def _rebalance_leaders(self, eligible: set[int]) -> None:
        """auto.leader.rebalance.enable: move leadership back to preferred replicas on
        brokers whose share of non-preferred leaders exceeds the imbalance percentage."""
        leaders: list[tuple[TopicPartition, int, int | None]] = []
        for name in self.zk.get_children(TOPICS):
            topic = self._topic(name)
            if topic is None:
                continue
            for partition, replicas in topic.partitions.items():
                if not replicas or topic.adding.get(partition):
                    continue
                tp = TopicPartition(name, partition)
                state = self._state(tp)
                leaders.append((tp, replicas[0], None if state is None else state.leader))
        for partitions in imbalanced_brokers(leaders, eligible, self.imbalance_pct).values():
            self.elect_preferred(partitions)

    def elect_preferred(self, partitions: list[TopicPartition]) -> list[ElectionResult]:
        return self._elect_partitions(partitions, unclean=False)

    def elect_leaders(
        self, partitions: list[TopicPartition] | None, unclean: bool
    ) -> list[ElectionResult]:
        """ElectLeaders: PREFERRED (unclean=False) or UNCLEAN; None = every partition."""
        if partitions is None:
            partitions = []
            for name in self.zk.get_children(TOPICS):
                topic = self._topic(name)
                if topic is not None:
                    partitions += [TopicPartition(name, p) for p in sorted(topic.partitions)]
        return self._elect_partitions(partitions, unclean)

    def _elect_partitions(
        self, partitions: list[TopicPartition], unclean: bool
    ) -> list[ElectionResult]:
        self._require_active()
        live = self._live_brokers() - self._shutting_down()
        results = []
        topics: dict[str, TopicAssignment | None] = {}
        for tp in partitions:
            if tp.topic not in topics:
                topics[tp.topic] = self._topic(tp.topic)
            topic = topics[tp.topic]
            replicas = topic.partitions.get(tp.partition) if topic is not None else None
            state = self._state(tp) if replicas else None
            if topic is None or not replicas or state is None:
                results.append(
                    ElectionResult(
                        tp, ErrorCode.unknown_topic_or_partition, "The partition does not exist."
                    )
                )
                continue
            elect = unclean_election if unclean else preferred_replica_election
            current = LeaderAndIsr(state.leader, state.leader_epoch, state.isr)
            decision = elect(tp, replicas, current, live)
            if isinstance(decision, ElectionResult):
                results.append(decision)
                continue
            ok = self._write_state(tp, decision, state)
            results.append(
                ElectionResult(
                    tp,
                    ErrorCode.none if ok else ErrorCode.preferred_leader_not_available,
                    None if ok else "the partition state changed",
                )
            )
        return results

    # -- reassignment -----------------------------------------------------------------------

    def _require_active(self) -> None:
        if not self.active:
            from odradek.common.errors import NotControllerError

            raise NotControllerError("This is not the correct controller for this cluster.")

    def alter_reassignments(
        self, wanted: Mapping[TopicPartition, list[int] | None]
    ) -> dict[TopicPartition, tuple[ErrorCode, str | None]]:
        """AlterPartitionReassignments: start (replicas) or cancel (None) reassignments."""
        self._require_active()
        live = self._live_brokers()
        results: dict[TopicPartition, tuple[ErrorCode, str | None]] = {}
        by_topic: dict[str, list[TopicPartition]] = {}
        for tp in wanted:
            by_topic.setdefault(tp.topic, []).append(tp)
        for name, tps in by_topic.items():
            topic = self._topic(name)
            changed: list[TopicPartition] = []
            for tp in tps:
                target = wanted[tp]
                if topic is None or tp.partition not in topic.partitions:
                    results[tp] = (
                        ErrorCode.unknown_topic_or_partition,
                        "The partition does not exist.",
                    )
                    continue
                outcome = alter_reassignment(tp, topic.assignment(tp.partition), target, live)
                if isinstance(outcome, tuple):
                    results[tp] = outcome
                    continue
                topic.assign(tp.partition, outcome)
                changed.append(tp)
            if changed and topic is not None:
                ok = self._write_topic(topic)
                for tp in changed:
                    results[tp] = (
                        (ErrorCode.none, None)
                        if ok
                        else (ErrorCode.concurrent_transactions, "the topic changed meanwhile")
                    )
                if ok:
                    for tp in changed:
                        self._after_assignment_change(tp, topic, live)
        self._busy = True
        return results

    def _after_assignment_change(
        self, tp: TopicPartition, topic: TopicAssignment, live: set[int]
    ) -> None:
        """A cancelled reassignment may leave the leader outside the replica set."""
        state = self._state(tp)
        new = state_after_assignment_change(
            topic.partitions[tp.partition], _leader_and_isr(state), live
        )
        if new is not None:
            self._write_state(tp, new, state)

    def _maybe_complete_reassignment(
        self, tp: TopicPartition, topic: TopicAssignment, eligible: set[int]
    ) -> None:
        assignment = topic.assignment(tp.partition)
        state = self._state(tp)
        new = completion_state(assignment, _leader_and_isr(state), eligible)
        if new is None or not self._write_state(tp, new, state):
            return
        topic.assign(tp.partition, ReplicaAssignment(assignment.target))
        if self._write_topic(topic):
            log.info("%s: reassignment to %s completed", tp, list(assignment.target))

    def list_reassignments(
        self, partitions: list[TopicPartition] | None
    ) -> list[OngoingReassignment]:
        self._require_active()
        names = (
            sorted({tp.topic for tp in partitions})
            if partitions is not None
            else sorted(self.zk.get_children(TOPICS))
        )
        wanted = set(partitions) if partitions is not None else None
        ongoing = []
        for name in names:
            topic = self._topic(name)
            if topic is None:
                continue
            for partition in sorted(topic.partitions):
                tp = TopicPartition(name, partition)
                adding = topic.adding.get(partition, [])
                removing = topic.removing.get(partition, [])
                if (adding or removing) and (wanted is None or tp in wanted):
                    ongoing.append(
                        OngoingReassignment(tp, topic.partitions[partition], adding, removing)
                    )
        return ongoing


def _leader_and_isr(state: PartitionState | None) -> LeaderAndIsr | None:
    return None if state is None else LeaderAndIsr(state.leader, state.leader_epoch, state.isr)
