"""Opening a partition's log directory at startup (Kafka's LogLoader).

:class:`LogLoader` removes leftovers of interrupted operations (``*.tmp``, ``*.deleted``,
uncommitted ``*.cleaned`` files), finishes committed cleaner swaps, opens the segments and
recovers them: after a clean shutdown the indexes are trusted (and the log recovers anyway
when the files contradict that); otherwise every segment from the one holding the recovery
point on is rescanned — CRCs validated, indexes rebuilt — and the log is cut at the first
torn or corrupt batch, later segments dropped. It then loads the leader epoch cache and the
aborted transactions.

:func:`rebuild_producer_state` (Kafka's ``UnifiedLog.rebuildProducerState``) replays the batch
headers after the newest producer snapshot; the log calls it once loaded and after every
truncation.
"""

from __future__ import annotations

import logging
import uuid
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from odradek.common.ids import TopicPartition
from odradek.protocol.records.batch import HEADER_SIZE, BatchHeader, read_header
from odradek.storage import txn_index
from odradek.storage.checkpoint import write_epoch_checkpoint
from odradek.storage.files import (
    CLEANED_SUFFIX,
    DELETED_SUFFIX,
    LEADER_EPOCH_CHECKPOINT,
    LOG_SUFFIX,
    PARTITION_METADATA,
    atomic_write,
    offset_from_name,
)
from odradek.storage.leader_epoch import LeaderEpochCache
from odradek.storage.producer_state import ProducerStateManager
from odradek.storage.segment import LogSegment
from odradek.storage.swap import complete_swaps
from odradek.storage.topic_id import decode_topic_id, encode_topic_id
from odradek.storage.txn_index import AbortedTxn

log = logging.getLogger(__name__)

OpenSegment = Callable[[int, bool], LogSegment]
"""Opens the segment at a base offset; ``fresh`` (the second argument) creates empty files."""


@dataclass(frozen=True, slots=True)
class LoadedLog:
    """What :meth:`LogLoader.load` found: the recovered segments, oldest first, and the state
    kept beside them."""

    segments: list[LogSegment]
    log_start_offset: int
    epoch_cache: LeaderEpochCache
    aborted_txns: list[AbortedTxn]


def partition_metadata(topic_id: uuid.UUID) -> bytes:
    """The contents of a partition's ``partition.metadata`` file."""
    return f"version: 0\ntopic_id: {encode_topic_id(topic_id)}\n".encode()


def prepare_new_partition_dir(directory: Path, topic_id: uuid.UUID, log_start_offset: int) -> None:
    """Write the durable files of a partition directory that does not exist yet
    (``partition.metadata`` and the leader-epoch checkpoint's first entry), each fsynced, as
    :meth:`LogLoader.load` would; then loading it writes nothing. A directory that exists is
    left alone (it is loaded, and recovered, as it is). Blocking: for a worker thread."""
    if directory.exists():
        return
    directory.mkdir(parents=True)
    atomic_write(directory / PARTITION_METADATA, partition_metadata(topic_id))
    write_epoch_checkpoint(directory / LEADER_EPOCH_CHECKPOINT, [(0, log_start_offset)])


class LogLoader:
    """Loads one partition directory; ``open_segment`` builds segments with the log's
    configuration."""

    def __init__(
        self,
        directory: Path,
        tp: TopicPartition,
        topic_id: uuid.UUID,
        open_segment: OpenSegment,
    ) -> None:
        self.dir = directory
        self.tp = tp
        self.topic_id = topic_id
        self._open_segment = open_segment

    def load(
        self, *, log_start_offset: int, recovery_point: int, clean_shutdown: bool
    ) -> LoadedLog:
        """Open and recover the segments; a directory without any gets one empty segment at
        ``log_start_offset``."""
        self._write_partition_metadata()
        self._remove_leftovers()
        complete_swaps(self.dir)
        bases = sorted(offset_from_name(p) for p in self.dir.glob("*" + LOG_SUFFIX))
        segments = [self._open_segment(base, False) for base in bases]
        if not segments:
            segments.append(self._open_segment(log_start_offset, True))
        self._recover(segments, recovery_point, clean_shutdown)
        log_end_offset = segments[-1].next_offset
        epoch_cache = LeaderEpochCache(self.dir / LEADER_EPOCH_CHECKPOINT)
        epoch_cache.truncate_from_end(log_end_offset + 1)
        if not epoch_cache.entries:
            epoch_cache.assign(0, log_start_offset)
        return LoadedLog(
            segments,
            max(log_start_offset, segments[0].base_offset),
            epoch_cache,
            txn_index.load_all(self.dir, log_end_offset),
        )

    def _write_partition_metadata(self) -> None:
        path = self.dir / PARTITION_METADATA
        if path.exists():
            stored = decode_topic_id(path.read_text())
            if stored is not None and stored != self.topic_id:
                log.warning(
                    "%s: partition.metadata topic id %s differs from %s",
                    self.tp,
                    stored,
                    self.topic_id,
                )
            return
        atomic_write(path, partition_metadata(self.topic_id))

    def _remove_leftovers(self) -> None:
        for pattern in ("*.tmp", "*" + DELETED_SUFFIX, "*" + CLEANED_SUFFIX):
            for stray in self.dir.glob(pattern):
                stray.unlink()

    def _recover(
        self, segments: list[LogSegment], recovery_point: int, clean_shutdown: bool
    ) -> None:
        """Trust or rescan each segment; on a truncation (or offsets running into the next
        segment) drop every later segment, from the files and from ``segments``."""
        start = 0
        if clean_shutdown:
            try:
                for segment in segments:
                    segment.load_trusted()
                return
            except (ValueError, OSError) as exc:
                log.warning(
                    "%s: files inconsistent after clean shutdown (%s); recovering", self.tp, exc
                )
        else:
            bases = [segment.base_offset for segment in segments]
            start = max(0, bisect_right(bases, recovery_point) - 1)
            for segment in segments[:start]:
                segment.load_trusted()
        for index in range(start, len(segments)):
            segment = segments[index]
            truncated = segment.recover()
            expected_next = segments[index + 1].base_offset if index + 1 < len(segments) else None
            if truncated or (expected_next is not None and segment.next_offset > expected_next):
                log.warning(
                    "%s: recovery truncated %d bytes of %s; dropping later segments",
                    self.tp,
                    truncated,
                    segment.log_path.name,
                )
                for later in segments[index + 1 :]:
                    later.delete()
                del segments[index + 1 :]
                break
        log.info("%s: recovered to log end offset %d", self.tp, segments[-1].next_offset)


def rebuild_producer_state(
    producer_state: ProducerStateManager,
    segments: Sequence[LogSegment],
    bases: Sequence[int],
    log_start_offset: int,
    complete_txn: Callable[[BatchHeader, bytes, LogSegment], None],
) -> None:
    """Load the newest producer snapshot and replay the batch headers after it: data batches
    update their producer, transaction markers go to ``complete_txn`` (with the whole batch
    and its segment). ``bases`` are the segments' base offsets."""
    end = segments[-1].next_offset
    start = producer_state.load_latest_snapshot(end)
    if start == end:
        return
    start = log_start_offset if start is None else start
    first = max(0, bisect_right(bases, start) - 1)
    for segment in segments[first:]:
        for location in segment.batches(segment.offset_index.lookup(start)[1]):
            if location.last_offset < start:
                continue
            header = read_header(segment.read(location.position, HEADER_SIZE))
            if header.producer_id < 0:
                continue
            if header.is_control:
                complete_txn(header, segment.read(location.position, location.size), segment)
            else:
                producer_state.update(header, header.base_offset)
