"""Metrics of a broker process, scraped while real clients work: Prometheus counters and
histograms move by the amounts the clients caused, consumer lag follows commits, and
Jolokia's TotalFetchRequestsPerSec counts the Fetch requests a raw client made."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from odradek.protocol.records.codec import encode_batch
from tests.support.broker_process import BrokerProcess, free_port
from tests.support.raw_client import RawClient
from tests.unit.observability.scrape import (
    Samples,
    http_get,
    jolokia,
    scrape,
    wait_for_endpoint,
)

pytestmark = pytest.mark.integration

TIMES = (
    "totaltimems",
    "requestqueuetimems",
    "localtimems",
    "remotetimems",
    "responsequeuetimems",
    "responsesendtimems",
)
RECORDS = 3000
RECORD_BYTES = 100


def start(broker_factory: Callable[..., BrokerProcess]) -> tuple[BrokerProcess, int]:
    port = free_port()
    broker = broker_factory(
        overrides={"metrics.port": str(port), "group.initial.rebalance.delay.ms": "0"}
    )
    wait_for_endpoint(port)
    return broker, port


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(15)


def client_requests(stats: list[str], api: str) -> int:
    """librdkafka's own count of ``api`` requests sent, from its latest statistics."""
    brokers = json.loads(stats[-1])["brokers"].values()
    return sum(int(b.get("req", {}).get(api, 0)) for b in brokers)


def produce(bootstrap: str, topic: str, count: int, acks: str = "1") -> int:
    """Send ``count`` records; the Produce requests librdkafka made for them."""
    stats: list[str] = []
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 5,
            "acks": acks,
            "statistics.interval.ms": 100,
            "stats_cb": stats.append,
        }
    )
    failures: list[Any] = []
    for index in range(count):
        producer.produce(
            topic,
            value=b"%0*d" % (RECORD_BYTES, index),
            on_delivery=lambda err, _m: failures.append(err) if err else None,
        )
        producer.poll(0)
    assert producer.flush(30) == 0
    assert not failures
    seen = len(stats)
    deadline = time.monotonic() + 5
    while len(stats) < seen + 2 and time.monotonic() < deadline:  # statistics after the last
        producer.poll(0.05)
    return client_requests(stats, "Produce")


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return after.total(name, **labels) - before.total(name, **labels)


def test_counters_and_histograms_follow_real_clients(
    broker_factory: Callable[..., BrokerProcess],
) -> None:
    broker, port = start(broker_factory)
    topic, group = "metrics-topic", "metrics-group"
    create_topic(broker.bootstrap, topic)
    before = scrape(port)

    produce_requests = produce(broker.bootstrap, topic, RECORDS)
    after = scrape(port)
    topic_in = "kafka_server_brokertopicmetrics_messagesin_total"
    assert after.get(topic_in, topic=topic) - before.get(topic_in, topic=topic) == RECORDS
    assert after.get(topic_in) - before.get(topic_in) == RECORDS
    bytes_in = after.get("kafka_server_brokertopicmetrics_bytesin_total", topic=topic)
    # the bytes that came in are the batches now in the log
    assert bytes_in == after.get("kafka_log_log_size", topic=topic, partition="0")
    assert bytes_in > RECORDS * RECORD_BYTES
    assert after.get("kafka_log_log_logendoffset", topic=topic, partition="0") == RECORDS
    requests = delta(
        after, before, "kafka_network_requestmetrics_requests_total", request="Produce"
    )
    assert requests == produce_requests > 0
    assert (
        delta(
            after, before, "kafka_server_brokertopicmetrics_totalproducerequests_total", topic=topic
        )
        == produce_requests
    )  # one partition: one per request
    for name in TIMES:
        assert (
            delta(after, before, f"kafka_network_requestmetrics_{name}_count", request="Produce")
            == produce_requests
        )
    assert (
        delta(after, before, "kafka_network_requestmetrics_totaltimems_sum", request="Produce") > 0
    )
    assert after.get("kafka_server_brokertopicmetrics_failedproducerequests_total") == 0

    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    received = 0
    deadline = time.monotonic() + 30
    while received < RECORDS and time.monotonic() < deadline:
        for message in consumer.consume(500, 0.2):
            if message.error() is None:
                received += 1
    assert received == RECORDS
    consumer.commit(asynchronous=False)
    consumer.close()
    consumed = scrape(port)
    bytes_out = delta(
        consumed, after, "kafka_server_brokertopicmetrics_bytesout_total", topic=topic
    )
    assert bytes_out >= bytes_in  # every batch went out at least once
    fetches = delta(consumed, after, "kafka_network_requestmetrics_requests_total", request="Fetch")
    assert fetches >= 1
    assert (
        delta(
            consumed, after, "kafka_server_brokertopicmetrics_totalfetchrequests_total", topic=topic
        )
        >= fetches
    )
    for name in TIMES:
        assert (
            delta(
                consumed,
                after,
                f"kafka_network_requestmetrics_{name}_count",
                request="FetchConsumer",
            )
            == fetches
        )
    where = {"consumergroup": group, "topic": topic, "partition": "0"}
    assert consumed.get("kafka_consumergroup_current_offset", **where) == RECORDS
    assert consumed.get("kafka_consumergroup_lag", **where) == 0
    assert (
        consumed.total("kafka_network_requestmetrics_requests_total", request="OffsetCommit") >= 1
    )
    assert consumed.get("kafka_coordinator_group_groupmetadatamanager_numgroups") >= 1

    produce(broker.bootstrap, topic, 50, acks="all")
    lagging = scrape(port)
    assert lagging.get("kafka_consumergroup_lag", **where) == 50
    assert lagging.get("kafka_consumergroup_lag_sum", consumergroup=group, topic=topic) == 50
    for name, value in (
        ("kafka_server_replicamanager_underreplicatedpartitions", 0),
        ("kafka_controller_kafkacontroller_offlinepartitionscount", 0),
        ("kafka_controller_kafkacontroller_activecontrollercount", 1),
    ):
        assert lagging.get(name) == value
    assert lagging.get("process_resident_memory_bytes") > 0


def test_jolokia_total_fetch_requests_counts_raw_fetches(
    broker_factory: Callable[..., BrokerProcess],
) -> None:
    broker, port = start(broker_factory)
    topic, fetches = "jolokia-topic", 7
    mbean = "kafka.server:type=BrokerTopicMetrics,name=TotalFetchRequestsPerSec"
    with RawClient.to(broker.bootstrap) as client:
        client.create_topic(topic)
        batch = encode_batch([(None, b"x" * 50)] * 4, timestamp=1_700_000_000_000)
        assert client.produce(topic, 0, batch).error_code == 0
        before = jolokia(port, f"read/{mbean}")
        assert before["status"] == 200
        for _ in range(fetches):
            assert client.fetch(topic, 0, 0).error_code == 0
    after = jolokia(port, f"read/{mbean}")
    assert after["request"] == {"type": "read", "mbean": mbean}
    assert after["value"]["Count"] - before["value"]["Count"] == fetches
    per_topic = jolokia(port, f"read/{mbean},topic={topic}/Count")
    assert per_topic["value"] == fetches
    seed = jolokia(port, "read/kafka.server:name=BrokerTopicMetrics/TotalFetchRequestsPerSec")
    assert seed["status"] == 200 and seed["value"]["Count"] == after["value"]["Count"]
    assert (
        jolokia(
            port,
            "read/kafka.network:type=RequestMetrics,name=RequestsPerSec,"
            "request=Fetch,version=12/Count",
        )["value"]
        == fetches
    )
    bytes_out = jolokia(
        port, f"read/kafka.server:type=BrokerTopicMetrics,name=BytesOutPerSec,topic={topic}/Count"
    )["value"]
    assert bytes_out == fetches * len(batch)
    # the rates: Yammer meters tick every 5 s
    deadline = time.monotonic() + 12
    rate = 0.0
    while rate == 0.0 and time.monotonic() < deadline:
        time.sleep(0.5)
        rate = jolokia(port, f"read/{mbean}/OneMinuteRate")["value"]
    assert rate > 0
    value = jolokia(port, f"read/{mbean}")["value"]
    assert value["FiveMinuteRate"] > 0 and value["FifteenMinuteRate"] > 0
    assert value["MeanRate"] > 0


def test_endpoint_is_off_when_the_port_is_negative(
    broker_factory: Callable[..., BrokerProcess],
) -> None:
    port = free_port()
    broker = broker_factory(overrides={"metrics.port": "-1"})
    with RawClient.to(broker.bootstrap) as client:
        client.api_versions()
    with pytest.raises(OSError):
        http_get(port, "/metrics", timeout=1)
