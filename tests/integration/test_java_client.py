"""The Apache Kafka Java client (kafka-clients 3.9.1) against a real odradek broker process.

Each test runs one program from ``tests/integration/java/`` against a fresh broker. The jars
come from ``scripts/install-java-client.sh``; see ``tests/support/java.py`` for when these
tests skip and when they fail.
"""

from __future__ import annotations

import uuid

import pytest

from tests.support.broker_process import BrokerProcess
from tests.support.java import JavaPrograms, JavaResult, compile_programs

pytestmark = [pytest.mark.integration, pytest.mark.java]

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
ROUND_TRIP_COUNT = 2000


@pytest.fixture(scope="session")
def java_programs(tmp_path_factory: pytest.TempPathFactory) -> JavaPrograms:
    return compile_programs(tmp_path_factory.mktemp("java-classes"))


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def run_program(
    java_programs: JavaPrograms, broker: BrokerProcess, main_class: str, *args: str
) -> JavaResult:
    """Run a program against ``broker``; fail with its output and the broker log otherwise."""
    result = java_programs.run(main_class, broker.bootstrap, *args)
    lines = result.stdout.splitlines()
    if result.returncode != 0 or not lines or not lines[-1].startswith("OK"):
        pytest.fail(
            f"{main_class} {' '.join(args)} failed: {result.describe()}"
            f"\n--- broker log (tail) ---\n{broker.log()}",
            pytrace=False,
        )
    return result


@pytest.mark.parametrize("codec", CODECS)
def test_round_trip(java_programs: JavaPrograms, broker: BrokerProcess, codec: str) -> None:
    topic = unique_topic(f"java-roundtrip-{codec}")
    result = run_program(java_programs, broker, "RoundTrip", topic, codec, str(ROUND_TRIP_COUNT))
    lines = result.stdout.splitlines()
    assert f"PRODUCED {ROUND_TRIP_COUNT}" in lines
    assert f"CONSUMED {ROUND_TRIP_COUNT}" in lines
    assert lines[-1] == f"OK {ROUND_TRIP_COUNT}"


def test_offsets_for_times(java_programs: JavaPrograms, broker: BrokerProcess) -> None:
    topic = unique_topic("java-offsets-for-times")
    result = run_program(java_programs, broker, "OffsetsForTimes", topic)
    lines = result.stdout.splitlines()
    assert "offsetsForTimes 1500 offset=1 timestamp=2000" in lines
    assert "offsetsForTimes 3001 null" in lines
    assert "beginningOffsets 0" in lines
    assert "endOffsets 3" in lines


def test_large_record(java_programs: JavaPrograms, broker: BrokerProcess) -> None:
    topic = unique_topic("java-large-record")
    result = run_program(java_programs, broker, "LargeRecord", topic)
    lines = result.stdout.splitlines()
    assert "LARGE offset=0 size=921600" in lines
    assert any(
        line.startswith("TOO_LARGE rejected org.apache.kafka.common.errors.RecordTooLargeException")
        for line in lines
    )
    assert "SMALL offset=1" in lines
    assert "CONSUMED 2" in lines


def test_admin_create_topic(java_programs: JavaPrograms, broker: BrokerProcess) -> None:
    topic = unique_topic("java-admin-create")
    result = run_program(java_programs, broker, "AdminCreateTopic", topic)
    lines = result.stdout.splitlines()
    assert f"CREATED {topic}" in lines
    assert f"DESCRIBED {topic} partitions=3 internal=false" in lines
    for partition in range(3):
        assert f"PARTITION {partition} leader=0 replicas=1 isr=1" in lines
    assert "RECREATE rejected org.apache.kafka.common.errors.TopicExistsException" in lines
