"""Partition reassignment under load (issue 8; KIP-455's AlterPartitionReassignments and
ListPartitionReassignments, which confluent-kafka does not offer, sent with the kio-based raw
client).

A partition with replicas [1, 2] (leader 1) is moved to [2, 3] while an idempotent producer
writes to it with ``acks=all``. As in Kafka: the request goes to the controller (any other
broker answers NOT_CONTROLLER); during the move the replica set is the union of old and new
replicas; the new replica catches up from the leader, joins the ISR, the leader moves off the
removed broker, the removed replica stops and its log directory is deleted;
ListPartitionReassignments then lists nothing for the topic. Nothing acknowledged is lost, and
the new replicas hold identical logs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from kio.schema.types import BrokerId

from tests.support.cluster import (
    AckedProducer,
    Cluster,
    check_acknowledged,
    read_partitions,
    wait_until,
)
from tests.support.raw_client import request_module

API_VERSIONS = 18
ALTER_PARTITION_REASSIGNMENTS, LIST_PARTITION_REASSIGNMENTS = 45, 46
NOT_CONTROLLER = 41
OVERRIDES = {"zookeeper.session.timeout.ms": "6000", "min.insync.replicas": "2"}
PARTITIONS = 2
MOVED = 0
ORIGINAL = [[1, 2], [3, 1]]
TARGET = [2, 3]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def controller_call(c: Cluster, request: Any, timeout: float = 30.0) -> Any:
    """Send a request to the controller; on NOT_CONTROLLER look the controller up again."""

    def attempt() -> Any:
        controller = c.controller_id()
        if controller is None:
            return None
        with c.raw(controller, timeout=40) as client:
            response = client.call(request)
        return None if response.error_code == NOT_CONTROLLER else response

    return wait_until(
        attempt,
        timeout,
        f"{type(request).__name__}: no controller took it",
        interval=0.5,
        context=c.logs,
    )


def alter_reassignments(c: Cluster, topic: str, moves: dict[int, list[int] | None]) -> Any:
    mod = request_module(ALTER_PARTITION_REASSIGNMENTS, 0)
    partitions = tuple(
        mod.ReassignablePartition(
            partition_index=p,
            replicas=None if replicas is None else tuple(BrokerId(r) for r in replicas),
        )
        for p, replicas in moves.items()
    )
    return controller_call(
        c,
        mod.AlterPartitionReassignmentsRequest(
            timeout=timedelta(seconds=30),
            topics=(mod.ReassignableTopic(name=topic, partitions=partitions),),
        ),
    )


def ongoing_reassignments(c: Cluster, topic: str) -> dict[int, Any]:
    """partition -> OngoingPartitionReassignment, for ``topic``, as the controller lists them."""
    mod = request_module(LIST_PARTITION_REASSIGNMENTS, 0)
    response = controller_call(
        c, mod.ListPartitionReassignmentsRequest(timeout=timedelta(seconds=30), topics=None)
    )
    assert response.error_code == 0, response
    return {
        int(p.partition_index): p for t in response.topics if t.name == topic for p in t.partitions
    }


def test_reassignment_under_load(cluster: Callable[..., Cluster]) -> None:
    c = cluster(3, overrides=OVERRIDES)
    with c.raw(1) as client:
        advertised = {int(k.api_key) for k in client.api_versions().api_keys}
    missing = {ALTER_PARTITION_REASSIGNMENTS, LIST_PARTITION_REASSIGNMENTS} - advertised
    assert not missing, f"ApiVersions does not advertise api keys {sorted(missing)}"

    topic = unique("moving")
    c.create_topic(topic, assignment=ORIGINAL, config={"min.insync.replicas": "2"})
    before = c.agreed_state(topic, MOVED)
    assert before is not None and list(before.replicas) == ORIGINAL[MOVED], before
    assert before.leader == ORIGINAL[MOVED][0], f"preferred leader not elected: {before}"
    assert ongoing_reassignments(c, topic) == {}

    # A non-controller refuses the reassignment.
    controller = c.controller_id()
    other = next(b for b in c.ids if b != controller)
    mod = request_module(ALTER_PARTITION_REASSIGNMENTS, 0)
    with c.raw(other) as client:
        refused = client.call(
            mod.AlterPartitionReassignmentsRequest(
                timeout=timedelta(seconds=30),
                topics=(
                    mod.ReassignableTopic(
                        name=topic,
                        partitions=(
                            mod.ReassignablePartition(
                                partition_index=MOVED, replicas=tuple(BrokerId(r) for r in TARGET)
                            ),
                        ),
                    ),
                ),
            )
        )
    assert refused.error_code == NOT_CONTROLLER, refused

    producer = AckedProducer(c.bootstrap, topic, range(PARTITIONS), interval=0.01)
    producer.start()
    observed: list[Any] = []
    try:
        wait_until(
            lambda: len(producer.acks_after(0)) == PARTITIONS,
            30,
            "the producer got no acknowledgements",
            context=c.logs,
        )
        time.sleep(1.0)  # some data for the new replica to copy
        response = alter_reassignments(c, topic, {MOVED: TARGET})
        assert response.error_code == 0, response
        [topic_result] = response.responses
        assert [(int(p.partition_index), int(p.error_code)) for p in topic_result.partitions] == [
            (MOVED, 0)
        ], topic_result

        def done() -> bool:
            ongoing = ongoing_reassignments(c, topic)
            if ongoing:
                observed.append(ongoing[MOVED])
                return False
            state = c.agreed_state(topic, MOVED)
            return (
                state is not None
                and list(state.replicas) == TARGET
                and sorted(state.isr) == sorted(TARGET)
                and state.leader in TARGET
            )

        wait_until(
            done,
            60,
            lambda: (
                f"reassignment of {topic}-{MOVED} to {TARGET} did not "
                f"complete: {c.agreed_state(topic, MOVED)}, ongoing {observed[-1:]}"
            ),
            interval=0.2,
            context=c.logs,
        )
        moved_at = time.monotonic()
        wait_until(
            lambda: len(producer.acks_after(moved_at)) == PARTITIONS,
            30,
            "no acknowledgements after the reassignment",
            context=c.logs,
        )
    except BaseException:
        producer.stop(flush_timeout=1)
        raise
    producer.stop()
    assert not producer.is_alive(), "the producer did not finish"

    for ongoing in observed:  # while it lasted, the union of old and new, as KIP-455 says
        assert sorted(ongoing.replicas) == [1, 2, 3], ongoing
        assert list(ongoing.adding_replicas) == [3], ongoing
        assert list(ongoing.removing_replicas) == [1], ongoing
    untouched = c.agreed_state(topic, 1 - MOVED)
    assert untouched is not None and list(untouched.replicas) == ORIGINAL[1 - MOVED], untouched

    assert not producer.fatal, producer.fatal
    assert not producer.failures, (
        f"{len(producer.failures)} deliveries failed, e.g. {producer.failures[:5]}\n{c.logs()}"
    )
    assert producer.unflushed == 0
    acks = producer.snapshot()
    read = read_partitions(c.bootstrap, topic, range(PARTITIONS))
    check_acknowledged(acks, read)

    log = c.wait_replicas_identical(topic, MOVED, TARGET, timeout=60)
    assert [(o, v.encode()) for o, _, v in log.records] == [(o, v) for o, _, v in read[MOVED]]
    removed = c.partition_dir(1, topic, MOVED)
    wait_until(
        lambda: not removed.exists(),
        30,
        f"the removed replica's log directory {removed} is still there",
        context=c.logs,
    )


def test_a_submitted_reassignment_is_listed_at_once(cluster: Callable[..., Cluster]) -> None:
    """ListPartitionReassignments answers from the state AlterPartitionReassignments wrote (on
    the controller, in order): a reassignment just submitted is listed by the next request,
    every time, while it is ongoing. Here it stays ongoing because its new replica's broker is
    stopped (SIGSTOP, its ZooKeeper session kept by a long timeout); an empty partition's
    reassignment otherwise completes within a few hundred milliseconds, after which Kafka and
    odradek no longer list it. Cancelling (replicas null) restores the original replicas."""
    c = cluster(3, overrides={"zookeeper.session.timeout.ms": "40000"})
    controller = wait_until(c.controller_id, 30, "no controller")
    stays, stopped = (b for b in c.ids if b != controller)
    topic = unique("listed")
    partitions = 8
    c.create_topic(topic, assignment=[[stays]] * partitions)
    alter_mod = request_module(ALTER_PARTITION_REASSIGNMENTS, 0)
    list_mod = request_module(LIST_PARTITION_REASSIGNMENTS, 0)
    target = (BrokerId(stays), BrokerId(stopped))
    c.pause(stopped)
    try:
        with c.raw(controller, timeout=40) as client:
            for partition in range(partitions):
                altered = client.call(
                    alter_mod.AlterPartitionReassignmentsRequest(
                        timeout=timedelta(seconds=30),
                        topics=(
                            alter_mod.ReassignableTopic(
                                name=topic,
                                partitions=(
                                    alter_mod.ReassignablePartition(
                                        partition_index=partition, replicas=target
                                    ),
                                ),
                            ),
                        ),
                    )
                )
                assert altered.error_code == 0, altered
                listed = client.call(
                    list_mod.ListPartitionReassignmentsRequest(
                        timeout=timedelta(seconds=30), topics=None
                    )
                )
                ongoing = {
                    int(p.partition_index): p
                    for t in listed.topics
                    if t.name == topic
                    for p in t.partitions
                }
                assert sorted(ongoing) == list(range(partition + 1)), (partition, listed)
                assert list(ongoing[partition].adding_replicas) == [stopped], ongoing
        cancelled = alter_reassignments(c, topic, dict.fromkeys(range(partitions)))
        assert all(p.error_code == 0 for t in cancelled.responses for p in t.partitions)
        assert ongoing_reassignments(c, topic) == {}
    finally:
        c.resume(stopped)
    for partition in range(partitions):
        state = c.agreed_state(topic, partition)
        assert state is not None and list(state.replicas) == [stays], state
