"""Replica assignment for new topics and partitions (Kafka's AdminUtils.assignReplicasToBrokers):
leaders spread round-robin from a random start, followers shifted so that replicas of
consecutive partitions land on different brokers; with racks, brokers are interleaved by rack
and each partition's replicas take distinct racks while there are racks left."""

from __future__ import annotations

import random
from collections.abc import Mapping

from odradek.common.errors import InvalidReplicationFactorError


def assign_replicas(
    brokers: Mapping[int, str | None],
    partitions: int,
    replication: int,
    first_partition: int = 0,
    start_index: int | None = None,
    shift: int | None = None,
) -> dict[int, list[int]]:
    """``brokers``: live broker id -> rack (or None). Returns partition -> replica list."""
    if replication > len(brokers):
        raise InvalidReplicationFactorError(
            f"Replication factor: {replication} larger than available brokers: {len(brokers)}."
        )
    racks = {rack for rack in brokers.values() if rack is not None}
    rack_aware = bool(racks) and all(rack is not None for rack in brokers.values())
    ordered = rack_alternated(brokers) if rack_aware else sorted(brokers)
    count = len(ordered)
    start = draw_index(count) if start_index is None else start_index
    next_shift = draw_index(count) if shift is None else shift
    result: dict[int, list[int]] = {}
    for offset in range(partitions):
        if offset > 0 and offset % count == 0:
            next_shift += 1
        first = (offset + start) % count
        replicas = [ordered[first]]
        if rack_aware:
            used_racks = {brokers[ordered[first]]}
            k = 0
            while len(replicas) < replication:
                candidate = ordered[_replica_index(first, next_shift * len(racks), k, count)]
                k += 1
                if candidate in replicas:
                    if k > 4 * count:
                        raise InvalidReplicationFactorError("cannot place replicas")
                    continue
                if (
                    brokers[candidate] in used_racks
                    and len(used_racks) < len(racks)
                    and k <= 2 * count
                ):
                    continue
                replicas.append(candidate)
                used_racks.add(brokers[candidate])
        else:
            replicas.extend(
                ordered[_replica_index(first, next_shift, j, count)] for j in range(replication - 1)
            )
        result[first_partition + offset] = replicas
    return result


def draw_index(count: int) -> int:
    """A random start (or shift) in [0, count), as Kafka draws them; tests may replace it."""
    return random.randrange(count)


def _replica_index(first: int, shift: int, j: int, count: int) -> int:
    if count == 1:
        return first
    return (first + 1 + (shift + j) % (count - 1)) % count


def rack_alternated(brokers: Mapping[int, str | None]) -> list[int]:
    """Brokers ordered so that consecutive ones are on different racks: r1b1, r2b1, r1b2..."""
    by_rack: dict[str, list[int]] = {}
    for broker, rack in sorted(brokers.items()):
        by_rack.setdefault(str(rack), []).append(broker)
    ordered: list[int] = []
    lists = [by_rack[r] for r in sorted(by_rack)]
    for index in range(max(len(x) for x in lists)):
        ordered.extend(x[index] for x in lists if index < len(x))
    return ordered
