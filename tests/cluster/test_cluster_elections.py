"""Leader elections the controller makes on its own: unclean.leader.election.enable (a topic
config) against a clean topic when the only in-sync replica is gone, auto.leader.rebalance
back to the preferred replica, and min.insync.replicas refusing acks=all writes."""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka import KafkaError, Producer

from tests.support.cluster import QUIET_CLIENT, Cluster, wait_until

OVERRIDES = {
    "zookeeper.session.timeout.ms": "3000",
    "leader.imbalance.check.interval.seconds": "2",
    "leader.imbalance.per.broker.percentage": "0",
}
TIMEOUT = 30.0


def state(c: Cluster, topic: str) -> tuple[int, tuple[int, ...]]:
    """(leader, sorted ISR) as broker 3 (never stopped here) reports it; -1: offline."""
    found = c.partition_state_from(3, topic, 0)
    return (-2, ()) if found is None else (found.leader, tuple(sorted(found.isr)))


def test_unclean_election_only_where_enabled(cluster: Callable[..., Cluster]) -> None:
    c = cluster(3, overrides=OVERRIDES)
    c.create_topic(
        "unclean", assignment=[[1, 2]], config={"unclean.leader.election.enable": "true"}
    )
    c.create_topic("clean", assignment=[[1, 2]])
    # The follower dies first and leaves the ISR; then the leader dies.
    c.kill(2)
    for topic in ("unclean", "clean"):
        # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
        wait_until(
            lambda t=topic: state(c, t) == (1, (1,)),  # type: ignore[misc]
            TIMEOUT,
            f"{topic}: broker 2 did not leave the ISR",
            context=c.logs,
        )
    c.kill(1)
    for topic in ("unclean", "clean"):
        # ignore[misc]: mypy cannot infer a lambda with defaults, python/mypy#12557
        wait_until(
            lambda t=topic: state(c, t)[0] == -1,  # type: ignore[misc]
            TIMEOUT,
            f"{topic}: no offline state after the last ISR member died",
            context=c.logs,
        )
    # The out-of-sync replica comes back: only the unclean topic may elect it.
    c.start_broker(2)
    wait_until(
        lambda: state(c, "unclean") == (2, (2,)),
        TIMEOUT,
        "unclean: broker 2 was not elected",
        context=c.logs,
    )
    assert state(c, "clean") == (-1, (1,)), "clean: an out-of-sync replica became leader"
    # The last in-sync replica comes back and leads the clean topic again.
    c.start_broker(1)
    wait_until(
        lambda: state(c, "clean")[0] == 1,
        TIMEOUT,
        "clean: broker 1 did not take the leadership back",
        context=c.logs,
    )


def test_auto_rebalance_returns_leadership_to_the_preferred_replica(
    cluster: Callable[..., Cluster],
) -> None:
    c = cluster(3, overrides=OVERRIDES)
    c.create_topic("preferred", assignment=[[1, 2, 3]])
    c.stop_broker(1)  # controlled shutdown: leadership moves to 2
    wait_until(
        lambda: state(c, "preferred")[0] == 2, TIMEOUT, "leadership did not move", context=c.logs
    )
    c.start_broker(1)
    c.wait_full_isr("preferred", [0])
    wait_until(
        lambda: state(c, "preferred")[0] == 1,
        TIMEOUT,
        "auto.leader.rebalance did not bring the leader back to broker 1",
        context=c.logs,
    )


def test_min_insync_replicas_refuses_acks_all(cluster: Callable[..., Cluster]) -> None:
    c = cluster(3, overrides=OVERRIDES)
    c.create_topic("guarded", assignment=[[1, 2, 3]], config={"min.insync.replicas": "3"})
    c.kill(2)
    wait_until(
        lambda: state(c, "guarded") == (1, (1, 3)),
        TIMEOUT,
        "broker 2 did not leave the ISR",
        context=c.logs,
    )
    errors: list[KafkaError | None] = []
    producer = Producer(
        {
            "bootstrap.servers": c.bootstrap,
            "acks": "all",
            "message.timeout.ms": 3000,
            "retries": 0,
            **QUIET_CLIENT,
        }
    )
    producer.produce(
        "guarded", b"refused", partition=0, on_delivery=lambda err, msg: errors.append(err)
    )
    producer.flush(15)
    assert errors and errors[0] is not None, errors
    assert errors[0].code() in (KafkaError.NOT_ENOUGH_REPLICAS, KafkaError._MSG_TIMED_OUT), errors[
        0
    ]
    acked: list[KafkaError | None] = []
    relaxed = Producer({"bootstrap.servers": c.bootstrap, "acks": "1", **QUIET_CLIENT})
    relaxed.produce(
        "guarded", b"accepted", partition=0, on_delivery=lambda err, msg: acked.append(err)
    )
    relaxed.flush(15)
    assert acked == [None], "acks=1 does not need min.insync.replicas"
