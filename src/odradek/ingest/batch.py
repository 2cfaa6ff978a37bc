"""A block of rows on its way to the target, and the offsets it moves.

Sans-IO: records go in, and :class:`WriteJob` comes out -- per topic-partition a
:class:`PartitionBlock`: its rows and error rows, the offset the target must still hold
(``expected``, None when it holds none) and the one it will hold after the write (``next``).
A target with transactions writes all of a job in one; ClickHouse writes each partition's
block on its own (see ``targets/clickhouse.py``).

A partition may have to be *replayed*: a target without transactions (ClickHouse) may have
begun a block that it does not know to be written; that block is read again with exactly
the same records, so its partition's block is written only once it reaches the same end
(``Positions.replays``), and never a part of it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from odradek.ingest.errors import BrokenMessage, TooManyBrokenMessages
from odradek.ingest.rows import Record, RowBuilder, Value, error_row

TopicPartition = tuple[str, int]
Row = tuple[Value, ...]


@dataclass(slots=True)
class PartitionBlock:
    """One partition's part of a block: its stored offset goes from ``expected`` (None: none
    stored; the block's first record is at ``first``) to ``next``; ``records`` records read
    (``broken`` of them broken) made ``rows`` and ``error_rows``. Made once per partition and
    block, then updated in place."""

    expected: int | None
    next: int
    first: int = 0
    rows: list[Row] = field(default_factory=list)
    error_rows: list[Row] = field(default_factory=list)
    records: int = 0
    broken: int = 0


@dataclass
class WriteJob:
    """What one write holds: each partition's block."""

    partitions: dict[TopicPartition, PartitionBlock] = field(default_factory=dict)
    records: int = 0
    broken: int = 0

    @property
    def rows(self) -> list[Row]:
        """Every partition's rows, partition by partition in (topic, partition) order."""
        parts = sorted(self.partitions.items())
        return list(itertools.chain.from_iterable(p.rows for _, p in parts))

    @property
    def error_rows(self) -> list[Row]:
        parts = sorted(self.partitions.items())
        return list(itertools.chain.from_iterable(p.error_rows for _, p in parts))

    @property
    def row_count(self) -> int:
        return sum(len(p.rows) for p in self.partitions.values())


class Positions:
    """Per assigned partition, the next offset to consume as the target has it stored (None:
    nothing stored yet, start from the reset policy), and where a block that must be
    replayed ends. Updated only by written jobs."""

    def __init__(self) -> None:
        self.stored: dict[TopicPartition, int | None] = {}
        self.replays: dict[TopicPartition, int] = {}

    def assign(
        self, stored: dict[TopicPartition, int | None], replays: dict[TopicPartition, int]
    ) -> None:
        self.stored.update(stored)
        for tp in stored:
            self.replays.pop(tp, None)
        self.replays.update(replays)

    def revoke(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.stored.pop(tp, None)
            self.replays.pop(tp, None)

    def written(self, job: WriteJob) -> None:
        for tp, part in job.partitions.items():
            if tp in self.stored:
                self.stored[tp] = part.next
            self.replays.pop(tp, None)


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
    job: WriteJob = field(default_factory=WriteJob)
    first_error: str = ""
    replay_complete: bool = False  # a replayed block reached its end: write it now

    def add(self, record: Record, now: float) -> bool:
        """Take one record; False when it is not for an assigned partition or is older than
        the partition's position (left over from before a seek or rebalance)."""
        tp = (record.topic() or "", record.partition() or 0)
        offset = record.offset() or 0
        part = self.job.partitions.get(tp)
        if part is None:
            if tp not in self.positions.stored:
                return False
            expected = self.positions.stored[tp]
            if offset < (expected or 0):
                return False
            part = self.job.partitions[tp] = PartitionBlock(expected, offset, offset)
        elif offset < part.next:
            return False
        if not self.job.records:
            self.started = now
        try:
            part.rows += self.builder.rows(record)
        except BrokenMessage as exc:
            self._broken(part, record, str(exc))
        part.next = offset + 1
        part.records += 1
        self.job.records += 1
        if self.positions.replays and self.positions.replays.get(tp) == part.next:
            self.replay_complete = True
        return True

    def _broken(self, part: PartitionBlock, record: Record, error: str) -> None:
        part.broken += 1
        self.job.broken += 1
        where = f"{record.topic()}[{record.partition()}]@{record.offset()}"
        if self.stream_errors:
            part.error_rows.append(error_row(record, error))
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
        """Whether the block should be written now (never while a replayed block of one of
        its partitions is short of its end)."""
        if not self.job.records:
            return False
        if self.replay_complete:
            return True
        if self._replaying():
            return False
        return self.job.records >= max_records or now - self.started >= interval_s

    def _replaying(self) -> dict[TopicPartition, PartitionBlock]:
        """The partitions of the block whose replay has not reached its end."""
        replays = self.positions.replays
        return {
            tp: part
            for tp, part in self.job.partitions.items()
            if tp in replays and part.next < replays[tp]
        }

    def take(self) -> WriteJob:
        """The block's job; the batch starts over with only the partitions whose replay is
        still short of its end (a block is replayed whole or not at all)."""
        job, held = self.job, self._replaying()
        self.job, self.first_error, self.replay_complete = WriteJob(), "", False
        for tp, part in held.items():
            del job.partitions[tp]
            job.records -= part.records
            job.broken -= part.broken
            self.job.partitions[tp] = part
            self.job.records += part.records
            self.job.broken += part.broken
        self.started = self.started if held else 0.0
        return job

    def drop(self) -> None:
        self.job, self.first_error, self.replay_complete = WriteJob(), "", False
