"""``odradek reassign-partitions`` and ``odradek leader-election`` against a 3-broker cluster,
run as an operator would (``python -m odradek ...``):

* a partition on brokers [1, 2] is moved to [2, 3] with --execute; --verify reports it in
  progress and then completed (and clears the throttles); the metadata then lists replicas
  [2, 3], broker 3 holds a copy identical to broker 2's, and --list shows nothing ongoing;
* after the preferred leader of a partition was killed and came back as a follower,
  ``leader-election --election-type PREFERRED`` makes it the leader again; a second election
  reports that the valid replica is already elected.

These need AlterPartitionReassignments (45), ListPartitionReassignments (46) and
ElectLeaders (43) in the broker's cluster mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from tests.support.cluster import Cluster, wait_until
from tests.support.raw_client import RawClient

ELECT_LEADERS = 43
ALTER_PARTITION_REASSIGNMENTS = 45
LIST_PARTITION_REASSIGNMENTS = 46
# The election must come from the tool, not from the controller's own rebalancing.
OVERRIDES = {"auto.leader.rebalance.enable": "false"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def odradek(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "odradek", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def tool(c: Cluster, *args: str, code: int = 0) -> str:
    """Run a tool against the cluster; it must exit with ``code``; returns its stdout."""
    result = odradek(args[0], "--bootstrap-server", c.bootstrap, *args[1:])
    assert result.returncode == code, (
        f"odradek {' '.join(args)} exited {result.returncode}, expected {code}\n"
        f"stdout: {result.stdout}\nstderr: {result.stderr}\n{c.logs()}"
    )
    return result.stdout


def require_apis(c: Cluster, *api_keys: int) -> None:
    with RawClient.to(c.broker(c.live_ids()[0]).bootstrap) as client:
        advertised = {int(k.api_key) for k in client.api_versions().api_keys}
    missing = sorted(set(api_keys) - advertised)
    assert not missing, f"the broker does not advertise api keys {missing}"


def produce(c: Cluster, topic: str, count: int) -> None:
    producer = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "log_level": 2})
    for i in range(count):
        producer.produce(topic, value=b"record-%d" % i, partition=0)
    assert producer.flush(60) == 0, "records not delivered"


def test_reassign_partition_to_other_brokers(
    cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    c = cluster(3, overrides=OVERRIDES)
    require_apis(c, ALTER_PARTITION_REASSIGNMENTS, LIST_PARTITION_REASSIGNMENTS)
    topic = unique("moving")
    c.create_topic(topic, assignment=[[1, 2]])
    produce(c, topic, 50)
    assert tool(c, "reassign-partitions", "--list") == "No partition reassignments found.\n"

    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "version": 1,
                "partitions": [
                    {"topic": topic, "partition": 0, "replicas": [2, 3], "log_dirs": ["any", "any"]}
                ],
            }
        )
    )
    out = tool(c, "reassign-partitions", "--execute", "--reassignment-json-file", str(plan))
    lines = out.splitlines()
    assert lines[0] == "Current partition replica assignment"
    rollback = json.loads(lines[2])
    assert rollback == {
        "version": 1,
        "partitions": [
            {"topic": topic, "partition": 0, "replicas": [1, 2], "log_dirs": ["any", "any"]}
        ],
    }
    assert lines[-1] == f"Successfully started partition reassignment for {topic}-0"

    def verified() -> str | None:
        report = tool(c, "reassign-partitions", "--verify", "--reassignment-json-file", str(plan))
        assert report.splitlines()[0] == "Status of partition reassignment:"
        assert report.splitlines()[1] in (
            f"Reassignment of partition {topic}-0 is completed.",
            f"Reassignment of partition {topic}-0 is still in progress.",
        )
        return report if "is completed." in report else None

    report = wait_until(
        verified,
        90,
        f"the reassignment of {topic}-0 did not complete",
        interval=1.0,
        context=c.logs,
    )
    assert report.splitlines()[2:] == [
        "Clearing broker-level throttles on brokers 1,2,3",
        f"Clearing topic-level throttles on topic {topic}",
    ]

    state = c.wait_full_isr(topic, [0], timeout=60)[0]
    assert state.replicas == (2, 3)
    assert state.leader in (2, 3)
    _, replicas, isr = wait_until(
        lambda: c.partition_state(topic, 0), 30, "no metadata for the moved partition"
    )
    assert (tuple(replicas), sorted(isr)) == ((2, 3), [2, 3])
    moved = c.wait_replicas_identical(topic, 0, [2, 3])
    assert moved.values() == [f"record-{i}" for i in range(50)]
    assert tool(c, "reassign-partitions", "--list") == "No partition reassignments found.\n"


def test_preferred_leader_election_restores_the_preferred_leader(
    cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    c = cluster(3, overrides=OVERRIDES)
    require_apis(c, ELECT_LEADERS)
    topic = unique("elect")
    c.create_topic(topic, assignment=[[1, 2, 3]])
    assert c.leader(topic, 0) == 1

    c.kill(1)
    wait_until(
        # ignore[union-attr]: mypy does not narrow the second agreed_state() call
        lambda: c.agreed_state(topic, 0) is not None and c.agreed_state(topic, 0).leader in (2, 3),  # type: ignore[union-attr]
        60,
        f"no new leader for {topic}-0 after broker 1 died",
        context=c.logs,
    )
    c.start_broker(1)
    c.wait_ready()
    moved = c.wait_full_isr(topic, [0], timeout=60, size=3)[0]
    assert moved.leader in (2, 3), "the leader moved back by itself"

    out = tool(
        c, "leader-election", "--election-type", "PREFERRED", "--topic", topic, "--partition", "0"
    )
    assert out == f"Successfully completed leader election (PREFERRED) for partitions {topic}-0\n"
    assert wait_until(
        # ignore[union-attr]: mypy does not narrow the second agreed_state() call
        lambda: c.agreed_state(topic, 0) is not None and c.agreed_state(topic, 0).leader == 1,  # type: ignore[union-attr]
        30,
        f"broker 1 did not become the leader of {topic}-0 again",
        context=c.logs,
    )
    leader, _, _ = wait_until(lambda: c.partition_state(topic, 0), 30, "no metadata")
    assert leader == 1

    election = tmp_path / "election.json"
    election.write_text(json.dumps({"partitions": [{"topic": topic, "partition": 0}]}))
    again = tool(
        c, "leader-election", "--election-type", "preferred", "--path-to-json-file", str(election)
    )
    assert again == f"Valid replica already elected for partitions {topic}-0\n"


def test_topics_describe_right_after_the_controller_is_killed(
    cluster: Callable[..., Cluster],
) -> None:
    """A tool started while the metadata still names the dead controller must learn the new
    one (librdkafka only does so on a metadata refresh) instead of waiting out its timeout."""
    c = cluster(3)
    topic = unique("after-controller")
    c.create_topic(topic, 2, 3)
    admin = AdminClient({"bootstrap.servers": c.bootstrap})
    controller = admin.describe_cluster(request_timeout=10).result(15).controller.id
    c.kill(controller)
    described = tool(c, "topics", "--describe", "--topic", topic)
    assert f"Topic: {topic}\t" in described and "PartitionCount: 2" in described, described
