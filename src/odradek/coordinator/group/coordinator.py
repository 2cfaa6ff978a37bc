"""The classic group coordinator: the entry points the broker calls (Kafka's GroupCoordinator
API, and the GroupCoordinatorShard that combines the managers and replays the log).

Sans-IO: delayed responses (JoinGroup, SyncGroup) are callbacks; time is an injected clock;
timers (session expiry, rebalance deadlines) go through an injected scheduler; durability
goes through a writer that appends records to ``__consumer_offsets`` and returns the write
(an :class:`InternalWrite`) that a response must wait for: the calls of a request add theirs
to that request's ``writes``, and JoinGroup/SyncGroup results carry theirs, so every member's
response waits until the in-sync replicas have the group's state.

The work is split along Kafka's seams:

* :mod:`.membership` — JoinGroup, SyncGroup, Heartbeat, LeaveGroup, static membership;
* :mod:`.rebalance` — the rebalance and its timers (session expiry, rebalance deadline,
  initial delay);
* :mod:`.metadata_manager` — the groups and their group-metadata records (GroupMetadataManager);
* :mod:`.offset_manager` — committed and transactional offsets, deletion and expiry
  (OffsetMetadataManager).

What needs both managers stays here: deleting a group (its offsets' tombstones and its own in
one append), expiring offsets and then empty groups, and :meth:`GroupCoordinator.replay`,
which hands each ``__consumer_offsets`` record to the manager that wrote it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kio.schema.errors import ErrorCode

from odradek.common.clock import Clock
from odradek.common.errors import KafkaError
from odradek.common.writes import InternalWrite, PendingWrites
from odradek.coordinator.group import records as rec
from odradek.coordinator.group.consumer import records as crec
from odradek.coordinator.group.consumer.classic_members import ClassicJoin, ClassicMembers
from odradek.coordinator.group.consumer.core import ConsumerGroupCore
from odradek.coordinator.group.consumer.manager import (
    ConsumerGroupManager,
    HeartbeatRequest,
    HeartbeatResult,
)
from odradek.coordinator.group.consumer.model import ConsumerGroup
from odradek.coordinator.group.membership import GroupMembership
from odradek.coordinator.group.metadata_manager import GroupMetadataManager
from odradek.coordinator.group.migration import GroupMigration
from odradek.coordinator.group.model import (
    CoordinatorContext,
    GroupConfig,
    GroupConfigLookup,
    GroupDescription,
    JoinResult,
    OffsetCommit,
    OffsetsWriter,
    Protocols,
    Scheduler,
    SyncResult,
    TimerHandle,
    TopicPartitionKey,
    TopicsView,
)
from odradek.coordinator.group.offset_manager import OffsetMetadataManager, offset_tombstones
from odradek.coordinator.group.rebalance import Rebalancer
from odradek.coordinator.group.state import GroupMetadata, GroupState

__all__ = [
    "GroupConfig",
    "GroupCoordinator",
    "GroupDescription",
    "HeartbeatRequest",
    "HeartbeatResult",
    "JoinResult",
    "OffsetCommit",
    "OffsetsWriter",
    "Scheduler",
    "SyncResult",
    "TimerHandle",
]

E = ErrorCode


class GroupCoordinator:
    def __init__(
        self,
        config: GroupConfig,
        clock: Clock,
        scheduler: Scheduler,
        writer: OffsetsWriter,
        topics: TopicsView | None = None,
        group_configs: GroupConfigLookup | None = None,
    ) -> None:
        self.context = CoordinatorContext(config, clock, scheduler, writer)
        if topics is not None:
            self.context.topics = topics
        if group_configs is not None:  # KIP-848's dynamic group configs
            self.context.group_configs = group_configs
        self.metadata = GroupMetadataManager(self.context)
        core = ConsumerGroupCore(self.context, self.metadata)
        self.consumer = ConsumerGroupManager(core)
        self.rebalancer = Rebalancer(self.context, self.metadata)
        self.classic_members = ClassicMembers(core)
        core.migration = GroupMigration(self.context, core, self.rebalancer)
        self.membership = GroupMembership(self.context, self.metadata, self.rebalancer)
        self.offsets = OffsetMetadataManager(self.context, self.metadata, self.rebalancer)

    @property
    def config(self) -> GroupConfig:
        return self.context.config

    @config.setter
    def config(self, config: GroupConfig) -> None:
        """E.g. the number of offsets partitions, once the topic is found."""
        self.context.config = config

    @property
    def groups(self) -> dict[str, GroupMetadata]:
        return self.metadata.groups

    def partition_for(self, group_id: str) -> int:
        return self.context.partition_for(group_id)

    # -- membership ---------------------------------------------------------------------------

    def join_group(
        self,
        group_id: str,
        member_id: str,
        instance_id: str | None,
        client_id: str,
        client_host: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: Protocols,
        require_known_member_id: bool,
        callback: Callable[[JoinResult], None],
    ) -> None:
        shell = self.metadata.groups.get(group_id)
        if shell is not None and shell.consumer is not None:
            if shell.consumer.members:
                # A classic member of a consumer group (KIP-848's migration).
                join = ClassicJoin(
                    member_id,
                    instance_id,
                    client_id,
                    client_host,
                    session_timeout_ms,
                    rebalance_timeout_ms,
                    protocol_type,
                    protocols,
                    require_known_member_id,
                )
                callback(self.classic_members.join_group(shell.consumer, join))
                return
            self._drop_consumer_group(shell)
        self.membership.join_group(
            group_id,
            member_id,
            instance_id,
            client_id,
            client_host,
            session_timeout_ms,
            rebalance_timeout_ms,
            protocol_type,
            protocols,
            require_known_member_id,
            callback,
        )

    def sync_group(
        self,
        group_id: str,
        generation_id: int,
        member_id: str,
        instance_id: str | None,
        protocol_type: str | None,
        protocol_name: str | None,
        assignments: dict[str, bytes],
        callback: Callable[[SyncResult], None],
    ) -> None:
        consumer = self.consumer.group(group_id)
        if consumer is not None:
            callback(
                self.classic_members.sync_group(
                    consumer, generation_id, member_id, instance_id, protocol_type, protocol_name
                )
            )
            return
        self.membership.sync_group(
            group_id,
            generation_id,
            member_id,
            instance_id,
            protocol_type,
            protocol_name,
            assignments,
            callback,
        )

    def heartbeat(
        self, group_id: str, generation_id: int, member_id: str, instance_id: str | None
    ) -> ErrorCode:
        consumer = self.consumer.group(group_id)
        if consumer is not None:
            return self.classic_members.heartbeat(consumer, generation_id, member_id, instance_id)
        return self.membership.heartbeat(group_id, generation_id, member_id, instance_id)

    def leave_group(
        self,
        group_id: str,
        leaving: list[tuple[str, str | None]],
        writes: PendingWrites | None = None,
    ) -> tuple[ErrorCode, list[tuple[str, str | None, ErrorCode]]]:
        consumer = self.consumer.group(group_id)
        if consumer is not None:
            results, appended = self.classic_members.leave_group(consumer, leaving)
            for write in appended:
                if writes is not None:
                    writes.add(write)
            return E.none, results
        return self.membership.leave_group(group_id, leaving)

    # -- consumer groups (KIP-848) ------------------------------------------------------------

    def consumer_group_heartbeat(self, request: HeartbeatRequest) -> HeartbeatResult:
        return self.consumer.heartbeat(request)

    def consumer_group(self, group_id: str) -> ConsumerGroup | None:
        return self.consumer.group(group_id)

    def _drop_consumer_group(self, shell: GroupMetadata) -> InternalWrite | None:
        """An empty consumer group's own records removed; its offsets stay with the id."""
        assert shell.consumer is not None
        write = self.context.writer.append_group_records(
            self.context.partition_for(shell.group_id),
            self.consumer.group_tombstones(shell.consumer),
        )
        shell.consumer = None
        return write

    # -- offsets ------------------------------------------------------------------------------

    def commit_offsets(
        self,
        group_id: str,
        member_id: str,
        instance_id: str | None,
        generation_id: int,
        offsets: dict[TopicPartitionKey, OffsetCommit],
        writes: PendingWrites | None = None,
    ) -> dict[TopicPartitionKey, ErrorCode]:
        return self.offsets.commit_offsets(
            group_id, member_id, instance_id, generation_id, offsets, writes
        )

    def txn_commit_offsets(
        self,
        group_id: str,
        producer_id: int,
        producer_epoch: int,
        member_id: str,
        instance_id: str | None,
        generation_id: int,
        offsets: dict[TopicPartitionKey, OffsetCommit],
        writes: PendingWrites | None = None,
    ) -> dict[TopicPartitionKey, ErrorCode]:
        return self.offsets.txn_commit_offsets(
            group_id,
            producer_id,
            producer_epoch,
            member_id,
            instance_id,
            generation_id,
            offsets,
            writes,
        )

    def complete_txn(self, partition: int, producer_id: int, commit: bool) -> None:
        """A transaction marker reached offsets partition ``partition``."""
        self.offsets.complete_txn(partition, producer_id, commit)

    def has_pending_offsets(self, group_id: str, key: TopicPartitionKey) -> bool:
        return self.offsets.has_pending_offsets(group_id, key)

    def fetch_offsets(
        self, group_id: str, partitions: list[TopicPartitionKey] | None
    ) -> dict[TopicPartitionKey, rec.OffsetValue | None]:
        return self.offsets.fetch_offsets(group_id, partitions)

    def delete_offsets(
        self,
        group_id: str,
        partitions: list[TopicPartitionKey],
        writes: PendingWrites | None = None,
    ) -> tuple[ErrorCode, dict[TopicPartitionKey, ErrorCode]]:
        return self.offsets.delete_offsets(group_id, partitions, writes)

    def expire_offsets(self) -> int:
        """Drop committed offsets of empty groups older than offsets.retention.minutes; an
        Empty group left without offsets is deleted (Kafka's cleanupGroupMetadata)."""
        expired_total = 0
        for group in list(self.metadata.groups.values()):
            if group.state is not GroupState.EMPTY:
                continue
            if group.consumer is not None and group.consumer.members:
                continue
            expired_total += self.offsets.expire_offsets(group)
            if not group.offsets and group.is_empty and group.generation_id >= 0:
                self._delete_group(group)
        return expired_total

    # -- listing, describing, deleting --------------------------------------------------------

    def list_groups(self, states: Iterable[str] | None = None) -> list[tuple[str, str, str]]:
        """(group id, protocol type, state) of the groups in ``states`` (any when None)."""
        return [(g, p, s) for g, p, s, _ in self.metadata.list_groups(states)]

    def list_typed_groups(
        self, states: Iterable[str] | None = None, types: Iterable[str] | None = None
    ) -> list[tuple[str, str, str, str]]:
        """ListGroups v5: (group id, protocol type, state, group type) of the groups in
        ``states`` of ``types`` ("classic", "consumer"); None: any."""
        return self.metadata.list_groups(states, types)

    def describe_group(self, group_id: str) -> GroupDescription:
        return self.metadata.describe_group(group_id)

    def delete_groups(
        self, group_ids: list[str], writes: PendingWrites | None = None
    ) -> dict[str, ErrorCode]:
        results = {}
        for group_id in group_ids:
            group = self.metadata.groups.get(group_id)
            if group is None or group.state is GroupState.DEAD:
                results[group_id] = E.group_id_not_found
            elif group.state is not GroupState.EMPTY or (
                group.consumer is not None and group.consumer.members
            ):
                results[group_id] = E.non_empty_group
            else:
                try:
                    write = self._delete_group(group)
                    if writes is not None:
                        writes.add(write)
                    results[group_id] = E.none
                except KafkaError as exc:
                    results[group_id] = exc.error_code
        return results

    def _delete_group(self, group: GroupMetadata) -> InternalWrite | None:
        """One append: a tombstone for each of the group's offsets, then the group's own."""
        records = offset_tombstones(group, group.offsets)
        if group.consumer is not None:
            records.extend(self.consumer.group_tombstones(group.consumer))
        records.append(rec.group_tombstone(group.group_id))
        write = self.context.writer.append_group_records(
            self.context.partition_for(group.group_id), records
        )
        self.metadata.remove_group(group)
        return write

    # -- loading and unloading ----------------------------------------------------------------

    def replay(self, key_bytes: bytes, value_bytes: bytes | None, producer_id: int = -1) -> None:
        """Apply one ``__consumer_offsets`` record while loading (latest record wins); records
        of a transaction stay pending until its marker is replayed (:meth:`complete_txn`)."""
        if crec.key_type(key_bytes) in crec.RECORD_TYPES:
            self.consumer.replay(key_bytes, value_bytes)
            return
        key = rec.decode_key(key_bytes)
        if isinstance(key, rec.OffsetKey):
            self.offsets.replay_offset_commit(key, value_bytes, producer_id)
        elif isinstance(key, rec.GroupKey):
            self.metadata.replay_group_metadata(key.group, value_bytes)

    def finish_loading(self, partition: int | None = None) -> None:
        """After replay: loaded members must heartbeat within their session timeout."""
        for group in self.metadata.groups.values():
            if partition is None or self.partition_for(group.group_id) == partition:
                self.rebalancer.on_group_loaded(group)
                if group.consumer is not None:
                    self.consumer.finish_loading(group.consumer)

    def unload_partition(self, partition: int) -> int:
        """This broker no longer coordinates the groups of ``partition`` (its leadership
        moved): forget them; waiting members are told NOT_COORDINATOR. Returns how many."""
        doomed = self.metadata.groups_in(partition)
        for group in doomed:
            self.rebalancer.on_group_unloaded(group)
            if group.consumer is not None:
                self.consumer.unload(group.consumer)
            del self.metadata.groups[group.group_id]
        return len(doomed)
