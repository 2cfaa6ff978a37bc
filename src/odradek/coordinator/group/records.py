"""``__consumer_offsets`` record formats, as Kafka writes them (GroupCoordinatorRecordSerde):

* offset commit — key v1: group, topic, partition; value v3: offset, leader epoch, metadata,
  commit timestamp;
* group metadata — key v2: group; value v3: protocol type, generation, protocol, leader,
  state timestamp, members (id, instance id, client id, host, rebalance and session timeouts,
  subscription, assignment).

A null value is a tombstone. Strings are int16-length UTF-8 (-1 for null), bytes int32-length.
The encoders below and their decoders (``decode_*``) are each other's inverse: the live path
writes with the former, loading reads with the latter.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")

OFFSET_COMMIT_KEY_VERSION = 1
GROUP_METADATA_KEY_VERSION = 2
OFFSET_COMMIT_VALUE_VERSION = 3
GROUP_METADATA_VALUE_VERSION = 3


@dataclass(frozen=True, slots=True)
class OffsetKey:
    group: str
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class GroupKey:
    group: str


@dataclass(frozen=True, slots=True)
class OffsetValue:
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp: int
    expire_timestamp: int = -1


@dataclass(frozen=True, slots=True)
class MemberValue:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    subscription: bytes
    assignment: bytes


@dataclass(frozen=True, slots=True)
class GroupValue:
    protocol_type: str
    generation: int
    protocol: str | None
    leader: str | None
    state_timestamp: int
    members: tuple[MemberValue, ...]


class _Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def i16(self, value: int) -> _Writer:
        self.parts.append(_I16.pack(value))
        return self

    def i32(self, value: int) -> _Writer:
        self.parts.append(_I32.pack(value))
        return self

    def i64(self, value: int) -> _Writer:
        self.parts.append(_I64.pack(value))
        return self

    def string(self, value: str | None) -> _Writer:
        if value is None:
            return self.i16(-1)
        raw = value.encode()
        self.parts += [_I16.pack(len(raw)), raw]
        return self

    def bytes_(self, value: bytes) -> _Writer:
        self.parts += [_I32.pack(len(value)), value]
        return self

    def done(self) -> bytes:
        return b"".join(self.parts)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, fmt: struct.Struct) -> int:
        (value,) = fmt.unpack_from(self.data, self.pos)
        self.pos += fmt.size
        return int(value)

    def i16(self) -> int:
        return self._take(_I16)

    def i32(self) -> int:
        return self._take(_I32)

    def i64(self) -> int:
        return self._take(_I64)

    def string(self) -> str | None:
        length = self.i16()
        if length < 0:
            return None
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        return raw.decode()

    def bytes_(self) -> bytes:
        length = self.i32()
        raw = self.data[self.pos : self.pos + max(length, 0)]
        self.pos += max(length, 0)
        return raw


def offset_key(group: str, topic: str, partition: int) -> bytes:
    return (
        _Writer().i16(OFFSET_COMMIT_KEY_VERSION).string(group).string(topic).i32(partition).done()
    )


def group_key(group: str) -> bytes:
    return _Writer().i16(GROUP_METADATA_KEY_VERSION).string(group).done()


def offset_value(value: OffsetValue) -> bytes:
    return (
        _Writer()
        .i16(OFFSET_COMMIT_VALUE_VERSION)
        .i64(value.offset)
        .i32(value.leader_epoch)
        .string(value.metadata)
        .i64(value.commit_timestamp)
        .done()
    )


def group_value(value: GroupValue) -> bytes:
    writer = (
        _Writer()
        .i16(GROUP_METADATA_VALUE_VERSION)
        .string(value.protocol_type)
        .i32(value.generation)
        .string(value.protocol)
        .string(value.leader)
        .i64(value.state_timestamp)
        .i32(len(value.members))
    )
    for member in value.members:
        (
            writer.string(member.member_id)
            .string(member.group_instance_id)
            .string(member.client_id)
            .string(member.client_host)
            .i32(member.rebalance_timeout_ms)
            .i32(member.session_timeout_ms)
            .bytes_(member.subscription)
            .bytes_(member.assignment)
        )
    return writer.done()


Record = tuple[bytes, bytes | None]
"""One ``__consumer_offsets`` record as the writer appends it: key, value (None: tombstone)."""


def offset_commit_record(group: str, topic: str, partition: int, value: OffsetValue) -> Record:
    return offset_key(group, topic, partition), offset_value(value)


def offset_tombstone(group: str, topic: str, partition: int) -> Record:
    return offset_key(group, topic, partition), None


def group_metadata_record(group: str, value: GroupValue) -> Record:
    return group_key(group), group_value(value)


def group_tombstone(group: str) -> Record:
    return group_key(group), None


def decode_key(data: bytes) -> OffsetKey | GroupKey | None:
    """The key, or None for key versions this broker does not read (e.g. KIP-848 records)."""
    reader = _Reader(data)
    version = reader.i16()
    if version in (0, 1):
        return OffsetKey(reader.string() or "", reader.string() or "", reader.i32())
    if version == 2:
        return GroupKey(reader.string() or "")
    return None


def decode_offset_value(data: bytes) -> OffsetValue:
    reader = _Reader(data)
    version = reader.i16()
    offset = reader.i64()
    leader_epoch = reader.i32() if version >= 3 else -1
    metadata = reader.string() or ""
    commit_timestamp = reader.i64()
    expire = reader.i64() if version == 1 else -1
    return OffsetValue(offset, leader_epoch, metadata, commit_timestamp, expire)


def decode_group_value(data: bytes) -> GroupValue:
    reader = _Reader(data)
    version = reader.i16()
    protocol_type = reader.string() or ""
    generation = reader.i32()
    protocol = reader.string()
    leader = reader.string()
    state_timestamp = reader.i64() if version >= 2 else -1
    members = []
    for _ in range(reader.i32()):
        member_id = reader.string() or ""
        instance_id = reader.string() if version >= 3 else None
        client_id = reader.string() or ""
        client_host = reader.string() or ""
        rebalance_timeout = reader.i32() if version >= 1 else 0
        session_timeout = reader.i32()
        members.append(
            MemberValue(
                member_id,
                instance_id,
                client_id,
                client_host,
                rebalance_timeout,
                session_timeout,
                reader.bytes_(),
                reader.bytes_(),
            )
        )
    return GroupValue(protocol_type, generation, protocol, leader, state_timestamp, tuple(members))


def java_string_hash(value: str) -> int:
    """Java's String.hashCode (over UTF-16 code units), as a signed 32-bit int."""
    result = 0
    raw = value.encode("utf-16-be")
    for index in range(0, len(raw), 2):
        result = (31 * result + ((raw[index] << 8) | raw[index + 1])) & 0xFFFFFFFF
    return result - (1 << 32) if result >= 1 << 31 else result


def partition_for(group: str, partitions: int) -> int:
    """The ``__consumer_offsets`` partition of a group: Kafka's
    ``Utils.abs(hashCode) % partitions``, where Utils.abs is Math.abs except that
    Integer.MIN_VALUE gives 0 (not the sign-bit mask the producer partitioner uses)."""
    h = java_string_hash(group)
    return (0 if h == -(2**31) else abs(h)) % partitions
