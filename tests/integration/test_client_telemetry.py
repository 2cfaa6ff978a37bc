"""KIP-714 client metrics with real clients: once a ``client-metrics`` resource subscribes
them, librdkafka (confluent-kafka, ``enable.metrics.push`` on by default) pushes its metrics
and they appear on the broker's Prometheus endpoint labelled with the client's identity;
the resource is described and altered through the config APIs, and the raw protocol's
answers follow Kafka's (instance id assignment, throttling, stale subscription ids)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Producer
from kio.schema.describe_configs.v4.request import DescribeConfigsRequest, DescribeConfigsResource
from kio.schema.errors import ErrorCode
from kio.schema.get_telemetry_subscriptions.v0.request import GetTelemetrySubscriptionsRequest
from kio.schema.incremental_alter_configs.v1.request import (
    AlterableConfig,
    AlterConfigsResource,
    IncrementalAlterConfigsRequest,
)
from kio.schema.push_telemetry.v0.request import PushTelemetryRequest
from kio.static.primitive import i8, i32

from tests.integration.test_cli_common import fails, ok
from tests.support.broker_process import BrokerProcess, free_port
from tests.support.raw_client import RawClient
from tests.unit.observability.scrape import Samples, scrape, wait_for_endpoint
from tests.unit.telemetry.otlp_payloads import payload

pytestmark = pytest.mark.integration

CLIENT_METRICS = i8(16)
DEADLINE_S = 90.0


TELEMETRY_MAX_BYTES = 524_288


@pytest.fixture
def telemetry_broker(
    broker_factory: Callable[..., BrokerProcess],
) -> Iterator[tuple[BrokerProcess, int]]:
    port = free_port()
    # telemetry.max.bytes below Kafka's default: what the broker tells clients is its config.
    broker = broker_factory(
        overrides={"metrics.port": str(port), "telemetry.max.bytes": str(TELEMETRY_MAX_BYTES)}
    )
    wait_for_endpoint(port)
    yield broker, port


def alter_client_metrics(bootstrap: str, name: str, configs: dict[str, str]) -> ErrorCode:
    request = IncrementalAlterConfigsRequest(
        resources=(
            AlterConfigsResource(
                resource_type=CLIENT_METRICS,
                resource_name=name,
                configs=tuple(
                    AlterableConfig(name=k, config_operation=i8(0), value=v)
                    for k, v in configs.items()
                ),
            ),
        ),
        validate_only=False,
    )
    with RawClient.to(bootstrap) as client:
        response = client.call(request)
    [result] = response.responses
    return ErrorCode(result.error_code)


def describe_client_metrics(bootstrap: str, name: str) -> dict[str, tuple[str | None, int]]:
    request = DescribeConfigsRequest(
        resources=(
            DescribeConfigsResource(
                resource_type=CLIENT_METRICS, resource_name=name, configuration_keys=None
            ),
        ),
        include_synonyms=False,
        include_documentation=False,
    )
    with RawClient.to(bootstrap) as client:
        response = client.call(request)
    [result] = response.results
    assert result.error_code == ErrorCode.none, result.error_message
    return {c.name: (c.value, c.config_source) for c in result.configs}


def wait_for_scrape(
    port: int, found: Callable[[Samples], bool], what: str, log: Callable[[], str]
) -> Samples:
    """The first scrape for which ``found`` holds, polled until the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        samples = scrape(port)
        if found(samples):
            return samples
        time.sleep(0.5)
    pytest.fail(f"no {what} on the metrics endpoint\n--- broker log ---\n{log()}", pytrace=False)


def client_series(samples: Samples, client_id: str) -> dict[str, dict[str, str]]:
    """Every pushed sample of ``client_id``: name -> labels."""
    found: dict[str, dict[str, str]] = {}
    for name, labels in samples.values:
        values = dict(labels)
        if values.get("client_id") == client_id and "client_instance_id" in values:
            found[name] = values
    return found


def test_the_resource_is_altered_and_described(telemetry_broker: tuple[BrokerProcess, int]) -> None:
    broker, _ = telemetry_broker
    configs = {"metrics": "org.apache.kafka.producer.", "interval.ms": "1000"}
    assert alter_client_metrics(broker.bootstrap, "producers", configs) == ErrorCode.none
    described = describe_client_metrics(broker.bootstrap, "producers")
    assert described == {
        "metrics": ("org.apache.kafka.producer.", 7),
        "interval.ms": ("1000", 7),
    }
    bad = alter_client_metrics(broker.bootstrap, "bad", {"interval.ms": "10"})
    assert bad == ErrorCode.invalid_config
    assert describe_client_metrics(broker.bootstrap, "bad") == {}
    # Kept across a restart, as the other entity configs.
    broker.restart()
    assert describe_client_metrics(broker.bootstrap, "producers")["interval.ms"] == ("1000", 7)


def test_raw_subscription_and_pushes(telemetry_broker: tuple[BrokerProcess, int]) -> None:
    broker, port = telemetry_broker
    assert (
        alter_client_metrics(broker.bootstrap, "all", {"metrics": "*", "interval.ms": "60000"})
        == ErrorCode.none
    )
    with RawClient.to(broker.bootstrap) as client:
        answer = client.call(GetTelemetrySubscriptionsRequest(client_instance_id=uuid.UUID(int=0)))
        assert answer.error_code == ErrorCode.none
        instance_id = answer.client_instance_id
        assert instance_id != uuid.UUID(int=0)
        assert answer.requested_metrics == ("",)
        assert answer.push_interval.total_seconds() == 60
        assert answer.telemetry_max_bytes == TELEMETRY_MAX_BYTES
        again = client.call(GetTelemetrySubscriptionsRequest(client_instance_id=instance_id))
        assert again.error_code == ErrorCode.throttling_quota_exceeded

        def push(subscription_id: int, terminating: bool = False) -> ErrorCode:
            body = payload(gauges={"raw.client.gauge": 42.0}, resource={"client_rack": "r9"})
            response = client.call(
                PushTelemetryRequest(
                    client_instance_id=instance_id,
                    subscription_id=i32(subscription_id),
                    terminating=terminating,
                    compression_type=i8(0),
                    metrics=body,
                )
            )
            return ErrorCode(response.error_code)

        assert push(answer.subscription_id + 1) == ErrorCode.unknown_subscription_id
        assert push(answer.subscription_id) == ErrorCode.none
        assert push(answer.subscription_id) == ErrorCode.throttling_quota_exceeded
        pushed = {
            labels: value
            for (name, labels), value in scrape(port).values.items()
            if name == "raw_client_gauge"
        }
        [(labels, value)] = pushed.items()
        assert value == 42.0
        assert ("client_instance_id", str(instance_id)) in labels
        assert ("client_rack", "r9") in labels
        assert push(answer.subscription_id, terminating=True) == ErrorCode.none
        assert push(answer.subscription_id, terminating=True) == ErrorCode.invalid_request


def test_librdkafka_pushes_its_metrics(telemetry_broker: tuple[BrokerProcess, int]) -> None:
    broker, port = telemetry_broker
    subscribed = {"metrics": "*", "interval.ms": "1000", "match": "client_id=telemetry-rdkafka"}
    assert alter_client_metrics(broker.bootstrap, "rdkafka", subscribed) == ErrorCode.none
    producer = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "telemetry-rdkafka"})
    stop = time.monotonic() + DEADLINE_S
    try:
        samples = None
        while time.monotonic() < stop:
            producer.produce("telemetry-topic", b"value")
            producer.poll(0.2)
            samples = scrape(port)
            if client_series(samples, "telemetry-rdkafka"):
                break
        assert samples is not None
        series = client_series(samples, "telemetry-rdkafka")
        assert series, f"librdkafka pushed nothing\n{broker.log()}"
        gauge = series["org_apache_kafka_producer_record_queue_time_avg"]
        assert gauge["client_instance_id"] != str(uuid.UUID(int=0))
        assert gauge["client_software_name"] == "confluent-kafka-python"  # from ApiVersions
        assert "org_apache_kafka_producer_connection_creation_total" in series
    finally:
        producer.flush(10)
        producer.close()
    # Gone three push intervals after the client's last push.
    wait_for_scrape(
        port,
        lambda samples: not client_series(samples, "telemetry-rdkafka"),
        "drop of the closed client's series",
        broker.log,
    )


def test_configs_tool_alters_and_describes_a_resource(
    telemetry_broker: tuple[BrokerProcess, int],
) -> None:
    broker, _ = telemetry_broker
    entity = ("--bootstrap-server", broker.bootstrap, "--entity-type", "client-metrics")
    altered = ok(
        "configs",
        *entity,
        "--entity-name",
        "tool",
        "--alter",
        "--add-config",
        "metrics=[org.apache.kafka.producer.,org.apache.kafka.consumer.],interval.ms=1000",
    )
    assert altered.strip() == "Completed updating config for client-metric tool."
    assert describe_client_metrics(broker.bootstrap, "tool") == {
        "interval.ms": ("1000", 7),
        "metrics": ("org.apache.kafka.producer.,org.apache.kafka.consumer.", 7),
    }
    ok("configs", *entity, "--entity-name", "tool", "--alter", "--delete-config", "metrics")
    described = ok("configs", *entity, "--entity-name", "tool", "--describe")
    assert described.splitlines() == [
        "Dynamic configs for client-metric tool are:",
        "  interval.ms=1000 sensitive=false synonyms={}",
    ]
    refused = fails(
        "configs", *entity, "--entity-name", "tool", "--alter", "--add-config", "interval.ms=5"
    )
    assert "interval.ms" in refused
    # Without a name: every resource (ListClientMetricsResources), each described.
    ok("configs", *entity, "--entity-name", "other", "--alter", "--add-config", "interval.ms=2000")
    assert ok("configs", *entity, "--describe").splitlines() == [
        "Dynamic configs for client-metric other are:",
        "  interval.ms=2000 sensitive=false synonyms={}",
        "Dynamic configs for client-metric tool are:",
        "  interval.ms=1000 sensitive=false synonyms={}",
    ]
