"""Follower catch-up and log truncation (issue 8), as Kafka's replication protocol does them.

Catch-up: a follower stopped cleanly leaves the ISR; the leader keeps accepting ``acks=all``
writes with the two remaining in-sync replicas (``min.insync.replicas=2``); the follower,
started again, fetches what it missed, rejoins the ISR and its log is the leader's.

Truncation: with ``acks=1`` the leader acknowledges a write before any follower has it. The
followers are paused (SIGSTOP, like a long GC pause: the leader has already answered at most
the one fetch each had outstanding, so a second batch written afterwards cannot reach them),
the leader acknowledges a batch with acks=1 and is killed; the followers resume, one becomes
leader (it was in the ISR) with a log lacking that batch and takes new writes at the same
offsets. The old leader, started again, must find the divergence (OffsetForLeaderEpoch) and
truncate: its log ends up equal to the new leader's, with none of the records only it had.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from confluent_kafka import Producer

from odradek.protocol.records.codec import encode_batch
from tests.support.cluster import Cluster, read_partitions, wait_until

SESSION_TIMEOUT_MS = 4000
OVERRIDES = {
    "zookeeper.session.timeout.ms": str(SESSION_TIMEOUT_MS),
    "replica.lag.time.max.ms": "5000",
    "min.insync.replicas": "2",
    "default.replication.factor": "3",
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_producer(bootstrap: str, acks: str = "all", idempotent: bool = True) -> Producer:
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": acks,
            "enable.idempotence": idempotent,
            "linger.ms": 0,
            "message.timeout.ms": 60_000,
        }
    )


def produce(
    c: Cluster, topic: str, values: list[bytes], producer: Producer | None = None
) -> list[int]:
    """Produce to partition 0 and wait for every acknowledgement; returns the offsets."""
    producer = producer or new_producer(c.bootstrap)
    offsets: list[int] = []
    errors: list[str] = []

    def report(err: object, msg: object) -> None:
        if err is not None:
            errors.append(str(err))
        else:
            offsets.append(msg.offset())  # type: ignore[attr-defined]

    for value in values:
        producer.produce(topic, value=value, partition=0, on_delivery=report)
    assert producer.flush(70) == 0, f"{topic}: not everything acknowledged\n{c.logs()}"
    assert not errors, f"{topic}: delivery failures {errors[:5]}\n{c.logs()}"
    return offsets


def test_follower_catch_up_and_truncation(cluster: Callable[..., Cluster]) -> None:
    c = cluster(3, overrides=OVERRIDES)
    topic = unique("repl")
    c.create_topic(topic, 1, 3)
    produce(c, topic, [b"first-%04d" % i for i in range(200)])

    # -- catch-up -------------------------------------------------------------------------
    leader = c.leader(topic, 0)
    follower = next(b for b in c.ids if b != leader)
    c.stop_broker(follower)
    c.wait_full_isr(topic, [0], timeout=5 + 15, size=3, excluding=[follower])
    produce(c, topic, [b"missed-%04d" % i for i in range(500)])
    c.start_broker(follower)
    c.wait_registered(c.ids, timeout=30)
    c.wait_full_isr(topic, [0], timeout=60, size=3)
    log = c.wait_replicas_identical(topic, 0, c.ids, timeout=60)
    expected = [f"first-{i:04d}" for i in range(200)] + [f"missed-{i:04d}" for i in range(500)]
    assert log.values() == expected, "the caught-up replicas do not hold what was produced"

    # -- divergence and truncation --------------------------------------------------------
    old_leader = c.leader(topic, 0)
    followers = [b for b in c.ids if b != old_leader]
    old_state = c.agreed_state(topic, 0)
    assert old_state is not None
    # An acks=1 producer talking to the leader only, connected before anything is paused (a
    # client asking a paused broker for metadata would wait for its socket timeout).
    lone_producer = new_producer(c.broker(old_leader).bootstrap, acks="1", idempotent=False)
    produce(c, topic, [b"warm-up"], lone_producer)
    for f in followers:
        c.pause(f)
    paused_at = time.monotonic()
    try:
        # the first batch may complete a fetch that was already waiting; the second cannot
        # reach the paused followers
        produce(c, topic, [b"maybe-%04d" % i for i in range(5)], lone_producer)
        time.sleep(0.3)
        lonely = produce(c, topic, [b"lonely-%04d" % i for i in range(20)], lone_producer)
        c.kill(old_leader)
    finally:
        for f in followers:
            c.resume(f)
    assert time.monotonic() - paused_at < SESSION_TIMEOUT_MS / 1000, (
        "followers paused for longer than their ZooKeeper sessions last: the test is void"
    )
    on_disk = c.replica_log(old_leader, topic, 0)
    assert [v for v in on_disk.values() if v.startswith("lonely-")] == [
        f"lonely-{i:04d}" for i in range(20)
    ], "the killed leader did not write the batch"
    assert [o for o, _, v in on_disk.records if v.startswith("lonely-")] == lonely

    # a follower takes over with a higher leader epoch and takes new writes
    def new_leader() -> int | None:
        state = c.agreed_state(topic, 0)
        if state is None or state.leader not in followers:
            return None
        return state.leader if state.leader_epoch > old_state.leader_epoch else None

    new = wait_until(
        new_leader,
        SESSION_TIMEOUT_MS / 1000 + 30,
        "no follower took over the partition",
        context=c.logs,
    )
    fresh = produce(c, topic, [b"fresh-%04d" % i for i in range(50)])
    overlap = set(fresh) & set(lonely)
    new_log = c.replica_log(new, topic, 0)
    if "lonely-0000" in new_log.values():
        raise AssertionError(
            "the lonely batch reached a follower: no divergence was created "
            "(the followers fetched while paused?)"
        )
    assert overlap, (
        f"new writes at offsets {fresh[:1]}..{fresh[-1:]} do not overlap the "
        f"killed leader's unreplicated ones {lonely[:1]}..{lonely[-1:]}"
    )

    # the old leader comes back, truncates its divergent suffix and catches up
    c.start_broker(old_leader)
    c.wait_registered(c.ids, timeout=30)
    c.wait_full_isr(topic, [0], timeout=60, size=3)
    log = c.wait_replicas_identical(topic, 0, [new, *[b for b in c.ids if b != new]], timeout=60)
    values = log.values()
    assert not [v for v in values if v.startswith("lonely-")], (
        "records only the old leader had survived its return"
    )
    assert values[-50:] == [f"fresh-{i:04d}" for i in range(50)]
    assert values[:700] == expected
    read = read_partitions(c.bootstrap, topic, [0])[0]
    assert [None if v is None else v.decode() for _, _, v in read] == values


def test_single_replica_high_watermark_moves_with_the_append(
    cluster: Callable[..., Cluster],
) -> None:
    """A partition whose ISR is its leader alone advances its high watermark in the same step
    as the append: ListOffsets(latest) sent right after an acks=1 produce is acknowledged
    sees the records, every time, from the topic's first produce on (Kafka:
    Partition.appendRecordsToLeader increments the high watermark before answering)."""
    c = cluster(3)
    for round_ in range(6):
        topic = f"hw-{round_}-{uuid.uuid4().hex[:6]}"
        c.create_topic(topic, partitions=1, replication_factor=1)
        state = c.agreed_state(topic, 0)
        assert state is not None, topic
        with c.raw(state.leader) as client:
            for produced in range(1, 6):
                batch = encode_batch([(None, b"a"), (None, b"b")])
                answer = client.produce(topic, 0, batch, acks=1)
                assert answer.error_code == 0, answer
                latest = client.list_offsets(topic, 0)
                assert (latest.error_code, latest.offset) == (0, 2 * produced), (topic, latest)
