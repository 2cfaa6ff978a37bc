"""Transaction markers: control batches (transactional + control attributes) holding one
record whose key is [version int16, type int16] (0 = ABORT, 1 = COMMIT) and whose value is
[version int16, coordinator epoch int32] — Kafka's EndTransactionMarker."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from odradek.protocol.records.batch import CONTROL_FLAG, TRANSACTIONAL_FLAG
from odradek.protocol.records.codec import encode_batch

ABORT = 0
COMMIT = 1
_KEY = struct.Struct(">hh")
_VALUE = struct.Struct(">hi")


@dataclass(frozen=True, slots=True)
class ControlRecord:
    type: int
    coordinator_epoch: int = 0

    @property
    def commit(self) -> bool:
        return self.type == COMMIT


def encode_marker(
    producer_id: int, producer_epoch: int, commit: bool, coordinator_epoch: int, timestamp: int
) -> bytes:
    key = _KEY.pack(0, COMMIT if commit else ABORT)
    value = _VALUE.pack(0, coordinator_epoch)
    return encode_batch(
        [(key, value)],
        timestamp=timestamp,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=-1,
        attributes=TRANSACTIONAL_FLAG | CONTROL_FLAG,
    )


def decode_control_key(key: bytes | None) -> int | None:
    """The marker type of a control record key, or None if it is not a known one."""
    if key is None or len(key) < 4:
        return None
    _, kind = _KEY.unpack_from(key, 0)
    return int(kind) if kind in (ABORT, COMMIT) else None


def decode_marker(key: bytes | None, value: bytes | None) -> ControlRecord | None:
    kind = decode_control_key(key)
    if kind is None:
        return None
    epoch = _VALUE.unpack_from(value, 0)[1] if value is not None and len(value) >= 6 else 0
    return ControlRecord(kind, int(epoch))
