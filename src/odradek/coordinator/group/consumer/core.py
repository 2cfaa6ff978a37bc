"""What the two ways into a consumer group share (the common half of Kafka's
GroupMetadataManager for consumer groups): the subscription metadata and the target
assignment, one member's step towards its target, removing and fencing a member, the
members' timers, and appending a request's records.

A consumer-protocol member comes in through ConsumerGroupHeartbeat (:mod:`.manager`); a
member of a converted classic group keeps speaking JoinGroup, SyncGroup and Heartbeat
(:mod:`.classic_members`). Both move towards their target with the same reconciliation, so a
partition moving between a classic member and a consumer member is still revoked by one
before it is assigned to the other.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Protocol

from odradek.common.writes import InternalWrite
from odradek.coordinator.group.consumer import records as crec
from odradek.coordinator.group.consumer.assignors import ASSIGNORS, MemberSubscription
from odradek.coordinator.group.consumer.model import (
    Assignment,
    ConsumerGroup,
    ConsumerGroupMember,
    MemberState,
    Requester,
)
from odradek.coordinator.group.consumer.reconciliation import (
    MemberAssignment,
    current,
    next_assignment,
)
from odradek.coordinator.group.metadata_manager import GroupMetadataManager
from odradek.coordinator.group.model import CoordinatorContext
from odradek.coordinator.group.state import GroupMetadata

log = logging.getLogger(__name__)


class Migration(Protocol):
    """KIP-848's online migration (:mod:`odradek.coordinator.group.migration`): a classic
    group a consumer-protocol member joins becomes a consumer group, and a consumer group
    whose last consumer-protocol member leaves becomes a classic group again."""

    def can_upgrade(self, shell: GroupMetadata) -> bool: ...

    def upgrade(self, shell: GroupMetadata, records: list[crec.Record]) -> Callable[[], None]: ...

    def can_downgrade(self, group: ConsumerGroup, leaving_member_id: str | None) -> bool: ...

    def downgrade(
        self,
        group: ConsumerGroup,
        leaving_member_id: str | None,
        records: list[crec.Record] | None = None,
    ) -> InternalWrite | None: ...


class ConsumerGroupCore:
    def __init__(self, context: CoordinatorContext, metadata: GroupMetadataManager) -> None:
        self.context = context
        self.metadata = metadata
        self.migration: Migration | None = None

    # -- lookups ------------------------------------------------------------------------------

    def group(self, group_id: str) -> ConsumerGroup | None:
        shell = self.metadata.groups.get(group_id)
        return shell.consumer if shell is not None else None

    def groups(self) -> Iterable[ConsumerGroup]:
        for shell in self.metadata.groups.values():
            if shell.consumer is not None:
                yield shell.consumer

    def append(self, group_id: str, records: list[crec.Record]) -> InternalWrite | None:
        if not records:
            return None
        return self.context.writer.append_group_records(
            self.context.partition_for(group_id), records
        )

    # -- subscriptions and the target assignment ----------------------------------------------

    def member_topics(self, group: ConsumerGroup, member: ConsumerGroupMember) -> set[str]:
        """The topic names a member subscribes to: its names, and (KIP-848 regex
        subscriptions) every non-internal topic its regex matches in full, once the group
        has resolved that regex, that the group's regex requester may DESCRIBE."""
        names = set(member.subscribed_topic_names)
        regex = member.subscribed_topic_regex
        if regex and regex in group.resolved_regexes:
            pattern = re.compile(regex)
            names |= self._describable(
                group,
                {
                    name
                    for name in self.context.topics.topic_names()
                    if not name.startswith("__") and pattern.fullmatch(name)
                },
            )
        return names

    def _describable(self, group: ConsumerGroup, matches: set[str]) -> set[str]:
        """A regex's ``matches`` less the topics the group's regex requester may not
        DESCRIBE (Kafka 4.0, KAFKA-18813: a member must not learn of topics it may not see
        through a regex). A group just loaded has none until its next heartbeat: it keeps
        the topics it subscribed to before, which were authorized then."""
        authorizer = self.context.topic_authorizer
        if authorizer is None:
            return matches
        if group.regex_requester is None:
            return matches & group.subscription_metadata.keys()
        return set(authorizer.describable(group.regex_requester, matches))

    @staticmethod
    def resolve_regexes(
        group: ConsumerGroup, requester: Requester | None, brought: str | None
    ) -> None:
        """After a heartbeat: the group's regexes count from its next heartbeat on, as
        Kafka's asynchronous resolution answers a new regex's topics a heartbeat after the
        literal ones. When the heartbeat ``brought`` a regex the group had not resolved, or
        the group was just loaded, they are resolved in its sender's name (Kafka refreshes
        all of a group's regexes in the context of the heartbeat that needed it)."""
        refresh = (brought and brought not in group.resolved_regexes) or (
            group.regex_requester is None
        )
        group.resolved_regexes = {
            m.subscribed_topic_regex for m in group.members.values() if m.subscribed_topic_regex
        }
        if refresh and requester is not None:
            group.regex_requester = requester

    def subscription_metadata(self, group: ConsumerGroup) -> crec.SubscriptionMetadata:
        """Topic id and partition count of every existing topic the group subscribes to."""
        result: crec.SubscriptionMetadata = {}
        names: set[str] = set()
        for member in group.members.values():
            names |= self.member_topics(group, member)
        for name in names:
            found = self.context.topics.topic(name)
            if found is not None:
                result[name] = found
        return result

    def update_target(self, group: ConsumerGroup, bump: bool, records: list[crec.Record]) -> None:
        """Bump the group epoch when membership, a subscription or the subscribed topics'
        metadata changed; recompute the target assignment when the epoch is ahead of it."""
        if self._update_subscription_metadata(group, records):
            bump = True
        if bump:
            group.group_epoch += 1
            records.append(crec.group_epoch_record(group.group_id, group.group_epoch))
        if group.group_epoch > group.assignment_epoch:
            self._compute_target(group, records)

    def _update_subscription_metadata(
        self, group: ConsumerGroup, records: list[crec.Record]
    ) -> bool:
        """Recompute the subscribed topics' metadata; when it changed, store it (a
        ConsumerGroupPartitionMetadata record, so a reloaded group knows what its epoch was
        bumped for) and say so: the group epoch must then bump."""
        subscription = self.subscription_metadata(group)
        if subscription == group.subscription_metadata:
            return False
        group.subscription_metadata = subscription
        records.append(crec.partition_metadata_record(group.group_id, subscription))
        return True

    def _compute_target(self, group: ConsumerGroup, records: list[crec.Record]) -> None:
        assignor = ASSIGNORS[group.preferred_assignor(self.context.config.consumer_assignors[0])]
        metadata = group.subscription_metadata
        specs = {
            member.member_id: MemberSubscription(
                frozenset(
                    metadata[name][0]
                    for name in self.member_topics(group, member)
                    if name in metadata
                ),
                member.instance_id,
                group.target.get(member.member_id, {}),
            )
            for member in group.members.values()
        }
        target = assignor(specs, dict(metadata.values()))
        for member_id, assignment in target.items():
            if group.target.get(member_id) != assignment:
                records.append(
                    crec.target_assignment_member_record(group.group_id, member_id, assignment)
                )
        group.target = target
        group.assignment_epoch = group.group_epoch
        records.append(crec.target_assignment_epoch_record(group.group_id, group.group_epoch))

    def reconcile(
        self,
        group: ConsumerGroup,
        member: ConsumerGroupMember,
        owned: Assignment | None,
        records: list[crec.Record],
    ) -> bool:
        """Move ``member`` one step towards its target (``owned``: what it says it holds, None
        when it did not say); True when its assignment changed."""
        before = current(member)
        after = next_assignment(
            member,
            group.assignment_epoch,
            group.target.get(member.member_id, {}),
            owned,
            group.owners(),
        )
        if after == before:
            return False
        apply(member, after)
        records.append(crec.current_record(group.group_id, member))
        return True

    # -- leaving and fencing ------------------------------------------------------------------

    def remove_member(
        self, group: ConsumerGroup, member: ConsumerGroupMember
    ) -> InternalWrite | None:
        """The member leaves or is fenced: its records' tombstones and a group epoch bump,
        so the others get its partitions. When it was the last member speaking the consumer
        protocol beside classic ones, the group becomes a classic group instead (KIP-848's
        online downgrade, if the migration policy allows it)."""
        migration = self.migration
        if (
            not member.uses_classic_protocol
            and migration is not None
            and migration.can_downgrade(group, member.member_id)
        ):
            member.cancel_timers()
            return migration.downgrade(group, member.member_id)
        member.cancel_timers()
        group.members.pop(member.member_id, None)
        group.target.pop(member.member_id, None)
        if member.instance_id is not None:
            group.static_members.pop(member.instance_id, None)
        records = crec.member_tombstones(group.group_id, member.member_id)
        # As Kafka: the subscription metadata without the member, then the epoch bump.
        self._update_subscription_metadata(group, records)
        group.group_epoch += 1
        records.append(crec.group_epoch_record(group.group_id, group.group_epoch))
        return self.append(group.group_id, records)

    def fence(self, group_id: str, member_id: str, why: str) -> Callable[[], None]:
        def fence() -> None:
            group = self.group(group_id)
            member = group.members.get(member_id) if group is not None else None
            if group is not None and member is not None:
                log.info("%s: member %s of group %s fenced", why, member_id, group_id)
                self.remove_member(group, member)

        return fence

    # -- timers -------------------------------------------------------------------------------

    def schedule_session_timeout(self, group: ConsumerGroup, member: ConsumerGroupMember) -> None:
        """A member is removed unless it is heard from within its session timeout: the
        group's for a consumer-protocol member (its ``consumer.session.timeout.ms`` group
        config, else the broker's), its JoinGroup's for a classic one."""
        if member.session_timer is not None:
            member.session_timer.cancel()
        timeout = self.context.consumer_session_timeout_ms(group.group_id)
        if member.classic is not None:
            timeout = member.classic.session_timeout_ms
        member.session_timer = self.context.scheduler.call_later(
            timeout, self.fence(group.group_id, member.member_id, "session timeout")
        )

    def schedule_rebalance_timeout(self, group: ConsumerGroup, member: ConsumerGroupMember) -> None:
        """A consumer-protocol member asked to revoke partitions must do so within its
        rebalance timeout (a classic member has its join and sync timeouts instead)."""
        if member.state is not MemberState.UNREVOKED_PARTITIONS or member.uses_classic_protocol:
            member.cancel_rebalance_timer()
        elif member.rebalance_timer is None:
            member.rebalance_timer = self.context.scheduler.call_later(
                max(member.rebalance_timeout_ms, 0),
                self.fence(group.group_id, member.member_id, "rebalance timeout"),
            )

    def schedule_classic_timeout(
        self, group: ConsumerGroup, member: ConsumerGroupMember, why: str, replace: bool
    ) -> None:
        """A classic member told to rejoin must join, and one that joined must sync, within
        its rebalance timeout (Kafka's join and sync timeouts); ``replace``: restart a
        running one."""
        if member.classic_timer is not None:
            if not replace:
                return
            member.classic_timer.cancel()
        member.classic_timer = self.context.scheduler.call_later(
            max(member.rebalance_timeout_ms, 0), self.fence(group.group_id, member.member_id, why)
        )


def apply(member: ConsumerGroupMember, after: MemberAssignment) -> None:
    member.member_epoch = after.member_epoch
    member.previous_member_epoch = after.previous_member_epoch
    member.state = after.state
    member.assigned = after.assigned
    member.pending_revocation = after.pending_revocation


def snapshot_of(group: ConsumerGroup) -> ConsumerGroup:
    """A copy to restore when a request's write fails (timers are shared, not copied)."""
    return replace(
        group,
        members={m_id: replace(m) for m_id, m in group.members.items()},
        static_members=dict(group.static_members),
        target=dict(group.target),
        subscription_metadata=dict(group.subscription_metadata),
        resolved_regexes=set(group.resolved_regexes),
    )
