"""Topic ids as Kafka prints them: URL-safe base64 of the 16 bytes, without padding."""

from __future__ import annotations

import base64
import uuid


def encode_topic_id(topic_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(topic_id.bytes).decode("ascii").rstrip("=")


def parse_topic_id(text: str) -> uuid.UUID:
    return uuid.UUID(bytes=base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def decode_topic_id(partition_metadata: str) -> uuid.UUID | None:
    """The topic id in a ``partition.metadata`` file's text."""
    for line in partition_metadata.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "topic_id":
            return parse_topic_id(value.strip())
    return None
