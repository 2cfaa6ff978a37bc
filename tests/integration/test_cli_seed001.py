"""The seed article's single-node walk-through (section 4), literally, with odradek's tools:

kafka-topics.sh --create --replication-factor 1 --partitions 1 --topic test
kafka-topics.sh --list
kafka-console-producer.sh --broker-list localhost:9092 --topic test
kafka-console-consumer.sh --topic test --from-beginning
"""

from __future__ import annotations

import pytest

from tests.integration.test_cli_common import ok
from tests.support.broker_process import BrokerProcess

pytestmark = pytest.mark.integration

MESSAGES = ["This is a message", "This is another message"]


def test_single_node_walk_through(broker: BrokerProcess) -> None:
    bootstrap = broker.bootstrap
    created = ok(
        "topics",
        "--create",
        "--bootstrap-server",
        bootstrap,
        "--replication-factor",
        "1",
        "--partitions",
        "1",
        "--topic",
        "test",
    )
    assert created.strip() == "Created topic test."

    assert ok("topics", "--list", "--bootstrap-server", bootstrap).split() == ["test"]

    ok(
        "console-producer",
        "--broker-list",
        bootstrap,
        "--topic",
        "test",
        stdin="".join(f"{m}\n" for m in MESSAGES),
    )

    consumed = ok(
        "console-consumer",
        "--bootstrap-server",
        bootstrap,
        "--topic",
        "test",
        "--from-beginning",
        "--max-messages",
        "2",
    )
    assert consumed.splitlines() == MESSAGES

    again = ok(
        "console-consumer",
        "--bootstrap-server",
        bootstrap,
        "--topic",
        "test",
        "--partition",
        "0",
        "--offset",
        "earliest",
        "--max-messages",
        "2",
    )
    assert again.splitlines() == MESSAGES
