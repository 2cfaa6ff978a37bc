"""The end-to-end latency probe: produce one record at a time to a probe topic and time
until a consumer assigned to it reads that record back (Kafka's EndToEndLatency tool's
measure), a run of them giving p50 and p99."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from odradek.console.client_config import client_settings
from odradek.console.gateway import KafkaError, KafkaGateway
from odradek.console.samples import percentile

PROBE_TOPIC = "odradek-console-probe"
DEFAULT_RECORDS = 20


@dataclass(frozen=True)
class ProbeRun:
    """One run: when it ended (Unix time) and its round trips in milliseconds."""

    at: float
    latencies_ms: tuple[float, ...]

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 0.99)


def ensure_probe_topic(gateway: KafkaGateway, topic: str) -> None:
    """Create the probe topic (one partition, replicated up to 3 times) if it is missing."""
    if gateway.topic(topic) is not None:
        return
    replication = min(3, max(gateway.broker_count(), 1))
    try:
        gateway.create_topic(topic, 1, replication, {})
    except KafkaError as exc:
        if "already exists" not in str(exc).lower():
            raise


def run_probe(
    gateway: KafkaGateway,
    settings: Mapping[str, str],
    topic: str = PROBE_TOPIC,
    records: int = DEFAULT_RECORDS,
) -> ProbeRun:
    """Send ``records`` records one after another (acks=all), each timed from ``produce``
    until the consumer reads it; a first, untimed one sets up both clients' connections."""
    ensure_probe_topic(gateway, topic)
    end = gateway.end_offsets([(topic, 0)]).get((topic, 0))
    if end is None:
        raise KafkaError(f"probe topic {topic} has no partition 0 leader yet; try again")
    producer = Producer(
        client_settings(settings, {"acks": "all", "linger.ms": "0", "client.id": "odradek-probe"})
    )
    consumer = Consumer(
        client_settings(
            settings,
            {
                "group.id": "odradek-console-probe",
                "enable.auto.commit": "false",
                "fetch.wait.max.ms": "5",
                "client.id": "odradek-probe",
            },
        )
    )
    try:
        consumer.assign([TopicPartition(topic, 0, end)])
        _round_trip(producer, consumer, topic, gateway.timeout)  # connects both: not timed
        latencies = [
            _round_trip(producer, consumer, topic, gateway.timeout) for _ in range(records)
        ]
    finally:
        consumer.close()
        producer.flush(gateway.timeout)
    return ProbeRun(time.time(), tuple(latencies))


def _round_trip(producer: Any, consumer: Any, topic: str, timeout: float) -> float:
    token = uuid.uuid4().bytes
    started = time.perf_counter()
    producer.produce(topic, value=token, partition=0)
    producer.flush(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = consumer.poll(0.1)
        if message is None or message.error() is not None:
            continue
        if message.value() == token:
            return (time.perf_counter() - started) * 1000
    raise KafkaError(f"probe record not read back within {timeout:.0f} s")
