"""Crash-safe replacement of segments by cleaned ones (Kafka's ``.cleaned``/``.swap``).

The cleaner writes ``<base>.log.cleaned`` (and its ``.index``/``.timeindex``). Installing it:
rename the index files, then the log file, from ``.cleaned`` to ``.swap`` — the ``.log.swap``
rename is the commit point — then delete the replaced segments and rename the ``.swap`` files
to their final names. After a crash, :func:`complete_swaps` finishes any committed swap at
startup; ``.cleaned`` files (uncommitted) are simply deleted by the log loader.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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
    while len(data) - position >= 27:
        base, length = struct.unpack_from(">qi", data, position)
        (delta,) = struct.unpack_from(">i", data, position + 23)
        last = base + delta
        position += 12 + length
    return last
