"""``__transaction_state`` records as Kafka writes them (TransactionLogKey/Value v0): key
[version int16, transactional id]; value [version int16, producer id int64, producer epoch
int16, timeout ms int32, status int8, partitions (nullable array of topic + int32 array),
last update ms int64, start ms int64]. Strings are int16-length UTF-8."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


@dataclass(frozen=True, slots=True)
class TxnValue:
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    status: int
    partitions: tuple[tuple[str, int], ...]
    last_update_ms: int
    start_ms: int


def _string(value: str) -> bytes:
    raw = value.encode()
    return _I16.pack(len(raw)) + raw


def txn_key(transactional_id: str) -> bytes:
    return _I16.pack(0) + _string(transactional_id)


def txn_value(value: TxnValue) -> bytes:
    by_topic: dict[str, list[int]] = {}
    for topic, partition in value.partitions:
        by_topic.setdefault(topic, []).append(partition)
    parts = [_I32.pack(len(by_topic))]
    for topic, partitions in by_topic.items():
        parts += [_string(topic), _I32.pack(len(partitions))]
        parts += [_I32.pack(p) for p in partitions]
    return (
        _I16.pack(0)
        + _I64.pack(value.producer_id)
        + _I16.pack(value.producer_epoch)
        + _I32.pack(value.timeout_ms)
        + _I8.pack(value.status)
        + b"".join(parts)
        + _I64.pack(value.last_update_ms)
        + _I64.pack(value.start_ms)
    )


def decode_key(data: bytes) -> str:
    (length,) = _I16.unpack_from(data, 2)
    return data[4 : 4 + length].decode()


def decode_value(data: bytes) -> TxnValue:
    position = 2
    (producer_id,) = _I64.unpack_from(data, position)
    (epoch,) = _I16.unpack_from(data, position + 8)
    (timeout,) = _I32.unpack_from(data, position + 10)
    (status,) = _I8.unpack_from(data, position + 14)
    position += 15
    (count,) = _I32.unpack_from(data, position)
    position += 4
    partitions = []
    for _ in range(max(count, 0)):
        (length,) = _I16.unpack_from(data, position)
        topic = data[position + 2 : position + 2 + length].decode()
        position += 2 + length
        (n,) = _I32.unpack_from(data, position)
        position += 4
        for _ in range(n):
            partitions.append((topic, _I32.unpack_from(data, position)[0]))
            position += 4
    (last_update,) = _I64.unpack_from(data, position)
    (start,) = _I64.unpack_from(data, position + 8)
    return TxnValue(producer_id, epoch, timeout, status, tuple(partitions), last_update, start)
