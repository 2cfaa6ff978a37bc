"""Seed 003's Java consumer (kafka-clients 3.9.1) in a consumer group.

``GroupConsumer`` is the seed's loop: enable.auto.commit=false, subscribe, poll, per-partition
processing and ``commitSync(Collections.singletonMap(partition, new OffsetAndMetadata(lastOffset
+ 1)))``. A first run stops part-way; a new member of the group then resumes exactly after the
committed offsets. ``GroupHealthCheck`` is the seed's AdminClient health checker plus
describeConsumerGroups / listConsumerGroupOffsets.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from tests.integration.group_procs import Member
from tests.support.broker_process import BrokerProcess
from tests.support.java import JavaPrograms, JavaResult, compile_programs

pytestmark = [pytest.mark.integration, pytest.mark.java]

NO_DELAY = {"group.initial.rebalance.delay.ms": "0"}
PARTITIONS = 3
RECORDS = 90
FIRST_RUN = 40
RECORD_LINE = re.compile(r"Partition: (\d+), Offset: (\d+), Key: (\S+), Value: (\S+)")


@pytest.fixture(scope="session")
def java_programs(tmp_path_factory: pytest.TempPathFactory) -> JavaPrograms:
    return compile_programs(tmp_path_factory.mktemp("java-group-classes"))


def run_program(
    java_programs: JavaPrograms, broker: BrokerProcess, main_class: str, *args: str
) -> list[str]:
    result: JavaResult = java_programs.run(main_class, broker.bootstrap, *args, timeout=90)
    lines = result.stdout.splitlines()
    if result.returncode != 0 or not lines or not lines[-1].startswith("OK"):
        pytest.fail(
            f"{main_class} {' '.join(args)} failed: {result.describe()}"
            f"\n--- broker log (tail) ---\n{broker.log()}",
            pytrace=False,
        )
    return lines


def records_of(lines: list[str]) -> list[tuple[int, int, str]]:
    found = [RECORD_LINE.fullmatch(line) for line in lines]
    return [(int(m[1]), int(m[2]), m[4]) for m in found if m]


def commits_of(lines: list[str]) -> dict[int, int]:
    commits: dict[int, int] = {}
    for line in lines:
        if line.startswith("COMMITTED "):
            _, partition, offset = line.split()
            commits[int(partition)] = int(offset)
    return commits


def test_seed_003_consumer_commits_and_new_member_resumes(
    java_programs: JavaPrograms, broker_factory: Any
) -> None:
    broker: BrokerProcess = broker_factory(overrides=NO_DELAY)
    topic, group = f"my-topic-{uuid.uuid4().hex[:8]}", "my-consumer-group"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(15)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i in range(RECORDS):
        producer.produce(topic, key=f"key-{i}", value=f"value-{i}", partition=i % PARTITIONS)
    assert producer.flush(30) == 0
    per_partition = RECORDS // PARTITIONS

    first = run_program(
        java_programs, broker, "GroupConsumer", topic, group, str(FIRST_RUN), "5000"
    )
    assert "ASSIGNED 0 1 2" in first
    got = records_of(first)
    assert len(got) >= FIRST_RUN
    commits = commits_of(first)
    for partition, offset in commits.items():
        mine = [o for p, o, _ in got if p == partition]
        assert mine == list(range(offset)), (partition, mine)  # in order, from 0
    for partition in range(PARTITIONS):
        assert not [o for p, o, _ in got if p == partition and partition not in commits]

    # What the Java consumer committed is what the group has.
    check = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    try:
        committed = check.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], 15)
        assert {tp.partition: tp.offset for tp in committed if tp.offset >= 0} == commits
    finally:
        check.close()

    # A new member of the group resumes after the committed offsets.
    second = run_program(java_programs, broker, "GroupConsumer", topic, group, str(RECORDS), "3000")
    assert "ASSIGNED 0 1 2" in second
    rest = records_of(second)
    for partition in range(PARTITIONS):
        start = commits.get(partition, 0)
        mine = [o for p, o, _ in rest if p == partition]
        assert mine == list(range(start, per_partition)), (partition, start, mine)
    values = sorted(v for _, _, v in got + rest)
    assert values == sorted(f"value-{i}" for i in range(RECORDS))
    assert commits_of(second) == {
        p: per_partition for p in range(PARTITIONS) if commits.get(p, 0) < per_partition
    }

    # The seed's health checker sees the group; with an active member it is Stable.
    member = Member(
        "confluent",
        {"bootstrap": broker.bootstrap, "topic": topic, "group": group},
        "rdkafka-member",
    )
    try:
        member.wait_for(lambda _e: member.assignment() is not None, 30, "an assignment")
        report = run_program(java_programs, broker, "GroupHealthCheck", group)
    finally:
        member.kill()
    assert "Active Brokers: 1" in report
    assert f"GROUP {group} Stable" in report
    assert f"DESCRIBED {group} Stable 1" in report
    assert "MEMBER rdkafka 0 1 2" in report
    for partition in range(PARTITIONS):
        assert f"OFFSET {partition} {per_partition}" in report
    assert member.records() == []  # nothing left to consume after the committed offsets
