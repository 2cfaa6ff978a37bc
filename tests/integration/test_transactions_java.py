"""Seed 003's idempotent and transactional producers with the Apache Kafka Java client 3.9.1
(``java/Txn*.java``), checked by a read_committed Java consumer and by Python consumers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.test_transactions_confluent import (
    OVERRIDES,
    create_topics,
    read_all,
    unique,
    values,
)
from tests.support.broker_process import BrokerProcess
from tests.support.java import JavaPrograms, compile_programs

pytestmark = [pytest.mark.integration, pytest.mark.java]


@pytest.fixture(scope="session")
def java_programs(tmp_path_factory: pytest.TempPathFactory) -> JavaPrograms:
    return compile_programs(tmp_path_factory.mktemp("java-txn-classes"))


@pytest.fixture(scope="module")
def txn_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(tmp_path_factory.mktemp("java-txn") / "data", overrides=OVERRIDES)
    broker.start()
    yield broker
    broker.kill()


def run_program(
    java_programs: JavaPrograms, broker: BrokerProcess, main_class: str, *args: str
) -> list[str]:
    result = java_programs.run(main_class, broker.bootstrap, *args, timeout=90)
    lines = result.stdout.splitlines()
    if result.returncode != 0 or not lines or not lines[-1].startswith("OK"):
        pytest.fail(
            f"{main_class} {' '.join(args)} failed: {result.describe()}"
            f"\n--- broker log (tail) ---\n{broker.log()}",
            pytrace=False,
        )
    return lines


def test_seed003_idempotent_and_transactional_producers(
    java_programs: JavaPrograms, txn_broker: BrokerProcess
) -> None:
    topic1, topic2 = unique("seed003-topic1"), unique("seed003-topic2")
    create_topics(txn_broker.bootstrap, topic1, topic2)
    lines = run_program(
        java_programs, txn_broker, "TxnSeed003", topic1, topic2, unique("my-transactional-id")
    )
    assert [line for line in lines if line.startswith("IDEMPOTENT")] == [
        f"IDEMPOTENT {i}" for i in range(10)
    ]
    assert "COMMITTED" in lines
    assert "ABORTED" in lines
    records = [line.split()[1:] for line in lines if line.startswith("RECORD ")]
    # idem-0..9 at 0-9, the committed transaction at 10 (marker at 11), the aborted one at 12
    assert sorted(records, key=lambda r: (r[0], int(r[1]))) == (
        [[topic1, str(i), f"idem-{i}", f"idem-{i}"] for i in range(10)]
        + [[topic1, "10", "key1", "value1"], [topic2, "0", "key2", "value2"]]
    )
    # end offsets of a read_committed consumer: both transactions are decided, marker included
    assert f"END {topic1} 14" in lines
    assert f"END {topic2} 4" in lines
    assert lines[-1] == "OK 12"

    committed = read_all(txn_broker.bootstrap, [topic1, topic2], "read_committed")
    assert values(committed[topic1]) == [b"idem-%d" % i for i in range(10)] + [b"value1"]
    assert values(committed[topic2]) == [b"value2"]
    uncommitted = read_all(txn_broker.bootstrap, [topic1, topic2], "read_uncommitted")
    assert values(uncommitted[topic2]) == [b"value2", b"aborted-2"]


def test_second_producer_fences_the_first(
    java_programs: JavaPrograms, txn_broker: BrokerProcess
) -> None:
    topic = unique("java-fence")
    create_topics(txn_broker.bootstrap, topic)
    lines = run_program(java_programs, txn_broker, "TxnFencing", topic, unique("tid"))
    assert "FENCED org.apache.kafka.common.errors.ProducerFencedException" in lines
    assert "FIRST COMMITTED" not in lines
    assert "COMMITTED" in lines
    assert values(read_all(txn_broker.bootstrap, [topic], "read_committed")[topic]) == [b"winner"]


def test_offsets_in_transactions(java_programs: JavaPrograms, txn_broker: BrokerProcess) -> None:
    source, sink = unique("java-src"), unique("java-sink")
    create_topics(txn_broker.bootstrap, source, sink)
    lines = run_program(
        java_programs, txn_broker, "TxnOffsets", source, sink, unique("group"), unique("tid")
    )
    assert lines[:-1] == [
        "OPEN none",
        "AFTER_COMMIT 10",
        "OPEN_ABORTED 10",
        "AFTER_ABORT 10",
        "CONSUMER_COMMITTED 10",
    ]
    assert values(read_all(txn_broker.bootstrap, [sink], "read_committed")[sink]) == [b"out-1"]
