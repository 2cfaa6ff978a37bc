"""Partition leader elections: the rules of Kafka's ``PartitionLeaderElectionAlgorithms`` and
of the controller's partition state machine, as pure functions over plain data.

Nothing here reads or writes ZooKeeper: each function takes a partition's assignment (the
replica list, preferred replica first), its current leader and ISR (``LeaderAndIsr``), the
live brokers and (where it matters) the brokers in controlled shutdown, and returns the
``LeaderAndIsr`` the controller should write, or why it writes nothing. The controller
(``zk_controller``) does the reading, the fenced writing and the logging.

The rules, in Kafka's vocabulary:

* new partition (NewPartition -> OnlinePartition): leader = first live replica in assignment
  order, ISR = the live replicas, leader epoch 0; brokers in controlled shutdown are avoided
  while any other replica is live;
* offline partition: the first replica, in assignment order, that is live and in the ISR;
  with ``unclean.leader.election.enable``, failing that, the first live replica (the ISR then
  becomes that replica alone); failing both, no leader (-1);
* controlled shutdown: the leadership moves to the first ISR member that is live and not
  shutting down, and the shutting-down broker leaves the ISR; when it is the only ISR member
  it keeps leading;
* preferred replica: the first replica of the assignment, only if it is live and in the ISR;
* reassignment: the first replica of the target assignment that is live and in the ISR;
* automatic leader rebalance (``auto.leader.rebalance.enable``): a live broker whose share of
  partitions, among those it is the preferred replica of, led by another broker exceeds
  ``leader.imbalance.per.broker.percentage`` gets preferred-replica elections for them.

Every leader change bumps the leader epoch.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from kio.schema.errors import ErrorCode

from odradek.common.ids import TopicPartition

NO_LEADER = -1
ELECTION_NOT_NEEDED = "Leader election not needed for topic partition."


@dataclass(frozen=True, slots=True)
class LeaderAndIsr:
    """A partition's leader, leader epoch and in-sync replica set (Kafka's LeaderAndIsr)."""

    leader: int
    leader_epoch: int
    isr: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StateChange:
    """What a reconciliation pass does with one partition.

    ``new`` is the state to write (None: leave the partition as it is); ``online`` says
    whether the partition has a leader afterwards; ``unclean`` marks an unclean election.
    """

    new: LeaderAndIsr | None
    online: bool
    unclean: bool = False


@dataclass(frozen=True, slots=True)
class ElectionResult:
    """The outcome of an ElectLeaders request for one partition."""

    tp: TopicPartition
    error: ErrorCode
    message: str | None = None


# -- the election algorithms ----------------------------------------------------------------


def offline_partition_leader(
    replicas: Sequence[int], isr: Collection[int], live: Collection[int], unclean: bool
) -> int:
    """Kafka's offlinePartitionLeaderElection: the first live ISR member in assignment order;
    with unclean election allowed, else the first live replica; else ``NO_LEADER``."""
    for r in replicas:
        if r in live and r in isr:
            return r
    if unclean:
        for r in replicas:
            if r in live:
                return r
    return NO_LEADER


def controlled_shutdown_leader(
    replicas: Sequence[int],
    isr: Collection[int],
    live: Collection[int],
    shutting_down: Collection[int],
) -> int:
    """Kafka's controlledShutdownPartitionLeaderElection: the first replica that is live, in
    the ISR and not shutting down; ``NO_LEADER`` when there is none."""
    eligible = [r for r in live if r not in shutting_down]
    return offline_partition_leader(replicas, isr, eligible, unclean=False)


def reassignment_leader(target: Sequence[int], isr: Collection[int], live: Collection[int]) -> int:
    """Kafka's reassignPartitionLeaderElection: the first target replica that is live and in
    the ISR; ``NO_LEADER`` when there is none."""
    return offline_partition_leader(target, isr, live, unclean=False)


# -- the partition state machine ------------------------------------------------------------


def new_partition_state(
    replicas: Sequence[int], live: Collection[int], shutting_down: Collection[int]
) -> LeaderAndIsr | None:
    """NewPartition -> OnlinePartition: leader = the first live replica, ISR = the live
    replicas. Brokers in controlled shutdown are left out while any other replica is live (a
    shutting-down broker is better than none). None when no replica is live."""
    alive = [r for r in replicas if r in live]
    preferred = [r for r in alive if r not in shutting_down] or alive
    if not preferred:
        return None
    return LeaderAndIsr(preferred[0], 0, tuple(preferred))


def partition_state_change(
    replicas: Sequence[int],
    current: LeaderAndIsr | None,
    live: Collection[int],
    shutting_down: Collection[int],
    unclean: bool,
) -> StateChange:
    """One partition in one reconciliation pass.

    ``live`` are the registered brokers, ``shutting_down`` those asking for a controlled
    shutdown. A partition without a state gets one. A leader that is live and not shutting
    down keeps its leadership, and the ISR loses its dead and shutting-down members (when the
    leader is in it). A shutting-down leader hands over to another ISR member (controlled
    shutdown election), or keeps leading when there is none. A dead leader is replaced by the
    offline-partition election; with no candidate the partition goes offline (leader -1)
    keeping its last ISR, so that one of its members can come back as leader, or, when the
    old leader was in it, the old leader alone.
    """
    if current is None:
        new = new_partition_state(replicas, live, shutting_down)
        return StateChange(new, online=new is not None)
    eligible = {r for r in live if r not in shutting_down}
    isr_alive = tuple(r for r in current.isr if r in eligible)
    if current.leader in eligible:
        if isr_alive != current.isr and current.leader in isr_alive:
            return StateChange(
                LeaderAndIsr(current.leader, current.leader_epoch, isr_alive), online=True
            )
        return StateChange(None, online=True)
    epoch = current.leader_epoch + 1
    if current.leader in live:  # in controlled shutdown
        leader = controlled_shutdown_leader(replicas, current.isr, live, shutting_down)
        if leader == NO_LEADER:
            return StateChange(None, online=True)  # no other ISR member: it keeps leading
        return StateChange(LeaderAndIsr(leader, epoch, isr_alive), online=True)
    leader = offline_partition_leader(replicas, current.isr, eligible, unclean)
    if leader in isr_alive:
        return StateChange(LeaderAndIsr(leader, epoch, isr_alive), online=True)
    if leader != NO_LEADER:
        return StateChange(LeaderAndIsr(leader, epoch, (leader,)), online=True, unclean=True)
    if current.leader == NO_LEADER:
        return StateChange(None, online=False)
    isr = (current.leader,) if current.leader in current.isr else current.isr
    return StateChange(LeaderAndIsr(NO_LEADER, epoch, isr), online=False)


# -- ElectLeaders requests ------------------------------------------------------------------


def preferred_replica_election(
    tp: TopicPartition, replicas: Sequence[int], current: LeaderAndIsr, live: Collection[int]
) -> LeaderAndIsr | ElectionResult:
    """ElectLeaders PREFERRED for one partition: the new state, or the result to report.

    ``live`` excludes brokers in controlled shutdown. The preferred replica must be live and
    in the ISR; the ISR loses its members that are not live.
    """
    preferred = replicas[0]
    if current.leader == preferred:
        return ElectionResult(tp, ErrorCode.election_not_needed, ELECTION_NOT_NEEDED)
    if preferred not in live or preferred not in current.isr:
        return ElectionResult(
            tp,
            ErrorCode.preferred_leader_not_available,
            f"Failed to elect leader for partition {tp} under strategy "
            "PreferredReplicaPartitionLeaderElectionStrategy",
        )
    isr = tuple(r for r in current.isr if r in live)
    return LeaderAndIsr(preferred, current.leader_epoch + 1, isr)


def unclean_election(
    tp: TopicPartition, replicas: Sequence[int], current: LeaderAndIsr, live: Collection[int]
) -> LeaderAndIsr | ElectionResult:
    """ElectLeaders UNCLEAN for one partition: only when the leader is not live; the first
    live ISR member if any (the ISR is kept), else the first live replica (the ISR becomes
    that replica alone). ``live`` excludes brokers in controlled shutdown."""
    if current.leader in live:
        return ElectionResult(tp, ErrorCode.election_not_needed, ELECTION_NOT_NEEDED)
    leader = offline_partition_leader(replicas, current.isr, live, unclean=False)
    if leader != NO_LEADER:
        return LeaderAndIsr(leader, current.leader_epoch + 1, current.isr)
    leader = offline_partition_leader(replicas, (), live, unclean=True)
    if leader == NO_LEADER:
        return ElectionResult(
            tp, ErrorCode.eligible_leaders_not_available, "No live replica to elect."
        )
    return LeaderAndIsr(leader, current.leader_epoch + 1, (leader,))


# -- automatic leader rebalance -------------------------------------------------------------


def imbalanced_brokers(
    leaders: Iterable[tuple[TopicPartition, int, int | None]],
    live: Collection[int],
    imbalance_pct: int,
) -> dict[int, list[TopicPartition]]:
    """Kafka's checkAndTriggerAutoLeaderRebalance: which partitions to give a preferred-replica
    election, by preferred broker.

    ``leaders`` holds (partition, preferred replica, current leader or None when the partition
    has no state yet); ``live`` are the brokers not in controlled shutdown. A live broker is
    imbalanced when more than ``imbalance_pct`` percent of the partitions it is preferred for
    are led by another broker (or by none); all of those partitions are then returned.
    """
    per_broker: dict[int, list[TopicPartition]] = {}
    not_preferred: dict[int, int] = {}
    for tp, preferred, leader in leaders:
        per_broker.setdefault(preferred, []).append(tp)
        if leader is not None and leader != preferred:
            not_preferred[preferred] = not_preferred.get(preferred, 0) + 1
    return {
        broker: per_broker[broker]
        for broker, count in not_preferred.items()
        if broker in live and count * 100 / len(per_broker[broker]) > imbalance_pct
    }
