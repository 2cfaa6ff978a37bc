"""Committed offsets of the classic groups (Kafka's OffsetMetadataManager): OffsetCommit,
TxnOffsetCommit, OffsetFetch, OffsetDelete and offset expiry.

An offset commit record (key v1, value v3) holds one partition's offset, leader epoch,
metadata and commit time; a tombstone deletes it. A commit is validated as Kafka's
ClassicGroup.validateOffsetCommit does (member, then generation, then state), appended, and
applied to the group with :meth:`OffsetMetadataManager.apply_commits` — the same function
loading applies a replayed record with, so the live path and replay cannot disagree.
Transactional commits (written with the producer's id and epoch) stay pending in the group
until the transaction's marker reaches the group's offsets partition: COMMIT makes them the
committed offsets, ABORT drops them."""

from __future__ import annotations

from collections.abc import Iterable

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError
from odradek.common.writes import InternalWrite, PendingWrites
from odradek.coordinator.group import records as rec
from odradek.coordinator.group.consumer.manager import ConsumerGroupManager
from odradek.coordinator.group.metadata_manager import GroupMetadataManager
from odradek.coordinator.group.model import CoordinatorContext, OffsetCommit, TopicPartitionKey
from odradek.coordinator.group.rebalance import Rebalancer
from odradek.coordinator.group.state import GroupMetadata, GroupState

E = ErrorCode
Offsets = dict[TopicPartitionKey, rec.OffsetValue]


class OffsetMetadataManager:
    def __init__(
        self, context: CoordinatorContext, metadata: GroupMetadataManager, rebalancer: Rebalancer
    ) -> None:
        self.context = context
        self.metadata = metadata
        self.rebalancer = rebalancer

    # -- OffsetCommit and TxnOffsetCommit -----------------------------------------------------

    def commit_offsets(
        self,
        group_id: str,
        member_id: str,
        instance_id: str | None,
        generation_id: int,
        offsets: dict[TopicPartitionKey, OffsetCommit],
        writes: PendingWrites | None = None,
    ) -> dict[TopicPartitionKey, ErrorCode]:
        def all_failed(error: ErrorCode) -> dict[TopicPartitionKey, ErrorCode]:
            return dict.fromkeys(offsets, error)

        if not group_id:
            return all_failed(E.invalid_group_id)
        group = self.metadata.groups.get(group_id)
        if group is None:
            if generation_id >= 0:
                return all_failed(E.illegal_generation)
            group = self.metadata.get_or_create(group_id)
        if group.state is GroupState.DEAD:
            return all_failed(E.coordinator_not_available)
        if group.consumer is not None:
            # KIP-848: the generation is the member epoch (ConsumerGroup.validateOffsetCommit).
            error = ConsumerGroupManager.validate_offset_commit(
                group.consumer, member_id, generation_id
            )
            if error is not None:
                return all_failed(error)
        elif not (generation_id < 0 and group.state is GroupState.EMPTY):
            # Kafka's order (ClassicGroup.validateOffsetCommit): member, generation, state.
            if generation_id >= 0 or member_id or instance_id is not None:
                error = group.validate_member(member_id, instance_id)
                if error is not None:
                    return all_failed(error)
                if generation_id != group.generation_id:
                    return all_failed(E.illegal_generation)
            elif group.state is not GroupState.EMPTY:
                return all_failed(E.unknown_member_id)
            if group.state is GroupState.COMPLETING_REBALANCE:
                return all_failed(E.rebalance_in_progress)
            if member_id in group.members:
                self.rebalancer.schedule_expiry(group, group.members[member_id])
        return self._store_offsets(group, offsets, writes=writes)

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
        """TxnOffsetCommit: offsets written inside the producer's transaction; the group sees
        them only when the COMMIT marker reaches its ``__consumer_offsets`` partition."""
        if not group_id:
            return dict.fromkeys(offsets, E.invalid_group_id)
        group = self.metadata.get_or_create(group_id)
        if group.state is GroupState.DEAD:
            return dict.fromkeys(offsets, E.coordinator_not_available)
        if group.consumer is not None and (generation_id >= 0 or member_id):
            # A producer without the consumer's group metadata commits as before.
            error = ConsumerGroupManager.validate_offset_commit(
                group.consumer, member_id, generation_id
            )
            if error is not None:
                return dict.fromkeys(offsets, error)
        elif group.consumer is None and (generation_id >= 0 or member_id):
            error = group.validate_member(member_id, instance_id)
            if error is not None:
                return dict.fromkeys(offsets, error)
            if generation_id != group.generation_id:
                return dict.fromkeys(offsets, E.illegal_generation)
        return self._store_offsets(group, offsets, producer_id, producer_epoch, writes)

    def _store_offsets(
        self,
        group: GroupMetadata,
        offsets: dict[TopicPartitionKey, OffsetCommit],
        producer_id: int = -1,
        producer_epoch: int = -1,
        writes: PendingWrites | None = None,
    ) -> dict[TopicPartitionKey, ErrorCode]:
        now = self.context.clock.milliseconds()
        max_bytes = self.context.config.offset_metadata_max_bytes
        results: dict[TopicPartitionKey, ErrorCode] = {}
        values: Offsets = {}
        for key, commit in offsets.items():
            metadata = commit.metadata or ""
            if len(metadata.encode()) > max_bytes:
                results[key] = E.offset_metadata_too_large
                continue
            values[key] = rec.OffsetValue(commit.offset, commit.leader_epoch, metadata, now)
        if values:
            records = [
                rec.offset_commit_record(group.group_id, topic, partition, value)
                for (topic, partition), value in values.items()
            ]
            try:
                write = self.context.writer.append_group_records(
                    self.context.partition_for(group.group_id),
                    records,
                    producer_id,
                    producer_epoch,
                )
            except KafkaError as exc:
                return {**results, **dict.fromkeys(values, _commit_error(exc.error_code))}
            if writes is not None:
                writes.add(write)
            apply_commits(group, values, producer_id)
        return {**results, **dict.fromkeys(values, E.none)}

    def replay_offset_commit(
        self, key: rec.OffsetKey, value_bytes: bytes | None, producer_id: int = -1
    ) -> None:
        """Loading: apply an offset commit record (or its tombstone); latest record wins."""
        tp = (key.topic, key.partition)
        if value_bytes is None:
            group = self.metadata.groups.get(key.group)
            if group is not None:
                apply_deletions(group, [tp])
            return
        group = self.metadata.get_or_create(key.group)
        apply_commits(group, {tp: rec.decode_offset_value(value_bytes)}, producer_id)

    def complete_txn(self, partition: int, producer_id: int, commit: bool) -> None:
        """A transaction marker reached offsets partition ``partition`` (live or replayed)."""
        for group in self.metadata.groups_in(partition):
            pending = group.pending_txn_offsets.pop(producer_id, None)
            if pending and commit:
                group.offsets.update(pending)

    # -- OffsetFetch --------------------------------------------------------------------------

    def has_pending_offsets(self, group_id: str, key: TopicPartitionKey) -> bool:
        group = self.metadata.groups.get(group_id)
        return group is not None and any(key in p for p in group.pending_txn_offsets.values())

    def fetch_offsets(
        self, group_id: str, partitions: list[TopicPartitionKey] | None
    ) -> dict[TopicPartitionKey, rec.OffsetValue | None]:
        group = self.metadata.groups.get(group_id)
        stored = group.offsets if group is not None else {}
        if partitions is None:
            return dict(stored)
        return {key: stored.get(key) for key in partitions}

    # -- OffsetDelete and expiry --------------------------------------------------------------

    def delete_offsets(
        self,
        group_id: str,
        partitions: list[TopicPartitionKey],
        writes: PendingWrites | None = None,
    ) -> tuple[ErrorCode, dict[TopicPartitionKey, ErrorCode]]:
        if not group_id:
            return E.invalid_group_id, {}
        group = self.metadata.groups.get(group_id)
        if group is None or group.state is GroupState.DEAD:
            return E.group_id_not_found, {}
        if group.state is not GroupState.EMPTY and group.protocol_type != "consumer":
            return E.non_empty_group, {}
        active = group.state is not GroupState.EMPTY
        subscribed = group.subscribed_topics() if active else set()
        if group.consumer is not None and group.consumer.members:
            active, subscribed = True, set(group.consumer.subscription_metadata)
            subscribed |= group.consumer.subscribed_topic_names()
        results = {}
        deleted = []
        for key in partitions:
            # An unreadable subscription counts as subscribed to everything, as in Kafka.
            if active and (subscribed is None or key[0] in subscribed):
                results[key] = E.group_subscribed_to_topic
                continue
            results[key] = E.none
            if key in group.offsets:
                deleted.append(key)
        if deleted:
            write = self._write_tombstones(group, deleted)
            if writes is not None:
                writes.add(write)
            apply_deletions(group, deleted)
        return E.none, results

    def expire_offsets(self, group: GroupMetadata) -> int:
        """Drop the group's committed offsets older than offsets.retention.minutes, counted
        from when the group became Empty (KIP-211); only Empty groups lose offsets."""
        if group.state is not GroupState.EMPTY:
            return 0
        now = self.context.clock.milliseconds()
        retention = self.context.config.offsets_retention_ms
        since = group.state_timestamp if group.state_timestamp >= 0 else None
        expired = [
            key
            for key, value in group.offsets.items()
            if now - max(since or value.commit_timestamp, value.commit_timestamp) >= retention
        ]
        if expired:
            self._write_tombstones(group, expired)
            apply_deletions(group, expired)
        return len(expired)

    def _write_tombstones(
        self, group: GroupMetadata, keys: list[TopicPartitionKey]
    ) -> InternalWrite | None:
        return self.context.writer.append_group_records(
            self.context.partition_for(group.group_id),
            offset_tombstones(group, keys),
        )


def offset_tombstones(group: GroupMetadata, keys: Iterable[TopicPartitionKey]) -> list[rec.Record]:
    return [rec.offset_tombstone(group.group_id, topic, partition) for topic, partition in keys]


def apply_commits(group: GroupMetadata, values: Offsets, producer_id: int = -1) -> None:
    """Committed offsets take effect (live, after their append; or replayed): a transaction's
    stay pending under its producer id until its marker."""
    if producer_id >= 0:
        group.pending_txn_offsets.setdefault(producer_id, {}).update(values)
    else:
        group.offsets.update(values)


def apply_deletions(group: GroupMetadata, keys: Iterable[TopicPartitionKey]) -> None:
    """Offset tombstones take effect (live, after their append; or replayed)."""
    for key in keys:
        group.offsets.pop(key, None)


def _commit_error(error: ErrorCode) -> ErrorCode:
    """Kafka maps log append failures of a commit to coordinator errors clients retry."""
    if error in (
        E.unknown_topic_or_partition,
        E.not_enough_replicas,
        E.not_enough_replicas_after_append,
        E.request_timed_out,
    ):
        return E.coordinator_not_available
    if error in (E.not_leader_or_follower, E.kafka_storage_error):
        return E.not_coordinator
    if error in (E.message_too_large, E.record_list_too_large, E.invalid_fetch_size):
        return E.invalid_commit_offset_size
    return error
