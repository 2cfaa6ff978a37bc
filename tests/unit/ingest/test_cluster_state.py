"""The consumer's view of the cluster: one line when it stops answering, one when it answers
again, each other error once until it changes."""

from __future__ import annotations

from confluent_kafka import KafkaError

from odradek.common.reachability import Unreachable
from odradek.ingest.cluster_state import PROBE_INTERVAL_S, ClusterState


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def refused() -> None:
    raise Unreachable("connection refused")


def answers() -> None:
    return None


def test_a_stream_of_connection_errors_is_one_line_and_an_answer_another() -> None:
    said: list[str] = []
    clock = Clock()
    state = ClusterState("h:1", {}, said.append, clock)
    for _ in range(50):
        state.error(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
        state.error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert said == ["the cluster at h:1 does not answer (Connection refused); retrying"]
    state.follow(answers)  # too soon to probe again
    assert len(said) == 1
    clock.now += PROBE_INTERVAL_S
    state.follow(refused)
    assert len(said) == 1 and state.down_since is not None
    clock.now += PROBE_INTERVAL_S
    state.follow(answers)
    assert said[1] == "the cluster at h:1 answers again after 4s"
    assert state.down_since is None
    state.error(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
    assert len(said) == 3  # down again: a new state, a new line


def test_other_errors_once_each_until_they_change_and_fatal_ones_kept() -> None:
    said: list[str] = []
    state = ClusterState("h:1", {}, said.append)
    for _ in range(3):
        state.error(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, "Unknown topic"))
    state.error(KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED, "Not authorized"))
    assert said == ["Kafka: Unknown topic", "Kafka: Not authorized"]
    assert state.fatal is None
    fatal = KafkaError(KafkaError._FENCED, "fenced", fatal=True)
    state.error(fatal)
    assert state.fatal is fatal
