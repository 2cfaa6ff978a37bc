"""Reading the consumer protocol's subscription (ConsumerProtocolSubscription): int16
version, then an int32-counted array of int16-length topic names; later versions append
fields this broker does not need."""

from __future__ import annotations

import struct


def subscription_topics(metadata: bytes) -> set[str]:
    try:
        (count,) = struct.unpack_from(">i", metadata, 2)
        position = 6
        topics = set()
        for _ in range(count):
            (length,) = struct.unpack_from(">h", metadata, position)
            position += 2
            topics.add(metadata[position : position + length].decode())
            position += length
        return topics
    except (struct.error, UnicodeDecodeError) as exc:
        raise ValueError("malformed consumer subscription") from exc
