"""``odradek topics``: kafka-topics.sh's actions, output and errors."""

from __future__ import annotations

import re

import pytest

from tests.integration.test_cli_common import (
    CREATE_PARTITIONS,
    DESCRIBE_CONFIGS,
    advertises,
    fails,
    ok,
    ok_json,
    usage_error,
)
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration


def topics(broker: BrokerProcess, *args: str) -> str:
    return ok("topics", "--bootstrap-server", broker.bootstrap, *args)


def topics_fail(broker: BrokerProcess, *args: str, code: int = 1) -> str:
    return fails("topics", "--bootstrap-server", broker.bootstrap, *args, code=code)


def topics_usage(broker: BrokerProcess, *args: str) -> str:
    return usage_error("topics", "--bootstrap-server", broker.bootstrap, *args)


def test_create_describe_list_delete(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    assert (
        topics(
            b,
            "--create",
            "--topic",
            "orders",
            "--partitions",
            "3",
            "--replication-factor",
            "1",
            "--config",
            "cleanup.policy=compact",
            "--config",
            "segment.bytes=1048576",
        ).strip()
        == "Created topic orders."
    )
    assert "orders" in topics(b, "--list").split()

    lines = topics(b, "--describe", "--topic", "orders").splitlines()
    head = re.fullmatch(
        r"Topic: orders\tTopicId: (\S+)\tPartitionCount: 3\t"
        r"ReplicationFactor: 1\tConfigs: (.*)",
        lines[0],
    )
    assert head is not None, lines[0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", head.group(1))
    for partition, line in enumerate(lines[1:]):
        assert line == (f"\tTopic: orders\tPartition: {partition}\tLeader: 0\tReplicas: 0\tIsr: 0")
    assert len(lines) == 4

    [described] = ok_json(
        "topics", "--bootstrap-server", b.bootstrap, "--describe", "--topic", "orders"
    )
    assert described["topic"] == "orders"
    assert described["topic_id"] == head.group(1)
    assert described["partition_count"] == 3
    assert [p["leader"] for p in described["partitions"]] == [0, 0, 0]
    assert [p["isr"] for p in described["partitions"]] == [[0], [0], [0]]

    assert topics(b, "--delete", "--topic", "orders") == ""
    assert "orders" not in topics(b, "--list").split()


def test_describe_shows_config_overrides(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    if not advertises(b.bootstrap, DESCRIBE_CONFIGS):
        pytest.xfail("broker API DescribeConfigs not implemented yet")
    topics(b, "--create", "--topic", "compacted", "--config", "cleanup.policy=compact")
    head = topics(b, "--describe", "--topic", "compacted").splitlines()[0]
    assert "cleanup.policy=compact" in head.partition("Configs: ")[2]
    [described] = ok_json(
        "topics", "--bootstrap-server", b.bootstrap, "--describe", "--topic", "compacted"
    )
    assert described["configs"]["cleanup.policy"] == "compact"


def test_list_and_describe_with_a_regex(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    for name in ("logs-a", "logs-b", "metrics"):
        topics(b, "--create", "--topic", name, "--partitions", "1")
    assert topics(b, "--list", "--topic", "logs-.*").split() == ["logs-a", "logs-b"]
    names = ok_json("topics", "--bootstrap-server", b.bootstrap, "--list")
    assert {"logs-a", "logs-b", "metrics"} <= set(names)
    described = ok_json(
        "topics", "--bootstrap-server", b.bootstrap, "--describe", "--topic", "logs-.*"
    )
    assert [t["topic"] for t in described] == ["logs-a", "logs-b"]
    internal = ok_json("topics", "--bootstrap-server", b.bootstrap, "--list", "--exclude-internal")
    assert not [n for n in internal if n.startswith("__")]


def test_existing_and_missing_topics(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    topics(b, "--create", "--topic", "twice")
    assert "Topic 'twice' already exists" in topics_fail(b, "--create", "--topic", "twice")
    assert topics(b, "--create", "--topic", "twice", "--if-not-exists") == ""
    assert ok_json(
        "topics",
        "--bootstrap-server",
        b.bootstrap,
        "--create",
        "--topic",
        "twice",
        "--if-not-exists",
    ) == {"topic": "twice", "created": False}

    for action in ("--describe", "--delete"):
        assert "Topic 'absent' does not exist" in topics_fail(b, action, "--topic", "absent")
        assert topics(b, action, "--topic", "absent", "--if-exists") == ""
    assert "does not exist" in topics_fail(b, "--alter", "--topic", "absent", "--partitions", "2")


def test_replica_assignment(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    topics(b, "--create", "--topic", "placed", "--replica-assignment", "0,0")
    [described] = ok_json(
        "topics", "--bootstrap-server", b.bootstrap, "--describe", "--topic", "placed"
    )
    assert [p["replicas"] for p in described["partitions"]] == [[0], [0]]
    bad = ("--create", "--topic", "bad")
    assert "duplicate" in topics_usage(b, *bad, "--replica-assignment", "0:0")
    assert "cannot be used" in topics_usage(
        b, *bad, "--partitions", "2", "--replica-assignment", "0,0"
    )
    assert "integers" in topics_usage(b, *bad, "--replica-assignment", "x")
    assert "different replication factor" in topics_usage(b, *bad, "--replica-assignment", "0,0:1")
    topics_fail(b, "--create", "--topic", "elsewhere", "--replica-assignment", "7")
    assert "elsewhere" not in topics(b, "--list").split()


def test_alter_adds_partitions(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    if not advertises(b.bootstrap, CREATE_PARTITIONS):
        pytest.xfail("broker API CreatePartitions not implemented yet")
    topics(b, "--create", "--topic", "growing", "--partitions", "1")
    topics(b, "--alter", "--topic", "growing", "--partitions", "3")
    [described] = ok_json(
        "topics", "--bootstrap-server", b.bootstrap, "--describe", "--topic", "growing"
    )
    assert described["partition_count"] == 3
    topics_fail(b, "--alter", "--topic", "growing", "--partitions", "2")  # no shrinking


def test_bad_flags_and_names(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    assert "one of the arguments" in topics_usage(b)
    assert "not allowed with" in topics_usage(b, "--create", "--list")
    assert "--topic is required" in topics_usage(b, "--create")
    assert "at least 1" in topics_usage(b, "--create", "--topic", "zero", "--partitions", "0")
    assert "odradek configs" in topics_usage(b, "--alter", "--topic", "x", "--config", "a=b")
    assert "--alter needs --partitions" in topics_usage(b, "--alter", "--topic", "x")
    assert "KEY=VALUE" in topics_usage(b, "--create", "--topic", "x", "--config", "novalue")
    assert "--if-exists" in topics_usage(b, "--create", "--topic", "x", "--if-exists")
    assert "illegal" in topics_fail(b, "--create", "--topic", "a b")
