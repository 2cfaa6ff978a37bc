"""Building logs and batches for storage tests."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from odradek.common.clock import FakeClock
from odradek.common.ids import TopicPartition
from odradek.config.broker import build_broker_config
from odradek.config.topic import LogConfig
from odradek.protocol.records.batch import validate_batches
from odradek.protocol.records.codec import Record, decode_batches, encode_batch
from odradek.storage.log import Log
from odradek.storage.log_results import LogAppendInfo

T0 = 1_700_000_000_000
TP = TopicPartition("events", 0)
TOPIC_ID = uuid.UUID("5d1f3a0e-8c27-4b6e-9a51-7a0c2b3d4e5f")


def log_config(**overrides: Any) -> LogConfig:
    """Broker defaults with topic overrides given as ``segment_bytes=...`` keywords."""
    values = {name.replace("_", "."): value for name, value in overrides.items()}
    return build_broker_config({}).log_config(values)


def make_batch(
    count: int = 1, *, timestamp: int = T0, value_size: int = 10, tag: str = "v", step: int = 0
) -> bytes:
    """A client batch of ``count`` records with timestamps ``timestamp + i * step``."""
    records = [
        (f"key-{i}".encode(), f"{tag}-{i}-".encode().ljust(value_size, b".")) for i in range(count)
    ]
    return encode_batch(records, timestamps=[timestamp + i * step for i in range(count)])


def append(log: Log, data: bytes) -> LogAppendInfo:
    validated = validate_batches(data, log.config.max_message_bytes)
    return log.append_as_leader(bytes(bytearray(data)), validated)


def open_log(
    directory: Path, clock: FakeClock, config: LogConfig | None = None, **kwargs: Any
) -> Log:
    return Log(
        directory / f"{TP.topic}-{TP.partition}",
        TP,
        TOPIC_ID,
        config or log_config(),
        clock,
        **kwargs,
    )


def records_of(data: bytes) -> list[Record]:
    return [record for batch in decode_batches(data) for record in batch.records]


def read_all(log: Log, offset: int = 0) -> list[Record]:
    """Every record from ``offset`` to the log end, fetching segment by segment."""
    result: list[Record] = []
    while offset < log.log_end_offset:
        data = log.read(offset, 2**31 - 1).records
        assert data, f"empty read at {offset}"
        batch_records = records_of(data)
        result += [r for r in batch_records if r.offset >= offset]
        offset = batch_records[-1].offset + 1
    return result
