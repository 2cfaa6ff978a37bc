"""Replication over fetch sessions (KIP-227): each follower's fetcher keeps a session with
its leader and fetches incrementally; acks=all writes to many partitions are acknowledged
(the followers' fetches move the high watermarks), every replica ends up identical, and a
follower stopped while writes go on comes back with a full fetch (a new session) and
catches up."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.support.broker_process import free_port
from tests.support.cluster import Cluster, wait_until
from tests.unit.observability.scrape import Samples, scrape, wait_for_endpoint

PARTITIONS = 24
PREFIX = "kafka_server_fetchsessioncache_"


@pytest.fixture
def metered_cluster(zk_connect: str, tmp_path: Path) -> Iterator[tuple[Cluster, dict[int, int]]]:
    """Three brokers, each with its own metrics port."""
    overrides = {"default.replication.factor": "3", "replica.lag.time.max.ms": "5000"}
    cluster = Cluster(tmp_path / "cluster", zk_connect, 3, overrides)
    ports = {broker_id: free_port() for broker_id in cluster.ids}
    for broker_id, broker in cluster.brokers.items():
        broker.overrides["metrics.port"] = str(ports[broker_id])
    try:
        cluster.start()
        for port in ports.values():
            wait_for_endpoint(port)
        yield cluster, ports
    finally:
        cluster.stop(grace=3.0, hurry_after=0.5)


def produce_all(cluster: Cluster, topic: str, start: int, count: int) -> None:
    producer = Producer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "message.timeout.ms": 60_000,
        }
    )
    errors: list[str] = []
    for index in range(start, start + count):
        for partition in range(PARTITIONS):
            producer.produce(
                topic,
                f"{partition}:{index}".encode(),
                partition=partition,
                on_delivery=lambda err, _msg: errors.append(str(err)) if err else None,
            )
    assert producer.flush(70) == 0, f"not everything acknowledged\n{cluster.logs()}"
    assert not errors, f"delivery failures {errors[:5]}\n{cluster.logs()}"


def incremental_fetches(ports: dict[int, int]) -> float:
    samples = [scrape(port) for port in ports.values()]
    return sum(s.get(PREFIX + "fetches_total", fetch="incremental") for s in samples)


def sessions(samples: Samples) -> float:
    return samples.get(PREFIX + "numincrementalfetchsessions")


def test_replication_over_follower_fetch_sessions(
    metered_cluster: tuple[Cluster, dict[int, int]],
) -> None:
    cluster, ports = metered_cluster
    topic = f"sessions-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(topic, PARTITIONS, 3)
    produce_all(cluster, topic, 0, 20)
    # Every broker leads some partitions: each has its followers' sessions.
    wait_until(
        lambda: all(sessions(scrape(port)) >= 1 for port in ports.values()) or None,
        60,
        lambda: f"follower sessions missing\n{cluster.logs()}",
    )
    before = incremental_fetches(ports)
    produce_all(cluster, topic, 20, 20)
    assert incremental_fetches(ports) > before
    restarted = cluster.ids[-1]
    cluster.stop_broker(restarted)
    produce_all(cluster, topic, 40, 20)
    cluster.start_broker(restarted)
    wait_for_endpoint(ports[restarted])
    cluster.wait_full_isr(topic, range(PARTITIONS), 90)
    for partition in (0, PARTITIONS // 2, PARTITIONS - 1):
        log = cluster.wait_replicas_identical(topic, partition, cluster.ids, 90)
        assert log.values() == [f"{partition}:{i}" for i in range(60)]
