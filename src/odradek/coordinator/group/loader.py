"""Loading group state from ``__consumer_offsets`` partitions at startup."""

from __future__ import annotations

from odradek.coordinator.group.coordinator import GroupCoordinator
from odradek.protocol.records.codec import decode_batches
from odradek.protocol.records.control import decode_marker
from odradek.storage.log import Log


def load_partition(coordinator: GroupCoordinator, log_obj: Log, partition: int) -> int:
    """Replay every record of one offsets partition; returns how many were read."""
    count = 0
    for segment in log_obj.segments:
        data = segment.read(0, segment.size)
        for batch in decode_batches(data):
            header = batch.header
            if header.is_control:
                marker = (
                    decode_marker(batch.records[0].key, batch.records[0].value)
                    if batch.records
                    else None
                )
                if marker is not None:
                    coordinator.complete_txn(partition, header.producer_id, marker.commit)
                continue
            producer_id = header.producer_id if header.is_transactional else -1
            for record in batch.records:
                if record.key is not None:
                    coordinator.replay(record.key, record.value, producer_id)
                    count += 1
    return count
