"""A block of rows on its way to the target, and the offsets it moves.

Sans-IO: records go in, and :class:`WriteJob` comes out -- the rows, the error rows and, per
topic-partition, the offset the target must still hold (``expected``, None when it holds none)
and the one it will hold after the write (``next``). The target writes all of it in one
transaction, or none of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from odradek.ingest.errors import BrokenMessage, TooManyBrokenMessages
from odradek.ingest.rows import Record, RowBuilder, Value, error_row

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class OffsetMove:
    """One partition's stored offset: from ``expected`` (None: none stored) to ``next``."""

    expected: int | None
    next: int


@dataclass
class WriteJob:
    """What one transaction writes."""

    rows: list[tuple[Value, ...]]
    error_rows: list[tuple[Value, ...]]
    offsets: dict[TopicPartition, OffsetMove]
    records: int = 0
    broken: int = 0


class Positions:
    """Per assigned partition, the next offset to consume as the target has it stored (None:
    nothing stored yet, start from the reset policy). Updated only by written jobs."""

    def __init__(self) -> None:
        self.stored: dict[TopicPartition, int | None] = {}

    def assign(self, stored: dict[TopicPartition, int | None]) -> None:
        self.stored.update(stored)

    def revoke(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.stored.pop(tp, None)

    def written(self, job: WriteJob) -> None:
        for tp, move in job.offsets.items():
            if tp in self.stored:
                self.stored[tp] = move.next


@dataclass
class Batch:
    """Rows gathered from records until the block is full or its time is up.

    ``skip_broken`` is ``kafka_skip_broken_messages``: more broken records than that in one
    block stops ingestion (:class:`TooManyBrokenMessages`); with ``stream_errors`` a broken
    record becomes an error row instead and is never counted against it."""

    builder: RowBuilder
    positions: Positions
    skip_broken: int = 0
    stream_errors: bool = False
    started: float = 0.0
    job: WriteJob = field(default_factory=lambda: WriteJob([], [], {}))
    first_error: str = ""

    def add(self, record: Record, now: float) -> bool:
        """Take one record; False when it is not for an assigned partition or is older than
        the partition's position (left over from before a seek or rebalance)."""
        tp = (record.topic() or "", record.partition() or 0)
        offset = record.offset() or 0
        if tp not in self.positions.stored:
            return False
        move = self.job.offsets.get(tp)
        expected = self.positions.stored[tp] if move is None else move.expected
        floor = (expected or 0) if move is None else move.next
        if offset < floor:
            return False
        if not self.job.records:
            self.started = now
        try:
            self.job.rows.extend(self.builder.rows(record))
        except BrokenMessage as exc:
            self._broken(record, str(exc))
        self.job.offsets[tp] = OffsetMove(expected, offset + 1)
        self.job.records += 1
        return True

    def _broken(self, record: Record, error: str) -> None:
        self.job.broken += 1
        where = f"{record.topic()}[{record.partition()}]@{record.offset()}"
        if self.stream_errors:
            self.job.error_rows.append(error_row(record, error))
            return
        if not self.first_error:
            self.first_error = f"{where}: {error}"
        if self.job.broken > self.skip_broken:
            raise TooManyBrokenMessages(
                f"{self.job.broken} broken records in one block, more than "
                f"--skip-broken-messages {self.skip_broken} allows; first: {self.first_error}; "
                f"this one: {where}: {error}"
            )

    def due(self, now: float, max_records: int, interval_s: float) -> bool:
        """Whether the block should be written now."""
        if not self.job.records:
            return False
        return self.job.records >= max_records or now - self.started >= interval_s

    def take(self) -> WriteJob:
        """The block's job; the batch starts over empty."""
        job, self.job, self.first_error = self.job, WriteJob([], [], {}), ""
        return job

    def drop(self) -> None:
        self.job, self.first_error = WriteJob([], [], {}), ""
