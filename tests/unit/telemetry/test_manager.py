from __future__ import annotations

import uuid

import pytest
from kio.schema.errors import ErrorCode

from odradek.protocol.records.compression import CompressionType, compress
from odradek.telemetry import manager as manager_module
from odradek.telemetry.manager import ZERO_UUID, ClientMetricsManager
from tests.unit.telemetry.otlp_payloads import payload

CLIENT = {
    "client_id": "app-1",
    "client_software_name": "apache-kafka-java",
    "client_software_version": "3.9.1",
    "client_source_address": "127.0.0.1",
    "client_source_port": "40000",
}
NONE = int(CompressionType.NONE)


def _manager(
    resources: dict[str, dict[str, str]], max_bytes: int = 1_048_576
) -> ClientMetricsManager:
    store = {f"client-metrics/{name}": configs for name, configs in resources.items()}
    store["users/alice"] = {"producer_byte_rate": "100"}  # other entities are not resources
    return ClientMetricsManager(lambda: store, max_bytes)


def _subscribed(manager: ClientMetricsManager, now: int = 0) -> tuple[uuid.UUID, int]:
    answer = manager.get_subscriptions(ZERO_UUID, CLIENT, now)
    assert answer.error is ErrorCode.none
    return answer.instance_id, answer.subscription_id


def test_a_zero_instance_id_is_given_a_new_one() -> None:
    manager = _manager({})
    first = manager.get_subscriptions(ZERO_UUID, CLIENT, 0)
    second = manager.get_subscriptions(None, CLIENT, 0)
    assert first.instance_id not in (ZERO_UUID, second.instance_id)
    assert second.instance_id != ZERO_UUID


def test_no_matching_resource_answers_no_metrics_at_the_default_interval() -> None:
    manager = _manager({"other": {"metrics": "*", "match": "client_id=nobody"}})
    answer = manager.get_subscriptions(ZERO_UUID, CLIENT, 0)
    assert answer.error is ErrorCode.none
    assert answer.requested_metrics == ()
    assert answer.push_interval_ms == 300_000
    assert answer.telemetry_max_bytes == 1_048_576
    assert set(answer.accepted_compression_types) == {1, 2, 3, 4}


def test_matching_resources_are_united_at_the_shortest_interval() -> None:
    manager = _manager(
        {
            "producers": {"metrics": "org.apache.kafka.producer.", "interval.ms": "2000"},
            "java": {
                "metrics": "org.apache.kafka.consumer.",
                "interval.ms": "1000",
                "match": "client_software_name=apache-kafka-.*",
            },
            "librdkafka": {"metrics": "x.", "match": "client_software_name=librdkafka"},
        }
    )
    answer = manager.get_subscriptions(ZERO_UUID, CLIENT, 0)
    assert answer.requested_metrics == ("org.apache.kafka.consumer.", "org.apache.kafka.producer.")
    assert answer.push_interval_ms == 1000


def test_star_subscribes_to_every_metric_as_the_empty_prefix() -> None:
    answer = _manager({"all": {"metrics": "*"}}).get_subscriptions(ZERO_UUID, CLIENT, 0)
    assert answer.requested_metrics == ("",)


def test_selectors_on_the_instance_id() -> None:
    instance_id = uuid.uuid4()
    manager = _manager({"one": {"metrics": "*", "match": f"client_instance_id={instance_id}"}})
    assert manager.get_subscriptions(instance_id, CLIENT, 0).requested_metrics == ("",)
    assert manager.get_subscriptions(ZERO_UUID, CLIENT, 0).requested_metrics == ()


def test_the_subscription_id_survives_a_restart_and_changes_with_the_resources() -> None:
    resources = {"all": {"metrics": "*", "interval.ms": "1000"}}
    instance_id = uuid.uuid4()
    first = _manager(resources).get_subscriptions(instance_id, CLIENT, 0)
    again = _manager(resources).get_subscriptions(instance_id, CLIENT, 0)
    assert first.subscription_id == again.subscription_id
    changed = _manager({"all": {"metrics": "*", "interval.ms": "2000"}})
    assert (
        changed.get_subscriptions(instance_id, CLIENT, 0).subscription_id != first.subscription_id
    )


def test_asking_again_before_the_push_interval_is_throttled() -> None:
    manager = _manager({"all": {"metrics": "*", "interval.ms": "1000"}})
    instance_id, _ = _subscribed(manager)
    early = manager.get_subscriptions(instance_id, CLIENT, 999)
    assert early.error is ErrorCode.throttling_quota_exceeded
    assert manager.get_subscriptions(instance_id, CLIENT, 1000).error is ErrorCode.none


def test_pushes_are_accepted_once_per_interval() -> None:
    manager = _manager({"all": {"metrics": "*", "interval.ms": "1000"}})
    instance_id, sub = _subscribed(manager)
    body = payload(gauges={"org.apache.kafka.producer.record.queue.time.avg": 1.5})
    assert manager.push(instance_id, CLIENT, sub, False, NONE, body, 10) is ErrorCode.none
    early = manager.push(instance_id, CLIENT, sub, False, NONE, body, 500)
    assert early is ErrorCode.throttling_quota_exceeded
    assert manager.push(instance_id, CLIENT, sub, False, NONE, body, 1010) is ErrorCode.none


def test_a_terminating_push_is_accepted_early_and_is_the_last() -> None:
    manager = _manager({"all": {"metrics": "*", "interval.ms": "1000"}})
    instance_id, sub = _subscribed(manager)
    body = payload(gauges={"a": 1.0})
    assert manager.push(instance_id, CLIENT, sub, False, NONE, body, 10) is ErrorCode.none
    assert manager.push(instance_id, CLIENT, sub, True, NONE, body, 20) is ErrorCode.none
    after = manager.push(instance_id, CLIENT, sub, False, NONE, body, 1500)
    assert after is ErrorCode.invalid_request


def test_a_stale_subscription_id_is_unknown_and_the_client_may_ask_at_once() -> None:
    store = {"client-metrics/all": {"metrics": "*", "interval.ms": "1000"}}
    manager = ClientMetricsManager(lambda: store)
    instance_id, sub = _subscribed(manager)
    body = payload(gauges={"a": 1.0})
    assert manager.push(instance_id, CLIENT, sub, False, NONE, body, 10) is ErrorCode.none
    store["client-metrics/all"] = {"metrics": "a", "interval.ms": "1000"}
    stale = manager.push(instance_id, CLIENT, sub, False, NONE, body, 1100)
    assert stale is ErrorCode.unknown_subscription_id
    answer = manager.get_subscriptions(instance_id, CLIENT, 1101)
    assert answer.error is ErrorCode.none
    assert answer.requested_metrics == ("a",)
    pushed = manager.push(instance_id, CLIENT, answer.subscription_id, False, NONE, body, 1102)
    assert pushed is ErrorCode.none


def test_push_validation_errors() -> None:
    manager = _manager({"all": {"metrics": "*", "interval.ms": "1000"}}, max_bytes=64)
    instance_id, sub = _subscribed(manager)
    small = payload(gauges={"a": 1.0})
    assert manager.push(ZERO_UUID, CLIENT, sub, False, NONE, small, 10) is ErrorCode.invalid_request
    assert manager.push(None, CLIENT, sub, False, NONE, small, 10) is ErrorCode.invalid_request
    assert (
        manager.push(instance_id, CLIENT, sub, False, 7, small, 10)
        is ErrorCode.unsupported_compression_type
    )
    # After a refused compression type the client may ask for its subscription at once.
    assert manager.get_subscriptions(instance_id, CLIENT, 11).error is ErrorCode.none
    large = payload(gauges={f"metric.{i}": float(i) for i in range(10)})
    assert len(large) > 64
    assert (
        manager.push(instance_id, CLIENT, sub, False, NONE, large, 12)
        is ErrorCode.telemetry_too_large
    )
    assert (
        manager.get_subscriptions(instance_id, CLIENT, 13).error
        is ErrorCode.throttling_quota_exceeded
    )


def test_a_payload_that_is_not_otlp_is_an_invalid_request() -> None:
    manager = _manager({"all": {"metrics": "*"}})
    instance_id, sub = _subscribed(manager)
    garbage = b"\xff\xff\xff\xff not protobuf"
    assert (
        manager.push(instance_id, CLIENT, sub, False, NONE, garbage, 1) is ErrorCode.invalid_request
    )


@pytest.mark.parametrize(
    "codec",
    [CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4, CompressionType.ZSTD],
)
def test_compressed_payloads_are_decoded(codec: CompressionType) -> None:
    manager = _manager({"all": {"metrics": "*"}})
    instance_id, sub = _subscribed(manager)
    body = compress(int(codec), payload(gauges={"org.apache.kafka.x": 7.0}))
    assert manager.push(instance_id, CLIENT, sub, False, int(codec), body, 1) is ErrorCode.none
    [family] = manager.series.families()
    assert family.name == "org_apache_kafka_x"
    assert [s.value for s in family.samples] == [7.0]


def test_series_are_labelled_and_deltas_add_up() -> None:
    manager = _manager({"all": {"metrics": "*", "interval.ms": "1000"}})
    instance_id, sub = _subscribed(manager)
    body = payload(
        gauges={"org.apache.kafka.producer.record.queue.time.avg": 2.5},
        delta_sums={"org.apache.kafka.producer.node.request.count": 3},
        resource={"client_rack": "r1", "client_id": "forged"},
        point_attributes={"node.id": "1"},
    )
    assert manager.push(instance_id, CLIENT, sub, False, NONE, body, 1) is ErrorCode.none
    assert manager.push(instance_id, CLIENT, sub, False, NONE, body, 1001) is ErrorCode.none
    families = {f.name: f for f in manager.series.families()}
    [gauge] = families["org_apache_kafka_producer_record_queue_time_avg"].samples
    assert gauge.labels == {
        "client_instance_id": str(instance_id),
        "client_id": "app-1",
        "client_software_name": "apache-kafka-java",
        "client_rack": "r1",
        "node_id": "1",
    }
    assert gauge.value == 2.5
    counter = families["org_apache_kafka_producer_node_request_count"]
    assert counter.type == "counter"
    [total] = counter.samples
    assert total.name == "org_apache_kafka_producer_node_request_count_total"
    assert total.value == 6


def test_an_instance_gone_for_three_intervals_is_forgotten_with_its_series() -> None:
    manager = _manager({"all": {"metrics": "*", "interval.ms": "1000"}})
    instance_id, sub = _subscribed(manager)
    body = payload(gauges={"a": 1.0})
    assert manager.push(instance_id, CLIENT, sub, False, NONE, body, 10) is ErrorCode.none
    manager.expire(3010)
    assert manager.series.instances() == {instance_id}
    manager.expire(4011)  # the next check, a second later
    assert manager.series.instances() == set()
    assert instance_id not in manager.instances


def test_past_the_cache_size_the_least_recently_seen_instance_goes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(manager_module, "MAX_INSTANCES", 3)
    manager = _manager({"all": {"metrics": "*", "interval.ms": "1000"}})
    first, sub = _subscribed(manager, now=0)
    others = [_subscribed(manager, now=t)[0] for t in (1, 2)]
    body = payload(gauges={"a": 1.0})
    assert manager.push(first, CLIENT, sub, False, NONE, body, 3) is ErrorCode.none
    newest, _ = _subscribed(manager, now=4)
    assert set(manager.instances) == {first, others[1], newest}


def test_a_counter_named_total_gets_one_suffix() -> None:
    manager = _manager({"all": {"metrics": "*"}})
    instance_id, sub = _subscribed(manager)
    body = payload(delta_sums={"org.apache.kafka.producer.connection.creation.total": 1})
    assert manager.push(instance_id, CLIENT, sub, False, NONE, body, 1) is ErrorCode.none
    [family] = manager.series.families()
    assert [s.name for s in family.samples] == [
        "org_apache_kafka_producer_connection_creation_total"
    ]
