"""Metadata's auto-creation in a cluster, as Kafka does it: the broker a client asks writes the
topics to ZooKeeper in the background and answers LEADER_NOT_AVAILABLE meanwhile; the
controller elects their leaders; every broker then reports them, and a producer to an unknown
topic delivers once its client has retried metadata. A replication factor above the live
brokers is refused at once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from confluent_kafka import Producer

from tests.support.cluster import Cluster

NONE, LEADER_NOT_AVAILABLE, INVALID_REPLICATION_FACTOR = 0, 5, 38
TOPICS = 30
PARTITIONS = 2


def errors(c: Cluster, broker_id: int, names: list[str]) -> dict[str, int]:
    with c.raw(broker_id) as client:
        response = client.metadata(names, auto_create=True)
    return {t.name: int(t.error_code) for t in response.topics}


def led_everywhere(c: Cluster, names: list[str]) -> bool:
    """Every broker reports every topic with a live leader for each of its partitions."""
    for broker_id in c.ids:
        for topic in c.metadata_from(broker_id, names).topics:
            if topic.error_code != NONE or len(topic.partitions) != PARTITIONS:
                return False
            if any(p.error_code != NONE or p.leader_id < 0 for p in topic.partitions):
                return False
    return True


def test_metadata_auto_creates_in_the_background(cluster: Callable[..., Cluster]) -> None:
    c = cluster(3, overrides={"default.replication.factor": "3", "num.partitions": "2"})
    names = [f"auto-{uuid.uuid4().hex[:8]}-{i}" for i in range(TOPICS)]
    asked = next(b for b in c.ids if b != c.controller_id())
    assert errors(c, asked, names) == dict.fromkeys(names, LEADER_NOT_AVAILABLE)
    deadline = time.monotonic() + 60
    while not led_everywhere(c, names):
        assert time.monotonic() < deadline, f"auto-created topics not led everywhere\n{c.logs()}"
        errors(c, asked, names)  # clients retry metadata
        time.sleep(0.5)
    for name in names[:3]:
        for p in range(PARTITIONS):
            state = c.partition_state(name, p)
            assert state is not None and sorted(state.replicas) == [1, 2, 3], state

    topic = f"produced-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": c.bootstrap, "acks": "all"})
    delivered: list[object] = []
    producer.produce(topic, b"auto", on_delivery=lambda err, msg: delivered.append(err or msg))
    assert producer.flush(60) == 0
    assert len(delivered) == 1 and not isinstance(delivered[0], Exception), delivered


def test_a_replication_factor_above_the_brokers_is_refused_at_once(
    cluster: Callable[..., Cluster],
) -> None:
    c = cluster(3, overrides={"default.replication.factor": "4"})
    name = f"too-many-{uuid.uuid4().hex[:8]}"
    assert errors(c, 1, [name]) == {name: INVALID_REPLICATION_FACTOR}
    assert errors(c, 1, [name]) == {name: INVALID_REPLICATION_FACTOR}
