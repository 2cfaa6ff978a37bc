"""The leader epoch cache of a partition (Kafka's LeaderEpochFileCache): which epoch started
at which offset, kept in ``leader-epoch-checkpoint``; answers OffsetForLeaderEpoch."""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path

from odradek.storage.checkpoint import read_epoch_checkpoint, write_epoch_checkpoint

UNDEFINED_EPOCH = -1
UNDEFINED_OFFSET = -1


class LeaderEpochCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[tuple[int, int]] = read_epoch_checkpoint(path)

    @property
    def latest_epoch(self) -> int:
        return self.entries[-1][0] if self.entries else UNDEFINED_EPOCH

    def assign(self, epoch: int, start_offset: int) -> None:
        """A new epoch begins at ``start_offset`` (when this replica becomes leader, or a
        follower sees it); entries it supersedes are dropped."""
        if self.entries and self.entries[-1][0] >= epoch:
            return
        self.entries = [(e, o) for e, o in self.entries if o < start_offset]
        self.entries.append((epoch, start_offset))
        write_epoch_checkpoint(self.path, self.entries)

    def end_offset_for(self, epoch: int, log_end_offset: int) -> tuple[int, int]:
        """(largest epoch <= ``epoch``, the offset where it ended) — Kafka's endOffsetFor.
        Below the first epoch: (``epoch``, the first epoch's start offset)."""
        if not self.entries:
            return UNDEFINED_EPOCH, UNDEFINED_OFFSET
        if epoch < self.entries[0][0]:
            return epoch, self.entries[0][1]
        if epoch >= self.entries[-1][0]:
            return self.entries[-1][0], log_end_offset
        index = bisect_right([e for e, _ in self.entries], epoch) - 1
        return self.entries[index][0], self.entries[index + 1][1]

    def truncate_from_end(self, end_offset: int) -> None:
        kept = [(e, o) for e, o in self.entries if o < end_offset]
        if kept != self.entries:
            self.entries = kept
            write_epoch_checkpoint(self.path, self.entries)
