"""Aborted transactions of a partition (Kafka's TransactionIndex, ``.txnindex``): entries of
version int16 (0), producer id int64, first offset int64, last offset int64 and last stable
offset int64, appended to the file of the segment that holds the ABORT marker. The whole
partition's entries are mirrored in memory, ordered by first offset. Not thread-safe."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from odradek.storage.files import TXN_INDEX_SUFFIX, filename_prefix, offset_from_name

_ENTRY = struct.Struct(">hqqqq")


@dataclass(frozen=True, slots=True, order=True)
class AbortedTxn:
    first_offset: int
    producer_id: int
    last_offset: int
    last_stable_offset: int


def txn_index_path(directory: Path, segment_base: int) -> Path:
    return directory / (filename_prefix(segment_base) + TXN_INDEX_SUFFIX)


def append_aborted(directory: Path, segment_base: int, txn: AbortedTxn) -> None:
    with open(txn_index_path(directory, segment_base), "ab") as handle:
        handle.write(
            _ENTRY.pack(
                0, txn.producer_id, txn.first_offset, txn.last_offset, txn.last_stable_offset
            )
        )


def write_index(path: Path, entries: list[AbortedTxn]) -> None:
    if not entries:
        path.unlink(missing_ok=True)
        return
    path.write_bytes(
        b"".join(
            _ENTRY.pack(0, t.producer_id, t.first_offset, t.last_offset, t.last_stable_offset)
            for t in entries
        )
    )


def load_all(directory: Path, log_end_offset: int) -> list[AbortedTxn]:
    """Every aborted transaction in the directory's ``.txnindex`` files, dropping entries at or
    past the log end (a truncated tail) and rewriting files that had such entries."""
    result: list[AbortedTxn] = []
    for path in sorted(directory.glob("*" + TXN_INDEX_SUFFIX), key=offset_from_name):
        data = path.read_bytes()
        entries = [
            AbortedTxn(first, pid, last, lso)
            for _, pid, first, last, lso in _ENTRY.iter_unpack(
                data[: len(data) - len(data) % _ENTRY.size]
            )
        ]
        kept = [e for e in entries if e.last_offset < log_end_offset]
        if len(kept) != len(entries) or len(data) % _ENTRY.size:
            write_index(path, kept)
        result += kept
    return sorted(set(result))
