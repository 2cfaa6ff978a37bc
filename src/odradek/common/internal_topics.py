"""The names of Kafka's internal topics, in one place."""

from __future__ import annotations

OFFSETS_TOPIC = "__consumer_offsets"  # group metadata and committed offsets
TXN_TOPIC = "__transaction_state"  # transaction coordinator state
INTERNAL_TOPICS = frozenset({OFFSETS_TOPIC, TXN_TOPIC})
