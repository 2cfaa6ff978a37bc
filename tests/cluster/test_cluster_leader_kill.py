"""The main acceptance test of cluster mode (issue 8): no acknowledged record is lost when
partition leaders crash.

Three brokers; a topic with replication factor 3 and ``min.insync.replicas=2``. Two idempotent
confluent-kafka producers (``acks=all``; one for partitions 0 and 1, one for partition 2) write
continuously, recording each acknowledged (partition, offset, value). Ten times, the current
leader of a partition is killed with SIGKILL; once the controller has noticed (ZooKeeper
session expiry) and elected a new leader from the ISR, the killed broker is started again and
rejoins the ISR. Kafka's
guarantees, checked at the end:

* every acknowledged record is in the log exactly once, at the offset it was acknowledged
  with, in the order produced; nothing is duplicated (idempotence survives leader changes);
* every replica's log is identical to the leader's (followers copy batches as they are);
* a new leader's epoch is higher than the old one's.

Printed figure (``pytest -s``): for each kill, the time from the kill until a record sent after
it is acknowledged on every partition the killed broker led — the unavailability after a
leader kill; its median.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.cluster import (
    Ack,
    AckedProducer,
    Cluster,
    check_acknowledged,
    median,
    read_partitions,
    wait_until,
)

PARTITIONS = 3
KILLS = 10
SESSION_TIMEOUT_MS = 3000
OVERRIDES = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "zookeeper.session.timeout.ms": str(SESSION_TIMEOUT_MS),
    "replica.lag.time.max.ms": "5000",
}
FAILOVER_TIMEOUT = SESSION_TIMEOUT_MS / 1000 + 30


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Producers:
    """Several AckedProducers, each on its own partitions, seen as one."""

    def __init__(self, members: list[AckedProducer]) -> None:
        self.members = members

    def start(self) -> None:
        for member in self.members:
            member.start()

    def stop(self, flush_timeout: float = 120.0) -> None:
        for member in self.members:
            member.stop(flush_timeout)

    def acks_after(self, moment: float) -> dict[int, float]:
        return {p: t for member in self.members for p, t in member.acks_after(moment).items()}

    def snapshot(self) -> list[Ack]:
        return [ack for member in self.members for ack in member.snapshot()]

    def __getattr__(self, name: str) -> Any:  # errors, failures, fatal: concatenated
        return [item for member in self.members for item in getattr(member, name)]


def kill_leader(c: Cluster, producer: Producers, topic: str, round_: int) -> tuple[int, float]:
    """Kill the current leader of partition ``round_ % PARTITIONS``, wait for new leaders and
    acknowledged writes on every partition it led, start it again. Returns (the killed broker,
    seconds from the kill to the first acknowledgement on all its partitions)."""
    states = c.wait_full_isr(topic, range(PARTITIONS), timeout=60, size=3)
    victim = states[round_ % PARTITIONS].leader
    led = [p for p, s in states.items() if s.leader == victim]
    others = [b for b in c.ids if b != victim]
    before = time.monotonic()  # the producer is making progress before the kill
    wait_until(
        lambda: len(producer.acks_after(before)) == PARTITIONS,
        30,
        "no acknowledgements before the kill",
        context=c.logs,
    )

    killed_at = time.monotonic()
    c.kill(victim)
    # the controller notices and elects new leaders from the ISR, with a higher epoch
    c.wait_registered(others, timeout=FAILOVER_TIMEOUT)
    for p in led:
        old_epoch = states[p].leader_epoch

        def moved(p: int = p, old_epoch: int = old_epoch) -> bool:
            state = c.agreed_state(topic, p)
            return (
                state is not None
                and state.leader in others
                and state.leader_epoch > old_epoch
                and victim not in state.isr
            )

        wait_until(
            moved,
            FAILOVER_TIMEOUT,
            lambda: (
                f"round {round_}: no new leader after killing broker {victim}: "
                f"{[c.agreed_state(topic, q) for q in led]}"
            ),
            context=c.logs,
        )

    def resumed() -> dict[int, float] | None:
        acks = producer.acks_after(killed_at)
        return acks if all(p in acks for p in led) else None

    first_acks = wait_until(
        resumed,
        FAILOVER_TIMEOUT,
        lambda: (
            f"round {round_}: no acknowledgement on {led} after killing broker {victim}; "
            f"producer errors {producer.errors[-5:]} failures {producer.failures[-5:]}"
        ),
        context=c.logs,
    )
    c.start_broker(victim)
    c.wait_registered(c.ids, timeout=30)
    return victim, max(first_acks[p] for p in led) - killed_at


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_leader_kill_no_loss(cluster: Callable[..., Cluster]) -> None:
    c = cluster(3, overrides=OVERRIDES)
    topic = unique("kills")
    c.create_topic(topic, PARTITIONS, 3, config={"min.insync.replicas": "2"})
    producer = Producers(
        [
            AckedProducer(c.bootstrap, topic, [0, 1], interval=0.02),
            AckedProducer(c.bootstrap, topic, [2], interval=0.02),
        ]
    )
    producer.start()
    unavailability: list[float] = []
    victims: list[int] = []
    try:
        wait_until(
            lambda: len(producer.acks_after(0)) == PARTITIONS,
            30,
            "the producer got no acknowledgements",
            context=c.logs,
        )
        for round_ in range(KILLS):
            victim, seconds = kill_leader(c, producer, topic, round_)
            victims.append(victim)
            unavailability.append(seconds)
        c.wait_full_isr(topic, range(PARTITIONS), timeout=60, size=3)
        after = time.monotonic()
        wait_until(
            lambda: len(producer.acks_after(after)) == PARTITIONS,
            30,
            "no acknowledgements after the last restart",
            context=c.logs,
        )
    except BaseException:
        producer.stop(flush_timeout=1)
        raise
    producer.stop()
    assert not any(m.is_alive() for m in producer.members), "a producer did not finish"

    print(
        f"\nleader kills: victims {victims}; kill -> next acknowledged write (s): "
        + ", ".join(f"{u:.2f}" for u in unavailability)
        + f"; median {median(unavailability):.2f} s, max {max(unavailability):.2f} s "
        f"(zookeeper.session.timeout.ms={SESSION_TIMEOUT_MS})"
    )

    assert len(set(victims)) > 1, f"always the same broker was killed: {victims}"
    assert not producer.fatal, f"fatal producer errors: {producer.fatal}"
    assert not producer.failures, (
        f"{len(producer.failures)} deliveries failed, e.g. {producer.failures[:5]}\n{c.logs()}"
    )
    unflushed = [m.unflushed for m in producer.members]
    assert unflushed == [0, 0], f"records never acknowledged: {unflushed}"
    acks = producer.snapshot()
    assert len(acks) == sum(m.produced for m in producer.members)

    read = read_partitions(c.bootstrap, topic, range(PARTITIONS))
    check_acknowledged(acks, read)
    for p in range(PARTITIONS):
        assert len(read[p]) == sum(a.partition == p for a in acks), (
            f"partition {p}: read {len(read[p])} records, acknowledged "
            f"{sum(a.partition == p for a in acks)}"
        )

    # every replica holds exactly the log the consumers read
    c.wait_full_isr(topic, range(PARTITIONS), timeout=60, size=3)
    for p in range(PARTITIONS):
        log = c.wait_replicas_identical(topic, p, c.ids, timeout=60)
        assert [(o, v.encode()) for o, _, v in log.records] == [(o, v) for o, _, v in read[p]], (
            f"partition {p}: replicas differ from what was read"
        )
