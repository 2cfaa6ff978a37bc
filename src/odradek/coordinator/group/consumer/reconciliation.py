"""A member's next assignment on its way to its target (Kafka's CurrentAssignmentBuilder).

The rules that make KIP-848 rebalances incremental:

* a partition the member keeps stays assigned; one leaving its target is put *pending
  revocation* and the member stays at its epoch, in ``UNREVOKED_PARTITIONS``, until a
  heartbeat's owned partitions show none of them (or the rebalance timeout fences it); a
  member whose request already shows none of them (e.g. an eager classic member, which
  revokes everything before it rejoins) moves on at once;
* a partition entering its target is assigned only once no other member holds it (assigned
  or pending revocation); until then the member is at the new epoch in
  ``UNRELEASED_PARTITIONS`` and picks the partition up on a later heartbeat;
* with nothing to revoke or wait for the member is ``STABLE`` at the assignment epoch.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from odradek.coordinator.group.consumer.model import (
    Assignment,
    ConsumerGroupMember,
    MemberState,
    difference,
    intersection,
)


@dataclass(frozen=True, slots=True)
class MemberAssignment:
    """The reconciliation-relevant part of a member."""

    member_epoch: int
    previous_member_epoch: int
    state: MemberState
    assigned: Assignment
    pending_revocation: Assignment


def current(member: ConsumerGroupMember) -> MemberAssignment:
    return MemberAssignment(
        member.member_epoch,
        member.previous_member_epoch,
        member.state,
        member.assigned,
        member.pending_revocation,
    )


def next_assignment(
    member: ConsumerGroupMember,
    target_epoch: int,
    target: Assignment,
    owned: Assignment | None,
    owners: dict[tuple[uuid.UUID, int], str],
) -> MemberAssignment:
    """Where ``member`` goes given its target at ``target_epoch``; ``owned`` is what its
    heartbeat says it holds (None: not sent, so assumed unchanged)."""
    if member.state is MemberState.UNREVOKED_PARTITIONS:
        if _still_owns(member.pending_revocation, owned):
            return current(member)
        return _compute(member, target_epoch, target, owned, owners)
    if member.state is MemberState.UNRELEASED_PARTITIONS or member.member_epoch != target_epoch:
        return _compute(member, target_epoch, target, owned, owners)
    return current(member)


def _still_owns(revoking: Assignment, owned: Assignment | None) -> bool:
    if owned is None:
        return True
    return bool(intersection(revoking, owned))


def _compute(
    member: ConsumerGroupMember,
    target_epoch: int,
    target: Assignment,
    owned: Assignment | None,
    owners: dict[tuple[uuid.UUID, int], str],
) -> MemberAssignment:
    kept = intersection(member.assigned, target)
    revoking = difference(member.assigned, target)
    wanted = difference(target, member.assigned)
    assigned: dict[uuid.UUID, frozenset[int]] = dict(kept)
    unreleased = False
    for topic_id, partitions in wanted.items():
        free = frozenset(
            p for p in partitions if owners.get((topic_id, p), member.member_id) == member.member_id
        )
        unreleased = unreleased or free != partitions
        if free:
            assigned[topic_id] = assigned.get(topic_id, frozenset()) | free
    if revoking and _still_owns(revoking, owned):
        return MemberAssignment(
            member.member_epoch,
            member.previous_member_epoch,
            MemberState.UNREVOKED_PARTITIONS,
            kept,
            revoking,
        )
    epoch_moved = member.member_epoch != target_epoch
    previous = member.member_epoch if epoch_moved else member.previous_member_epoch
    state = MemberState.UNRELEASED_PARTITIONS if unreleased else MemberState.STABLE
    return MemberAssignment(target_epoch, previous, state, assigned, {})
