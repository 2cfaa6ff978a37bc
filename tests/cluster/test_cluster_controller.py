"""Controller failover (issue 8): the controller is whichever broker holds the ephemeral
``/controller`` znode. Killed with SIGKILL, its ZooKeeper session expires after
``zookeeper.session.timeout.ms``; another broker then becomes controller (with a higher
``/controller_epoch``), and the cluster keeps working: topics can be created (on the live
brokers), partitions the dead broker led get new leaders, and produce and consume work. The
old controller, started again, rejoins as an ordinary broker: the controller stays where it is.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from confluent_kafka import Producer

from tests.support.cluster import Cluster, read_partitions, wait_until

SESSION_TIMEOUT_MS = 4000
GRACE_S = 6.0  # "a few seconds" on top of the session timeout, for a loaded machine


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def produce_and_read(c: Cluster, topic: str, partitions: int, count: int = 60) -> None:
    producer = Producer(
        {
            "bootstrap.servers": c.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,
        }
    )
    values = [b"%s-%03d" % (topic.encode(), i) for i in range(count)]
    errors: list[str] = []
    for i, value in enumerate(values):
        producer.produce(
            topic,
            value=value,
            partition=i % partitions,
            on_delivery=lambda err, _msg: None if err is None else errors.append(str(err)),
        )
    assert producer.flush(60) == 0, f"{topic}: records not acknowledged\n{c.logs()}"
    assert not errors, errors
    read = read_partitions(c.bootstrap, topic, range(partitions))
    # key: a null value sorts first (and fails the comparison) instead of failing sorted()
    got = sorted((v for records in read.values() for _, _, v in records), key=lambda v: v or b"")
    assert got == sorted(values), f"{topic}: read {len(got)} of {len(values)} records"


def test_controller_failover(cluster: Callable[..., Cluster]) -> None:
    c = cluster(
        3,
        overrides={
            "zookeeper.session.timeout.ms": str(SESSION_TIMEOUT_MS),
            "default.replication.factor": "3",
            "min.insync.replicas": "2",
        },
    )
    before = unique("before")
    c.create_topic(before, 3, 3)
    old = c.controller_id()
    assert old in c.ids
    led_by_old = [p for p in range(3) if c.leader(before, p) == old]

    killed_at = time.monotonic()
    c.kill(old)
    survivors = [b for b in c.ids if b != old]

    def new_controller() -> int | None:
        controller = c.controller_id(timeout=2)
        if controller is None or controller == old or controller not in survivors:
            return None
        views = {int(c.metadata_from(b, []).controller_id) for b in survivors}
        return controller if views == {controller} else None

    new = wait_until(
        new_controller,
        SESSION_TIMEOUT_MS / 1000 + GRACE_S,
        lambda: f"no new controller after killing controller {old}",
        interval=0.1,
        context=c.logs,
    )
    elapsed = time.monotonic() - killed_at
    print(
        f"\ncontroller {old} killed; broker {new} became controller after {elapsed:.2f} s "
        f"(zookeeper.session.timeout.ms={SESSION_TIMEOUT_MS})"
    )
    c.wait_registered(survivors, timeout=GRACE_S)

    # partitions the old controller led got new leaders; the topic is usable
    for p in led_by_old:
        # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
        wait_until(
            lambda p=p: (lambda s: s is not None and s.leader in survivors)(  # type: ignore[misc]
                c.agreed_state(before, p)
            ),
            15,
            f"{before}-{p} has no new leader",
            context=c.logs,
        )
    c.wait_full_isr(before, range(3), timeout=30, size=3, excluding=[old])
    for p in range(3):
        state = c.agreed_state(before, p)
        assert state is not None and old not in state.isr, state
    produce_and_read(c, before, 3)

    # a new topic is created by the new controller on the live brokers
    after = unique("after")
    c.create_topic(after, 2, 2)
    for p in range(2):
        state = c.agreed_state(after, p)
        assert state is not None and set(state.replicas) <= set(survivors), state
    produce_and_read(c, after, 2)

    # the old controller comes back as a plain broker; the controller does not move
    c.start_broker(old)
    c.wait_registered(c.ids, timeout=30)
    c.wait_full_isr(before, range(3), timeout=60, size=3)
    assert c.controller_id() == new
    assert {int(c.metadata_from(b, []).controller_id) for b in c.ids} == {new}
    third = unique("third")
    c.create_topic(third, 3, 3)
    produce_and_read(c, third, 3)
