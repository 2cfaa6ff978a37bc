"""Offline inspection of segment files (Kafka's DumpLogSegments): batches, records, CRC checks,
and a consistency check of the ``.index`` and ``.timeindex`` against the ``.log``."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from odradek.protocol.records.batch import HEADER_SIZE, LOG_OVERHEAD, compute_crc, read_header
from odradek.protocol.records.codec import decode_records
from odradek.protocol.records.compression import CompressionType
from odradek.storage.files import INDEX_SUFFIX, TIME_INDEX_SUFFIX, offset_from_name
from odradek.storage.index import OffsetIndex, TimeIndex

_BASE_AND_LENGTH = struct.Struct(">qi")  # the LOG_OVERHEAD bytes: baseOffset, batchLength


@dataclass(slots=True)
class DumpReport:
    batches: int = 0
    records: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _iter_raw_batches(data: bytes) -> Iterator[tuple[int, bytes | None]]:
    position = 0
    while position < len(data):
        if len(data) - position < HEADER_SIZE:
            yield position, None
            return
        _, length = _BASE_AND_LENGTH.unpack_from(data, position)
        size = LOG_OVERHEAD + length
        if length < HEADER_SIZE - LOG_OVERHEAD or position + size > len(data):
            yield position, None
            return
        yield position, data[position : position + size]
        position += size


def dump_log_file(
    path: Path, out: Callable[[str], None], print_records: bool = False, check_indexes: bool = True
) -> DumpReport:
    report = DumpReport()
    data = path.read_bytes()
    base = offset_from_name(path)
    out(f"Dumping {path}")
    out(f"Log starting offset: {base}")
    expected = base
    starts: dict[int, tuple[int, int]] = {}
    for position, raw in _iter_raw_batches(data):
        if raw is None:
            report.problems.append(f"torn or invalid batch at position {position}")
            break
        header = read_header(raw)
        crc_valid = header.magic == 2 and compute_crc(raw, 0, len(raw)) == header.crc
        ts_type = "LogAppendTime" if header.is_log_append_time else "CreateTime"
        codec = (
            CompressionType(header.compression).name.lower()
            if header.compression <= 4
            else str(header.compression)
        )
        out(
            f"baseOffset: {header.base_offset} lastOffset: {header.last_offset} "
            f"count: {header.records_count} baseSequence: {header.base_sequence} "
            f"producerId: {header.producer_id} producerEpoch: {header.producer_epoch} "
            f"partitionLeaderEpoch: {header.partition_leader_epoch} "
            f"isTransactional: {str(header.is_transactional).lower()} "
            f"isControl: {str(header.is_control).lower()} position: {position} "
            f"{ts_type}: {header.max_timestamp} size: {len(raw)} magic: {header.magic} "
            f"compresscodec: {codec} crcValid: {str(crc_valid).lower()}"
        )
        if not crc_valid:
            report.problems.append(f"CRC mismatch in batch at offset {header.base_offset}")
        if header.base_offset < expected:
            report.problems.append(
                f"offset {header.base_offset} at position {position} is "
                f"not above the previous batch (expected >= {expected})"
            )
        expected = header.next_offset
        starts[position] = (header.base_offset, header.last_offset)
        report.batches += 1
        report.records += header.records_count
        if print_records and crc_valid:
            for record in decode_records(header, raw[HEADER_SIZE:]):
                key = record.key.decode("utf-8", "replace") if record.key is not None else None
                value = (
                    record.value.decode("utf-8", "replace") if record.value is not None else None
                )
                out(
                    f"| offset: {record.offset} {ts_type}: {record.timestamp} "
                    f"keySize: {len(record.key) if record.key is not None else -1} "
                    f"valueSize: {len(record.value) if record.value is not None else -1} "
                    f"headerKeys: [{','.join(h for h, _ in record.headers)}] "
                    f"key: {key} payload: {value}"
                )
    if check_indexes:
        _check_indexes(path, base, starts, expected, report)
    status = "consistent" if report.ok else "INCONSISTENT"
    out(f"Summary: {report.batches} batches, {report.records} records, {status}")
    for problem in report.problems:
        out(f"Problem: {problem}")
    return report


def _check_indexes(
    path: Path, base: int, starts: dict[int, tuple[int, int]], next_offset: int, report: DumpReport
) -> None:
    index_path = path.with_suffix(INDEX_SUFFIX)
    if index_path.exists():
        index = OffsetIndex(index_path, base, 2**31 - 1)
        try:
            for offset, position in zip(index.keys, index.values, strict=True):
                batch = starts.get(position)
                if batch is None or not batch[0] <= offset <= batch[1]:
                    report.problems.append(
                        f"index entry ({offset}, {position}) does not point "
                        "at the batch holding that offset"
                    )
        finally:
            index.close()
    time_path = path.with_suffix(TIME_INDEX_SUFFIX)
    if time_path.exists():
        time_index = TimeIndex(time_path, base, 2**31 - 1)
        try:
            for timestamp, offset in zip(time_index.keys, time_index.values, strict=True):
                if not base <= offset < max(next_offset, base + 1):
                    report.problems.append(
                        f"time index entry ({timestamp}, {offset}) is outside the segment"
                    )
        finally:
            time_index.close()
