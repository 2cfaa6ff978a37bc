"""``__consumer_offsets`` records of consumer-protocol groups (KIP-848), as Kafka 4.0 writes them.

The key version is the record type, then the group id (and the member id for per-member
records), with int16-length strings (keys are not flexible):

* 3 — ConsumerGroupMetadata: value v0 ``Epoch`` (the group epoch);
* 4 — ConsumerGroupPartitionMetadata: value v0 the subscribed topics' metadata the group
  epoch was last bumped for (topic id, name and partition count; the per-partition racks,
  unused since Kafka 4.0, are written empty);
* 5 — ConsumerGroupMemberMetadata: value v0 instance id, rack id, client id and host,
  subscribed topic names and regex, rebalance timeout, server assignor, and (tagged field 0)
  a classic member's ClassicMemberMetadata: session timeout and supported protocols;
* 6 — ConsumerGroupTargetAssignmentMetadata: value v0 ``AssignmentEpoch``;
* 7 — ConsumerGroupTargetAssignmentMember: value v0 the member's target partitions;
* 8 — ConsumerGroupCurrentMemberAssignment: value v0 member epoch, previous member epoch,
  state, assigned partitions and partitions pending revocation.

Values are flexible (KIP-482): compact strings and arrays, an empty tagged-field section at
the end of every struct. Partitions are named by topic id. A null value is a tombstone. The
encoders and the ``decode_*`` functions are each other's inverse.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from odradek.coordinator.group.consumer.model import (
    Assignment,
    ClassicMemberMetadata,
    ConsumerGroup,
    ConsumerGroupMember,
)

GROUP_METADATA = 3
PARTITION_METADATA = 4
MEMBER_METADATA = 5
TARGET_ASSIGNMENT_METADATA = 6
TARGET_ASSIGNMENT_MEMBER = 7
CURRENT_MEMBER_ASSIGNMENT = 8
RECORD_TYPES = frozenset(
    (
        GROUP_METADATA,
        PARTITION_METADATA,
        MEMBER_METADATA,
        TARGET_ASSIGNMENT_METADATA,
        TARGET_ASSIGNMENT_MEMBER,
        CURRENT_MEMBER_ASSIGNMENT,
    )
)
_PER_MEMBER = frozenset((MEMBER_METADATA, TARGET_ASSIGNMENT_MEMBER, CURRENT_MEMBER_ASSIGNMENT))
VALUE_VERSION = 0

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


@dataclass(frozen=True, slots=True)
class RecordKey:
    """A consumer-group record's key: its type, group, and member (per-member types)."""

    record_type: int
    group_id: str
    member_id: str | None = None


@dataclass(frozen=True, slots=True)
class MemberMetadataValue:
    instance_id: str | None
    rack_id: str | None
    client_id: str
    client_host: str
    subscribed_topic_names: tuple[str, ...]
    subscribed_topic_regex: str | None
    rebalance_timeout_ms: int
    server_assignor: str | None
    classic: ClassicMemberMetadata | None = None


@dataclass(frozen=True, slots=True)
class CurrentAssignmentValue:
    member_epoch: int
    previous_member_epoch: int
    state: int
    assigned: Assignment
    pending_revocation: Assignment


# -- keys ---------------------------------------------------------------------------------------


def _key_string(value: str) -> bytes:
    raw = value.encode()
    return _I16.pack(len(raw)) + raw


def encode_key(key: RecordKey) -> bytes:
    parts = [_I16.pack(key.record_type), _key_string(key.group_id)]
    if key.member_id is not None:
        parts.append(_key_string(key.member_id))
    return b"".join(parts)


def key_type(data: bytes) -> int:
    """The record type (key version) of any ``__consumer_offsets`` key."""
    return int(_I16.unpack_from(data, 0)[0])


def decode_key(data: bytes) -> RecordKey:
    record_type = key_type(data)
    position = 2
    strings = []
    wanted = 2 if record_type in _PER_MEMBER else 1
    for _ in range(wanted):
        (length,) = _I16.unpack_from(data, position)
        position += 2
        strings.append(data[position : position + length].decode())
        position += length
    return RecordKey(record_type, strings[0], strings[1] if wanted == 2 else None)


# -- flexible values ----------------------------------------------------------------------------


class _Out:
    def __init__(self, versioned: bool = True) -> None:
        self.parts: list[bytes] = [_I16.pack(VALUE_VERSION)] if versioned else []

    def uvarint(self, value: int) -> _Out:
        out = bytearray()
        while value >= 0x80:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
        self.parts.append(bytes(out))
        return self

    def i8(self, value: int) -> _Out:
        self.parts.append(struct.pack(">b", value))
        return self

    def i32(self, value: int) -> _Out:
        self.parts.append(_I32.pack(value))
        return self

    def string(self, value: str | None) -> _Out:
        if value is None:
            return self.uvarint(0)
        raw = value.encode()
        self.uvarint(len(raw) + 1)
        self.parts.append(raw)
        return self

    def compact_bytes(self, value: bytes) -> _Out:
        self.uvarint(len(value) + 1)
        self.parts.append(value)
        return self

    def assignment(self, value: Assignment) -> _Out:
        topics = sorted(value.items(), key=lambda item: str(item[0]))
        self.uvarint(len(topics) + 1)
        for topic_id, partitions in topics:
            self.parts.append(topic_id.bytes)
            self.uvarint(len(partitions) + 1)
            self.parts.extend(_I32.pack(p) for p in sorted(partitions))
            self.uvarint(0)  # no tagged fields
        return self

    def done(self, tagged: dict[int, bytes] | None = None) -> bytes:
        fields = sorted((tagged or {}).items())
        self.uvarint(len(fields))
        for tag, raw in fields:
            self.uvarint(tag).uvarint(len(raw))
            self.parts.append(raw)
        return b"".join(self.parts)


class _In:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 2  # past the value version

    def uvarint(self) -> int:
        result = shift = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def i8(self) -> int:
        (value,) = struct.unpack_from(">b", self.data, self.pos)
        self.pos += 1
        return int(value)

    def i32(self) -> int:
        (value,) = _I32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(value)

    def string(self) -> str | None:
        length = self.uvarint() - 1
        if length < 0:
            return None
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        return raw.decode()

    def compact_bytes(self) -> bytes:
        length = self.uvarint() - 1
        raw = self.data[self.pos : self.pos + max(length, 0)]
        self.pos += max(length, 0)
        return raw

    def skip_tagged(self) -> None:
        self.tagged()

    def tagged(self) -> dict[int, bytes]:
        """The tagged fields of the struct ending here, by tag."""
        fields = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            size = self.uvarint()
            fields[tag] = self.data[self.pos : self.pos + size]
            self.pos += size
        return fields

    def assignment(self) -> Assignment:
        result: Assignment = {}
        for _ in range(self.uvarint() - 1):
            topic_id = uuid.UUID(bytes=self.data[self.pos : self.pos + 16])
            self.pos += 16
            result[topic_id] = frozenset(self.i32() for _ in range(self.uvarint() - 1))
            self.skip_tagged()
        return result


Record = tuple[bytes, bytes | None]
SubscriptionMetadata = dict[str, tuple[uuid.UUID, int]]
"""The subscribed topics' metadata by topic name: (topic id, partition count)."""


def group_epoch_record(group_id: str, epoch: int) -> Record:
    return encode_key(RecordKey(GROUP_METADATA, group_id)), _Out().i32(epoch).done()


def partition_metadata_record(group_id: str, metadata: SubscriptionMetadata) -> Record:
    out = _Out().uvarint(len(metadata) + 1)
    for name, (topic_id, partitions) in sorted(metadata.items()):
        out.parts.append(topic_id.bytes)
        out.string(name).i32(partitions)
        out.uvarint(1)  # PartitionMetadata (racks): not used since Kafka 4.0, written empty
        out.uvarint(0)  # no tagged fields
    return encode_key(RecordKey(PARTITION_METADATA, group_id)), out.done()


def member_metadata_record(group_id: str, member_id: str, value: MemberMetadataValue) -> Record:
    out = (
        _Out()
        .string(value.instance_id)
        .string(value.rack_id)
        .string(value.client_id)
        .string(value.client_host)
        .uvarint(len(value.subscribed_topic_names) + 1)
    )
    for name in value.subscribed_topic_names:
        out.string(name)
    out.string(value.subscribed_topic_regex).i32(value.rebalance_timeout_ms)
    out.string(value.server_assignor)
    tagged = {CLASSIC_MEMBER_METADATA_TAG: _classic(value.classic)} if value.classic else None
    return encode_key(RecordKey(MEMBER_METADATA, group_id, member_id)), out.done(tagged)


CLASSIC_MEMBER_METADATA_TAG = 0


def _classic(value: ClassicMemberMetadata) -> bytes:
    out = _Out(versioned=False).i32(value.session_timeout_ms)
    out.uvarint(len(value.supported_protocols) + 1)
    for name, metadata in value.supported_protocols:
        out.string(name).compact_bytes(metadata).uvarint(0)
    return out.done()


def _decode_classic(raw: bytes) -> ClassicMemberMetadata:
    reader = _In(raw)
    reader.pos = 0
    session_timeout_ms = reader.i32()
    protocols = []
    for _ in range(reader.uvarint() - 1):
        name = reader.string() or ""
        protocols.append((name, reader.compact_bytes()))
        reader.skip_tagged()
    return ClassicMemberMetadata(session_timeout_ms, tuple(protocols))


def target_assignment_epoch_record(group_id: str, epoch: int) -> Record:
    return encode_key(RecordKey(TARGET_ASSIGNMENT_METADATA, group_id)), _Out().i32(epoch).done()


def target_assignment_member_record(group_id: str, member_id: str, target: Assignment) -> Record:
    key = encode_key(RecordKey(TARGET_ASSIGNMENT_MEMBER, group_id, member_id))
    return key, _Out().assignment(target).done()


def current_assignment_record(
    group_id: str, member_id: str, value: CurrentAssignmentValue
) -> Record:
    out = (
        _Out()
        .i32(value.member_epoch)
        .i32(value.previous_member_epoch)
        .i8(value.state)
        .assignment(value.assigned)
        .assignment(value.pending_revocation)
    )
    return encode_key(RecordKey(CURRENT_MEMBER_ASSIGNMENT, group_id, member_id)), out.done()


def tombstone(record_type: int, group_id: str, member_id: str | None = None) -> Record:
    return encode_key(RecordKey(record_type, group_id, member_id)), None


def member_tombstones(group_id: str, member_id: str) -> list[Record]:
    """A member's records removed, in Kafka's order: current assignment, target, metadata."""
    return [
        tombstone(CURRENT_MEMBER_ASSIGNMENT, group_id, member_id),
        tombstone(TARGET_ASSIGNMENT_MEMBER, group_id, member_id),
        tombstone(MEMBER_METADATA, group_id, member_id),
    ]


def decode_epoch(data: bytes) -> int:
    """The value of a ConsumerGroupMetadata or ConsumerGroupTargetAssignmentMetadata record."""
    return _In(data).i32()


def decode_partition_metadata(data: bytes) -> SubscriptionMetadata:
    reader = _In(data)
    result: SubscriptionMetadata = {}
    for _ in range(reader.uvarint() - 1):
        topic_id = uuid.UUID(bytes=reader.data[reader.pos : reader.pos + 16])
        reader.pos += 16
        name = reader.string() or ""
        partitions = reader.i32()
        for _ in range(reader.uvarint() - 1):  # per-partition racks: skipped
            reader.i32()
            for _ in range(reader.uvarint() - 1):
                reader.string()
            reader.skip_tagged()
        reader.skip_tagged()
        result[name] = (topic_id, partitions)
    return result


def decode_member_metadata(data: bytes) -> MemberMetadataValue:
    reader = _In(data)
    instance_id = reader.string()
    rack_id = reader.string()
    client_id = reader.string() or ""
    client_host = reader.string() or ""
    names = tuple(reader.string() or "" for _ in range(reader.uvarint() - 1))
    regex = reader.string()
    rebalance_timeout = reader.i32()
    assignor = reader.string()
    classic_raw = reader.tagged().get(CLASSIC_MEMBER_METADATA_TAG)
    classic = _decode_classic(classic_raw) if classic_raw is not None else None
    return MemberMetadataValue(
        instance_id,
        rack_id,
        client_id,
        client_host,
        names,
        regex,
        rebalance_timeout,
        assignor,
        classic,
    )


def decode_target_assignment(data: bytes) -> Assignment:
    return _In(data).assignment()


def decode_current_assignment(data: bytes) -> CurrentAssignmentValue:
    reader = _In(data)
    epoch = reader.i32()
    previous = reader.i32()
    state = reader.i8()
    assigned = reader.assignment()
    return CurrentAssignmentValue(epoch, previous, state, assigned, reader.assignment())


# -- a member's records ------------------------------------------------------------------------


def metadata_value(member: ConsumerGroupMember) -> MemberMetadataValue:
    """The member-metadata record value of ``member`` as it stands."""
    return MemberMetadataValue(
        member.instance_id,
        member.rack_id,
        member.client_id,
        member.client_host,
        member.subscribed_topic_names,
        member.subscribed_topic_regex,
        member.rebalance_timeout_ms,
        member.server_assignor,
        member.classic,
    )


def current_record(group_id: str, member: ConsumerGroupMember) -> Record:
    """The member's current-assignment record as it stands."""
    return current_assignment_record(
        group_id,
        member.member_id,
        CurrentAssignmentValue(
            member.member_epoch,
            member.previous_member_epoch,
            member.state.value,
            member.assigned,
            member.pending_revocation,
        ),
    )


def group_records(group: ConsumerGroup) -> list[Record]:
    """Every record of ``group`` as it stands, in Kafka's order (a group created at once, as a
    classic group converted to a consumer group)."""
    group_id = group.group_id
    records = [
        member_metadata_record(group_id, m.member_id, metadata_value(m))
        for m in group.members.values()
    ]
    records.append(group_epoch_record(group_id, group.group_epoch))
    records.extend(
        target_assignment_member_record(group_id, m_id, group.target.get(m_id, {}))
        for m_id in group.members
    )
    records.append(target_assignment_epoch_record(group_id, group.assignment_epoch))
    records.extend(current_record(group_id, m) for m in group.members.values())
    return records


def group_tombstones(group: ConsumerGroup) -> list[Record]:
    """Every record of ``group`` removed, the group's own last (Kafka's order)."""
    group_id = group.group_id
    records = [tombstone(CURRENT_MEMBER_ASSIGNMENT, group_id, m) for m in group.members]
    records.extend(tombstone(TARGET_ASSIGNMENT_MEMBER, group_id, m) for m in group.members)
    records.append(tombstone(TARGET_ASSIGNMENT_METADATA, group_id))
    records.extend(tombstone(MEMBER_METADATA, group_id, m) for m in group.members)
    records.append(tombstone(PARTITION_METADATA, group_id))
    records.append(tombstone(GROUP_METADATA, group_id))
    return records
