"""``odradek console-producer`` and ``console-consumer``: line parsing, the
DefaultMessageFormatter's output, start offsets, exits and errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.integration.test_cli_common import fails, odradek, ok, usage_error
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration


def produce(broker: BrokerProcess, topic: str, lines: list[str], *args: str) -> str:
    return ok(
        "console-producer",
        "--bootstrap-server",
        broker.bootstrap,
        "--topic",
        topic,
        *args,
        stdin="".join(f"{line}\n" for line in lines),
    )


def consume(broker: BrokerProcess, topic: str, *args: str) -> str:
    return ok(
        "console-consumer",
        "--bootstrap-server",
        broker.bootstrap,
        "--topic",
        topic,
        "--partition",
        "0",
        *args,
    )


def create(broker: BrokerProcess, topic: str, partitions: int = 1) -> None:
    ok(
        "topics",
        "--bootstrap-server",
        broker.bootstrap,
        "--create",
        "--topic",
        topic,
        "--partitions",
        str(partitions),
    )


def test_keys_headers_and_formatter_properties(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    create(b, "keyed")
    produce(
        b,
        "keyed",
        ["k1:v1", "k2:v2"],
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=:",
    )
    produce(
        b,
        "keyed",
        ["h1:a,h2:NULL\tk3\tv3", "NO_HEADERS_HERE\tNULL\tv4"],
        "--property",
        "parse.key=true",
        "--property",
        "parse.headers=true",
        "--property",
        "null.marker=NULL",
        "--property",
        "ignore.error=true",
    )
    out = consume(
        b,
        "keyed",
        "--offset",
        "earliest",
        "--max-messages",
        "4",
        "--property",
        "print.key=true",
        "--property",
        "print.timestamp=true",
        "--property",
        "print.partition=true",
        "--property",
        "print.offset=true",
        "--property",
        "print.headers=true",
    )
    lines = out.splitlines()
    assert len(lines) == 4
    for offset, line in enumerate(lines):
        assert re.fullmatch(rf"CreateTime:\d{{13}}\tPartition:0\tOffset:{offset}\t.*", line)
    fields = [line.split("\t")[3:] for line in lines]
    assert fields[0] == ["NO_HEADERS", "k1", "v1"]
    assert fields[1] == ["NO_HEADERS", "k2", "v2"]
    assert fields[2] == ["h1:a,h2:null", "k3", "v3"]
    # a header without its key separator: ignore.error keeps it as a header without value
    assert fields[3] == ["NO_HEADERS_HERE:null", "null", "v4"]

    separated = consume(
        b,
        "keyed",
        "--offset",
        "1",
        "--max-messages",
        "1",
        "--property",
        "print.key=true",
        "--property",
        "key.separator= => ",
    )
    assert separated == "k2 => v2\n"


def test_json_output_and_offsets(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    create(b, "numbers")
    summary = json.loads(produce(b, "numbers", [str(i) for i in range(10)], "--output", "json"))
    assert summary["records"] == 10 and summary["failed"] == 0
    records = [
        json.loads(line)
        for line in consume(
            b, "numbers", "--offset", "7", "--max-messages", "3", "--output", "json"
        ).splitlines()
    ]
    assert [(r["offset"], r["value"], r["key"]) for r in records] == [
        (7, "7", None),
        (8, "8", None),
        (9, "9", None),
    ]
    assert all(r["partition"] == 0 and r["timestamp_type"] == "CreateTime" for r in records)
    assert consume(b, "numbers", "--offset", "latest", "--timeout-ms", "500") == ""
    assert consume(b, "numbers", "--from-beginning", "--max-messages", "3").split() == [
        "0",
        "1",
        "2",
    ]


def test_timeout_exits_cleanly_and_reports_count(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    create(b, "quiet")
    produce(b, "quiet", ["only"])
    result = odradek(
        "console-consumer",
        "--bootstrap-server",
        b.bootstrap,
        "--topic",
        "quiet",
        "--partition",
        "0",
        "--offset",
        "earliest",
        "--timeout-ms",
        "2000",
    )
    assert result.returncode == 0
    assert result.stdout == "only\n"
    assert "Processed a total of 1 messages" in result.stderr


def test_progress_on_big_input(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    create(b, "bulk")
    count = 150_000
    result = odradek(
        "console-producer",
        "--bootstrap-server",
        b.bootstrap,
        "--topic",
        "bulk",
        "--progress-interval",
        "0.1",
        stdin="".join(f"{i}\n" for i in range(count)),
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"\d+ records read, [\d,]+ records/s", result.stderr), result.stderr
    assert f"{count} records sent (0 failed)" in result.stderr
    assert high_watermark(b, "bulk") == count


def high_watermark(broker: BrokerProcess, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused"})
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        consumer.close()
    return int(high)


def test_producer_errors(shared_broker: BrokerProcess, tmp_path: Path) -> None:
    b = shared_broker
    create(b, "strict")
    stderr = fails(
        "console-producer",
        "--bootstrap-server",
        b.bootstrap,
        "--topic",
        "strict",
        "--property",
        "parse.key=true",
        stdin="good\tline\nbad line\n",
    )
    assert "No key separator found on line number 2: 'bad line'" in stderr
    assert consume(b, "strict", "--offset", "earliest", "--max-messages", "1") == "line\n"
    assert high_watermark(b, "strict") == 1  # nothing after the bad line was sent

    assert "--bootstrap-server is required" in usage_error("console-producer", "--topic", "strict")
    stderr = fails(
        "console-producer",
        "--bootstrap-server",
        b.bootstrap,
        "--topic",
        "strict",
        "--producer-property",
        "no.such.setting=1",
        stdin="x\n",
    )
    assert "no.such.setting" in stderr
    config = tmp_path / "producer.properties"
    config.write_text(
        "acks=all\nkey.serializer=org.apache.kafka.common.serialization.StringSerializer\n"
    )
    result = odradek(
        "console-producer",
        "--bootstrap-server",
        b.bootstrap,
        "--topic",
        "strict",
        "--producer.config",
        str(config),
        stdin="from config\n",
    )
    assert (
        result.returncode == 0 and "ignoring Java client property key.serializer" in result.stderr
    )


def test_consumer_errors(shared_broker: BrokerProcess) -> None:
    b = shared_broker
    create(b, "two", partitions=2)
    cc = ("console-consumer", "--bootstrap-server", b.bootstrap)
    assert "Topic 'missing' does not exist" in fails(
        *cc, "--topic", "missing", "--timeout-ms", "500"
    )
    assert "Partition 5 does not exist" in fails(
        *cc, "--topic", "two", "--partition", "5", "--timeout-ms", "500"
    )
    for args, message in [
        ([], "--topic or --include"),
        (["--topic", "two", "--offset", "3"], "partition is required"),
        (
            ["--topic", "two", "--partition", "0", "--offset", "3", "--from-beginning"],
            "cannot be specified together",
        ),
        (["--topic", "two", "--partition", "0", "--group", "g"], "cannot be specified together"),
        (["--topic", "two", "--partition", "0", "--offset", "-4"], "invalid --offset"),
        (["--topic", "two", "--group", "a", "--consumer-property", "group.id=b"], "do not match"),
        (["--topic", "two", "--formatter", "com.example.Fancy"], "unsupported --formatter"),
        (["--topic", "two", "--isolation-level", "dirty"], "invalid choice"),
        (["--topic", "two", "--max-messages", "0"], "at least 1"),
    ]:
        assert message in usage_error(*cc, *args), args
