"""What a partition's log reports back: ``LogAppendInfo`` for an append (the offsets assigned,
the append time, the log start offset then) and ``FetchInfo`` for a read (Kafka's
FetchDataInfo: the records, in memory or left in the segment file, with the high watermark,
log start offset, last stable offset and, for read_committed, the aborted transactions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeAlias, TypeVar

from odradek.storage.txn_index import AbortedTxn


@dataclass(frozen=True, slots=True)
class LogAppendInfo:
    first_offset: int
    last_offset: int
    log_append_time: int  # -1 unless LogAppendTime
    log_start_offset: int


RecordsT = TypeVar("RecordsT", covariant=True)


@dataclass(frozen=True, slots=True)
class FetchInfo(Generic[RecordsT]):
    """What a read of the log found: its records (in memory, or left in the segment file)
    and the partition's offsets at the time (Kafka's FetchDataInfo)."""

    records: RecordsT
    high_watermark: int
    log_start_offset: int
    last_stable_offset: int
    aborted: tuple[AbortedTxn, ...] | None = None  # read_committed only


FetchDataInfo: TypeAlias = FetchInfo[bytes]  # records read into memory (Log.read)
