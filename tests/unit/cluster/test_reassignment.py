"""The reassignment steps (odradek.cluster.reassignment) on plain data, against KIP-455:
RS = TRS + ORS while the new replicas catch up, completion once TRS is in the ISR."""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from odradek.cluster.elections import NO_LEADER, LeaderAndIsr
from odradek.cluster.reassignment import (
    ReplicaAssignment,
    alter_reassignment,
    completion_state,
    invalid_target,
    state_after_assignment_change,
)
from odradek.common.ids import TopicPartition

TP = TopicPartition("t", 0)


# -- ReplicaAssignment ----------------------------------------------------------------------


def test_a_plain_assignment_is_not_being_reassigned() -> None:
    assignment = ReplicaAssignment((1, 2, 3))
    assert not assignment.being_reassigned
    assert assignment.origin == assignment.target == (1, 2, 3)


def test_reassign_to_puts_the_target_first_then_the_original_replicas() -> None:
    # Kafka's ReplicaAssignment.reassignTo: RS = TRS ++ ORS, AR = TRS -- ORS, RR = ORS -- TRS.
    moving = ReplicaAssignment((1, 2, 3)).reassign_to([4, 2, 5])
    assert moving == ReplicaAssignment((4, 2, 5, 1, 3), adding=(4, 5), removing=(1, 3))
    assert moving.being_reassigned
    assert moving.origin == (2, 1, 3)
    assert moving.target == (4, 2, 5)


def test_reassign_to_a_reordering_only_is_not_a_reassignment() -> None:
    assert ReplicaAssignment((1, 2, 3)).reassign_to([3, 1, 2]) == ReplicaAssignment((3, 1, 2))


def test_reassign_to_the_original_replicas_cancels() -> None:
    moving = ReplicaAssignment((4, 1, 2), adding=(4,), removing=(2,))
    assert moving.reassign_to(moving.origin) == ReplicaAssignment((1, 2))


def test_a_new_reassignment_replaces_the_one_in_progress_from_the_original_replicas() -> None:
    moving = ReplicaAssignment((4, 1, 2), adding=(4,), removing=(2,))
    assert moving.reassign_to([5, 1]) == ReplicaAssignment((5, 1, 2), adding=(5,), removing=(2,))


# -- AlterPartitionReassignments ------------------------------------------------------------


def test_alter_starts_a_reassignment() -> None:
    assert alter_reassignment(TP, ReplicaAssignment((1, 2)), [2, 3], live={1, 2, 3}) == (
        ReplicaAssignment((2, 3, 1), adding=(3,), removing=(1,))
    )


def test_alter_cancels_back_to_the_original_replicas() -> None:
    moving = ReplicaAssignment((2, 3, 1), adding=(3,), removing=(1,))
    assert alter_reassignment(TP, moving, None, live={1, 2, 3}) == ReplicaAssignment((2, 1))


def test_alter_cancel_without_reassignment_in_progress() -> None:
    assert alter_reassignment(TP, ReplicaAssignment((1, 2)), None, live={1, 2}) == (
        ErrorCode.no_reassignment_in_progress,
        "No reassignment in progress for t-0.",
    )


def test_alter_refuses_invalid_targets() -> None:
    current = ReplicaAssignment((1, 2))
    assert alter_reassignment(TP, current, [], live={1, 2}) == (
        ErrorCode.invalid_replica_assignment,
        "The replica list is empty.",
    )
    assert alter_reassignment(TP, current, [1, 1], live={1, 2}) == (
        ErrorCode.invalid_replica_assignment,
        "Duplicate brokers in replica assignment [1, 1].",
    )
    assert alter_reassignment(TP, current, [1, 7, 8], live={1, 2}) == (
        ErrorCode.invalid_replica_assignment,
        "Unknown broker(s) in replica assignment: [7, 8].",
    )


def test_valid_target() -> None:
    assert invalid_target([3, 1], live={1, 2, 3}) is None


# -- completion -----------------------------------------------------------------------------

MOVING = ReplicaAssignment((3, 4, 1, 2), adding=(3, 4), removing=(1, 2))  # (1, 2) -> (3, 4)


def test_no_completion_while_a_target_replica_is_outside_the_isr() -> None:
    assert completion_state(MOVING, LeaderAndIsr(1, 5, (1, 2, 3)), live={1, 2, 3, 4}) is None


def test_no_completion_without_a_partition_state() -> None:
    assert completion_state(MOVING, None, live={1, 2, 3, 4}) is None


def test_completion_elects_from_the_target_and_trims_the_isr() -> None:
    assert completion_state(
        MOVING, LeaderAndIsr(1, 5, (1, 4, 2, 3)), live={1, 2, 3, 4}
    ) == LeaderAndIsr(3, 6, (4, 3))


def test_completion_elects_the_first_target_replica_that_is_live() -> None:
    assert completion_state(
        MOVING, LeaderAndIsr(1, 5, (1, 2, 3, 4)), live={1, 2, 4}
    ) == LeaderAndIsr(4, 6, (3, 4))


def test_completion_keeps_a_live_leader_in_the_target_but_bumps_the_epoch() -> None:
    assert completion_state(
        MOVING, LeaderAndIsr(4, 5, (1, 2, 3, 4)), live={1, 2, 3, 4}
    ) == LeaderAndIsr(4, 6, (3, 4))


def test_completion_moves_a_leader_in_the_target_that_is_not_live() -> None:
    # e.g. in controlled shutdown: ``live`` is what the controller calls eligible.
    assert completion_state(
        MOVING, LeaderAndIsr(4, 5, (1, 2, 3, 4)), live={1, 2, 3}
    ) == LeaderAndIsr(3, 6, (3, 4))


def test_no_completion_when_no_target_replica_can_lead() -> None:
    assert completion_state(MOVING, LeaderAndIsr(1, 5, (1, 2, 3, 4)), live={1, 2}) is None


def test_completion_of_a_pure_addition() -> None:
    growing = ReplicaAssignment((1, 2, 3), adding=(3,))
    assert completion_state(growing, LeaderAndIsr(1, 2, (1, 2, 3)), live={1, 2, 3}) == (
        LeaderAndIsr(1, 3, (1, 2, 3))
    )


# -- after a cancellation -------------------------------------------------------------------


def test_nothing_to_do_when_the_leader_is_still_a_replica() -> None:
    assert state_after_assignment_change([1, 2], LeaderAndIsr(2, 5, (2, 3)), {1, 2, 3}) is None
    assert state_after_assignment_change([1, 2], None, {1, 2}) is None


def test_a_leader_left_outside_the_replicas_moves_to_a_live_isr_member() -> None:
    assert state_after_assignment_change(
        [1, 2], LeaderAndIsr(3, 5, (3, 2, 1)), live={1, 2, 3}
    ) == LeaderAndIsr(2, 6, (2, 1))


def test_without_live_isr_member_among_the_replicas_the_partition_goes_offline() -> None:
    assert state_after_assignment_change(
        [1, 2], LeaderAndIsr(3, 5, (3, 1)), live={2, 3}
    ) == LeaderAndIsr(NO_LEADER, 6, (3, 1))
