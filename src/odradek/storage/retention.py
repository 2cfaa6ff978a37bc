"""Retention: deleting a log's oldest whole segments (Kafka's ``UnifiedLog.deleteOldSegments``).

A segment goes when it is past ``retention.ms`` (by its newest record timestamp) or while the
log stays over ``retention.bytes`` without it — both for the ``delete`` cleanup policy only —
or when it lies wholly below the log start offset (DeleteRecords; every policy). Deletion
walks from the oldest segment and stops at the first one that is kept, so the log never gets
a hole; it never deletes past the high watermark, nor an empty active segment (an active
segment that must go is rolled first, so the log always keeps an active segment). Files are
renamed to ``*.deleted`` and queued in :attr:`Log.pending_deletes` for removal after
``file.delete.delay.ms``. Nothing is deleted while the cleaner holds the log's segments.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from odradek.storage.segment import LogSegment

if TYPE_CHECKING:
    from odradek.storage.log import Log

log = logging.getLogger(__name__)

SegmentPredicate = Callable[[LogSegment, LogSegment | None], bool]
"""Whether a segment (given with the segment after it, None for the last) may be deleted."""


def delete_old_segments(log_obj: Log, now_ms: int) -> int:
    """Apply ``retention.ms``, ``retention.bytes`` (delete policy) and the log start offset,
    in that order; returns how many segments went."""
    if log_obj.cleaning:
        return 0
    deleted = 0
    config = log_obj.config
    if config.delete:
        retention_ms = int(config["retention.ms"])
        if retention_ms >= 0:
            deleted += delete_segments(log_obj, retention_ms_breached(now_ms, retention_ms))
        retention_bytes = int(config["retention.bytes"])
        if retention_bytes >= 0:
            excess = log_obj.size_in_bytes - retention_bytes
            deleted += delete_segments(log_obj, retention_size_breached(excess))
    return deleted + delete_segments_below_start(log_obj)


def delete_segments_below_start(log_obj: Log) -> int:
    """Delete the segments wholly below the log start offset (after DeleteRecords)."""
    if log_obj.cleaning:
        return 0  # the cleaner holds these segments; the next retention pass gets them
    return delete_segments(log_obj, log_start_offset_breached(log_obj.log_start_offset))


def retention_ms_breached(now_ms: int, retention_ms: int) -> SegmentPredicate:
    """Segments whose newest record (or file, without timestamps) is older than
    ``retention_ms``."""
    return lambda segment, _: now_ms - segment.largest_timestamp() > retention_ms


def retention_size_breached(excess: int) -> SegmentPredicate:
    """The oldest segments whose sizes add up to at most ``excess`` bytes, the amount the log
    is over ``retention.bytes`` (Kafka's deleteRetentionSizeBreachedSegments)."""

    def over_size(segment: LogSegment, _: LogSegment | None) -> bool:
        nonlocal excess
        if excess - segment.size >= 0:
            excess -= segment.size
            return True
        return False

    return over_size


def log_start_offset_breached(log_start_offset: int) -> SegmentPredicate:
    """Segments whose successor starts at or below the log start offset."""
    return lambda segment, following: (
        following is not None and following.base_offset <= log_start_offset
    )


def deletable_segments(
    segments: Sequence[LogSegment], high_watermark: int, predicate: SegmentPredicate
) -> list[LogSegment]:
    """The oldest segments, in order, up to the first one ``predicate`` keeps (Kafka's
    deletableSegments): none at or past the high watermark, nor the active segment while it
    is empty or holds offsets past the high watermark."""
    doomed: list[LogSegment] = []
    for index, segment in enumerate(segments):
        following = segments[index + 1] if index + 1 < len(segments) else None
        # An empty segment emptied by cleaning may go; only the empty active one stops it.
        if (following is None and segment.is_empty) or segment.base_offset >= high_watermark:
            break
        if following is None and segment.next_offset > high_watermark:
            break
        if not predicate(segment, following):
            break
        doomed.append(segment)
    return doomed


def delete_segments(log_obj: Log, predicate: SegmentPredicate) -> int:
    """Delete :func:`deletable_segments` from ``log_obj``, rolling first when the active
    segment is among them; the log start offset moves up to the new first segment."""
    doomed = deletable_segments(log_obj.segments, log_obj.high_watermark, predicate)
    if not doomed:
        return 0
    if doomed[-1] is log_obj.active_segment:
        log_obj.roll()
    log_obj._splice_segments(0, len(doomed), [])
    log_obj.log_start_offset = max(log_obj.log_start_offset, log_obj.segments[0].base_offset)
    for segment in doomed:
        log_obj.pending_deletes += segment.rename_for_delete()
    log.info(
        "%s: deleted %d segment(s); log start offset %d",
        log_obj.tp,
        len(doomed),
        log_obj.log_start_offset,
    )
    return len(doomed)
