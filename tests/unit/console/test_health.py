"""Partition health counts of the Overview."""

from __future__ import annotations

from odradek.console.health import partition_health, topics_to_check_min_isr
from odradek.console.models import Health, PartitionState


def part(
    topic: str, leader: int, replicas: tuple[int, ...], isr: tuple[int, ...]
) -> PartitionState:
    return PartitionState(topic, 0, leader, replicas, isr)


def test_counts() -> None:
    partitions = [
        part("ok", 1, (1, 2, 3), (1, 2, 3)),
        part("short", 1, (1, 2, 3), (1, 2)),
        part("shorter", 1, (1, 2, 3), (1,)),
        part("offline", -1, (1, 2, 3), (3,)),
    ]
    min_isr = {"short": 2, "shorter": 2, "offline": 2}
    assert partition_health(partitions, min_isr) == Health(4, 3, 1, 2)
    assert partition_health(partitions, {}) == Health(4, 3, 1, 0)  # default min ISR 1
    assert topics_to_check_min_isr(partitions) == {"short", "shorter", "offline"}
