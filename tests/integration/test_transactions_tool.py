"""``odradek transactions`` (Kafka's kafka-transactions.sh) against a real broker: list,
describe, describe-producers, find-hanging and abort, as tables and as JSON.

The tool runs in-process (``odradek.cli.main.main``); transactions are made with
confluent-kafka, and a hanging transaction — a transactional batch in a partition the
coordinator never heard of — is written by hand over a raw socket.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from confluent_kafka import Producer

from odradek.cli.main import main as odradek
from odradek.protocol.records.batch import TRANSACTIONAL_FLAG
from odradek.protocol.records.codec import encode_batch
from tests.integration.test_transactions_confluent import (
    OVERRIDES,
    TXN_TIMEOUT_MS,
    create_topics,
    discard,
    latest,
    read_all,
    txn_producer,
    unique,
    values,
)
from tests.support.broker_process import BrokerProcess, free_port
from tests.support.raw_client import RawClient, request_module

pytestmark = pytest.mark.integration

INIT_PRODUCER_ID = 22
LIST_HEADER = ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"]
DESCRIBE_HEADER = [
    "CoordinatorId",
    "TransactionalId",
    "ProducerId",
    "ProducerEpoch",
    "TransactionState",
    "TransactionTimeoutMs",
    "CurrentTransactionStartTimeMs",
    "TransactionDurationMs",
    "TopicPartitions",
]
PRODUCERS_HEADER = [
    "ProducerId",
    "ProducerEpoch",
    "LatestCoordinatorEpoch",
    "LastSequence",
    "LastTimestamp",
    "CurrentTransactionStartOffset",
]
HANGING_HEADER = [
    "Topic",
    "Partition",
    "ProducerId",
    "ProducerEpoch",
    "CoordinatorEpoch",
    "StartOffset",
    "LastTimestamp",
    "Duration(min)",
]


@pytest.fixture(scope="module")
def txn_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(tmp_path_factory.mktemp("tool") / "data", overrides=OVERRIDES)
    broker.start()
    yield broker
    broker.kill()


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code = code
        self.out = out
        self.err = err

    def table(self) -> list[list[str]]:
        """Rows of a kafka-transactions.sh table: cells padded and tab-terminated."""
        lines = self.out.splitlines()
        assert all(line.endswith("\t") for line in lines), self.out
        return [[cell.strip() for cell in line.split("\t")[:-1]] for line in lines]

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def tool(txn_broker: BrokerProcess, capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*args: str, bootstrap: str | None = None) -> Run:
        capsys.readouterr()
        code = odradek(
            ["transactions", "--bootstrap-server", bootstrap or txn_broker.bootstrap, *args]
        )
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def hanging_transaction(bootstrap: str, topic: str) -> tuple[int, int]:
    """A transactional batch written without AddPartitionsToTxn: the partition has an open
    transaction no coordinator knows about. (producer id, epoch)."""
    with RawClient.to(bootstrap) as client:
        mod = request_module(INIT_PRODUCER_ID, 4)
        response = client.call(
            mod.InitProducerIdRequest(
                transactional_id=None,
                transaction_timeout=timedelta(seconds=60),
                producer_id=-1,
                producer_epoch=-1,
            )
        )
        pid, epoch = int(response.producer_id), int(response.producer_epoch)
        batch = encode_batch(
            [(b"k", b"hanging")],
            timestamp=int(time.time() * 1000),
            producer_id=pid,
            producer_epoch=epoch,
            base_sequence=0,
            attributes=TRANSACTIONAL_FLAG,
        )
        assert client.produce(topic, 0, batch, acks=-1).error_code == 0
    return pid, epoch


# -- list and describe --------------------------------------------------------------------------


def test_list_and_describe(txn_broker: BrokerProcess, tool: Any) -> None:
    bootstrap = txn_broker.bootstrap
    topic = unique("tool-txn")
    create_topics(bootstrap, topic, partitions=2)
    busy, idle = unique("busy"), unique("idle")
    producer = txn_producer(bootstrap, busy)
    producer.begin_transaction()
    producer.produce(topic, b"a", partition=0)
    producer.produce(topic, b"b", partition=1)
    assert producer.flush(10) == 0
    other = txn_producer(bootstrap, idle)
    try:
        listed = tool("list")
        assert listed.code == 0, listed.err
        rows = listed.table()
        assert rows[0] == LIST_HEADER
        by_id = {row[0]: row for row in rows[1:]}
        assert by_id[busy][1:] == ["0", by_id[busy][2], "Ongoing"]
        assert by_id[idle][3] == "Empty"
        assert by_id[busy][2] != by_id[idle][2]
        as_json = tool("--output", "json", "list").json()
        assert {
            "transactional_id": busy,
            "coordinator": 0,
            "producer_id": int(by_id[busy][2]),
            "transaction_state": "Ongoing",
        } in as_json

        started = time.time() * 1000
        described = tool("describe", "--transactional-id", busy)
        assert described.code == 0, described.err
        header, row = described.table()
        assert header == DESCRIBE_HEADER
        assert row[:6] == ["0", busy, by_id[busy][2], "0", "Ongoing", str(TXN_TIMEOUT_MS)]
        assert started - 60_000 < int(row[6]) <= started
        assert 0 <= int(row[7]) < 60_000
        assert row[8] == f"{topic}-0,{topic}-1"
        detail = tool("describe", "--transactional-id", busy, "--output", "json").json()
        assert detail["transaction_state"] == "Ongoing"
        assert detail["topic_partitions"] == [f"{topic}-0", f"{topic}-1"]
        assert detail["producer_epoch"] == 0

        producer.commit_transaction(10)
        (_, row) = tool("describe", "--transactional-id", busy).table()
        assert row[4] == "CompleteCommit"
        assert row[8] == ""
    finally:
        discard(producer)
        discard(other)


def test_describe_idle_transactional_id_has_no_start_time(
    txn_broker: BrokerProcess, tool: Any
) -> None:
    tid = unique("fresh")
    producer = txn_producer(txn_broker.bootstrap, tid)
    try:
        (_, row) = tool("describe", "--transactional-id", tid).table()
        assert row[4] == "Empty"
        assert row[6:8] == ["None", "None"]  # Kafka: txnStartTimestamp -1 after InitProducerId
    finally:
        discard(producer)


def test_describe_unknown_transactional_id(tool: Any) -> None:
    result = tool("describe", "--transactional-id", "no-such-id")
    assert result.code == 1
    assert result.out == ""
    assert result.err.strip() == (
        "Failed to describe transaction state of transactional-id "
        "`no-such-id`: The transactionalId could not be found."
    )


def test_list_duration_filter(txn_broker: BrokerProcess, tool: Any) -> None:
    topic = unique("tool-duration")
    create_topics(txn_broker.bootstrap, topic)
    tid = unique("long")
    producer = txn_producer(txn_broker.bootstrap, tid)
    producer.begin_transaction()
    producer.produce(topic, b"x")
    assert producer.flush(10) == 0
    time.sleep(0.3)
    try:
        running = [row[0] for row in tool("list", "--duration-filter", "100").table()[1:]]
        assert tid in running
        assert tid not in [
            row[0] for row in tool("list", "--duration-filter", "600000").table()[1:]
        ]
    finally:
        producer.abort_transaction(10)
        discard(producer)


# -- describe-producers -------------------------------------------------------------------------


def test_describe_producers(txn_broker: BrokerProcess, tool: Any) -> None:
    bootstrap = txn_broker.bootstrap
    topic = unique("tool-producers")
    create_topics(bootstrap, topic)
    producer = txn_producer(bootstrap, unique("tid"))
    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, b"v%d" % i)
    assert producer.flush(10) == 0
    try:
        header, row = tool("describe-producers", "--topic", topic, "--partition", "0").table()
        assert header == PRODUCERS_HEADER
        assert row[1] == "0"
        assert row[3] == "2"  # three records: sequences 0..2
        assert abs(int(row[4]) - time.time() * 1000) < 60_000
        assert row[5] == "0"  # the open transaction starts at offset 0
        producer.commit_transaction(10)
        (json_row,) = tool(
            "describe-producers", "--topic", topic, "--partition", "0", "--output", "json"
        ).json()
        assert json_row["current_transaction_start_offset"] is None
        assert json_row["producer_id"] == int(row[0])
        assert json_row["last_sequence"] == 2
    finally:
        discard(producer)


def test_describe_producers_latest_coordinator_epoch(txn_broker: BrokerProcess, tool: Any) -> None:
    topic = unique("tool-epoch")
    create_topics(txn_broker.bootstrap, topic)
    producer = txn_producer(txn_broker.bootstrap, unique("tid"))
    producer.begin_transaction()
    producer.produce(topic, b"v")
    producer.commit_transaction(10)
    discard(producer)
    (_, row) = tool("describe-producers", "--topic", topic, "--partition", "0").table()
    assert row[2] == "0"  # the COMMIT marker's coordinator epoch


def test_describe_producers_unknown_partition(tool: Any) -> None:
    result = tool("describe-producers", "--topic", "no-such-topic", "--partition", "0")
    assert result.code == 1
    assert result.err.strip() == (
        "Failed to describe producers for partition no-such-topic-0 "
        "on leader: This server does not host this topic-partition."
    )


# -- find-hanging and abort ---------------------------------------------------------------------


@pytest.mark.parametrize("identify", ["start-offset", "producer-id"])
def test_find_and_abort_hanging_transaction(
    txn_broker: BrokerProcess, tool: Any, identify: str
) -> None:
    bootstrap = txn_broker.bootstrap
    topic = unique("tool-hanging")
    create_topics(bootstrap, topic)
    plain = Producer({"bootstrap.servers": bootstrap})
    plain.produce(topic, b"before", partition=0)
    assert plain.flush(10) == 0
    pid, epoch = hanging_transaction(bootstrap, topic)
    plain.produce(topic, b"after", partition=0)
    assert plain.flush(10) == 0
    assert latest(bootstrap, topic, committed=True) == 1  # held back by the hanging txn
    time.sleep(0.05)

    found = tool("find-hanging", "--topic", topic, "--max-transaction-timeout", "0")
    assert found.code == 0, found.err
    header, row = found.table()
    assert header == HANGING_HEADER
    assert row[:4] == [topic, "0", str(pid), str(epoch)]
    assert row[5] == "1"
    assert row[7] == "0"
    # with the default 15-minute timeout nothing is old enough to be hanging
    assert tool("find-hanging", "--topic", topic).table() == [HANGING_HEADER]

    if identify == "start-offset":
        aborted = tool("abort", "--topic", topic, "--partition", "0", "--start-offset", "1")
    else:
        aborted = tool(
            "abort",
            "--topic",
            topic,
            "--partition",
            "0",
            "--producer-id",
            str(pid),
            "--producer-epoch",
            str(epoch),
            "--coordinator-epoch",
            "-1",
        )
    assert aborted.code == 0, aborted.err
    assert aborted.out == ""
    assert (
        latest(bootstrap, topic, committed=True) == latest(bootstrap, topic, committed=False) == 4
    )
    assert values(read_all(bootstrap, [topic], "read_committed")[topic]) == [b"before", b"after"]
    (_, row) = tool("describe-producers", "--topic", topic, "--partition", "0").table()[:2]
    assert row[5] == "None"
    assert tool(
        "find-hanging", "--topic", topic, "--partition", "0", "--max-transaction-timeout", "0"
    ).table() == [HANGING_HEADER]


def test_abort_json_output(txn_broker: BrokerProcess, tool: Any) -> None:
    topic = unique("tool-abort-json")
    create_topics(txn_broker.bootstrap, topic)
    pid, epoch = hanging_transaction(txn_broker.bootstrap, topic)
    result = tool(
        "abort", "--topic", topic, "--partition", "0", "--start-offset", "0", "--output", "json"
    )
    assert result.code == 0, result.err
    assert result.json() == {
        "topic": topic,
        "partition": 0,
        "producer_id": pid,
        "producer_epoch": epoch,
        "coordinator_epoch": 0,
        "aborted": True,
    }


def test_find_hanging_ignores_live_transactions(txn_broker: BrokerProcess, tool: Any) -> None:
    """An open transaction its coordinator knows about is not hanging, however old."""
    topic = unique("tool-live")
    create_topics(txn_broker.bootstrap, topic)
    producer = txn_producer(txn_broker.bootstrap, unique("tid"))
    producer.begin_transaction()
    producer.produce(topic, b"x")
    assert producer.flush(10) == 0
    time.sleep(0.05)
    try:
        assert tool("find-hanging", "--topic", topic, "--max-transaction-timeout", "0").table() == [
            HANGING_HEADER
        ]
        across_broker = tool(
            "--output", "json", "find-hanging", "--broker-id", "0", "--max-transaction-timeout", "0"
        )
        assert across_broker.code == 0, across_broker.err
        assert [r for r in across_broker.json() if r["topic"] == topic] == []
    finally:
        producer.abort_transaction(10)
        discard(producer)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["abort", "--topic", "t", "--partition", "0"],
            "The transaction to abort must be identified either with --start-offset (for brokers "
            "on 3.0 or above) or with --producer-id, --producer-epoch, and --coordinator-epoch "
            "(for older brokers)",
        ),
        (
            ["abort", "--topic", "{topic}", "--partition", "0", "--producer-id", "5"],
            "Missing required argument --producer-epoch",
        ),
        (
            [
                "abort",
                "--topic",
                "{topic}",
                "--partition",
                "0",
                "--producer-id",
                "5",
                "--producer-epoch",
                "0",
            ],
            "Missing required argument --coordinator-epoch",
        ),
        (
            ["abort", "--topic", "{topic}", "--partition", "0", "--start-offset", "7"],
            "Could not find any open transactions starting at offset 7 on partition {topic}-0",
        ),
        (
            ["find-hanging"],
            "The `find-hanging` command requires either --topic or --broker-id to "
            "limit the scope of the search",
        ),
        (
            ["find-hanging", "--broker-id", "0", "--partition", "1"],
            "The --partition argument requires --topic to be provided",
        ),
    ],
)
def test_usage_errors(txn_broker: BrokerProcess, tool: Any, args: list[str], message: str) -> None:
    topic = unique("tool-usage")
    create_topics(txn_broker.bootstrap, topic)
    result = tool(*[a.format(topic=topic) for a in args])
    assert result.code == 1
    assert result.err.strip() == message.format(topic=topic)


def test_unreachable_bootstrap_server(tool: Any) -> None:
    result = tool("list", bootstrap=f"127.0.0.1:{free_port()}")
    assert result.code == 1
    assert result.err.startswith("no bootstrap server reachable: cannot connect to 127.0.0.1:")


def test_bad_flags_are_usage_errors(tool: Any) -> None:
    with pytest.raises(SystemExit) as raised:
        tool("describe")
    assert raised.value.code == 1  # Kafka's tools exit 1 on a usage error


def test_command_config(tool: Any, tmp_path: Any) -> None:
    config = tmp_path / "admin.properties"
    config.write_text(
        "# admin client settings\nclient.id = txn-tool-test\ndefault.api.timeout.ms=20000\n"
    )
    listed = tool("--command-config", str(config), "list")
    assert listed.code == 0, listed.err
    assert listed.table()[0] == LIST_HEADER
    config.write_text("security.protocol=SASL_SSL\n")
    refused = tool("--command-config", str(config), "list")
    assert refused.code == 1
    assert "SASL_SSL is not supported" in refused.err
