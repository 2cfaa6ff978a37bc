"""Partition reassignment (KIP-455) as pure functions over plain data.

A partition's ``ReplicaAssignment`` is Kafka's: the full replica set RS, the replicas being
added AR and those being removed RR. The original replica set is ORS = RS - AR and the target
replica set TRS = RS - RR. A reassignment runs in these steps:

1. AlterPartitionReassignments to TRS writes RS = TRS + ORS (TRS first, so that its first
   replica becomes the preferred leader), AR = TRS - ORS, RR = ORS - TRS into the topic znode;
   the brokers start the new replicas, which fetch from the leader;
2. the controller waits until every replica of TRS is in the ISR;
3. then it completes the reassignment: the leader stays if it is in TRS and live, else a new
   one is elected from TRS (reassignment election), the leader epoch is bumped, the ISR is
   trimmed to TRS; then RS = TRS and AR, RR are cleared.

Cancelling (a None target) puts RS back to ORS; if the leader was one of the added replicas
it moves to an ISR member of ORS.

Nothing here reads or writes ZooKeeper; the controller (``zk_controller``) does.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from kio.schema.errors import ErrorCode

from odradek.cluster.elections import NO_LEADER, LeaderAndIsr, reassignment_leader
from odradek.common.ids import TopicPartition


@dataclass(frozen=True, slots=True)
class ReplicaAssignment:
    """A partition's replicas RS, with the replicas being added (AR) and removed (RR)."""

    replicas: tuple[int, ...]
    adding: tuple[int, ...] = ()
    removing: tuple[int, ...] = ()

    @property
    def origin(self) -> tuple[int, ...]:
        """ORS: the replica set before the reassignment."""
        return tuple(r for r in self.replicas if r not in self.adding)

    @property
    def target(self) -> tuple[int, ...]:
        """TRS: the replica set the reassignment moves to."""
        return tuple(r for r in self.replicas if r not in self.removing)

    @property
    def being_reassigned(self) -> bool:
        return bool(self.adding or self.removing)

    def reassign_to(self, target: Sequence[int]) -> ReplicaAssignment:
        """RS = TRS + ORS, AR = TRS - ORS, RR = ORS - TRS (Kafka's ReplicaAssignment.reassignTo);
        reassigning to ORS itself cancels."""
        origin = self.origin
        return ReplicaAssignment(
            tuple(target) + tuple(r for r in origin if r not in target),
            tuple(r for r in target if r not in origin),
            tuple(r for r in origin if r not in target),
        )


@dataclass(frozen=True, slots=True)
class OngoingReassignment:
    """One partition's entry in a ListPartitionReassignments answer."""

    tp: TopicPartition
    replicas: list[int]
    adding: list[int]
    removing: list[int]


def invalid_target(target: Sequence[int], live: Collection[int]) -> str | None:
    """Why a target replica list is refused (INVALID_REPLICA_ASSIGNMENT), or None."""
    if not target:
        return "The replica list is empty."
    if len(set(target)) != len(target):
        return f"Duplicate brokers in replica assignment {list(target)}."
    unknown = [r for r in target if r not in live]
    if unknown:
        return f"Unknown broker(s) in replica assignment: {unknown}."
    return None


def alter_reassignment(
    tp: TopicPartition,
    current: ReplicaAssignment,
    target: Sequence[int] | None,
    live: Collection[int],
) -> ReplicaAssignment | tuple[ErrorCode, str]:
    """AlterPartitionReassignments for one partition: the new assignment, or the error.

    A target starts (or replaces) a reassignment; None cancels the one in progress."""
    if target is None:
        if not current.being_reassigned:
            return ErrorCode.no_reassignment_in_progress, f"No reassignment in progress for {tp}."
        return ReplicaAssignment(current.origin)
    error = invalid_target(target, live)
    if error is not None:
        return ErrorCode.invalid_replica_assignment, error
    return current.reassign_to(target)


def completion_state(
    assignment: ReplicaAssignment, current: LeaderAndIsr | None, live: Collection[int]
) -> LeaderAndIsr | None:
    """The leader and ISR that complete a reassignment, or None while it cannot complete.

    It completes once every target replica is in the ISR and a leader in TRS is available:
    the current leader if it is in TRS and in ``live`` (the brokers not in controlled
    shutdown), else the reassignment election's. The epoch is bumped and the ISR trimmed to
    TRS."""
    target = assignment.target
    if current is None or not all(r in current.isr for r in target):
        return None
    leader = current.leader
    if leader not in target or leader not in live:
        leader = reassignment_leader(target, current.isr, live)
        if leader == NO_LEADER:
            return None
    isr = tuple(r for r in current.isr if r in target)
    return LeaderAndIsr(leader, current.leader_epoch + 1, isr)


def state_after_assignment_change(
    replicas: Sequence[int], current: LeaderAndIsr | None, live: Collection[int]
) -> LeaderAndIsr | None:
    """After the assignment changed (a cancelled reassignment), a leader outside the replicas
    moves to the first live ISR member among them, the ISR shrinking to those members; with
    none, the partition goes offline (leader -1) keeping its ISR. None: nothing to do."""
    if current is None or current.leader in replicas:
        return None
    isr = tuple(r for r in current.isr if r in replicas and r in live)
    leader = isr[0] if isr else NO_LEADER
    return LeaderAndIsr(leader, current.leader_epoch + 1, isr or current.isr)
