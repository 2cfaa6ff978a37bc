"""Crash-safe replacement of segments by cleaned ones (Kafka's ``.cleaned``/``.swap``).

The cleaner writes ``<base>.log.cleaned`` (and its ``.index``/``.timeindex``). Installing it:
rename the index files, then the log file, from ``.cleaned`` to ``.swap`` — the ``.log.swap``
rename is the commit point — then delete the replaced segments and rename the ``.swap`` files
to their final names. After a crash, :func:`complete_swaps` finishes any committed swap at
startup; ``.cleaned`` files (uncommitted) are simply deleted by the log loader.

:func:`installable_groups` and :func:`swap_in` are the in-memory half, run on the broker's
loop: which cleaned groups still fit the log, and replacing their segment objects.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from odradek.protocol.records.batch import LOG_OVERHEAD
from odradek.storage import txn_index
from odradek.storage.files import (
    CLEANED_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    SWAP_SUFFIX,
    TIME_INDEX_SUFFIX,
    TXN_INDEX_SUFFIX,
    filename_prefix,
    fsync_dir,
    offset_from_name,
)
from odradek.storage.segment import LAST_OFFSET_DELTA_OFFSET, LOCATE_SIZE

if TYPE_CHECKING:
    from odradek.storage.log import Log

log = logging.getLogger(__name__)

_SEGMENT_SUFFIXES = (INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX)  # the log file last


@dataclass(frozen=True, slots=True)
class CleanedPaths:
    log: Path
    index: Path
    time_index: Path

    def all(self) -> tuple[Path, Path, Path]:
        return self.log, self.index, self.time_index


def cleaned_paths(directory: Path, base: int) -> CleanedPaths:
    prefix = directory / filename_prefix(base)
    return CleanedPaths(
        *(
            prefix.with_name(prefix.name + suffix + CLEANED_SUFFIX)
            for suffix in (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX)
        )
    )


def install(directory: Path, base: int, replaced_bases: Iterable[int]) -> None:
    """Swap the cleaned segment at ``base`` in for the segments at ``replaced_bases``."""
    prefix = filename_prefix(base)
    for suffix in _SEGMENT_SUFFIXES:
        cleaned = directory / (prefix + suffix + CLEANED_SUFFIX)
        os.replace(cleaned, directory / (prefix + suffix + SWAP_SUFFIX))
    fsync_dir(directory)
    _finish(directory, base, replaced_bases)


def _finish(directory: Path, base: int, replaced_bases: Iterable[int]) -> None:
    prefix = filename_prefix(base)
    for old in replaced_bases:
        if old == base:
            continue  # replaced by the rename below
        for suffix in (*_SEGMENT_SUFFIXES, TXN_INDEX_SUFFIX):
            (directory / (filename_prefix(old) + suffix)).unlink(missing_ok=True)
    for suffix in _SEGMENT_SUFFIXES:
        swap = directory / (prefix + suffix + SWAP_SUFFIX)
        if swap.exists():
            os.replace(swap, directory / (prefix + suffix))
    fsync_dir(directory)


def complete_swaps(directory: Path) -> None:
    """At startup: finish swaps whose ``.log.swap`` exists; drop stray index swaps."""
    for swap_log in sorted(directory.glob("*" + LOG_SUFFIX + SWAP_SUFFIX)):
        base = offset_from_name(swap_log)
        last = _last_offset(swap_log)
        replaced = [
            offset_from_name(p)
            for p in directory.glob("*" + LOG_SUFFIX)
            if base <= offset_from_name(p) <= last
        ]
        _finish(directory, base, replaced)
    for stray in directory.glob("*" + SWAP_SUFFIX):
        stray.unlink()


def _last_offset(path: Path) -> int:
    data = path.read_bytes()
    position, last = 0, offset_from_name(path)
    while len(data) - position >= LOCATE_SIZE:
        base, length = struct.unpack_from(">qi", data, position)
        (delta,) = struct.unpack_from(">i", data, position + LAST_OFFSET_DELTA_OFFSET)
        last = base + delta
        position += LOG_OVERHEAD + length
    return last


def installable_groups(
    log_obj: Log, groups: list[tuple[int, list[int]]]
) -> list[tuple[int, list[int]]]:
    """The cleaned groups (new base, replaced bases) whose segments are all still in
    ``log_obj``, consecutive and inactive; the ``.cleaned`` files of the others are removed.

    The segments the valid groups replace are pinned open: :func:`install` renames the new
    files to their names, so until :func:`swap_in` closes them they must keep reading their
    own (now unlinked) files, never reopen the new ones by name."""
    bases = [segment.base_offset for segment in log_obj.segments]
    valid = []
    for base, replaced in groups:
        positions = [bases.index(b) for b in replaced if b in bases]
        if (
            len(positions) != len(replaced)
            or positions != list(range(positions[0], positions[0] + len(positions)))
            or log_obj.segments[positions[-1]] is log_obj.active_segment
        ):
            log.warning("%s: segments changed during cleaning; dropping the result", log_obj.tp)
            for path in cleaned_paths(log_obj.dir, base).all():
                path.unlink(missing_ok=True)
            continue
        valid.append((base, replaced))
        for position in positions:
            log_obj.segments[position].pin()
    return valid


def swap_in(log_obj: Log, groups: list[tuple[int, list[int]]]) -> None:
    """Replace the segment objects of each installed group by the cleaned segment; its
    transaction index is rewritten from the log's aborted transactions."""
    for base, replaced in groups:
        first = [segment.base_offset for segment in log_obj.segments].index(replaced[0])
        for old in log_obj.segments[first : first + len(replaced)]:
            old.close()
        segment = log_obj._open_segment(base, False)
        segment.load_trusted()
        txn_index.write_index(
            txn_index.txn_index_path(log_obj.dir, base),
            [t for t in log_obj.aborted_txns if base <= t.last_offset < segment.next_offset],
        )
        log_obj._splice_segments(first, first + len(replaced), [segment])
