"""The controller's election rules (odradek.cluster.elections) on plain data, against the rules
of Kafka's PartitionLeaderElectionAlgorithms and partition state machine."""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from odradek.cluster.elections import (
    NO_LEADER,
    ElectionResult,
    LeaderAndIsr,
    StateChange,
    controlled_shutdown_leader,
    imbalanced_brokers,
    new_partition_state,
    offline_partition_leader,
    partition_state_change,
    preferred_replica_election,
    reassignment_leader,
    unclean_election,
)
from odradek.common.ids import TopicPartition

TP = TopicPartition("t", 0)


# -- offline partition election -------------------------------------------------------------


def test_offline_election_takes_first_live_isr_member_in_assignment_order() -> None:
    # ISR order does not matter, assignment order does.
    assert offline_partition_leader([3, 1, 2], isr=[2, 1], live={1, 2, 3}, unclean=False) == 1


def test_offline_election_skips_dead_isr_members() -> None:
    assert offline_partition_leader([1, 2, 3], isr=[1, 2, 3], live={3}, unclean=False) == 3


def test_offline_election_without_live_isr_member_elects_nobody() -> None:
    assert offline_partition_leader([1, 2, 3], isr=[1], live={2, 3}, unclean=False) == NO_LEADER


def test_offline_election_unclean_takes_first_live_replica() -> None:
    assert offline_partition_leader([1, 2, 3], isr=[1], live={3, 2}, unclean=True) == 2


def test_offline_election_unclean_still_prefers_the_isr() -> None:
    assert offline_partition_leader([1, 2, 3], isr=[3], live={2, 3}, unclean=True) == 3


def test_offline_election_unclean_with_nothing_live_elects_nobody() -> None:
    assert offline_partition_leader([1, 2], isr=[1], live=set(), unclean=True) == NO_LEADER


def test_offline_election_ignores_live_brokers_outside_the_assignment() -> None:
    assert offline_partition_leader([1, 2], isr=[1, 2, 9], live={9}, unclean=True) == NO_LEADER


# -- controlled shutdown and reassignment elections -----------------------------------------


def test_controlled_shutdown_election_moves_off_the_shutting_down_broker() -> None:
    assert controlled_shutdown_leader([1, 2, 3], [1, 2, 3], {1, 2, 3}, shutting_down={1}) == 2


def test_controlled_shutdown_election_needs_a_live_isr_member() -> None:
    assert controlled_shutdown_leader([1, 2, 3], [1, 3], {1, 2}, shutting_down={1}) == NO_LEADER


def test_controlled_shutdown_election_of_the_only_isr_member_elects_nobody() -> None:
    assert controlled_shutdown_leader([1, 2], [1], {1, 2}, shutting_down={1}) == NO_LEADER


def test_reassignment_election_takes_first_target_replica_live_and_in_isr() -> None:
    assert reassignment_leader([4, 5, 6], isr=[1, 6, 5, 4], live={5, 6}) == 5


def test_reassignment_election_without_candidate_elects_nobody() -> None:
    assert reassignment_leader([4, 5], isr=[1, 4, 5], live={1}) == NO_LEADER


# -- new partitions -------------------------------------------------------------------------


def test_new_partition_leader_is_first_live_replica_and_isr_the_live_replicas() -> None:
    assert new_partition_state([3, 1, 2], live={1, 2, 3}, shutting_down=()) == LeaderAndIsr(
        3, 0, (3, 1, 2)
    )
    assert new_partition_state([3, 1, 2], live={1, 2}, shutting_down=()) == LeaderAndIsr(
        1, 0, (1, 2)
    )


def test_new_partition_avoids_shutting_down_brokers() -> None:
    assert new_partition_state([1, 2, 3], {1, 2, 3}, shutting_down={1}) == LeaderAndIsr(
        2, 0, (2, 3)
    )


def test_new_partition_takes_a_shutting_down_broker_rather_than_none() -> None:
    assert new_partition_state([1, 2], {1}, shutting_down={1}) == LeaderAndIsr(1, 0, (1,))


def test_new_partition_without_live_replica_has_no_state() -> None:
    assert new_partition_state([1, 2], {3}, shutting_down=()) is None


# -- the reconciliation pass ----------------------------------------------------------------


def change(
    current: LeaderAndIsr | None,
    live: set[int],
    shutting: set[int] | None = None,
    unclean: bool = False,
    replicas: tuple[int, ...] = (1, 2, 3),
) -> StateChange:
    return partition_state_change(replicas, current, live, shutting or set(), unclean)


def test_reconcile_creates_the_state_of_a_new_partition() -> None:
    assert change(None, {1, 2, 3}) == StateChange(LeaderAndIsr(1, 0, (1, 2, 3)), online=True)


def test_reconcile_leaves_a_new_partition_without_live_replica_offline() -> None:
    assert change(None, {7}) == StateChange(None, online=False)


def test_reconcile_leaves_a_healthy_partition_alone() -> None:
    assert change(LeaderAndIsr(2, 4, (2, 1, 3)), {1, 2, 3}) == StateChange(None, online=True)


def test_reconcile_shrinks_the_isr_of_a_live_leader_without_bumping_the_epoch() -> None:
    assert change(LeaderAndIsr(1, 4, (1, 2, 3)), {1, 3}) == StateChange(
        LeaderAndIsr(1, 4, (1, 3)), online=True
    )


def test_reconcile_removes_shutting_down_followers_from_the_isr() -> None:
    assert change(LeaderAndIsr(1, 4, (1, 2, 3)), {1, 2, 3}, shutting={3}) == StateChange(
        LeaderAndIsr(1, 4, (1, 2)), online=True
    )


def test_reconcile_does_not_touch_the_isr_of_a_leader_outside_it() -> None:
    assert change(LeaderAndIsr(1, 4, (2, 3)), {1, 2}) == StateChange(None, online=True)


def test_reconcile_elects_a_new_leader_from_the_live_isr_when_the_leader_dies() -> None:
    assert change(LeaderAndIsr(1, 4, (3, 1, 2)), {2, 3}) == StateChange(
        LeaderAndIsr(2, 5, (3, 2)), online=True
    )


def test_reconcile_without_live_isr_member_goes_offline_keeping_the_old_leader_in_the_isr() -> None:
    # Kafka keeps the last ISR member so that it can come back as the leader.
    assert change(LeaderAndIsr(1, 4, (1,)), {2, 3}) == StateChange(
        LeaderAndIsr(NO_LEADER, 5, (1,)), online=False
    )
    assert change(LeaderAndIsr(1, 4, (2, 1)), {3}) == StateChange(
        LeaderAndIsr(NO_LEADER, 5, (1,)), online=False
    )


def test_reconcile_offline_keeps_an_isr_the_old_leader_was_not_in() -> None:
    assert change(LeaderAndIsr(1, 4, (2,)), {3}) == StateChange(
        LeaderAndIsr(NO_LEADER, 5, (2,)), online=False
    )


def test_reconcile_leaves_an_offline_partition_offline_without_writing() -> None:
    assert change(LeaderAndIsr(NO_LEADER, 5, (1,)), {2, 3}) == StateChange(None, online=False)


def test_reconcile_brings_an_offline_partition_back_when_an_isr_member_returns() -> None:
    assert change(LeaderAndIsr(NO_LEADER, 5, (1,)), {1, 2}) == StateChange(
        LeaderAndIsr(1, 6, (1,)), online=True
    )


def test_reconcile_unclean_election_only_when_enabled() -> None:
    current = LeaderAndIsr(1, 4, (1,))
    assert change(current, {2, 3}, unclean=True) == StateChange(
        LeaderAndIsr(2, 5, (2,)), online=True, unclean=True
    )
    assert change(current, {2, 3}, unclean=False).new == LeaderAndIsr(NO_LEADER, 5, (1,))


def test_reconcile_clean_election_is_preferred_even_when_unclean_is_enabled() -> None:
    assert change(LeaderAndIsr(1, 4, (1, 3)), {2, 3}, unclean=True) == StateChange(
        LeaderAndIsr(3, 5, (3,)), online=True
    )


def test_reconcile_unclean_election_avoids_shutting_down_brokers() -> None:
    assert change(LeaderAndIsr(1, 4, (1,)), {2, 3}, shutting={2}, unclean=True) == StateChange(
        LeaderAndIsr(3, 5, (3,)), online=True, unclean=True
    )
    assert change(LeaderAndIsr(1, 4, (1,)), {2}, shutting={2}, unclean=True) == StateChange(
        LeaderAndIsr(NO_LEADER, 5, (1,)), online=False
    )


def test_controlled_shutdown_moves_the_leader_and_shrinks_the_isr() -> None:
    assert change(LeaderAndIsr(1, 4, (1, 2, 3)), {1, 2, 3}, shutting={1}) == StateChange(
        LeaderAndIsr(2, 5, (2, 3)), online=True
    )


def test_controlled_shutdown_of_the_only_isr_member_keeps_it_leading() -> None:
    assert change(LeaderAndIsr(1, 4, (1,)), {1, 2, 3}, shutting={1}) == StateChange(
        None, online=True
    )


def test_controlled_shutdown_of_the_only_isr_member_is_never_unclean() -> None:
    assert change(LeaderAndIsr(1, 4, (1,)), {1, 2}, shutting={1}, unclean=True) == StateChange(
        None, online=True
    )


def test_controlled_shutdown_with_other_isr_members_shutting_down_too() -> None:
    assert change(LeaderAndIsr(1, 4, (1, 2)), {1, 2, 3}, shutting={1, 2}) == StateChange(
        None, online=True
    )


# -- ElectLeaders ---------------------------------------------------------------------------


def test_preferred_election_moves_leadership_to_the_first_replica() -> None:
    assert preferred_replica_election(
        TP, [1, 2, 3], LeaderAndIsr(2, 7, (2, 3, 1)), live={1, 2, 3}
    ) == LeaderAndIsr(1, 8, (2, 3, 1))


def test_preferred_election_drops_dead_members_from_the_isr() -> None:
    assert preferred_replica_election(
        TP, [1, 2, 3], LeaderAndIsr(2, 7, (2, 3, 1)), live={1, 2}
    ) == LeaderAndIsr(1, 8, (2, 1))


def test_preferred_election_not_needed_when_the_preferred_replica_leads() -> None:
    result = preferred_replica_election(TP, [1, 2], LeaderAndIsr(1, 7, (1, 2)), live={1, 2})
    assert result == ElectionResult(
        TP, ErrorCode.election_not_needed, "Leader election not needed for topic partition."
    )


def test_preferred_leader_not_in_the_isr_means_no_change() -> None:
    result = preferred_replica_election(TP, [1, 2], LeaderAndIsr(2, 7, (2,)), live={1, 2})
    assert isinstance(result, ElectionResult)
    assert result.error == ErrorCode.preferred_leader_not_available
    assert result.message == (
        "Failed to elect leader for partition t-0 under strategy "
        "PreferredReplicaPartitionLeaderElectionStrategy"
    )


def test_preferred_leader_not_live_means_no_change() -> None:
    result = preferred_replica_election(TP, [1, 2], LeaderAndIsr(2, 7, (1, 2)), live={2})
    assert isinstance(result, ElectionResult)
    assert result.error == ErrorCode.preferred_leader_not_available


def test_unclean_election_not_needed_while_the_leader_is_live() -> None:
    result = unclean_election(TP, [1, 2], LeaderAndIsr(2, 7, (2,)), live={1, 2})
    assert isinstance(result, ElectionResult)
    assert result.error == ErrorCode.election_not_needed


def test_unclean_election_prefers_a_live_isr_member_and_keeps_the_isr() -> None:
    assert unclean_election(TP, [1, 2, 3], LeaderAndIsr(1, 7, (1, 3)), live={2, 3}) == LeaderAndIsr(
        3, 8, (1, 3)
    )


def test_unclean_election_takes_a_live_replica_outside_the_isr() -> None:
    assert unclean_election(
        TP, [1, 2, 3], LeaderAndIsr(NO_LEADER, 7, (1,)), live={3, 2}
    ) == LeaderAndIsr(2, 8, (2,))


def test_unclean_election_without_live_replica() -> None:
    result = unclean_election(TP, [1, 2], LeaderAndIsr(NO_LEADER, 7, (1,)), live={5})
    assert result == ElectionResult(
        TP, ErrorCode.eligible_leaders_not_available, "No live replica to elect."
    )


# -- automatic leader rebalance -------------------------------------------------------------


def tps(*partitions: int) -> list[TopicPartition]:
    return [TopicPartition("t", p) for p in partitions]


def test_rebalance_picks_brokers_over_the_imbalance_percentage() -> None:
    a, b, c, d = tps(0, 1, 2, 3)
    leaders = [(a, 1, 2), (b, 1, 1), (c, 2, 2), (d, 2, 1)]
    # Broker 1: 1 of 2 not led by it (50%); broker 2: 1 of 2 (50%).
    assert imbalanced_brokers(leaders, live={1, 2}, imbalance_pct=10) == {
        1: [a, b],
        2: [c, d],
    }
    assert imbalanced_brokers(leaders, live={1, 2}, imbalance_pct=50) == {}


def test_rebalance_skips_brokers_that_are_not_live() -> None:
    a, b = tps(0, 1)
    assert imbalanced_brokers([(a, 1, 2), (b, 2, 2)], live={2}, imbalance_pct=0) == {}


def test_rebalance_counts_leaderless_but_not_stateless_partitions() -> None:
    a, b, c = tps(0, 1, 2)
    assert imbalanced_brokers([(a, 1, NO_LEADER), (b, 1, 1)], {1}, imbalance_pct=49) == {1: [a, b]}
    assert imbalanced_brokers([(a, 1, None), (b, 1, 1), (c, 1, 1)], {1}, imbalance_pct=0) == {}


def test_balanced_cluster_needs_no_rebalance() -> None:
    a, b = tps(0, 1)
    assert imbalanced_brokers([(a, 1, 1), (b, 2, 2)], live={1, 2}, imbalance_pct=0) == {}
