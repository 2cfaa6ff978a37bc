"""Per-partition producer state for idempotence (Kafka's ProducerStateManager).

For each producer id: its epoch and the metadata of its last five appended batches, enough to
acknowledge a retried batch with its original offsets instead of writing it twice, and to
reject gaps (OUT_OF_ORDER_SEQUENCE_NUMBER) and stale epochs (INVALID_PRODUCER_EPOCH).

Snapshots use Kafka's ``.snapshot`` format (version 1): int16 version, uint32 CRC-32C of what
follows, then an int32-counted array of entries (producer id int64, epoch int16, last sequence
int32, last offset int64, offset delta int32, timestamp int64, coordinator epoch int32,
current transaction first offset int64), big-endian. Only the last batch of each producer is
kept in a snapshot, as in Kafka. Not thread-safe.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import crc32c

from odradek.common.errors import (
    CorruptRecordError,
    InvalidProducerEpochError,
    OutOfOrderSequenceError,
)
from odradek.protocol.records.batch import BatchHeader
from odradek.storage.files import SNAPSHOT_SUFFIX, atomic_write, filename_prefix

NUM_BATCHES_TO_RETAIN = 5
NO_SEQUENCE = -1
NO_EPOCH = -1
INT32_MAX = 2**31 - 1
SNAPSHOT_VERSION = 1
_SNAPSHOT_HEADER = struct.Struct(">hI")
_ENTRY = struct.Struct(">qhiqiqiq")
_COUNT = struct.Struct(">i")


@dataclass(frozen=True, slots=True)
class BatchMetadata:
    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int
    timestamp: int


@dataclass(slots=True)
class ProducerStateEntry:
    producer_id: int
    epoch: int = NO_EPOCH
    batches: deque[BatchMetadata] = field(
        default_factory=lambda: deque(maxlen=NUM_BATCHES_TO_RETAIN)
    )
    coordinator_epoch: int = -1
    current_txn_first_offset: int = -1
    last_timestamp: int = -1

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else NO_SEQUENCE

    def find_duplicate(self, header: BatchHeader) -> BatchMetadata | None:
        if header.producer_epoch != self.epoch:
            return None
        last_seq = _last_seq(header)
        for batch in self.batches:
            if batch.first_seq == header.base_sequence and batch.last_seq == last_seq:
                return batch
        return None


def _last_seq(header: BatchHeader) -> int:
    if header.base_sequence < 0:
        return NO_SEQUENCE
    return (header.base_sequence + header.last_offset_delta) % (INT32_MAX + 1)


def _in_sequence(last_seq: int, next_seq: int) -> bool:
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == INT32_MAX)


class ProducerStateManager:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.entries: dict[int, ProducerStateEntry] = {}

    def check(self, header: BatchHeader) -> BatchMetadata | None:
        """Validate an idempotent batch before it is appended: the metadata of the original
        when it is a retried duplicate, None when it may be appended; raises on a stale epoch
        or a sequence gap."""
        entry = self.entries.get(header.producer_id)
        if header.is_control:
            if entry is not None and header.producer_epoch < entry.epoch:
                raise InvalidProducerEpochError(
                    f"Transaction marker epoch {header.producer_epoch} of producer "
                    f"{header.producer_id} is older than the current epoch {entry.epoch}"
                )
            return None
        if header.base_sequence < 0:
            raise CorruptRecordError("idempotent batch without a base sequence")
        if entry is None:
            return None  # unknown producer (new, or its state was removed): any sequence
        if header.producer_epoch < entry.epoch:
            raise InvalidProducerEpochError(
                f"Producer {header.producer_id}'s epoch {header.producer_epoch} is older than "
                f"the current epoch {entry.epoch}"
            )
        duplicate = entry.find_duplicate(header)
        if duplicate is not None:
            return duplicate
        if header.producer_epoch != entry.epoch:
            if header.base_sequence != 0 and entry.epoch != NO_EPOCH:
                raise OutOfOrderSequenceError(
                    f"Invalid sequence number {header.base_sequence} for new epoch "
                    f"{header.producer_epoch} of producer {header.producer_id}"
                )
        elif entry.epoch != NO_EPOCH and not _in_sequence(entry.last_seq, header.base_sequence):
            raise OutOfOrderSequenceError(
                f"Out of order sequence number for producer {header.producer_id}: "
                f"{header.base_sequence} (incoming seq. number), {entry.last_seq} (current end "
                "sequence number)"
            )
        return None

    def update(self, header: BatchHeader, first_offset: int) -> None:
        """Record an appended batch (as leader, on recovery, or as follower)."""
        if header.producer_id < 0:
            return
        entry = self.entries.get(header.producer_id)
        if entry is None:
            entry = ProducerStateEntry(header.producer_id)
            self.entries[header.producer_id] = entry
        if header.producer_epoch != entry.epoch:
            entry.epoch = header.producer_epoch
            entry.batches.clear()
        if header.base_sequence >= 0 and not header.is_control:
            entry.batches.append(
                BatchMetadata(
                    header.base_sequence,
                    _last_seq(header),
                    first_offset,
                    first_offset + header.last_offset_delta,
                    header.max_timestamp,
                )
            )
        if header.is_transactional and not header.is_control and entry.current_txn_first_offset < 0:
            entry.current_txn_first_offset = first_offset
        entry.last_timestamp = max(entry.last_timestamp, header.max_timestamp)

    def complete_txn(
        self, producer_id: int, producer_epoch: int, coordinator_epoch: int = -1
    ) -> int:
        """A marker ended the producer's transaction: its first offset, or -1 if none was
        open here (an empty transaction or a retried marker)."""
        entry = self.entries.get(producer_id)
        if entry is None:
            entry = self.entries[producer_id] = ProducerStateEntry(producer_id)
        if producer_epoch > entry.epoch:
            entry.epoch = producer_epoch
            entry.batches.clear()
        first = entry.current_txn_first_offset
        entry.current_txn_first_offset = -1
        if coordinator_epoch >= 0:
            entry.coordinator_epoch = coordinator_epoch
        return first

    def first_unstable_offset(self) -> int | None:
        """The first offset of the oldest open transaction (bounds the last stable offset)."""
        offsets = [
            e.current_txn_first_offset
            for e in self.entries.values()
            if e.current_txn_first_offset >= 0
        ]
        return min(offsets) if offsets else None

    def truncate(self) -> None:
        self.entries.clear()

    def remove_expired(self, now_ms: int, expiration_ms: int) -> None:
        """Drop producers idle longer than ``producer.id.expiration.ms``."""
        expired = [
            pid
            for pid, e in self.entries.items()
            if now_ms - e.last_timestamp >= expiration_ms and e.current_txn_first_offset < 0
        ]
        for pid in expired:
            del self.entries[pid]

    # -- snapshots ---------------------------------------------------------------------------

    def snapshot_path(self, offset: int) -> Path:
        return self.directory / (filename_prefix(offset) + SNAPSHOT_SUFFIX)

    def write_snapshot(self, offset: int) -> None:
        body = bytearray(_COUNT.pack(len(self.entries)))
        for entry in self.entries.values():
            last = entry.batches[-1] if entry.batches else None
            body += _ENTRY.pack(
                entry.producer_id,
                entry.epoch,
                last.last_seq if last else NO_SEQUENCE,
                last.last_offset if last else -1,
                (last.last_offset - last.first_offset) if last else 0,
                entry.last_timestamp,
                entry.coordinator_epoch,
                entry.current_txn_first_offset,
            )
        data = _SNAPSHOT_HEADER.pack(SNAPSHOT_VERSION, crc32c.crc32c(bytes(body))) + bytes(body)
        atomic_write(self.snapshot_path(offset), data)
        self._delete_snapshots_before(offset, keep=2)

    def load_latest_snapshot(self, max_offset: int) -> int | None:
        """Load the newest valid snapshot at or below ``max_offset``; its offset, or None."""
        for offset in sorted(self.snapshot_offsets(), reverse=True):
            if offset > max_offset:
                self.snapshot_path(offset).unlink(missing_ok=True)
                continue
            try:
                self.entries = _read_snapshot(self.snapshot_path(offset).read_bytes())
                return offset
            except (ValueError, struct.error, OSError):
                self.snapshot_path(offset).unlink(missing_ok=True)
        self.entries = {}
        return None

    def snapshot_offsets(self) -> list[int]:
        return [int(p.name.split(".")[0]) for p in self.directory.glob("*" + SNAPSHOT_SUFFIX)]

    def _delete_snapshots_before(self, offset: int, keep: int) -> None:
        older = sorted(o for o in self.snapshot_offsets() if o < offset)
        for stale in older[: max(0, len(older) - (keep - 1))]:
            self.snapshot_path(stale).unlink(missing_ok=True)


def _read_snapshot(data: bytes) -> dict[int, ProducerStateEntry]:
    version, crc = _SNAPSHOT_HEADER.unpack_from(data, 0)
    if version != SNAPSHOT_VERSION:
        raise ValueError(f"unsupported producer snapshot version {version}")
    body = data[_SNAPSHOT_HEADER.size :]
    if crc32c.crc32c(body) != crc:
        raise ValueError("producer snapshot CRC mismatch")
    (count,) = _COUNT.unpack_from(body, 0)
    entries = {}
    for index in range(count):
        (pid, epoch, last_seq, last_offset, delta, timestamp, coordinator_epoch, txn_first) = (
            _ENTRY.unpack_from(body, _COUNT.size + index * _ENTRY.size)
        )
        entry = ProducerStateEntry(
            pid,
            epoch,
            coordinator_epoch=coordinator_epoch,
            current_txn_first_offset=txn_first,
            last_timestamp=timestamp,
        )
        if last_seq >= 0:
            first_seq = max(0, last_seq - delta)
            entry.batches.append(
                BatchMetadata(first_seq, last_seq, last_offset - delta, last_offset, timestamp)
            )
        entries[pid] = entry
    return entries
