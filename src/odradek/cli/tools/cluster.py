"""``odradek cluster``: a cluster health check with the AdminClient: cluster id,
controller, brokers (describeCluster), topics (listTopics) and consumer groups
(listConsumerGroups)."""

from __future__ import annotations

import argparse
from typing import Any

from odradek.cli.tools.common import (
    INTERNAL_TOPICS,
    Admin,
    print_json,
    print_table,
    run_tool,
    state_name,
    wants_json,
)


def main(args: argparse.Namespace) -> int:
    return run_tool("cluster", args, _run)


def _node(node: Any) -> dict[str, Any] | None:
    if node is None or node.id < 0:
        return None
    return {"id": node.id, "host": node.host, "port": node.port, "rack": node.rack}


def collect(admin: Admin, include_internal: bool) -> dict[str, Any]:
    cluster = admin.wait(admin.client.describe_cluster(request_timeout=admin.timeout))
    metadata = admin.metadata()
    groups = admin.wait(admin.client.list_consumer_groups(request_timeout=admin.timeout))
    topics = {
        name: t
        for name, t in metadata.topics.items()
        if include_internal or name not in INTERNAL_TOPICS
    }
    offline = sorted(
        f"{name}-{p.id}"
        for name, t in topics.items()
        for p in t.partitions.values()
        if p.leader < 0
    )
    return {
        "cluster_id": cluster.cluster_id,
        "controller": _node(cluster.controller),
        "brokers": [_node(n) for n in sorted(cluster.nodes, key=lambda n: n.id)],
        "topics": sorted(topics),
        "partitions": sum(len(t.partitions) for t in topics.values()),
        "offline_partitions": offline,
        "consumer_groups": sorted(
            ({"group": g.group_id, "state": state_name(g.state)} for g in groups.valid),
            key=lambda g: g["group"],
        ),
    }


def _address(node: dict[str, Any] | None) -> str:
    if node is None:
        return "none"
    return f"{node['id']} ({node['host']}:{node['port']})"


def _run(args: argparse.Namespace) -> int:
    admin = Admin.from_args(args)
    health = collect(admin, args.include_internal)
    if wants_json(args):
        print_json(health)
    else:
        _print(health)
    return 1 if health["offline_partitions"] else 0


def _print(health: dict[str, Any]) -> None:
    print(f"Cluster ID: {health['cluster_id']}")
    print(f"Controller: {_address(health['controller'])}")
    print(f"Active Brokers: {len(health['brokers'])}")
    print_table(
        ["  ID", "HOST", "PORT", "RACK"],
        [(f"  {b['id']}", b["host"], b["port"], b["rack"]) for b in health["brokers"]],
    )
    print(f"Total Topics: {len(health['topics'])} ({health['partitions']} partitions)")
    for name in health["topics"]:
        print(f"  {name}")
    if health["offline_partitions"]:
        print(
            f"Offline Partitions: {len(health['offline_partitions'])} "
            f"({', '.join(health['offline_partitions'])})"
        )
    print(f"Active Consumer Groups: {len(health['consumer_groups'])}")
    for group in health["consumer_groups"]:
        print(f"  {group['group']} ({group['state']})")
