"""Identifiers shared by every layer."""

from __future__ import annotations

import base64
import uuid
from typing import NamedTuple


class TopicPartition(NamedTuple):
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}"


ZERO_UUID = uuid.UUID(int=0)


def new_topic_id() -> uuid.UUID:
    """A random topic id that is neither the zero UUID nor Kafka's reserved metadata id (1)."""
    while True:
        value = uuid.uuid4()
        if value.int > 1:
            return value


def new_cluster_id() -> str:
    """A cluster id as Kafka makes them: a random UUID in URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
