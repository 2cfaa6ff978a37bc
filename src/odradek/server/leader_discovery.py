"""KIP-951 leader discovery: a partition answered NOT_LEADER_OR_FOLLOWER carries the leader
and epoch this broker knows (``current_leader``), and the response lists that leader's
address on the client's listener (``node_endpoints``), so a client that reads them (Produce
v10+, Fetch v16+) goes to the new leader without first refreshing its metadata."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from odradek.common.ids import TopicPartition
from odradek.protocol.codec import build

if TYPE_CHECKING:
    from odradek.server.collaborators import LeaderDiscovery


def known_leader(broker: LeaderDiscovery, tp: TopicPartition) -> tuple[int, int] | None:
    """(leader id, leader epoch) of ``tp`` in this broker's metadata, if it has a leader."""
    return broker.cluster.known_leader(tp)


def with_current_leader(
    broker: LeaderDiscovery, module: Any, tp: TopicPartition, partition: Any, leaders: set[int]
) -> Any:
    """``partition`` (``tp``'s response entity, with ``error_code`` and ``current_leader``)
    with its leader filled in when it is NOT_LEADER_OR_FOLLOWER and the leader is known; the
    leader's id is added to ``leaders`` for :func:`node_endpoints`."""
    if partition.error_code != ErrorCode.not_leader_or_follower:
        return partition
    found = known_leader(broker, tp)
    if found is None:
        return partition
    leader_id, leader_epoch = found
    leaders.add(leader_id)
    current = build(module.LeaderIdAndEpoch, leader_id=leader_id, leader_epoch=leader_epoch)
    return dataclasses.replace(partition, current_leader=current)


def node_endpoints(
    broker: LeaderDiscovery, module: Any, listener_name: str, leaders: Iterable[int]
) -> tuple[Any, ...]:
    """The addresses of ``leaders`` on ``listener_name``, as the response's node_endpoints."""
    wanted = set(leaders)
    return tuple(
        build(module.NodeEndpoint, node_id=b.broker_id, host=b.host, port=b.port, rack=b.rack)
        for b in broker.broker_endpoints(listener_name)
        if b.broker_id in wanted
    )


def supports_leader_discovery(module: Any) -> bool:
    """Whether a response version has KIP-951's fields (Produce v10+, Fetch v16+)."""
    return hasattr(module, "LeaderIdAndEpoch") and hasattr(module, "NodeEndpoint")
