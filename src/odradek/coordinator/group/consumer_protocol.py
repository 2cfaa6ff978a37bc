"""The consumer protocol embedded in classic JoinGroup and SyncGroup (Kafka's ConsumerProtocol).

A subscription (ConsumerProtocolSubscription) is an int16 version, then an int32-counted array
of int16-length topic names and nullable user data (int32 length, -1 for null); version 1 adds
the owned partitions (topic name and int32-counted partition array), version 2 the generation
and version 3 the rack id (a nullable int16-length string). An assignment
(ConsumerProtocolAssignment) is an int16 version, the assigned partitions laid out as the owned
ones, and nullable user data; versions 0 to 3 share that layout. Later versions may append
fields, which are ignored here. The layouts are kio's, generated from Kafka's
ConsumerProtocolSubscription.json and ConsumerProtocolAssignment.json.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kio.schema.consumer_protocol_assignment.v0 import data as assignment_v0
from kio.schema.consumer_protocol_assignment.v1 import data as assignment_v1
from kio.schema.consumer_protocol_assignment.v2 import data as assignment_v2
from kio.schema.consumer_protocol_assignment.v3 import data as assignment_v3
from kio.schema.consumer_protocol_subscription.v0 import data as subscription_v0
from kio.schema.consumer_protocol_subscription.v1 import data as subscription_v1
from kio.schema.consumer_protocol_subscription.v2 import data as subscription_v2
from kio.schema.consumer_protocol_subscription.v3 import data as subscription_v3
from kio.schema.types import TopicName
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i32

_I16 = struct.Struct(">h")
MAX_ASSIGNMENT_VERSION = 3
TopicPartitions = dict[str, frozenset[int]]

_SUBSCRIPTIONS: tuple[Any, ...] = (
    subscription_v0,
    subscription_v1,
    subscription_v2,
    subscription_v3,
)
_ASSIGNMENTS: tuple[Any, ...] = (assignment_v0, assignment_v1, assignment_v2, assignment_v3)


@dataclass(frozen=True, slots=True)
class Subscription:
    version: int
    topics: tuple[str, ...]
    owned: TopicPartitions
    rack_id: str | None = None


def _by_topic(entries: Any) -> TopicPartitions:
    result: TopicPartitions = {}
    for entry in entries:
        result[entry.topic] = result.get(entry.topic, frozenset()) | frozenset(entry.partitions)
    return result


def _read(modules: tuple[Any, ...], name: str, data: bytes) -> tuple[int, Any]:
    """The version and body of a consumer-protocol blob; a version beyond the newest known
    is read as the newest (its later fields are ignored)."""
    version = int(_I16.unpack_from(data, 0)[0])
    module = modules[max(0, min(version, len(modules) - 1))]
    body, _size = entity_reader(getattr(module, name))(memoryview(data), 2)
    return version, body


def decode_subscription(metadata: bytes) -> Subscription:
    """The subscription of a JoinGroup protocol; ValueError when it is malformed."""
    try:
        version, body = _read(_SUBSCRIPTIONS, "ConsumerProtocolSubscription", metadata)
    except Exception as exc:  # kio raises several types for malformed input
        raise ValueError("malformed consumer subscription") from exc
    return Subscription(
        version,
        tuple(body.topics),
        _by_topic(getattr(body, "owned_partitions", ())),
        getattr(body, "rack_id", None),
    )


def subscription_topics(metadata: bytes) -> set[str]:
    return set(decode_subscription(metadata).topics)


def subscription_version(metadata: bytes) -> int:
    """The version of a subscription (0 when unreadable)."""
    return int(_I16.unpack_from(metadata, 0)[0]) if len(metadata) >= 2 else 0


def encode_assignment(partitions: Mapping[str, frozenset[int]], version: int) -> bytes:
    """A ConsumerProtocolAssignment of ``partitions`` at ``version`` (capped at 3), without
    user data."""
    version = max(0, min(version, MAX_ASSIGNMENT_VERSION))
    module = _ASSIGNMENTS[version]
    assignment = module.ConsumerProtocolAssignment(
        assigned_partitions=tuple(
            module.TopicPartition(
                topic=TopicName(topic), partitions=tuple(i32(p) for p in sorted(partitions[topic]))
            )
            for topic in sorted(partitions)
        ),
        user_data=None,
    )
    buffer = io.BytesIO()
    buffer.write(_I16.pack(version))
    entity_writer(module.ConsumerProtocolAssignment)(buffer, assignment)
    return buffer.getvalue()


def decode_assignment(data: bytes) -> TopicPartitions:
    """The partitions of a ConsumerProtocolAssignment (none for empty bytes); ValueError when
    it is malformed."""
    if not data:
        return {}
    try:
        _version, body = _read(_ASSIGNMENTS, "ConsumerProtocolAssignment", data)
    except Exception as exc:  # kio raises several types for malformed input
        raise ValueError("malformed consumer assignment") from exc
    return _by_topic(body.assigned_partitions)
