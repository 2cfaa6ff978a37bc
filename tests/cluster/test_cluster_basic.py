"""Cluster mode, the basics (issue 8): three brokers over ZooKeeper, a topic with replication
factor 3, metadata as Kafka reports it, produce with acks=all and consume back.

What Kafka documents and these tests hold the brokers to:

* Metadata from any broker lists every live broker and the controller, and for each partition
  its leader, leader epoch, replicas and ISR; all brokers agree;
* replicas are assigned with the leaders (first replicas) spread over the brokers;
* only the leader serves produce and fetch requests from clients: a follower answers
  NOT_LEADER_OR_FOLLOWER (6);
* ``kafka-topics.sh --describe`` (``odradek topics``) prints Leader/Replicas/Isr per partition.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from confluent_kafka import Producer

from odradek.protocol.records.codec import encode_batch
from tests.support.cluster import Cluster, read_partitions
from tests.support.raw_client import FETCH, PRODUCE, request_module

NOT_LEADER_OR_FOLLOWER = 6
PARTITIONS = 3
RECORDS = 300


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def produce_v11(topic: str, partition: int, records: bytes) -> Any:
    """Produce v11: the version whose NOT_LEADER_OR_FOLLOWER names the leader (KIP-951)."""
    mod = request_module(PRODUCE, 11)
    return mod.ProduceRequest(
        transactional_id=None,
        acks=-1,
        timeout=timedelta(seconds=10),
        topic_data=(
            mod.TopicProduceData(
                name=topic,
                partition_data=(mod.PartitionProduceData(index=partition, records=records),),
            ),
        ),
    )


def fetch_v16(topic_id: uuid.UUID, partition: int) -> Any:
    """Fetch v16: the first version whose NOT_LEADER_OR_FOLLOWER names the leader (KIP-951)."""
    mod = request_module(FETCH, 16)
    return mod.FetchRequest(
        max_wait=timedelta(0),
        min_bytes=1,
        topics=(
            mod.FetchTopic(
                topic_id=topic_id,
                partitions=(
                    mod.FetchPartition(
                        partition=partition, fetch_offset=0, partition_max_bytes=1_048_576
                    ),
                ),
            ),
        ),
        forgotten_topics_data=(),
    )


def fetch_v10(topic: str, partition: int) -> Any:
    mod = request_module(FETCH, 10)
    return mod.FetchRequest(
        replica_id=-1,
        max_wait=timedelta(0),
        min_bytes=1,
        max_bytes=1_048_576,
        topics=(
            mod.FetchTopic(
                topic=topic,
                partitions=(
                    mod.FetchPartition(
                        partition=partition, fetch_offset=0, partition_max_bytes=1_048_576
                    ),
                ),
            ),
        ),
        forgotten_topics_data=(),
    )


def test_cluster_basic(cluster: Callable[..., Cluster]) -> None:
    c = cluster(3, overrides={"default.replication.factor": "3", "min.insync.replicas": "2"})
    topic = unique("basic")
    c.create_topic(topic, PARTITIONS, 3)

    # Metadata through the AdminClient: three brokers, a controller, full ISRs.
    md = c.admin().list_topics(timeout=10)
    assert sorted(md.brokers) == [1, 2, 3], f"brokers {sorted(md.brokers)}\n{c.logs()}"
    assert md.controller_id in (1, 2, 3), f"controller {md.controller_id}"
    assert c.controller_id() == md.controller_id
    for p in range(PARTITIONS):
        state = c.partition_state(topic, p)
        assert state is not None, f"{topic}-{p} missing from metadata"
        leader, replicas, isr = state
        assert sorted(replicas) == [1, 2, 3], state
        assert sorted(isr) == [1, 2, 3], state
        assert leader in replicas, state

    # Every broker answers the same metadata, with a leader epoch.
    views = {b: [c.partition_state_from(b, topic, p) for p in range(PARTITIONS)] for b in c.ids}
    assert all(view == views[1] for view in views.values()), f"brokers disagree: {views}"
    for state in views[1]:
        assert state is not None and state.error == 0 and state.leader_epoch >= 0, state
    for b in c.ids:
        raw_md = c.metadata_from(b, [topic])
        assert sorted(int(x.node_id) for x in raw_md.brokers) == [1, 2, 3]
        assert int(raw_md.controller_id) == md.controller_id
        hosts = {int(x.node_id): (x.host, int(x.port)) for x in raw_md.brokers}
        assert hosts == {i: ("127.0.0.1", c.broker(i).port) for i in c.ids}, hosts

    # Kafka spreads the preferred leaders (first replicas) over the brokers.
    preferred = sorted(s.replicas[0] for s in views[1] if s is not None)
    assert preferred == [1, 2, 3], f"first replicas {preferred}: leaders not spread"

    # Followers refuse client produce, and fetch from a consumer that cannot be sent to a
    # follower (before Fetch v11 and KIP-392 a consumer reads from the leader only).
    batch = encode_batch([(None, b"to-a-follower")], timestamp=int(time.time() * 1000))
    for p, state in enumerate(views[1]):
        assert state is not None
        for follower in set(state.replicas) - {state.leader}:
            with c.raw(follower) as client:
                produced = client.produce(topic, p, batch, acks=-1)
                assert produced.error_code == NOT_LEADER_OR_FOLLOWER, (follower, p, produced)
                fetched = client.call(fetch_v10(topic, p))
                [partition] = fetched.responses[0].partitions
                assert partition.error_code == NOT_LEADER_OR_FOLLOWER, (follower, p, partition)
                # KIP-951: from Produce v10 the answer names the leader and its address.
                response = client.call(produce_v11(topic, p, batch))
                [refused] = response.responses[0].partition_responses
                assert refused.error_code == NOT_LEADER_OR_FOLLOWER, (follower, p, refused)
                assert refused.current_leader.leader_id == state.leader, refused
                assert refused.current_leader.leader_epoch >= 0, refused
                assert [(e.node_id, e.host, e.port) for e in response.node_endpoints] == [
                    (state.leader, "127.0.0.1", c.broker(state.leader).port)
                ]
                topic_id = c.metadata_from(follower, [topic]).topics[0].topic_id
                fetched = client.call(fetch_v16(topic_id, p))
                [partition] = fetched.responses[0].partitions
                assert partition.error_code == NOT_LEADER_OR_FOLLOWER, (follower, p, partition)
                assert partition.current_leader.leader_id == state.leader, partition
                assert [(e.node_id, e.port) for e in fetched.node_endpoints] == [
                    (state.leader, c.broker(state.leader).port)
                ]

    # Produce with acks=all, consume everything back.
    producer = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "linger.ms": 5})
    acked: list[tuple[int, int, bytes]] = []
    failed: list[str] = []

    def report(err: object, msg: object) -> None:
        if err is not None:
            failed.append(str(err))
        else:
            acked.append((msg.partition(), msg.offset(), msg.value()))  # type: ignore[attr-defined]

    for i in range(RECORDS):
        producer.produce(
            topic, key=b"k%d" % i, value=b"v%04d" % i, partition=i % PARTITIONS, on_delivery=report
        )
    assert producer.flush(30) == 0
    assert not failed, failed
    assert len(acked) == RECORDS
    read = read_partitions(c.bootstrap, topic, range(PARTITIONS))
    got = {(p, offset, value) for p, records in read.items() for offset, _, value in records}
    assert got == set(acked), f"read {len(got)} records, acknowledged {len(acked)}"
    for p in range(PARTITIONS):
        assert [v for _, _, v in read[p]] == [b"v%04d" % i for i in range(p, RECORDS, PARTITIONS)]

    # Every replica holds the same log.
    for p in range(PARTITIONS):
        log = c.wait_replicas_identical(topic, p, c.ids, timeout=30)
        assert log.values() == [f"v{i:04d}" for i in range(p, RECORDS, PARTITIONS)]

    # odradek topics --describe: Leader, Replicas and Isr per partition, as the metadata says.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "odradek",
            "topics",
            "--bootstrap-server",
            c.bootstrap,
            "--describe",
            "--topic",
            topic,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(
        rf"Topic: {topic}\tTopicId: \S+\tPartitionCount: {PARTITIONS}\t"
        r"ReplicationFactor: 3\tConfigs: .*",
        lines[0],
    ), lines[0]
    assert len(lines) == 1 + PARTITIONS, result.stdout
    for p, line in enumerate(lines[1:]):
        match = re.fullmatch(
            rf"\tTopic: {topic}\tPartition: {p}\tLeader: (\d+)\t"
            r"Replicas: ([\d,]+)\tIsr: ([\d,]+)",
            line,
        )
        assert match is not None, line
        state = c.agreed_state(topic, p)
        assert state is not None
        assert int(match.group(1)) == state.leader, (line, state)
        assert [int(x) for x in match.group(2).split(",")] == list(state.replicas), (line, state)
        assert sorted(int(x) for x in match.group(3).split(",")) == [1, 2, 3], line
