"""Loading group state from ``__consumer_offsets`` partitions at startup."""

from __future__ import annotations

from odradek.coordinator.group.coordinator import GroupCoordinator
from odradek.protocol.records.codec import decode_batches
from odradek.storage.log import Log


def load_partition(coordinator: GroupCoordinator, log_obj: Log) -> int:
    """Replay every record of one offsets partition; returns how many were read."""
    count = 0
    for segment in log_obj.segments:
        data = segment.read(0, segment.size)
        for batch in decode_batches(data):
            if batch.header.is_control:
                continue
            for record in batch.records:
                if record.key is not None:
                    coordinator.replay(record.key, record.value)
                    count += 1
    return count
