"""The admin APIs through confluent-kafka's AdminClient (librdkafka) against a real broker.

Most tests share one module broker started with ``num.partitions=3`` (so that a topic created
without a partition count visibly gets the broker default) and use unique topic names. Tests
that change broker-wide configs, restart the broker or look at segment files get a fresh one.

Error codes are Kafka's protocol codes; each expectation follows what Apache Kafka (3.9, KRaft)
answers, not what this broker happens to answer.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    TopicDescription,
)

from tests.integration.clients import unique_topic, wait_for
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import RawClient, request_module

pytestmark = pytest.mark.integration

TIMEOUT = 15.0

# Kafka protocol error codes.
OFFSET_OUT_OF_RANGE = 1
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
INVALID_TOPIC_EXCEPTION = 17
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_REPLICA_ASSIGNMENT = 39
INVALID_CONFIG = 40
INVALID_REQUEST = 42
INVALID_RECORD = 87

# Altering a read-only broker config: Kafka answers INVALID_REQUEST, not INVALID_CONFIG (see
# test_non_dynamic_broker_config_is_refused).
NON_DYNAMIC_BROKER_CONFIG_ERROR = 42  # INVALID_REQUEST, as Kafka answers

DEFAULT_PARTITIONS = 3  # num.partitions of the module broker
KAFKA_SEGMENT_BYTES = "1073741824"  # Kafka's log.segment.bytes default
KAFKA_RETENTION_MS = "604800000"  # 7 days: Kafka's log.retention.hours=168

DESCRIBE_CONFIGS, INCREMENTAL_ALTER_CONFIGS = 32, 44
BROKER_RESOURCE = 4


# -- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(
        tmp_path_factory.mktemp("admin-confluent") / "data",
        overrides={"num.partitions": str(DEFAULT_PARTITIONS)},
    ).start()
    yield broker
    broker.kill()


@pytest.fixture(scope="module")
def admin(admin_broker: BrokerProcess) -> AdminClient:
    return make_admin(admin_broker)


def make_admin(broker: BrokerProcess) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap, "socket.timeout.ms": 10_000})


def ok(future: Any, broker: BrokerProcess) -> Any:
    """The future's result; on a Kafka error fail with it and the broker log."""
    try:
        return future.result(TIMEOUT)
    except KafkaException as exc:
        pytest.fail(
            f"unexpected error {exc.args[0]}\n--- broker log ---\n{broker.log()}", pytrace=False
        )


def failed(future: Any, code: int, broker: BrokerProcess) -> KafkaError:
    """Assert the future fails with Kafka error ``code``; return the error."""
    try:
        value = future.result(TIMEOUT)
    except KafkaException as exc:
        error: KafkaError = exc.args[0]
        assert error.code() == code, (
            f"expected error {code}, got {error.code()} ({error.name()}: {error.str()})"
        )
        return error
    raise AssertionError(
        f"expected error {code}, but the call succeeded with {value!r}"
        f"\n--- broker log ---\n{broker.log()}"
    )


def create(admin: AdminClient, broker: BrokerProcess, *topics: NewTopic, **options: Any) -> None:
    for future in admin.create_topics(list(topics), **options).values():
        ok(future, broker)


def describe_topic(admin: AdminClient, broker: BrokerProcess, name: str) -> TopicDescription:
    futures = admin.describe_topics(TopicCollection([name]))
    return ok(futures[name], broker)  # type: ignore[no-any-return]


def topic_names(admin: AdminClient) -> set[str]:
    return set(admin.list_topics(timeout=TIMEOUT).topics)


def configs_of(
    admin: AdminClient, broker: BrokerProcess, kind: str, name: str
) -> dict[str, ConfigEntry]:
    resource = ConfigResource(kind, name)
    return ok(admin.describe_configs([resource])[resource], broker)  # type: ignore[no-any-return]


def source(entry: ConfigEntry) -> ConfigSource:
    return ConfigSource(entry.source)  # librdkafka hands back a plain int


def vs(entry: ConfigEntry) -> tuple[str | None, ConfigSource]:
    """(value, source) of an entry."""
    return entry.value, source(entry)


def synonyms(entry: ConfigEntry) -> dict[str, tuple[str | None, ConfigSource]]:
    return {name: vs(s) for name, s in entry.synonyms.items()}


def incremental(
    admin: AdminClient,
    kind: str,
    name: str,
    *ops: tuple[str, str | None, AlterConfigOpType],
    **options: Any,
) -> Any:
    entries = [ConfigEntry(key, value, incremental_operation=op) for key, value, op in ops]
    resource = ConfigResource(kind, name, incremental_configs=entries)
    return admin.incremental_alter_configs([resource], **options)[resource]


def legacy_alter(admin: AdminClient, kind: str, name: str, values: dict[str, str]) -> Any:
    """The deprecated (non-incremental) AlterConfigs."""
    resource = ConfigResource(kind, name, set_config=values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return admin.alter_configs([resource])[resource]


class Deliveries:
    def __init__(self) -> None:
        self.reports: list[tuple[KafkaError | None, Message]] = []

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        self.reports.append((err, msg))


def produce(
    broker: BrokerProcess,
    topic: str,
    values: list[bytes],
    *,
    keys: list[bytes | None] | None = None,
    partition: int = 0,
    timestamp: int = 0,
    **conf: Any,
) -> Deliveries:
    """Produce each value as its own request (linger 0, flushed one by one)."""
    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "linger.ms": 0,
            "acks": "all",
            "message.timeout.ms": 15_000,
            **conf,
        }
    )
    dr = Deliveries()
    for i, value in enumerate(values):
        producer.produce(
            topic,
            value=value,
            key=None if keys is None else keys[i],
            partition=partition,
            timestamp=timestamp,
            on_delivery=dr,
        )
        assert producer.flush(TIMEOUT) == 0, "delivery still pending"
    return dr


def produce_ok(broker: BrokerProcess, topic: str, values: list[bytes], **kwargs: Any) -> None:
    dr = produce(broker, topic, values, **kwargs)
    errors = [err for err, _ in dr.reports if err is not None]
    assert not errors, f"delivery errors {errors[:3]}\n--- broker log ---\n{broker.log()}"


def produce_error(broker: BrokerProcess, topic: str, value: bytes, **kwargs: Any) -> KafkaError:
    dr = produce(broker, topic, [value], **kwargs)
    ((err, _),) = dr.reports
    assert err is not None, f"a record of {len(value)} bytes was accepted"
    return err


def segment_files(broker: BrokerProcess, topic: str, partition: int = 0) -> list[Path]:
    return sorted((broker.data_dir / f"{topic}-{partition}").glob("*.log"))


def list_offset(
    admin: AdminClient, broker: BrokerProcess, topic: str, partition: int, spec: OffsetSpec
) -> int:
    """ListOffsets. librdkafka answers from its cached full metadata (list_topics), so a topic
    created after that looks leaderless to it (_NOENT) until the cache ages out; retry those
    with a fresh client."""
    tp = TopicPartition(topic, partition)
    deadline = time.monotonic() + 8
    while True:
        try:
            return int(admin.list_offsets({tp: spec})[tp].result(TIMEOUT).offset)
        except KafkaException as exc:
            transient = exc.args[0].code() in (KafkaError._NOENT, UNKNOWN_TOPIC_OR_PARTITION)
            if not transient or time.monotonic() > deadline:
                pytest.fail(
                    f"ListOffsets {tp}: {exc.args[0]}\n--- broker log ---\n{broker.log()}",
                    pytrace=False,
                )
            admin = make_admin(broker)
            time.sleep(0.1)


def earliest(admin: AdminClient, broker: BrokerProcess, topic: str, partition: int = 0) -> int:
    return list_offset(admin, broker, topic, partition, OffsetSpec.earliest())


def latest(admin: AdminClient, broker: BrokerProcess, topic: str, partition: int = 0) -> int:
    return list_offset(admin, broker, topic, partition, OffsetSpec.latest())


def first_poll(
    broker: BrokerProcess, topic: str, offset: int, reset: str, timeout: float = 10.0
) -> Message | None:
    """The first message or error a consumer assigned at ``offset`` sees (None if nothing)."""
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": unique_topic("admin-ck-reader"),
            "enable.auto.commit": False,
            "auto.offset.reset": reset,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, offset)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None:
                return msg
        return None
    finally:
        consumer.close()


# -- CreateTopics --------------------------------------------------------------------------------


def test_create_topic_with_partitions_and_replication_factor(
    admin: AdminClient, admin_broker: BrokerProcess
) -> None:
    topic = unique_topic("ck-admin-create")
    create(admin, admin_broker, NewTopic(topic, num_partitions=4, replication_factor=1))
    assert topic in topic_names(admin)
    described = describe_topic(admin, admin_broker, topic)
    assert described.name == topic
    assert not described.is_internal
    assert described.topic_id is not None
    assert [p.id for p in described.partitions] == [0, 1, 2, 3]
    for p in described.partitions:
        assert p.leader is not None and p.leader.id == 0
        assert [n.id for n in p.replicas] == [0]
        assert [n.id for n in p.isr] == [0]


def test_create_topic_with_replica_assignment_on_broker_zero(
    admin: AdminClient, admin_broker: BrokerProcess
) -> None:
    topic = unique_topic("ck-admin-assign")
    # librdkafka wants the partition count next to the assignment; it sends -1/-1 on the wire.
    create(admin, admin_broker, NewTopic(topic, 2, replica_assignment=[[0], [0]]))
    described = describe_topic(admin, admin_broker, topic)
    assert [p.id for p in described.partitions] == [0, 1]
    assert all([n.id for n in p.replicas] == [0] for p in described.partitions)
    produce_ok(admin_broker, topic, [b"on-partition-1"], partition=1)
    assert latest(admin, admin_broker, topic, 1) == 1


def test_create_topic_uses_broker_defaults_when_omitted(
    admin: AdminClient, admin_broker: BrokerProcess
) -> None:
    topic = unique_topic("ck-admin-defaults")
    new = NewTopic(topic)  # num_partitions and replication_factor default to -1
    assert (new.num_partitions, new.replication_factor) == (-1, -1)
    create(admin, admin_broker, new)
    described = describe_topic(admin, admin_broker, topic)
    assert len(described.partitions) == DEFAULT_PARTITIONS
    assert all(len(p.replicas) == 1 for p in described.partitions)
    configs = configs_of(admin, admin_broker, "topic", topic)
    overridden = {
        n: e.value for n, e in configs.items() if source(e) == ConfigSource.DYNAMIC_TOPIC_CONFIG
    }
    assert overridden == {}


def test_create_topic_with_configs(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    topic = unique_topic("ck-admin-configs")
    create(
        admin,
        admin_broker,
        NewTopic(
            topic,
            1,
            1,
            config={
                "retention.ms": "3600000",
                "cleanup.policy": "compact",
                "max.message.bytes": "65536",
            },
        ),
    )
    configs = configs_of(admin, admin_broker, "topic", topic)
    for name, value, broker_name, default in (
        ("retention.ms", "3600000", None, None),
        ("cleanup.policy", "compact", "log.cleanup.policy", "delete"),
        ("max.message.bytes", "65536", "message.max.bytes", "1048588"),
    ):
        entry = configs[name]
        assert entry.value == value
        assert source(entry) == ConfigSource.DYNAMIC_TOPIC_CONFIG
        assert not entry.is_default
        assert not entry.is_read_only
        assert not entry.is_sensitive
        found = synonyms(entry)
        assert found[name] == (value, ConfigSource.DYNAMIC_TOPIC_CONFIG)
        if broker_name is not None:
            assert found[broker_name] == (default, ConfigSource.DEFAULT_CONFIG)


def test_create_topic_validate_only(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    topic = unique_topic("ck-admin-validate")
    create(admin, admin_broker, NewTopic(topic, 2, 1), validate_only=True)
    assert topic not in topic_names(admin)
    futures = admin.create_topics(
        [NewTopic(topic, 1, 1, config={"retention.ms": "abc"})], validate_only=True
    )
    failed(futures[topic], INVALID_CONFIG, admin_broker)
    create(admin, admin_broker, NewTopic(topic, 2, 1))  # not "already exists"
    assert len(describe_topic(admin, admin_broker, topic).partitions) == 2
    futures = admin.create_topics([NewTopic(topic, 2, 1)], validate_only=True)
    failed(futures[topic], TOPIC_ALREADY_EXISTS, admin_broker)


CREATE_ERRORS: list[tuple[str, Callable[[str], NewTopic], int]] = [
    ("zero-partitions", lambda t: NewTopic(t, 0, 1), INVALID_PARTITIONS),
    ("rf-2-on-one-broker", lambda t: NewTopic(t, 1, 2), INVALID_REPLICATION_FACTOR),
    ("rf-0", lambda t: NewTopic(t, 1, 0), INVALID_REPLICATION_FACTOR),
    (
        "unknown-broker",
        lambda t: NewTopic(t, 1, replica_assignment=[[7]]),
        INVALID_REPLICA_ASSIGNMENT,
    ),
    ("unknown-config", lambda t: NewTopic(t, 1, 1, config={"no.such.config": "1"}), INVALID_CONFIG),
    ("retention-abc", lambda t: NewTopic(t, 1, 1, config={"retention.ms": "abc"}), INVALID_CONFIG),
    (
        "cleanup-bogus",
        lambda t: NewTopic(t, 1, 1, config={"cleanup.policy": "bogus"}),
        INVALID_CONFIG,
    ),
    (
        "segment-below-min",
        lambda t: NewTopic(t, 1, 1, config={"segment.bytes": "10"}),
        INVALID_CONFIG,
    ),
    ("bad-char", lambda t: NewTopic(f"{t}/slash", 1, 1), INVALID_TOPIC_EXCEPTION),
    ("too-long", lambda t: NewTopic(t + "x" * (250 - len(t)), 1, 1), INVALID_TOPIC_EXCEPTION),
    ("dot", lambda t: NewTopic(".", 1, 1), INVALID_TOPIC_EXCEPTION),
    ("dot-dot", lambda t: NewTopic("..", 1, 1), INVALID_TOPIC_EXCEPTION),
]


@pytest.mark.parametrize(("case", "make", "code"), CREATE_ERRORS, ids=[c[0] for c in CREATE_ERRORS])
def test_create_topic_errors(
    admin: AdminClient,
    admin_broker: BrokerProcess,
    case: str,
    make: Callable[[str], NewTopic],
    code: int,
) -> None:
    new = make(unique_topic(f"ck-bad-{case}"))
    futures = admin.create_topics([new])
    failed(futures[new.topic], code, admin_broker)
    assert new.topic not in topic_names(admin)


def test_topic_already_exists(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    topic = unique_topic("ck-admin-exists")
    create(admin, admin_broker, NewTopic(topic, 1, 1))
    failed(admin.create_topics([NewTopic(topic, 3, 1)])[topic], TOPIC_ALREADY_EXISTS, admin_broker)
    assert len(describe_topic(admin, admin_broker, topic).partitions) == 1


@pytest.mark.parametrize(("first", "second"), [(".", "_"), ("_", ".")])
def test_topic_names_colliding_on_dot_and_underscore(
    admin: AdminClient, admin_broker: BrokerProcess, first: str, second: str
) -> None:
    base = unique_topic("ck-collide")
    create(admin, admin_broker, NewTopic(f"{base}{first}x", 1, 1))
    colliding = f"{base}{second}x"
    failed(
        admin.create_topics([NewTopic(colliding, 1, 1)])[colliding],
        INVALID_TOPIC_EXCEPTION,
        admin_broker,
    )
    assert colliding not in topic_names(admin)


# -- DeleteTopics --------------------------------------------------------------------------------


def test_delete_topics(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    keep, gone = unique_topic("ck-admin-keep"), unique_topic("ck-admin-delete")
    create(admin, admin_broker, NewTopic(keep, 1, 1), NewTopic(gone, 2, 1))
    produce_ok(admin_broker, gone, [b"a", b"b", b"c"])
    ok(admin.delete_topics([gone])[gone], admin_broker)
    names = topic_names(admin)
    assert gone not in names and keep in names
    failed(
        admin.describe_topics(TopicCollection([gone]))[gone],
        UNKNOWN_TOPIC_OR_PARTITION,
        admin_broker,
    )
    assert not (admin_broker.data_dir / f"{gone}-0").exists() or not segment_files(
        admin_broker, gone
    )

    create(admin, admin_broker, NewTopic(gone, 1, 1))  # the name is free again, and empty
    assert latest(admin, admin_broker, gone) == 0


def test_delete_missing_topic(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    missing = unique_topic("ck-admin-missing")
    failed(admin.delete_topics([missing])[missing], UNKNOWN_TOPIC_OR_PARTITION, admin_broker)


# -- CreatePartitions ----------------------------------------------------------------------------


def test_create_partitions_grows_a_topic(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    topic = unique_topic("ck-admin-grow")
    create(admin, admin_broker, NewTopic(topic, 1, 1))
    ok(admin.create_partitions([NewPartitions(topic, 4)])[topic], admin_broker)
    described = describe_topic(admin, admin_broker, topic)
    assert [p.id for p in described.partitions] == [0, 1, 2, 3]
    assert all(p.leader is not None and p.leader.id == 0 for p in described.partitions)
    produce_ok(admin_broker, topic, [b"new-partition"], partition=3)
    assert latest(admin, admin_broker, topic, 3) == 1

    futures = admin.create_partitions([NewPartitions(topic, 6)], validate_only=True)
    ok(futures[topic], admin_broker)
    assert len(describe_topic(admin, admin_broker, topic).partitions) == 4

    futures = admin.create_partitions([NewPartitions(topic, 5, [[0]])])
    ok(futures[topic], admin_broker)
    assert len(describe_topic(admin, admin_broker, topic).partitions) == 5


@pytest.mark.parametrize(
    ("count", "code"),
    [(2, INVALID_PARTITIONS), (3, INVALID_PARTITIONS)],
    ids=["shrink", "same-count"],
)
def test_create_partitions_cannot_shrink_or_keep(
    admin: AdminClient, admin_broker: BrokerProcess, count: int, code: int
) -> None:
    topic = unique_topic("ck-admin-shrink")
    create(admin, admin_broker, NewTopic(topic, 3, 1))
    failed(admin.create_partitions([NewPartitions(topic, count)])[topic], code, admin_broker)
    assert len(describe_topic(admin, admin_broker, topic).partitions) == 3


def test_create_partitions_errors(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    missing = unique_topic("ck-admin-nopart")
    failed(
        admin.create_partitions([NewPartitions(missing, 3)])[missing],
        UNKNOWN_TOPIC_OR_PARTITION,
        admin_broker,
    )
    topic = unique_topic("ck-admin-badassign")
    create(admin, admin_broker, NewTopic(topic, 1, 1))
    failed(
        admin.create_partitions([NewPartitions(topic, 2, [[7]])])[topic],
        INVALID_REPLICA_ASSIGNMENT,
        admin_broker,
    )
    assert len(describe_topic(admin, admin_broker, topic).partitions) == 1


# -- DescribeTopics (DescribeTopicPartitions / Metadata) -----------------------------------------


def test_describe_topics(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    one, two = unique_topic("ck-admin-desc1"), unique_topic("ck-admin-desc2")
    missing = unique_topic("ck-admin-desc-missing")
    create(admin, admin_broker, NewTopic(one, 1, 1), NewTopic(two, 5, 1))
    futures = admin.describe_topics(TopicCollection([one, two, missing]))
    first, second = ok(futures[one], admin_broker), ok(futures[two], admin_broker)
    failed(futures[missing], UNKNOWN_TOPIC_OR_PARTITION, admin_broker)
    assert (first.name, len(first.partitions)) == (one, 1)
    assert (second.name, len(second.partitions)) == (two, 5)
    assert first.topic_id != second.topic_id
    assert [p.id for p in second.partitions] == list(range(5))


# -- DescribeConfigs -----------------------------------------------------------------------------


def test_describe_topic_configs_defaults(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    topic = unique_topic("ck-admin-desc-cfg")
    create(admin, admin_broker, NewTopic(topic, 1, 1))
    configs = configs_of(admin, admin_broker, "topic", topic)
    expected = {
        "cleanup.policy": "delete",
        "retention.ms": KAFKA_RETENTION_MS,
        "segment.bytes": KAFKA_SEGMENT_BYTES,
        "max.message.bytes": "1048588",
        "min.insync.replicas": "1",
        "compression.type": "producer",
        "message.timestamp.type": "CreateTime",
        "retention.bytes": "-1",
    }
    for name, value in expected.items():
        entry = configs[name]
        assert entry.value == value, name
        assert source(entry) == ConfigSource.DEFAULT_CONFIG, name
        assert entry.is_default, name
        assert not entry.is_read_only, name
        assert not entry.is_sensitive, name
    assert synonyms(configs["segment.bytes"]) == {
        "log.segment.bytes": (KAFKA_SEGMENT_BYTES, ConfigSource.DEFAULT_CONFIG)
    }
    assert synonyms(configs["cleanup.policy"]) == {
        "log.cleanup.policy": ("delete", ConfigSource.DEFAULT_CONFIG)
    }
    assert all(e.value is None for e in configs.values() if e.is_sensitive)


def test_describe_broker_configs(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    configs = configs_of(admin, admin_broker, "broker", "0")
    log_dirs = configs["log.dirs"]
    assert log_dirs.value == str(admin_broker.data_dir)
    assert source(log_dirs) == ConfigSource.STATIC_BROKER_CONFIG
    assert log_dirs.is_read_only
    partitions = configs["num.partitions"]
    assert vs(partitions) == (str(DEFAULT_PARTITIONS), ConfigSource.STATIC_BROKER_CONFIG)
    assert configs["node.id"].is_read_only
    for dynamic in (
        "log.segment.bytes",
        "log.retention.ms",
        "message.max.bytes",
        "log.cleanup.policy",
    ):
        assert not configs[dynamic].is_read_only, dynamic
    segment = configs["log.segment.bytes"]
    assert vs(segment) == (KAFKA_SEGMENT_BYTES, ConfigSource.DEFAULT_CONFIG)
    assert all(e.value is None for e in configs.values() if e.is_sensitive)
    assert not any(
        e.is_sensitive
        for n, e in configs.items()
        if n in ("log.dirs", "log.segment.bytes", "num.partitions")
    )


def test_describe_broker_time_config_without_own_value(
    admin: AdminClient, admin_broker: BrokerProcess
) -> None:
    """Kafka: ``log.retention.ms`` has no default of its own, so its value is null and, as no
    layer sets it, it has no synonyms: Kafka lists a config's family from its own first entry
    on (ConfigHelper.configSynonyms), so the default of ``log.retention.hours`` is dropped
    (``kafka-configs --describe --all`` prints ``log.retention.ms=null sensitive=false
    synonyms={}`` and ``log.retention.hours=168 ...
    synonyms={DEFAULT_CONFIG:log.retention.hours=168}``).
    """
    configs = configs_of(admin, admin_broker, "broker", "0")
    for name, hours in (
        ("log.retention.ms", "log.retention.hours"),
        ("log.roll.ms", "log.roll.hours"),
    ):
        entry = configs[name]
        assert entry.value is None, f"{name}={entry.value!r} (the value of {hours}, in ms?)"
        assert source(entry) == ConfigSource.DEFAULT_CONFIG
        assert synonyms(entry) == {}
        assert synonyms(configs[hours]) == {hours: ("168", ConfigSource.DEFAULT_CONFIG)}


def test_configs_of_missing_topic(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    missing = unique_topic("ck-admin-cfg-missing")
    resource = ConfigResource("topic", missing)
    failed(admin.describe_configs([resource])[resource], UNKNOWN_TOPIC_OR_PARTITION, admin_broker)
    failed(
        incremental(admin, "topic", missing, ("retention.ms", "1000", AlterConfigOpType.SET)),
        UNKNOWN_TOPIC_OR_PARTITION,
        admin_broker,
    )
    failed(
        legacy_alter(admin, "topic", missing, {"retention.ms": "1000"}),
        UNKNOWN_TOPIC_OR_PARTITION,
        admin_broker,
    )


# -- AlterConfigs / IncrementalAlterConfigs ------------------------------------------------------


def test_alter_configs_replaces_every_override(
    admin: AdminClient, admin_broker: BrokerProcess
) -> None:
    topic = unique_topic("ck-admin-alter")
    create(admin, admin_broker, NewTopic(topic, 1, 1, config={"retention.ms": "3600000"}))
    ok(legacy_alter(admin, "topic", topic, {"segment.bytes": "1048576"}), admin_broker)
    configs = configs_of(admin, admin_broker, "topic", topic)
    assert vs(configs["segment.bytes"]) == ("1048576", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    # AlterConfigs is not incremental: the override left out of the request is removed.
    assert vs(configs["retention.ms"]) == (KAFKA_RETENTION_MS, ConfigSource.DEFAULT_CONFIG)


def test_incremental_alter_configs_on_cleanup_policy(
    admin: AdminClient, admin_broker: BrokerProcess
) -> None:
    topic = unique_topic("ck-admin-incr")
    create(admin, admin_broker, NewTopic(topic, 1, 1, config={"retention.ms": "3600000"}))

    def policy() -> tuple[str | None, ConfigSource]:
        entry = configs_of(admin, admin_broker, "topic", topic)["cleanup.policy"]
        return vs(entry)

    dynamic = ConfigSource.DYNAMIC_TOPIC_CONFIG
    ok(
        incremental(admin, "topic", topic, ("cleanup.policy", "compact", AlterConfigOpType.SET)),
        admin_broker,
    )
    assert policy() == ("compact", dynamic)
    ok(
        incremental(admin, "topic", topic, ("cleanup.policy", "delete", AlterConfigOpType.APPEND)),
        admin_broker,
    )
    assert policy() == ("compact,delete", dynamic)
    ok(
        incremental(
            admin, "topic", topic, ("cleanup.policy", "compact", AlterConfigOpType.SUBTRACT)
        ),
        admin_broker,
    )
    assert policy() == ("delete", dynamic)
    ok(
        incremental(admin, "topic", topic, ("cleanup.policy", None, AlterConfigOpType.DELETE)),
        admin_broker,
    )
    assert policy() == ("delete", ConfigSource.DEFAULT_CONFIG)
    # APPEND with no override starts from the default value.
    ok(
        incremental(admin, "topic", topic, ("cleanup.policy", "compact", AlterConfigOpType.APPEND)),
        admin_broker,
    )
    assert policy() == ("delete,compact", dynamic)
    # validate_only changes nothing.
    ok(
        incremental(
            admin,
            "topic",
            topic,
            ("cleanup.policy", "compact", AlterConfigOpType.SET),
            validate_only=True,
        ),
        admin_broker,
    )
    assert policy() == ("delete,compact", dynamic)
    # Incremental: the other override was never touched.
    retention = configs_of(admin, admin_broker, "topic", topic)["retention.ms"]
    assert vs(retention) == ("3600000", dynamic)


ALTER_ERRORS: list[tuple[str, str, str, int]] = [
    ("unknown-name", "no.such.config", "1", INVALID_CONFIG),
    ("retention-abc", "retention.ms", "abc", INVALID_CONFIG),
    ("cleanup-bogus", "cleanup.policy", "bogus", INVALID_CONFIG),
    ("segment-below-min", "segment.bytes", "10", INVALID_CONFIG),
]


@pytest.mark.parametrize("api", ["incremental", "legacy"])
@pytest.mark.parametrize(
    ("case", "name", "value", "code"), ALTER_ERRORS, ids=[c[0] for c in ALTER_ERRORS]
)
def test_alter_topic_config_errors(
    admin: AdminClient,
    admin_broker: BrokerProcess,
    api: str,
    case: str,
    name: str,
    value: str,
    code: int,
) -> None:
    topic = unique_topic(f"ck-alter-bad-{case}")
    create(admin, admin_broker, NewTopic(topic, 1, 1, config={"retention.ms": "3600000"}))
    if api == "incremental":
        future = incremental(admin, "topic", topic, (name, value, AlterConfigOpType.SET))
    else:
        future = legacy_alter(admin, "topic", topic, {name: value})
    failed(future, code, admin_broker)
    retention = configs_of(admin, admin_broker, "topic", topic)["retention.ms"]
    assert retention.value == "3600000", "a rejected alteration changed the topic"


def test_append_to_a_non_list_config_is_invalid(
    admin: AdminClient, admin_broker: BrokerProcess
) -> None:
    topic = unique_topic("ck-admin-append")
    create(admin, admin_broker, NewTopic(topic, 1, 1))
    failed(
        incremental(admin, "topic", topic, ("retention.ms", "5", AlterConfigOpType.APPEND)),
        INVALID_CONFIG,
        admin_broker,
    )
    failed(
        incremental(admin, "topic", topic, ("retention.ms", "5", AlterConfigOpType.SUBTRACT)),
        INVALID_CONFIG,
        admin_broker,
    )


@pytest.mark.parametrize("api", ["incremental", "legacy"])
def test_non_dynamic_broker_config_is_refused(
    admin: AdminClient, admin_broker: BrokerProcess, api: str
) -> None:
    """Kafka refuses a read-only broker config with INVALID_REQUEST (42) and "Cannot update
    these configs dynamically: Set(log.dirs)": DynamicBrokerConfig.validateConfigs throws a
    ConfigException, which ConfigAdminManager.validateBrokerConfigChange turns into an
    InvalidRequestException (see the KAFKA-13609 comment there), in ZK and KRaft mode alike."""
    if api == "incremental":
        future = incremental(
            admin, "broker", "0", ("log.dirs", "/elsewhere", AlterConfigOpType.SET)
        )
    else:
        future = legacy_alter(admin, "broker", "0", {"log.dirs": "/elsewhere"})
    error = failed(future, NON_DYNAMIC_BROKER_CONFIG_ERROR, admin_broker)
    assert "log.dirs" in error.str()
    assert configs_of(admin, admin_broker, "broker", "0")["log.dirs"].value == str(
        admin_broker.data_dir
    )


# -- DescribeCluster -----------------------------------------------------------------------------


def test_describe_cluster(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    cluster = ok(admin.describe_cluster(), admin_broker)
    assert isinstance(cluster.cluster_id, str) and len(cluster.cluster_id) >= 22
    assert cluster.controller is not None and cluster.controller.id == 0
    assert [(n.id, n.host, n.port) for n in cluster.nodes] == [(0, "127.0.0.1", admin_broker.port)]
    metadata = admin.list_topics(timeout=TIMEOUT)
    assert metadata.cluster_id == cluster.cluster_id
    assert metadata.controller_id == 0


# -- DeleteRecords -------------------------------------------------------------------------------


def test_delete_records(admin: AdminClient, admin_broker: BrokerProcess) -> None:
    topic = unique_topic("ck-admin-delrec")
    create(admin, admin_broker, NewTopic(topic, 1, 1))
    produce_ok(admin_broker, topic, [f"v{i}".encode() for i in range(10)])

    tp = TopicPartition(topic, 0, 4)
    deleted = ok(admin.delete_records([tp])[tp], admin_broker)
    assert deleted.low_watermark == 4
    assert earliest(admin, admin_broker, topic) == 4
    assert latest(admin, admin_broker, topic) == 10

    # Reading from before the log start: auto.offset.reset decides.
    msg = first_poll(admin_broker, topic, 1, "earliest")
    assert msg is not None and msg.error() is None
    assert (msg.offset(), msg.value()) == (4, b"v4")
    msg = first_poll(admin_broker, topic, 1, "error")
    assert msg is not None
    error = msg.error()
    assert error is not None
    assert error.code() == KafkaError._AUTO_OFFSET_RESET
    assert "out of range" in error.str().lower()

    # Deleting below the low watermark keeps it; beyond the high watermark is out of range.
    tp = TopicPartition(topic, 0, 2)
    assert ok(admin.delete_records([tp])[tp], admin_broker).low_watermark == 4
    tp = TopicPartition(topic, 0, 11)
    failed(admin.delete_records([tp])[tp], OFFSET_OUT_OF_RANGE, admin_broker)
    # OFFSET_END (-1) deletes up to the high watermark.
    tp = TopicPartition(topic, 0, -1)
    assert ok(admin.delete_records([tp])[tp], admin_broker).low_watermark == 10
    assert earliest(admin, admin_broker, topic) == 10


# -- live topic config changes, surviving a restart (fresh brokers) ------------------------------


def restart_and_check(broker: BrokerProcess, topic: str, expected: dict[str, str]) -> AdminClient:
    """Restart the broker; every name in ``expected`` is still a topic override."""
    broker.restart()
    admin = make_admin(broker)
    configs = configs_of(admin, broker, "topic", topic)
    for name, value in expected.items():
        assert vs(configs[name]) == (value, ConfigSource.DYNAMIC_TOPIC_CONFIG), name
    return admin


def test_max_message_bytes_applies_live_and_after_restart(broker: BrokerProcess) -> None:
    admin = make_admin(broker)
    topic = unique_topic("ck-live-maxbytes")
    create(admin, broker, NewTopic(topic, 1, 1))
    produce_ok(broker, topic, [b"x" * 4000])
    ok(
        incremental(admin, "topic", topic, ("max.message.bytes", "1024", AlterConfigOpType.SET)),
        broker,
    )
    assert produce_error(broker, topic, b"y" * 4000).code() == MESSAGE_TOO_LARGE
    produce_ok(broker, topic, [b"small"])
    restart_and_check(broker, topic, {"max.message.bytes": "1024"})
    assert produce_error(broker, topic, b"z" * 4000).code() == MESSAGE_TOO_LARGE
    produce_ok(broker, topic, [b"small-again"])


def test_segment_bytes_applies_live_and_after_restart(broker: BrokerProcess) -> None:
    admin = make_admin(broker)
    topic = unique_topic("ck-live-segment")
    create(admin, broker, NewTopic(topic, 1, 1))
    produce_ok(broker, topic, [b"r" * 300 for _ in range(6)])
    assert len(segment_files(broker, topic)) == 1
    ok(incremental(admin, "topic", topic, ("segment.bytes", "1024", AlterConfigOpType.SET)), broker)
    produce_ok(broker, topic, [b"s" * 300 for _ in range(12)])
    rolled = len(segment_files(broker, topic))
    assert rolled >= 3, f"only {rolled} segment(s) after 12 x 300 B at segment.bytes=1024"
    restart_and_check(broker, topic, {"segment.bytes": "1024"})
    produce_ok(broker, topic, [b"t" * 300 for _ in range(8)])
    assert len(segment_files(broker, topic)) >= rolled + 2


def test_retention_ms_applies_live_and_after_restart(broker_factory: Any) -> None:
    broker: BrokerProcess = broker_factory(overrides={"log.retention.check.interval.ms": "300"})
    admin = make_admin(broker)
    topic = unique_topic("ck-live-retention")
    create(admin, broker, NewTopic(topic, 1, 1, config={"segment.bytes": "1024"}))
    hour_ago = int(time.time() * 1000) - 3_600_000
    produce_ok(broker, topic, [b"old" * 100 for _ in range(10)], timestamp=hour_ago)
    time.sleep(1.0)
    assert earliest(admin, broker, topic) == 0, "retention ran with the 7-day default"
    ok(incremental(admin, "topic", topic, ("retention.ms", "60000", AlterConfigOpType.SET)), broker)
    wait_for(
        lambda: earliest(admin, broker, topic) > 0,
        15,
        "old segments deleted after retention.ms=60000",
    )
    admin = restart_and_check(broker, topic, {"retention.ms": "60000", "segment.bytes": "1024"})
    start = earliest(admin, broker, topic)
    produce_ok(broker, topic, [b"older" * 60 for _ in range(6)], timestamp=hour_ago)
    wait_for(lambda: earliest(admin, broker, topic) > start, 15, "retention after restart")


def test_cleanup_policy_applies_live_and_after_restart(broker: BrokerProcess) -> None:
    admin = make_admin(broker)
    topic = unique_topic("ck-live-cleanup")
    create(admin, broker, NewTopic(topic, 1, 1))
    produce_ok(broker, topic, [b"no-key"])  # the delete policy takes null keys
    ok(
        incremental(admin, "topic", topic, ("cleanup.policy", "compact", AlterConfigOpType.SET)),
        broker,
    )
    # Kafka's LogValidator: "Compacted topic cannot accept message without key".
    assert produce_error(broker, topic, b"no-key").code() == INVALID_RECORD
    produce_ok(broker, topic, [b"keyed"], keys=[b"k"])
    restart_and_check(broker, topic, {"cleanup.policy": "compact"})
    assert produce_error(broker, topic, b"no-key").code() == INVALID_RECORD


# -- dynamic broker configs ----------------------------------------------------------------------


def raw_incremental_broker(
    broker: BrokerProcess, resource: str, name: str, value: str | None, op: int = 0
) -> Any:
    """IncrementalAlterConfigs on a broker resource (confluent-kafka refuses the cluster-wide
    default entity "" on the client side, so this one goes out raw)."""
    mod = request_module(INCREMENTAL_ALTER_CONFIGS, 1)
    request = mod.IncrementalAlterConfigsRequest(
        resources=(
            mod.AlterConfigsResource(
                resource_type=BROKER_RESOURCE,
                resource_name=resource,
                configs=(mod.AlterableConfig(name=name, config_operation=op, value=value),),
            ),
        ),
        validate_only=False,
    )
    with RawClient.to(broker.bootstrap) as client:
        return client.call(request).responses[0]


def raw_describe_broker(broker: BrokerProcess, resource: str) -> dict[str, Any]:
    mod = request_module(DESCRIBE_CONFIGS, 4)
    request = mod.DescribeConfigsRequest(
        resources=(
            mod.DescribeConfigsResource(
                resource_type=BROKER_RESOURCE, resource_name=resource, configuration_keys=None
            ),
        ),
        include_synonyms=True,
        include_documentation=False,
    )
    with RawClient.to(broker.bootstrap) as client:
        result = client.call(request).results[0]
    assert result.error_code == 0, result.error_message
    return {c.name: c for c in result.configs}


def test_dynamic_cluster_default_broker_config(broker: BrokerProcess) -> None:
    admin = make_admin(broker)
    plain, own = unique_topic("ck-dyn-plain"), unique_topic("ck-dyn-own")
    create(
        admin,
        broker,
        NewTopic(plain, 1, 1),
        NewTopic(own, 1, 1, config={"segment.bytes": "1048576"}),
    )
    response = raw_incremental_broker(broker, "", "log.segment.bytes", "2048")
    assert response.error_code == 0, response.error_message

    cluster_default = ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG

    def check_described() -> None:
        entry = configs_of(admin, broker, "topic", plain)["segment.bytes"]
        assert vs(entry) == ("2048", cluster_default)
        assert list(entry.synonyms) == ["log.segment.bytes"]  # one name, several sources
        entry = configs_of(admin, broker, "topic", own)["segment.bytes"]
        assert vs(entry) == ("1048576", ConfigSource.DYNAMIC_TOPIC_CONFIG)
        entry = configs_of(admin, broker, "broker", "0")["log.segment.bytes"]
        assert vs(entry) == ("2048", cluster_default)
        defaults = raw_describe_broker(broker, "")
        assert set(defaults) == {"log.segment.bytes"}
        assert (
            defaults["log.segment.bytes"].value,
            defaults["log.segment.bytes"].config_source,
        ) == ("2048", cluster_default.value)

    check_described()
    produce_ok(broker, plain, [b"p" * 400 for _ in range(12)])
    produce_ok(broker, own, [b"o" * 400 for _ in range(12)])
    rolled = len(segment_files(broker, plain))
    assert rolled >= 2, "the cluster-wide log.segment.bytes did not reach the topic"
    assert len(segment_files(broker, own)) == 1, "a topic override lost to the broker default"

    broker.restart()
    admin = make_admin(broker)
    check_described()
    produce_ok(broker, plain, [b"q" * 400 for _ in range(12)])
    assert len(segment_files(broker, plain)) >= rolled + 2
    assert len(segment_files(broker, own)) == 1


def test_dynamic_per_broker_config_wins_over_cluster_default(broker: BrokerProcess) -> None:
    admin = make_admin(broker)
    topic = unique_topic("ck-dyn-broker")
    create(admin, broker, NewTopic(topic, 1, 1))
    assert raw_incremental_broker(broker, "", "log.retention.ms", "7200000").error_code == 0
    ok(
        incremental(admin, "broker", "0", ("log.retention.ms", "3600000", AlterConfigOpType.SET)),
        broker,
    )

    def check() -> None:
        entry = configs_of(admin, broker, "broker", "0")["log.retention.ms"]
        assert vs(entry) == ("3600000", ConfigSource.DYNAMIC_BROKER_CONFIG)
        assert not entry.is_read_only
        topic_entry = configs_of(admin, broker, "topic", topic)["retention.ms"]
        assert vs(topic_entry) == ("3600000", ConfigSource.DYNAMIC_BROKER_CONFIG)

    check()
    broker.restart()
    admin = make_admin(broker)
    check()
    ok(
        incremental(admin, "broker", "0", ("log.retention.ms", None, AlterConfigOpType.DELETE)),
        broker,
    )
    topic_entry = configs_of(admin, broker, "topic", topic)["retention.ms"]
    assert vs(topic_entry) == ("7200000", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG)
