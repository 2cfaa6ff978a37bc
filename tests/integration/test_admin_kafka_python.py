"""The admin APIs through kafka-python's KafkaAdminClient against a real broker.

kafka-python hands back the broker's answers almost raw (dicts of the response fields), which
lets these tests check what other clients smooth over: the per-topic fields of the
CreateTopics response, the synonym *order* of DescribeConfigs, DeleteTopics by topic id, and
DescribeLogDirs (which confluent-kafka does not expose).

One module broker (``num.partitions=2``) serves every test; topic names are unique.
Expectations are Apache Kafka's (3.9, KRaft).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import kafka.errors as errors
import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from tests.integration.clients import unique_topic
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

# Kafka protocol error codes.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_REPLICA_ASSIGNMENT = 39
INVALID_CONFIG = 40
INVALID_REQUEST = 42
UNKNOWN_TOPIC_ID = 100

DEFAULT_PARTITIONS = 2  # num.partitions of the module broker
TOPIC = ConfigResourceType.TOPIC
BROKER = ConfigResourceType.BROKER


@pytest.fixture(scope="module")
def kp_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(
        tmp_path_factory.mktemp("admin-kafka-python") / "data",
        overrides={"num.partitions": str(DEFAULT_PARTITIONS)},
    ).start()
    yield broker
    broker.kill()


@pytest.fixture(scope="module")
def kp_admin(kp_broker: BrokerProcess) -> Iterator[KafkaAdminClient]:
    admin = KafkaAdminClient(
        bootstrap_servers=kp_broker.bootstrap,
        request_timeout_ms=15_000,
        client_id="odradek-admin-test",
    )
    yield admin
    admin.close()


def create_results(
    admin: KafkaAdminClient, topics: dict[str, dict[str, Any]], **options: Any
) -> dict[str, dict[str, Any]]:
    """CreateTopics without raising: the per-topic result dicts, by name."""
    response = admin.create_topics(topics, raise_errors=False, **options)
    return {t["name"]: t for t in response["topics"]}


def create_ok(
    admin: KafkaAdminClient, broker: BrokerProcess, topics: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    results = create_results(admin, topics)
    bad = {
        n: (r["error_code"], r["error_message"])
        for n, r in results.items()
        if r["error_code"] != NONE
    }
    assert not bad, f"CreateTopics failed: {bad}\n--- broker log ---\n{broker.log()}"
    return results


def partitions_of(admin: KafkaAdminClient, topic: str) -> list[dict[str, Any]]:
    (described,) = admin.describe_topics([topic])
    assert described["error_code"] == NONE, described
    return sorted(described["partitions"], key=lambda p: p["partition_index"])


def topic_configs(
    admin: KafkaAdminClient, topic: str, config_filter: str = "all"
) -> dict[str, dict[str, Any]]:
    result = admin.describe_configs(
        [ConfigResource(TOPIC, topic)], include_synonyms=True, config_filter=config_filter
    )
    return result["topic"][topic]  # type: ignore[no-any-return]


def alter(
    admin: KafkaAdminClient, topic: str, configs: dict[str, Any], *, incremental: bool
) -> int:
    """AlterConfigs/IncrementalAlterConfigs on a topic; the error code (0 for OK)."""
    result = admin.alter_configs(
        [ConfigResource(TOPIC, topic, configs=configs)],
        raise_on_unknown=False,
        incremental=incremental,
    )
    return error_code(result["topic"][topic])


def error_code(text: str) -> int:
    """kafka-python reports an alter result as 'OK' or '[Error 40] InvalidConfigurationError:
    ...'."""
    if text == "OK":
        return NONE
    match = re.match(r"\[Error (-?\d+)\]", text)
    assert match, f"unexpected alter result {text!r}"
    return int(match.group(1))


# -- CreateTopics --------------------------------------------------------------------------------


def test_create_topics(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    sized, assigned, defaults = (
        unique_topic("kp-create-sized"),
        unique_topic("kp-create-assign"),
        unique_topic("kp-create-defaults"),
    )
    results = create_ok(
        kp_admin,
        kp_broker,
        {
            sized: {
                "num_partitions": 3,
                "replication_factor": 1,
                "configs": {"retention.ms": "3600000"},
            },
            assigned: {"assignments": {0: [0], 1: [0], 2: [0], 3: [0]}},
            defaults: {},  # num_partitions and replication_factor -1: the broker's defaults
        },
    )
    # CreateTopics v5+ answers with the partition count and replication factor it used.
    assert (results[sized]["num_partitions"], results[sized]["replication_factor"]) == (3, 1)
    assert (results[assigned]["num_partitions"], results[assigned]["replication_factor"]) == (4, 1)
    assert (results[defaults]["num_partitions"], results[defaults]["replication_factor"]) == (
        DEFAULT_PARTITIONS,
        1,
    )
    assert len({r["topic_id"] for r in results.values()}) == 3

    for topic, count in ((sized, 3), (assigned, 4), (defaults, DEFAULT_PARTITIONS)):
        parts = partitions_of(kp_admin, topic)
        assert [p["partition_index"] for p in parts] == list(range(count))
        for p in parts:
            assert (p["leader_id"], p["replica_nodes"], p["isr_nodes"]) == (0, [0], [0])
    assert {sized, assigned, defaults} <= set(kp_admin.list_topics())
    entry = topic_configs(kp_admin, sized)["retention.ms"]
    assert (entry["value"], entry["config_source"]) == ("3600000", "DYNAMIC_TOPIC_CONFIG")


def test_create_topics_response_carries_the_topic_configs(
    kp_admin: KafkaAdminClient, kp_broker: BrokerProcess
) -> None:
    """KIP-525 (CreateTopics v5+): a created topic's result lists its effective configs with
    their sources, as DescribeConfigs would (Kafka's ReplicationControlManager fills them in)."""
    topic = unique_topic("kp-create-configs")
    results = create_ok(
        kp_admin,
        kp_broker,
        {
            topic: {
                "num_partitions": 1,
                "replication_factor": 1,
                "configs": {"retention.ms": "3600000"},
            }
        },
    )
    configs = results[topic].get("configs") or {}
    assert "retention.ms" in configs and "segment.bytes" in configs, (
        f"CreateTopics result lists no configs: {results[topic]}"
    )
    assert (configs["retention.ms"]["value"], configs["retention.ms"]["config_source"]) == (
        "3600000",
        "DYNAMIC_TOPIC_CONFIG",
    )
    assert configs["segment.bytes"]["config_source"] == "DEFAULT_CONFIG"


def test_create_topics_validate_only(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    topic = unique_topic("kp-validate")
    results = create_results(
        kp_admin, {topic: {"num_partitions": 5, "replication_factor": 1}}, validate_only=True
    )
    assert results[topic]["error_code"] == NONE
    assert results[topic]["num_partitions"] == 5
    assert topic not in kp_admin.list_topics()
    results = create_results(
        kp_admin, {topic: {"configs": {"cleanup.policy": "bogus"}}}, validate_only=True
    )
    assert results[topic]["error_code"] == INVALID_CONFIG


def test_create_topics_errors(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    prefix = unique_topic("kp-bad")
    existing = f"{prefix}-existing"
    create_ok(kp_admin, kp_broker, {existing: {"num_partitions": 1}})
    cases: dict[str, tuple[dict[str, Any], int]] = {
        f"{prefix}-negative": ({"num_partitions": -5}, INVALID_PARTITIONS),
        f"{prefix}-zero": ({"num_partitions": 0}, INVALID_PARTITIONS),
        f"{prefix}-rf2": (
            {"num_partitions": 1, "replication_factor": 2},
            INVALID_REPLICATION_FACTOR,
        ),
        f"{prefix}-rf-neg": (
            {"num_partitions": 1, "replication_factor": -3},
            INVALID_REPLICATION_FACTOR,
        ),
        f"{prefix}-broker7": ({"assignments": {0: [7]}}, INVALID_REPLICA_ASSIGNMENT),
        f"{prefix}-gap": ({"assignments": {0: [0], 2: [0]}}, INVALID_REPLICA_ASSIGNMENT),
        f"{prefix}-both": ({"num_partitions": 1, "assignments": {0: [0]}}, INVALID_REQUEST),
        f"{prefix}-null-config": ({"configs": {"retention.ms": None}}, INVALID_CONFIG),
        f"{prefix}-unknown-config": ({"configs": {"no.such.config": "1"}}, INVALID_CONFIG),
        f"{prefix}-bad-value": ({"configs": {"retention.ms": "abc"}}, INVALID_CONFIG),
        f"{prefix}-bogus-policy": ({"configs": {"cleanup.policy": "bogus"}}, INVALID_CONFIG),
        f"{prefix}:colon": ({}, INVALID_TOPIC_EXCEPTION),
        prefix + "-" + "y" * 250: ({}, INVALID_TOPIC_EXCEPTION),
        existing: ({"num_partitions": 1}, TOPIC_ALREADY_EXISTS),
    }
    results = create_results(kp_admin, {name: spec for name, (spec, _) in cases.items()})
    got = {name: results[name]["error_code"] for name in cases}
    assert got == {name: code for name, (_, code) in cases.items()}
    for name in cases:
        if name != existing:
            assert results[name].get("topic_id") in (None, str(uuid.UUID(int=0)))
    assert not (set(cases) - {existing}) & set(kp_admin.list_topics())

    with pytest.raises(errors.TopicAlreadyExistsError):
        kp_admin.create_topics({existing: {"num_partitions": 1}})
    with pytest.raises(errors.InvalidPartitionsError):
        kp_admin.create_topics({f"{prefix}-zero-again": {"num_partitions": 0}})


def test_dot_and_underscore_collide(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    base = unique_topic("kp-collide")
    create_ok(kp_admin, kp_broker, {f"{base}_a": {}})
    results = create_results(kp_admin, {f"{base}.a": {}})
    assert results[f"{base}.a"]["error_code"] == INVALID_TOPIC_EXCEPTION


# -- DeleteTopics --------------------------------------------------------------------------------


def test_delete_topics_by_name_and_by_id(
    kp_admin: KafkaAdminClient, kp_broker: BrokerProcess
) -> None:
    by_name, by_id = unique_topic("kp-del-name"), unique_topic("kp-del-id")
    results = create_ok(kp_admin, kp_broker, {by_name: {}, by_id: {}})
    topic_id = uuid.UUID(results[by_id]["topic_id"])
    response = kp_admin.delete_topics([by_name], raise_errors=False)
    assert [(t["name"], t["error_code"]) for t in response["topics"]] == [(by_name, NONE)]
    response = kp_admin.delete_topics([topic_id], raise_errors=False)
    (result,) = response["topics"]
    assert (result["error_code"], result["name"]) == (NONE, by_id)
    assert uuid.UUID(str(result["topic_id"])) == topic_id
    assert not {by_name, by_id} & set(kp_admin.list_topics())


def test_delete_missing_topics(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    missing = unique_topic("kp-del-missing")
    response = kp_admin.delete_topics([missing], raise_errors=False)
    assert [(t["name"], t["error_code"]) for t in response["topics"]] == [
        (missing, UNKNOWN_TOPIC_OR_PARTITION)
    ]
    with pytest.raises(errors.UnknownTopicOrPartitionError):
        kp_admin.delete_topics([missing])


def test_delete_unknown_topic_id(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    """Kafka answers an unknown topic *id* with UNKNOWN_TOPIC_ID (100), not
    UNKNOWN_TOPIC_OR_PARTITION (KafkaApis/ControllerApis.deleteTopics)."""
    response = kp_admin.delete_topics([uuid.uuid4()], raise_errors=False)
    (result,) = response["topics"]
    assert result["error_code"] == UNKNOWN_TOPIC_ID, result


# -- CreatePartitions ----------------------------------------------------------------------------


def test_create_partitions(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    grow, shrink, same, assigned = (
        unique_topic(f"kp-parts-{s}") for s in ("grow", "shrink", "same", "assigned")
    )
    missing = unique_topic("kp-parts-missing")
    create_ok(
        kp_admin,
        kp_broker,
        {
            grow: {"num_partitions": 1},
            shrink: {"num_partitions": 3},
            same: {"num_partitions": 3},
            assigned: {"num_partitions": 1},
        },
    )
    response = kp_admin.create_partitions(
        {
            grow: 4,
            shrink: 2,
            same: 3,
            missing: 2,
            assigned: {"count": 3, "assignments": [[0], [0]]},
        },
        raise_errors=False,
    )
    got = {r.name: r.error_code for r in response.results}
    assert got == {
        grow: NONE,
        shrink: INVALID_PARTITIONS,
        same: INVALID_PARTITIONS,
        missing: UNKNOWN_TOPIC_OR_PARTITION,
        assigned: NONE,
    }
    counts = {t: len(partitions_of(kp_admin, t)) for t in (grow, shrink, same, assigned)}
    assert counts == {grow: 4, shrink: 3, same: 3, assigned: 3}
    with pytest.raises(errors.InvalidPartitionsError):
        kp_admin.create_partitions({grow: 4})
    response = kp_admin.create_partitions({grow: 9}, validate_only=True)
    assert response.results[0].error_code == NONE
    assert len(partitions_of(kp_admin, grow)) == 4


# -- DescribeTopicPartitions (KIP-966) -----------------------------------------------------------


def test_describe_topic_partitions_pages(
    kp_admin: KafkaAdminClient, kp_broker: BrokerProcess
) -> None:
    """Pages of at most ``response_partition_limit`` partitions over the sorted topics; the
    cursor names the next topic and partition (Kafka's KRaftMetadataCache
    .getTopicMetadataForDescribeTopicResponse)."""
    prefix = unique_topic("kp-dtp")
    first, second = f"{prefix}-a", f"{prefix}-b"
    create_ok(kp_admin, kp_broker, {second: {"num_partitions": 2}, first: {"num_partitions": 3}})

    def page(
        limit: int, cursor: dict[str, Any] | None = None
    ) -> tuple[list[tuple[str, list[int]]], dict[str, Any] | None]:
        response = kp_admin.describe_topic_partitions([second, first], limit, cursor)
        for topic in response["topics"]:
            assert topic["error_code"] == NONE, topic
            for p in topic["partitions"]:
                assert (p["error_code"], p["leader_id"], p["replica_nodes"], p["isr_nodes"]) == (
                    NONE,
                    0,
                    [0],
                    [0],
                ), p
        shape = [
            (t["name"], [p["partition_index"] for p in t["partitions"]]) for t in response["topics"]
        ]
        return shape, response["next_cursor"]

    everything, cursor = page(2000)
    assert (everything, cursor) == ([(first, [0, 1, 2]), (second, [0, 1])], None)
    assert page(2) == ([(first, [0, 1])], {"topic_name": first, "partition_index": 2})
    assert page(2, {"topic_name": first, "partition_index": 2}) == (
        [(first, [2]), (second, [0])],
        {"topic_name": second, "partition_index": 1},
    )
    assert page(2, {"topic_name": second, "partition_index": 1}) == ([(second, [1])], None)
    # A page that ends exactly with a topic: the cursor points at the start of the next topic,
    # which is not listed (empty) in this page.
    assert page(3) == ([(first, [0, 1, 2])], {"topic_name": second, "partition_index": 0})


def test_describe_topic_partitions_of_missing_topic(kp_admin: KafkaAdminClient) -> None:
    missing = unique_topic("kp-dtp-missing")
    response = kp_admin.describe_topic_partitions([missing])
    assert [(t["name"], t["error_code"], t["partitions"]) for t in response["topics"]] == [
        (missing, UNKNOWN_TOPIC_OR_PARTITION, [])
    ]
    assert response["next_cursor"] is None


# -- DescribeConfigs -----------------------------------------------------------------------------


def test_describe_topic_configs(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    topic = unique_topic("kp-desc-cfg")
    create_ok(
        kp_admin,
        kp_broker,
        {topic: {"configs": {"segment.bytes": "1048576", "cleanup.policy": "compact"}}},
    )
    configs = topic_configs(kp_admin, topic)
    segment = configs["segment.bytes"]
    assert (
        segment["value"],
        segment["config_source"],
        segment["read_only"],
        segment["is_sensitive"],
        segment["config_type"],
    ) == ("1048576", "DYNAMIC_TOPIC_CONFIG", False, False, "INT")
    assert segment["synonyms"] == [
        {"name": "segment.bytes", "value": "1048576", "source": "DYNAMIC_TOPIC_CONFIG"},
        {"name": "log.segment.bytes", "value": "1073741824", "source": "DEFAULT_CONFIG"},
    ]
    policy = configs["cleanup.policy"]
    assert (policy["value"], policy["config_type"]) == ("compact", "LIST")
    default = configs["max.message.bytes"]
    assert (default["value"], default["config_source"]) == ("1048588", "DEFAULT_CONFIG")
    assert default["synonyms"] == [
        {"name": "message.max.bytes", "value": "1048588", "source": "DEFAULT_CONFIG"}
    ]
    assert all(not c["read_only"] for c in configs.values())
    # The "modified" filter keeps the overrides only.
    assert set(topic_configs(kp_admin, topic, "modified")) == {"segment.bytes", "cleanup.policy"}
    # Selected keys only.
    result = kp_admin.describe_configs(
        [ConfigResource(TOPIC, topic, configs=["segment.bytes"])], config_filter="all"
    )
    assert set(result["topic"][topic]) == {"segment.bytes"}


def test_retention_ms_synonyms(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    """Kafka lists a topic config's broker synonyms from the first entry of the broker config
    it defaults to (``log.retention.ms``) on: that one is set nowhere, so the default of
    ``log.retention.hours`` is not listed. An override is its only synonym; without one the
    chain is empty and the source DEFAULT_CONFIG (Kafka 3.9's ConfigHelper)."""
    topic = unique_topic("kp-desc-retention")
    plain = unique_topic("kp-desc-retention-default")
    create_ok(kp_admin, kp_broker, {topic: {"configs": {"retention.ms": "3600000"}}, plain: {}})
    entry = topic_configs(kp_admin, topic)["retention.ms"]
    assert (entry["value"], entry["config_type"]) == ("3600000", "LONG")
    assert entry["synonyms"] == [
        {"name": "retention.ms", "value": "3600000", "source": "DYNAMIC_TOPIC_CONFIG"},
    ]
    default = topic_configs(kp_admin, plain)["retention.ms"]
    assert (default["value"], default["config_source"]) == ("604800000", "DEFAULT_CONFIG")
    assert default["synonyms"] == []


def test_describe_broker_configs(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    result = kp_admin.describe_configs(
        [ConfigResource(BROKER, "0")], include_synonyms=True, config_filter="all"
    )
    configs = result["broker"]["0"]
    log_dirs = configs["log.dirs"]
    assert (log_dirs["value"], log_dirs["config_source"], log_dirs["read_only"]) == (
        str(kp_broker.data_dir),
        "STATIC_BROKER_CONFIG",
        True,
    )
    partitions = configs["num.partitions"]
    assert (partitions["value"], partitions["config_source"]) == (
        str(DEFAULT_PARTITIONS),
        "STATIC_BROKER_CONFIG",
    )
    assert partitions["synonyms"] == [
        {
            "name": "num.partitions",
            "value": str(DEFAULT_PARTITIONS),
            "source": "STATIC_BROKER_CONFIG",
        },
        {"name": "num.partitions", "value": "1", "source": "DEFAULT_CONFIG"},
    ]
    segment = configs["log.segment.bytes"]
    assert (segment["value"], segment["config_source"], segment["read_only"]) == (
        "1073741824",
        "DEFAULT_CONFIG",
        False,
    )
    assert all(c["value"] is None for c in configs.values() if c["is_sensitive"])
    # Selected keys only.
    result = kp_admin.describe_configs(
        [ConfigResource(BROKER, "0", configs=["log.dirs"])], config_filter="all"
    )
    assert set(result["broker"]["0"]) == {"log.dirs"}


def test_describe_configs_of_missing_topic_has_no_entries(kp_admin: KafkaAdminClient) -> None:
    # kafka-python drops the per-resource error code; the confluent tests check it is 3.
    missing = unique_topic("kp-desc-missing")
    result = kp_admin.describe_configs([ConfigResource(TOPIC, missing)], config_filter="all")
    assert result["topic"][missing] == {}


# -- AlterConfigs / IncrementalAlterConfigs ------------------------------------------------------


def test_alter_configs_legacy(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    topic = unique_topic("kp-alter")
    create_ok(kp_admin, kp_broker, {topic: {"configs": {"retention.ms": "3600000"}}})
    assert (
        alter(
            kp_admin,
            topic,
            {"segment.bytes": "2097152", "retention.ms": "7200000"},
            incremental=False,
        )
        == NONE
    )
    assert set(topic_configs(kp_admin, topic, "modified")) == {"segment.bytes", "retention.ms"}
    assert topic_configs(kp_admin, topic)["retention.ms"]["value"] == "7200000"
    # AlterConfigs replaces the whole set, so kafka-python re-sends the overrides a request
    # leaves out (the confluent tests check the reset on the wire); nothing is lost.
    assert alter(kp_admin, topic, {"segment.bytes": "3145728"}, incremental=False) == NONE
    modified = topic_configs(kp_admin, topic, "modified")
    assert {n: c["value"] for n, c in modified.items()} == {
        "segment.bytes": "3145728",
        "retention.ms": "7200000",
    }
    # validate_only: accepted, nothing changes.
    result = kp_admin.alter_configs(
        [ConfigResource(TOPIC, topic, configs={"segment.bytes": "4096"})],
        validate_only=True,
        raise_on_unknown=False,
        incremental=False,
    )
    assert result["topic"][topic] == "OK"
    assert topic_configs(kp_admin, topic)["segment.bytes"]["value"] == "3145728"


def test_incremental_alter_configs(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    topic = unique_topic("kp-incr")
    create_ok(kp_admin, kp_broker, {topic: {"configs": {"retention.ms": "3600000"}}})

    def modified() -> dict[str, str]:
        return {n: c["value"] for n, c in topic_configs(kp_admin, topic, "modified").items()}

    assert alter(kp_admin, topic, {"cleanup.policy": ("SET", "compact")}, incremental=True) == NONE
    assert modified() == {"retention.ms": "3600000", "cleanup.policy": "compact"}
    assert (
        alter(kp_admin, topic, {"cleanup.policy": ("APPEND", "delete")}, incremental=True) == NONE
    )
    assert modified()["cleanup.policy"] == "compact,delete"
    assert (
        alter(kp_admin, topic, {"cleanup.policy": ("SUBTRACT", "compact")}, incremental=True)
        == NONE
    )
    assert modified()["cleanup.policy"] == "delete"
    assert (
        alter(
            kp_admin,
            topic,
            {"cleanup.policy": ("DELETE", None), "retention.ms": ("DELETE", None)},
            incremental=True,
        )
        == NONE
    )
    assert modified() == {}


@pytest.mark.parametrize("incremental", [True, False], ids=["incremental", "legacy"])
def test_alter_configs_errors(
    kp_admin: KafkaAdminClient, kp_broker: BrokerProcess, incremental: bool
) -> None:
    topic = unique_topic("kp-alter-bad")
    create_ok(kp_admin, kp_broker, {topic: {"configs": {"retention.ms": "3600000"}}})
    for configs, code in (
        ({"no.such.config": "1"}, INVALID_CONFIG),
        ({"retention.ms": "abc"}, INVALID_CONFIG),
        ({"cleanup.policy": "bogus"}, INVALID_CONFIG),
    ):
        assert alter(kp_admin, topic, configs, incremental=incremental) == code, configs
    assert (
        alter(
            kp_admin,
            unique_topic("kp-alter-missing"),
            {"retention.ms": "1"},
            incremental=incremental,
        )
        == UNKNOWN_TOPIC_OR_PARTITION
    )
    assert topic_configs(kp_admin, topic)["retention.ms"]["value"] == "3600000"


@pytest.mark.parametrize("incremental", [True, False], ids=["incremental", "legacy"])
def test_alter_configs_null_value(
    kp_admin: KafkaAdminClient, kp_broker: BrokerProcess, incremental: bool
) -> None:
    """Kafka's ConfigAdminManager.preprocess refuses a null value (other than with DELETE) before
    anything else: INVALID_REQUEST, "Null value not supported for : retention.ms". (CreateTopics
    is different: a null there is INVALID_CONFIG, checked above.)"""
    topic = unique_topic("kp-alter-null")
    create_ok(kp_admin, kp_broker, {topic: {"configs": {"retention.ms": "3600000"}}})
    configs: dict[str, Any] = {"retention.ms": ("SET", None) if incremental else None}
    assert alter(kp_admin, topic, configs, incremental=incremental) == INVALID_REQUEST
    assert topic_configs(kp_admin, topic)["retention.ms"]["value"] == "3600000"


# -- DescribeLogDirs, DescribeCluster, DeleteRecords ---------------------------------------------


def test_describe_log_dirs(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    topic = unique_topic("kp-logdirs")
    create_ok(kp_admin, kp_broker, {topic: {"num_partitions": 2}})
    producer = KafkaProducer(bootstrap_servers=kp_broker.bootstrap)
    try:
        for i in range(20):
            producer.send(topic, value=b"v" * 100 + str(i).encode(), partition=1)
        producer.flush(timeout=15)
    finally:
        producer.close(timeout=5)

    (broker_dirs,) = kp_admin.describe_log_dirs()
    assert broker_dirs["broker"] == 0
    (log_dir,) = broker_dirs["log_dirs"]
    assert log_dir["error_code"] == NONE
    assert log_dir["log_dir"] == str(kp_broker.data_dir)
    assert log_dir["total_bytes"] >= log_dir["usable_bytes"] > 0
    sizes = {
        (t["name"], p["partition_index"]): p["partition_size"]
        for t in log_dir["topics"]
        for p in t["partitions"]
    }
    assert sizes[(topic, 0)] == 0
    assert sizes[(topic, 1)] > 20 * 100

    (filtered,) = kp_admin.describe_log_dirs(topic_partitions={topic: [1]})
    (log_dir,) = filtered["log_dirs"]
    assert [
        (t["name"], [p["partition_index"] for p in t["partitions"]]) for t in log_dir["topics"]
    ] == [(topic, [1])]


def test_describe_cluster(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    cluster = kp_admin.describe_cluster()
    assert cluster["controller_id"] == 0
    assert len(cluster["cluster_id"]) >= 22
    assert [(b["broker_id"], b["host"], b["port"]) for b in cluster["brokers"]] == [
        (0, "127.0.0.1", kp_broker.port)
    ]


def test_delete_records(kp_admin: KafkaAdminClient, kp_broker: BrokerProcess) -> None:
    topic = unique_topic("kp-delrec")
    create_ok(kp_admin, kp_broker, {topic: {"num_partitions": 1}})
    producer = KafkaProducer(bootstrap_servers=kp_broker.bootstrap)
    try:
        for i in range(6):
            producer.send(topic, value=str(i).encode())
        producer.flush(timeout=15)
    finally:
        producer.close(timeout=5)
    tp = TopicPartition(topic, 0)
    result = kp_admin.delete_records({tp: 5})
    assert result[tp]["low_watermark"] == 5
    assert result[tp]["error_code"] == NONE
