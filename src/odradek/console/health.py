"""Partition health as the Overview counts it: under-replicated (fewer in-sync replicas than
replicas), offline (no leader) and under min ISR (fewer in-sync replicas than the topic's
``min.insync.replicas``, so acks=all produces fail)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from odradek.console.models import Health, PartitionState

DEFAULT_MIN_ISR = 1


def partition_health(partitions: Iterable[PartitionState], min_isr: Mapping[str, int]) -> Health:
    """Counts over ``partitions``; ``min_isr`` maps a topic to its ``min.insync.replicas``
    (topics not named have Kafka's default, 1). An offline partition counts as under min
    ISR only when its ISR is short too, as Kafka's UnderMinIsrPartitionCount does."""
    total = under_replicated = offline = under_min_isr = 0
    for partition in partitions:
        total += 1
        under_replicated += partition.under_replicated
        offline += partition.offline
        under_min_isr += len(partition.isr) < min_isr.get(partition.topic, DEFAULT_MIN_ISR)
    return Health(total, under_replicated, offline, under_min_isr)


def topics_to_check_min_isr(partitions: Iterable[PartitionState]) -> set[str]:
    """The topics whose ``min.insync.replicas`` the Overview reads: those with a partition
    whose ISR is shorter than its replica list. A full ISR is under min ISR only in a topic
    whose ``min.insync.replicas`` exceeds its replication factor (no acks=all produce ever
    succeeds there); such topics are not counted, as finding them costs a DescribeConfigs of
    every topic on every Overview."""
    return {p.topic for p in partitions if p.under_replicated}
