"""``odradek configs``, ``delete-records`` and ``cluster``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from confluent_kafka import Producer

from tests.integration.test_cli_common import (
    DELETE_RECORDS,
    DESCRIBE_CONFIGS,
    INCREMENTAL_ALTER_CONFIGS,
    advertises,
    fails,
    odradek,
    ok,
    ok_json,
    usage_error,
)
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration


def need(broker: BrokerProcess, api_key: int, name: str) -> None:
    if not advertises(broker.bootstrap, api_key):
        pytest.xfail(f"broker API {name} not implemented yet")


def create(broker: BrokerProcess, topic: str, *args: str) -> None:
    ok("topics", "--bootstrap-server", broker.bootstrap, "--create", "--topic", topic, *args)


def configs(broker: BrokerProcess, *args: str) -> str:
    return ok("configs", "--bootstrap-server", broker.bootstrap, *args)


def test_topic_configs(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    need(b, DESCRIBE_CONFIGS, "DescribeConfigs")
    need(b, INCREMENTAL_ALTER_CONFIGS, "IncrementalAlterConfigs")
    create(b, "tuned", "--config", "retention.ms=86400000")
    lines = configs(b, "--describe", "--entity-type", "topics", "--entity-name", "tuned")
    assert lines.splitlines()[0] == "Dynamic configs for topic tuned are:"
    assert (
        "  retention.ms=86400000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:"
        "retention.ms=86400000" in lines
    )

    done = configs(
        b,
        "--alter",
        "--topic",
        "tuned",
        "--add-config",
        "cleanup.policy=[compact,delete],max.message.bytes=2048",
    )
    assert done.strip() == "Completed updating config for topic tuned."
    [entity] = ok_json(
        "configs", "--bootstrap-server", b.bootstrap, "--describe", "--topic", "tuned"
    )
    values = {c["name"]: c["value"] for c in entity["configs"]}
    assert values == {
        "retention.ms": "86400000",
        "cleanup.policy": "compact,delete",
        "max.message.bytes": "2048",
    }
    assert {c["source"] for c in entity["configs"]} == {"DYNAMIC_TOPIC_CONFIG"}

    configs(b, "--alter", "--topic", "tuned", "--delete-config", "retention.ms")
    [entity] = ok_json(
        "configs", "--bootstrap-server", b.bootstrap, "--describe", "--topic", "tuned"
    )
    assert "retention.ms" not in {c["name"] for c in entity["configs"]}
    assert "Invalid config(s): retention.ms" in fails(
        "configs",
        "--bootstrap-server",
        b.bootstrap,
        "--alter",
        "--topic",
        "tuned",
        "--delete-config",
        "retention.ms",
    )

    every = configs(b, "--describe", "--topic", "tuned", "--all")
    assert every.splitlines()[0] == "All configs for topic tuned are:"
    assert "  segment.bytes=" in every  # a default shows with --all only
    head = ok("topics", "--bootstrap-server", b.bootstrap, "--describe", "--topic", "tuned")
    assert "max.message.bytes=2048" in head.splitlines()[0]


def test_broker_configs(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    need(b, DESCRIBE_CONFIGS, "DescribeConfigs")
    every = ok_json(
        "configs",
        "--bootstrap-server",
        b.bootstrap,
        "--describe",
        "--entity-type",
        "brokers",
        "--entity-name",
        "0",
        "--all",
    )
    names = {c["name"] for c in every[0]["configs"]}
    assert {"log.segment.bytes", "num.partitions"} <= names
    described = configs(b, "--describe", "--entity-type", "brokers")
    assert described.splitlines()[0] == "Dynamic configs for broker 0 are:"
    assert "empty broker resource name" in fails(
        "configs", "--bootstrap-server", b.bootstrap, "--describe", "--broker-defaults"
    )


def test_config_errors(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    cfg = ("configs", "--bootstrap-server", b.bootstrap)
    for args, message in [
        (["--topic", "x"], "one of the arguments"),
        (["--describe", "--entity-type", "ips"], "must be one of topics, brokers, users"),
        (["--describe"], "At least one entity type must be specified"),
        (
            ["--describe", "--entity-type", "brokers", "--entity-name", "zero"],
            "valid integer broker id",
        ),
        (
            ["--describe", "--entity-type", "brokers", "--entity-default", "--entity-name", "0"],
            "cannot be used together",
        ),
        (["--alter", "--topic", "x"], "needs --add-config"),
        (["--alter", "--topic", "x", "--add-config", "novalue"], "key=val"),
        (
            ["--alter", "--topic", "x", "--add-config", "a=1", "--delete-config", "a"],
            "both added and deleted",
        ),
    ]:
        assert message in usage_error(*cfg, *args), args
    need(b, DESCRIBE_CONFIGS, "DescribeConfigs")
    assert "absent" in fails(*cfg, "--describe", "--topic", "absent")
    assert "absent" in fails(*cfg, "--alter", "--topic", "absent", "--add-config", "retention.ms=1")


def write_offsets(tmp_path: Path, document: object) -> str:
    path = tmp_path / "offsets.json"
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return str(path)


def test_delete_records(shared_broker: BrokerProcess, tmp_path: Path) -> None:
    b = shared_broker
    need(b, DELETE_RECORDS, "DeleteRecords")
    create(b, "trimmed", "--partitions", "2")
    producer = Producer({"bootstrap.servers": b.bootstrap})
    for i in range(6):
        producer.produce("trimmed", value=str(i).encode(), partition=i % 2)
    assert producer.flush(10) == 0
    file = write_offsets(
        tmp_path,
        {
            "partitions": [
                {"topic": "trimmed", "partition": 0, "offset": 2},
                {"topic": "trimmed", "partition": 1, "offset": -1},
            ],
            "version": 1,
        },
    )
    out = ok("delete-records", "--bootstrap-server", b.bootstrap, "--offset-json-file", file)
    assert out.splitlines() == [
        "Executing records delete operation",
        "Records delete operation completed:",
        "partition: trimmed-0\tlow_watermark: 2",
        "partition: trimmed-1\tlow_watermark: 3",
    ]
    read = (
        "console-consumer",
        "--bootstrap-server",
        b.bootstrap,
        "--topic",
        "trimmed",
        "--offset",
        "earliest",
        "--partition",
    )
    assert ok(*read, "0", "--max-messages", "1", "--timeout-ms", "20000") == "4\n"
    assert ok(*read, "1", "--timeout-ms", "600") == ""  # everything below the high watermark
    results = ok_json(
        "delete-records", "--bootstrap-server", b.bootstrap, "--offset-json-file", file
    )
    assert results == [
        {"topic": "trimmed", "partition": 0, "low_watermark": 2, "error": None},
        {"topic": "trimmed", "partition": 1, "low_watermark": 3, "error": None},
    ]

    missing = write_offsets(
        tmp_path, {"partitions": [{"topic": "absent", "partition": 0, "offset": 1}]}
    )
    assert "absent-0" in ok_or_fail_stdout(b, missing)


def ok_or_fail_stdout(broker: BrokerProcess, file: str) -> str:
    """delete-records with a failing partition: exit code 1, the error in its report."""
    result = odradek(
        "delete-records", "--bootstrap-server", broker.bootstrap, "--offset-json-file", file
    )
    assert result.returncode == 1, result
    assert "error: " in result.stdout
    return result.stdout


def test_delete_records_input_errors(shared_broker: BrokerProcess, tmp_path: Path) -> None:
    dr = ("delete-records", "--bootstrap-server", shared_broker.bootstrap, "--offset-json-file")
    assert "not valid JSON" in fails(*dr, write_offsets(tmp_path, "{nope"))
    assert "duplicate topic partitions: t-0" in fails(
        *dr,
        write_offsets(
            tmp_path,
            {
                "partitions": [
                    {"topic": "t", "partition": 0, "offset": 1},
                    {"topic": "t", "partition": 0, "offset": 2},
                ]
            },
        ),
    )
    assert "invalid partition entry" in fails(
        *dr,
        write_offsets(tmp_path, {"partitions": [{"topic": "t", "partition": "0", "offset": 1}]}),
    )
    assert "cannot read" in fails(*dr, str(tmp_path / "missing.json"))
    assert "required" in usage_error("delete-records", "--bootstrap-server", "x:1")


def test_cluster_health_check(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    create(b, "health", "--partitions", "2")
    out = ok("cluster", "--bootstrap-server", b.bootstrap)
    lines = out.splitlines()
    assert lines[0].startswith("Cluster ID: ") and len(lines[0]) > len("Cluster ID: ")
    assert lines[1] == f"Controller: 0 (127.0.0.1:{b.port})"
    assert lines[2] == "Active Brokers: 1"
    assert any(line.startswith("Total Topics: ") for line in lines)
    assert "  health" in lines
    assert any(line.startswith("Active Consumer Groups: ") for line in lines)

    health = ok_json("cluster", "--bootstrap-server", b.bootstrap)
    assert health["controller"]["id"] == 0
    assert [n["port"] for n in health["brokers"]] == [b.port]
    assert "health" in health["topics"]
    assert health["offline_partitions"] == []
    assert isinstance(health["consumer_groups"], list)
