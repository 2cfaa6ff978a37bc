"""The Apache Kafka 3.9.1 Java AdminClient against a real odradek broker process.

Seed 003's topic creation and health checker, plus describeTopics and describeConfigs, each a
program in ``tests/integration/java/`` printing machine-checkable lines (see each program's
comment for its lines). Lines are checked from the first step on, so a later failing step
still reports what went right before it. See ``tests/support/java.py`` for skipping.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from tests.integration.clients import unique_topic
from tests.support.broker_process import BrokerProcess
from tests.support.java import JavaPrograms, JavaResult, compile_programs

pytestmark = [pytest.mark.integration, pytest.mark.java]

TIMEOUT = 15.0


@pytest.fixture(scope="session")
def admin_java_programs(tmp_path_factory: pytest.TempPathFactory) -> JavaPrograms:
    return compile_programs(tmp_path_factory.mktemp("admin-java-classes"))


@pytest.fixture(scope="module")
def java_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(tmp_path_factory.mktemp("admin-java") / "data").start()
    yield broker
    broker.kill()


class Run:
    """One program run: its lines, and a failure that carries all output and the broker log."""

    def __init__(self, result: JavaResult, broker: BrokerProcess, what: str) -> None:
        self.result = result
        self.lines = result.stdout.splitlines()
        self.broker = broker
        self.what = what

    def fail(self, message: str) -> None:
        pytest.fail(
            f"{self.what}: {message}\n{self.result.describe()}"
            f"\n--- broker log (tail) ---\n{self.broker.log()}",
            pytrace=False,
        )

    def has(self, line: str) -> None:
        if line not in self.lines:
            self.fail(f"missing line {line!r}")

    def starting(self, prefix: str) -> list[str]:
        return [line for line in self.lines if line.startswith(prefix)]

    def one(self, prefix: str) -> str:
        found = self.starting(prefix)
        if len(found) != 1:
            self.fail(f"expected one line starting {prefix!r}, found {found}")
        return found[0]

    def succeeded(self) -> None:
        if self.result.returncode != 0 or not self.lines or self.lines[-1] != "OK":
            self.fail("the program did not end with OK")


def run(programs: JavaPrograms, broker: BrokerProcess, main_class: str, *args: str) -> Run:
    return Run(
        programs.run(main_class, broker.bootstrap, *args), broker, f"{main_class} {' '.join(args)}"
    )


def confluent_admin(broker: BrokerProcess) -> AdminClient:
    return AdminClient({"bootstrap.servers": broker.bootstrap})


# -- seed 003 ------------------------------------------------------------------------------------


def test_seed003_topic_creation(
    admin_java_programs: JavaPrograms, java_broker: BrokerProcess
) -> None:
    sized, assigned = unique_topic("seed003-sized"), unique_topic("seed003-assigned")
    out = run(admin_java_programs, java_broker, "Seed003Topics", sized, assigned)
    ids = {}
    for topic, partitions in ((sized, 3), (assigned, 2)):
        line = out.one(f"CREATED {topic} ")
        match = re.fullmatch(
            rf"CREATED {re.escape(topic)} id=(\S+) partitions=(\d+) rf=(\d+)", line
        )
        assert match, line
        ids[topic] = match.group(1)
        assert (int(match.group(2)), int(match.group(3))) == (partitions, 1), line
        assert ids[topic] != "AAAAAAAAAAAAAAAAAAAAAA", f"{topic} created without a topic id"

    # Independently of the Java client: both topics exist with the right shape.
    cluster = confluent_admin(java_broker).list_topics(timeout=TIMEOUT)
    assert len(cluster.topics[sized].partitions) == 3
    assert len(cluster.topics[assigned].partitions) == 2
    for topic in (sized, assigned):
        for pm in cluster.topics[topic].partitions.values():
            assert (pm.leader, pm.replicas, pm.isrs) == (0, [0], [0])

    # describeTopics from the same program.
    for topic, partitions in ((sized, 3), (assigned, 2)):
        out.has(f"DESCRIBED {topic} partitions={partitions} internal=false id={ids[topic]}")
        for p in range(partitions):
            out.has(f"PARTITION {topic} {p} leader=0 replicas=[0] isr=[0]")
    out.succeeded()


def test_seed003_health_check(admin_java_programs: JavaPrograms, broker: BrokerProcess) -> None:
    admin = confluent_admin(broker)
    cluster_id = admin.describe_cluster().result(TIMEOUT).cluster_id
    address = f"127.0.0.1:{broker.port}"

    empty = run(admin_java_programs, broker, "HealthCheck")
    empty.succeeded()
    assert empty.one("CLUSTER_ID ") == f"CLUSTER_ID {cluster_id}"
    assert empty.one("CONTROLLER ") == f"CONTROLLER 0 {address}"
    assert empty.starting("NODE ") == [f"NODE 0 {address}"]
    assert empty.one("TOPICS ") == "TOPICS 0"
    assert empty.one("GROUPS ") == "GROUPS 0"
    assert empty.one("HEALTHY ") == "HEALTHY nodes=1 topics=0 groups=0"

    # Seed a topic and a consumer group (offsets committed for an assign()ed partition).
    topic, group = unique_topic("health-topic"), unique_topic("health-group")
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(TIMEOUT)
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 0)], asynchronous=False)
    finally:
        consumer.close()

    seeded = run(admin_java_programs, broker, "HealthCheck")
    seeded.succeeded()
    assert seeded.one("CLUSTER_ID ") == f"CLUSTER_ID {cluster_id}"
    assert seeded.one("CONTROLLER ") == f"CONTROLLER 0 {address}"
    listed = sorted(
        t for t in admin.list_topics(timeout=TIMEOUT).topics if not t.startswith("__")
    )  # listTopics() leaves internal topics out
    assert listed == [topic]
    assert seeded.starting("TOPIC ") == [f"TOPIC {topic}"]
    assert seeded.one("TOPICS ") == "TOPICS 1"
    assert seeded.starting("GROUP ") == [f"GROUP {group} simple=true"]
    assert seeded.one("HEALTHY ") == "HEALTHY nodes=1 topics=1 groups=1"


# -- describeTopics and describeConfigs ----------------------------------------------------------


def test_describe_topics(admin_java_programs: JavaPrograms, java_broker: BrokerProcess) -> None:
    topic = unique_topic("java-describe")
    out = run(admin_java_programs, java_broker, "AdminDescribeTopics", topic)
    topic_id = out.one(f"CREATED {topic} ").split("id=", 1)[1]
    out.has(f"DESCRIBED {topic} partitions=4 internal=false id={topic_id}")
    for p in range(4):
        out.has(f"PARTITION {p} leader=0 replicas=1 isr=1")
    out.has(f"DESCRIBED_BY_ID {topic} partitions=4")
    out.has("MISSING rejected org.apache.kafka.common.errors.UnknownTopicOrPartitionException")
    out.succeeded()


def test_describe_and_alter_topic_configs(
    admin_java_programs: JavaPrograms, java_broker: BrokerProcess
) -> None:
    topic = unique_topic("java-configs")
    out = run(admin_java_programs, java_broker, "AdminTopicConfigs", topic)
    topic_id = out.one(f"CREATED {topic} ").split("id=", 1)[1]

    def config(prefix: str, name: str) -> dict[str, str]:
        line = out.one(f"{prefix} {name} ")
        if line.endswith(" absent"):
            out.fail(f"describeConfigs lacks {name}")
        return dict(item.split("=", 1) for item in line.split(" ")[2:])

    policy = config("CONFIG", "cleanup.policy")
    assert (
        policy["value"],
        policy["source"],
        policy["readOnly"],
        policy["sensitive"],
        policy["default"],
        policy["type"],
    ) == ("compact", "DYNAMIC_TOPIC_CONFIG", "false", "false", "false", "LIST")
    assert policy["synonyms"] == (
        "DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,DEFAULT_CONFIG:log.cleanup.policy=delete"
    )
    retention = config("CONFIG", "retention.ms")
    assert (retention["value"], retention["source"], retention["type"]) == (
        "3600000",
        "DYNAMIC_TOPIC_CONFIG",
        "LONG",
    )
    segment = config("CONFIG", "segment.bytes")
    assert (segment["value"], segment["source"], segment["default"], segment["type"]) == (
        "1073741824",
        "DEFAULT_CONFIG",
        "true",
        "INT",
    )
    assert segment["synonyms"] == "DEFAULT_CONFIG:log.segment.bytes=1073741824"
    max_bytes = config("CONFIG", "max.message.bytes")
    assert (max_bytes["value"], max_bytes["source"]) == ("1048588", "DEFAULT_CONFIG")

    log_dirs = config("BROKER_CONFIG", "log.dirs")
    assert (log_dirs["value"], log_dirs["source"], log_dirs["readOnly"]) == (
        str(java_broker.data_dir),
        "STATIC_BROKER_CONFIG",
        "true",
    )
    broker_segment = config("BROKER_CONFIG", "log.segment.bytes")
    assert (broker_segment["value"], broker_segment["readOnly"]) == ("1073741824", "false")

    out.has(
        "MISSING_TOPIC_CONFIGS rejected "
        "org.apache.kafka.common.errors.UnknownTopicOrPartitionException"
    )
    out.has("ALTERED max.message.bytes=2048 cleanup.policy=compact,delete retention.ms=604800000")
    out.has(f"DELETED_BY_ID {topic_id} listed=false")
    out.succeeded()

    # Kafka fills in the documentation when includeDocumentation(true) is asked for.
    undocumented = [
        n
        for n in ("cleanup.policy", "retention.ms", "segment.bytes", "max.message.bytes")
        if config("CONFIG", n)["doc"] != "yes"
    ]
    undocumented += [
        n for n in ("log.dirs", "log.segment.bytes") if config("BROKER_CONFIG", n)["doc"] != "yes"
    ]
    assert not undocumented, f"no documentation for {undocumented}"
    # Kafka: log.retention.ms has no value of its own (null) and, set nowhere, no synonyms (a
    # config's family is listed from its own first entry on); log.retention.hours supplies 168.
    broker_retention = config("BROKER_CONFIG", "log.retention.ms")
    assert (
        broker_retention["value"],
        broker_retention["source"],
        broker_retention["synonyms"],
    ) == ("null", "DEFAULT_CONFIG", "")
    # Kafka: deleting a topic id that does not exist is UNKNOWN_TOPIC_ID.
    out.has("REDELETE_BY_ID rejected org.apache.kafka.common.errors.UnknownTopicIdException")
