"""Appends to and reads from the partitions this broker leads (Kafka's ReplicaManager).

Per-partition failures become per-partition error codes; nothing here touches sockets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from odradek.cluster.leadership import LocalLeadership, PartitionLeadership
from odradek.cluster.purgatory import FetchPurgatory
from odradek.common.errors import (
    CorruptRecordError,
    FencedLeaderEpochError,
    InvalidRecordError,
    InvalidRequestError,
    KafkaError,
    KafkaStorageError,
    NotEnoughReplicasAfterAppendError,
    UnknownLeaderEpochError,
    UnknownTopicOrPartitionError,
)
from odradek.common.ids import TopicPartition
from odradek.common.writes import InternalWrite
from odradek.protocol.records.batch import (
    HEADER_SIZE,
    TRANSACTIONAL_FLAG,
    BatchHeader,
    ValidatedBatches,
    validate_batches,
)
from odradek.protocol.records.codec import decode_records, encode_batch, rebuild_batch
from odradek.protocol.records.control import encode_marker
from odradek.protocol.records.legacy import is_legacy
from odradek.protocol.records.validation import (
    LONG_MAX,
    RecordPolicy,
    convert_legacy_to_v2,
    needs_record_validation,
    validate_v2_records,
)
from odradek.storage.log import Log
from odradek.storage.log_manager import LogManager
from odradek.storage.log_results import FetchDataInfo, LogAppendInfo

if TYPE_CHECKING:
    from odradek.cluster.metadata import MetadataStore
    from odradek.config.topic import LogConfig


@dataclass(frozen=True, slots=True)
class PartitionRead:
    tp: TopicPartition
    error: KafkaError | None
    info: FetchDataInfo | None


class ReplicaManager:
    def __init__(self, log_manager: LogManager, store: MetadataStore) -> None:
        self.log_manager = log_manager
        self.store = store
        self.fetch_purgatory = FetchPurgatory()
        # Which partitions serve clients here and what an append waits for: a single
        # node's until a cluster's replication side takes over (ClusterService.start).
        self.leadership: PartitionLeadership = LocalLeadership()
        self._policies: dict[TopicPartition, tuple[LogConfig, RecordPolicy]] = {}

    async def wait_for_isr(
        self, required: dict[TopicPartition, int], timeout_s: float
    ) -> dict[TopicPartition, KafkaError | None]:
        """Wait until each partition's high watermark reaches its required offset (Kafka's
        delayed produce); per partition None, or why not: the leadership moved, the ISR
        shrank below min.insync.replicas (after append), or the timeout passed."""
        return await self.leadership.wait_for_isr(required, timeout_s)

    async def wait_replicated(self, appends: dict[TopicPartition, int], timeout_s: float) -> bool:
        """Internal writes: True once the ISR has them (even if it shrank meanwhile)."""
        results = await self.wait_for_isr(appends, timeout_s)
        return all(
            r is None or isinstance(r, NotEnoughReplicasAfterAppendError) for r in results.values()
        )

    def get_log(self, topic: str, partition: int) -> Log:
        """The log of a partition this broker serves clients for (in cluster mode: leads)."""
        tp = TopicPartition(topic, partition)
        log_obj = self.leadership.leader_log(tp, self.log_manager.logs.get(tp))
        if log_obj is None:
            if self.log_manager.is_offline(tp):
                raise KafkaStorageError(f"Partition {tp} is in an offline log directory")
            raise UnknownTopicOrPartitionError(
                f"This server does not host this topic-partition: {topic}-{partition}"
            )
        if self.fetch_purgatory.on_append not in log_obj.append_listeners:
            log_obj.append_listeners.append(self.fetch_purgatory.on_append)
        return log_obj

    def append_records(
        self, topic: str, partition: int, records: bytes | None, legacy: bool = False
    ) -> LogAppendInfo:
        """Validate (magic, CRC, sizes, and the record-level checks the topic needs) and
        append one partition's produce data. ``legacy``: a Produce v0-2 request, whose magic
        v0/v1 message sets are converted to one v2 batch first."""
        log_obj = self.get_log(topic, partition)
        if records is None or len(records) == 0:
            raise InvalidRecordError(
                "Produce requests with version 3 or above must have at "
                "least one record batch per partition"
            )
        policy = self._record_policy(log_obj)
        if legacy and is_legacy(records):
            records = convert_legacy_to_v2(records, policy, log_obj.clock.milliseconds())
            validated = validate_batches(records, log_obj.config.max_message_bytes)
            return self._append(log_obj, records, validated)
        validated = validate_batches(records, log_obj.config.max_message_bytes)
        if len(validated.headers) != 1:
            raise InvalidRecordError(
                "Produce requests with version 3 or above are only allowed "
                "to contain exactly one record batch per partition"
            )
        header = validated.headers[0]
        if header.is_control:
            raise InvalidRecordError("Control records cannot be produced by clients")
        if needs_record_validation(header, policy):
            validate_v2_records(records, header, policy, log_obj.clock.milliseconds())
        target = log_obj.config.target_compression
        if target is not None and target != header.compression:
            records = _recompress(records, header, target)
            validated = validate_batches(records, 2**31 - 1)
        return self._append(log_obj, records, validated)

    def _record_policy(self, log_obj: Log) -> RecordPolicy:
        """The partition's record rules, rebuilt only when its config object changes."""
        cached = self._policies.get(log_obj.tp)
        if cached is not None and cached[0] is log_obj.config:
            return cached[1]
        policy = record_policy(log_obj)
        self._policies[log_obj.tp] = (log_obj.config, policy)
        return policy

    @staticmethod
    def _append(log_obj: Log, records: bytes, validated: ValidatedBatches) -> LogAppendInfo:
        # A full disk or an I/O error raises KafkaStorageError: nothing of the batch stays in
        # the log, nothing is acknowledged, and the log's dir goes offline.
        return log_obj.append_as_leader(records, validated)

    def append_internal(
        self,
        tp: TopicPartition,
        records: Sequence[tuple[bytes, bytes | None]],
        timestamp: int,
        producer_id: int = -1,
        producer_epoch: int = -1,
    ) -> InternalWrite | None:
        """Append records the broker itself writes (coordinator state) as one batch; with a
        producer id, as part of that producer's transaction (transactional offsets)."""
        attributes = TRANSACTIONAL_FLAG if producer_id >= 0 else 0
        batch = encode_batch(
            list(records),
            timestamp=timestamp,
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            attributes=attributes,
        )
        log_obj = self.get_log(tp.topic, tp.partition)
        log_obj.append_as_leader(batch, validate_batches(batch, 2**31 - 1), internal=True)
        return self.leadership.replicated_write(log_obj)

    def append_marker(
        self,
        tp: TopicPartition,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        timestamp: int,
        coordinator_epoch: int = 0,
    ) -> InternalWrite | None:
        """Write a COMMIT or ABORT transaction marker (WriteTxnMarkers)."""
        batch = encode_marker(producer_id, producer_epoch, commit, coordinator_epoch, timestamp)
        log_obj = self.get_log(tp.topic, tp.partition)
        log_obj.append_as_leader(batch, validate_batches(batch, 2**31 - 1), internal=True)
        return self.leadership.replicated_write(log_obj)

    def read(
        self,
        tp: TopicPartition,
        offset: int,
        max_bytes: int,
        min_one_batch: bool,
        committed: bool = False,
        current_leader_epoch: int = -1,
        replica: bool = False,
    ) -> PartitionRead:
        try:
            log_obj = self.get_log(tp.topic, tp.partition)
            check_leader_epoch(log_obj, current_leader_epoch)
            if max_bytes < 0:
                raise InvalidRequestError("negative partition max bytes")
            return PartitionRead(
                tp,
                None,
                log_obj.read(
                    offset,
                    max_bytes,
                    min_one_batch,
                    committed=committed,
                    max_offset=log_obj.log_end_offset if replica else None,
                ),
            )
        except KafkaError as exc:
            return PartitionRead(tp, exc, None)


def check_leader_epoch(log_obj: Log, current_leader_epoch: int) -> None:
    """Kafka's leader epoch fencing of a client's request: an older epoch than this
    replica's is FENCED_LEADER_EPOCH, a newer one (this broker has not caught up)
    UNKNOWN_LEADER_EPOCH; -1 (a client that does not know the epoch) skips the check."""
    if current_leader_epoch < 0 or current_leader_epoch == log_obj.leader_epoch:
        return
    error = (
        FencedLeaderEpochError
        if current_leader_epoch < log_obj.leader_epoch
        else UnknownLeaderEpochError
    )
    raise error(f"{log_obj.tp}: leader epoch {current_leader_epoch} vs {log_obj.leader_epoch}")


def record_policy(log_obj: Log) -> RecordPolicy:
    """The record-level rules of a partition's topic config (Kafka's LogConfig: the before/after
    bounds fall back to the deprecated message.timestamp.difference.max.ms)."""
    config = log_obj.config
    difference = int(config["message.timestamp.difference.max.ms"])
    before = int(config["message.timestamp.before.max.ms"])
    after = int(config["message.timestamp.after.max.ms"])
    return RecordPolicy(
        tp=f"{log_obj.tp.topic}-{log_obj.tp.partition}",
        compacted=config.compact,
        log_append_time=config.log_append_time,
        before_max_ms=before if before != LONG_MAX else difference,
        after_max_ms=after if after != LONG_MAX else difference,
        target_compression=config.target_compression,
        max_message_bytes=config.max_message_bytes,
    )


def _recompress(records: bytes, header: BatchHeader, codec: int) -> bytes:
    """The topic's compression.type differs from the producer's codec: rewrite the batch
    (Kafka's LogValidator does the same), keeping offsets, timestamps and producer fields."""
    try:
        decoded = decode_records(header, records[HEADER_SIZE : header.size])
    except (ValueError, IndexError) as exc:
        raise CorruptRecordError(f"malformed records in batch: {exc}") from exc
    return rebuild_batch(header, decoded, compression=codec, base_timestamp=header.base_timestamp)
