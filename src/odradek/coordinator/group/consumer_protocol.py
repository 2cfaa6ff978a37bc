"""The consumer protocol embedded in classic JoinGroup and SyncGroup (Kafka's ConsumerProtocol).

A subscription (ConsumerProtocolSubscription) is an int16 version, then an int32-counted array
of int16-length topic names and nullable user data (int32 length, -1 for null); version 1 adds
the owned partitions (topic name and int32-counted partition array), version 2 the generation
and version 3 the rack id (a nullable int16-length string). An assignment
(ConsumerProtocolAssignment) is an int16 version, the assigned partitions laid out as the owned
ones, and nullable user data; versions 0 to 3 share that layout. Later versions may append
fields, which are ignored here.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
MAX_ASSIGNMENT_VERSION = 3
TopicPartitions = dict[str, frozenset[int]]


@dataclass(frozen=True, slots=True)
class Subscription:
    version: int
    topics: tuple[str, ...]
    owned: TopicPartitions
    rack_id: str | None = None


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def i16(self) -> int:
        (value,) = _I16.unpack_from(self.data, self.pos)
        self.pos += 2
        return int(value)

    def i32(self) -> int:
        (value,) = _I32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(value)

    def string(self) -> str | None:
        length = self.i16()
        if length < 0:
            return None
        raw = self.data[self.pos : self.pos + length]
        if len(raw) != length:
            raise ValueError("truncated string")
        self.pos += length
        return raw.decode()

    def nullable_bytes(self) -> None:
        length = self.i32()
        self.pos += max(length, 0)

    def partitions(self) -> TopicPartitions:
        result: TopicPartitions = {}
        for _ in range(self.i32()):
            topic = self.string() or ""
            parts = frozenset(self.i32() for _ in range(self.i32()))
            result[topic] = result.get(topic, frozenset()) | parts
        return result


def decode_subscription(metadata: bytes) -> Subscription:
    """The subscription of a JoinGroup protocol; ValueError when it is malformed."""
    try:
        reader = _Reader(metadata)
        version = reader.i16()
        topics = tuple(reader.string() or "" for _ in range(reader.i32()))
        reader.nullable_bytes()  # user data
        owned: TopicPartitions = {}
        rack_id = None
        if version >= 1 and not reader.at_end():
            owned = reader.partitions()
        if version >= 2 and not reader.at_end():
            reader.i32()  # generation
        if version >= 3 and not reader.at_end():
            rack_id = reader.string()
        return Subscription(version, topics, owned, rack_id)
    except (struct.error, UnicodeDecodeError) as exc:
        raise ValueError("malformed consumer subscription") from exc


def subscription_topics(metadata: bytes) -> set[str]:
    return set(decode_subscription(metadata).topics)


def subscription_version(metadata: bytes) -> int:
    """The version of a subscription (0 when unreadable)."""
    return int(_I16.unpack_from(metadata, 0)[0]) if len(metadata) >= 2 else 0


def encode_assignment(partitions: Mapping[str, frozenset[int]], version: int) -> bytes:
    """A ConsumerProtocolAssignment of ``partitions`` at ``version`` (capped at 3), without
    user data."""
    parts = [_I16.pack(max(0, min(version, MAX_ASSIGNMENT_VERSION))), _I32.pack(len(partitions))]
    for topic in sorted(partitions):
        raw = topic.encode()
        parts.append(_I16.pack(len(raw)) + raw)
        ordered = sorted(partitions[topic])
        parts.append(_I32.pack(len(ordered)))
        parts.extend(_I32.pack(p) for p in ordered)
    parts.append(_I32.pack(-1))
    return b"".join(parts)


def decode_assignment(data: bytes) -> TopicPartitions:
    """The partitions of a ConsumerProtocolAssignment (none for empty bytes); ValueError when
    it is malformed."""
    if not data:
        return {}
    try:
        reader = _Reader(data)
        reader.i16()
        return reader.partitions()
    except (struct.error, UnicodeDecodeError) as exc:
        raise ValueError("malformed consumer assignment") from exc
