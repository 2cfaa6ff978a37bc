"""KIP-848 consumer groups with the Java client (kafka-clients 3.9.1, ``group.protocol=consumer``):
three members share a 12-partition topic four partitions each; one closing moves only its
partitions, and the others keep consuming.

Each member is ``ConsumerProtocolMember`` (tests/integration/java/) in its own JVM; it prints its
assignment whenever it changes and each record it consumed, and closes on a ``close`` line.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from tests.integration.test_consumer_group_protocol import (
    FAST,
    PARTITIONS,
    produce,
    uid,
    wait_until,
)
from tests.support.broker_process import BrokerProcess
from tests.support.java import JVM_OPTIONS, JavaPrograms, compile_programs

pytestmark = [pytest.mark.integration, pytest.mark.java]


@pytest.fixture(scope="session")
def java_programs(tmp_path_factory: pytest.TempPathFactory) -> JavaPrograms:
    return compile_programs(tmp_path_factory.mktemp("java-kip848-classes"))


class JavaMember:
    """One ``ConsumerProtocolMember`` JVM and what it printed."""

    def __init__(self, programs: JavaPrograms, bootstrap: str, topic: str, group: str) -> None:
        self.lock = threading.Lock()
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [
                programs.java,
                *JVM_OPTIONS,
                "-cp",
                programs.classpath,
                "ConsumerProtocolMember",
                bootstrap,
                topic,
                group,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.errors: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.err_reader.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self.lock:
                self.errors.append(line.rstrip())

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.strip())

    def assignment(self) -> frozenset[int]:
        with self.lock:
            assigned = [ln for ln in self.lines if ln.startswith("ASSIGNED")]
        if not assigned:
            return frozenset()
        return frozenset(int(p) for p in assigned[-1].partition(" ")[2].split(",") if p)

    def records(self) -> set[tuple[int, int]]:
        with self.lock:
            found = [ln.split() for ln in self.lines if ln.startswith("RECORD ")]
        return {(int(p), int(o)) for _, p, o in found}

    def close(self, timeout: float = 60) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write("close\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.reader.join(10)
        self.err_reader.join(10)

    def describe(self) -> str:
        with self.lock:
            tail = [ln for ln in self.lines if not ln.startswith("RECORD")][-8:]
            errors = [ln for ln in self.errors if " WARN " not in ln][-25:]
        return f"pid {self.proc.pid} exit {self.proc.poll()}: {tail}\n" + "\n".join(errors)


@pytest.fixture
def members() -> Iterator[list[JavaMember]]:
    started: list[JavaMember] = []
    yield started
    for member in started:
        member.close()


def test_three_java_members_share_twelve_partitions_and_a_leaver_moves_only_its_own(
    java_programs: JavaPrograms, broker_factory: Any, members: list[JavaMember]
) -> None:
    broker: BrokerProcess = broker_factory(overrides=FAST)
    topic, group = uid("kip848-java"), uid("kip848-java-group")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(15)
    members.extend(JavaMember(java_programs, broker.bootstrap, topic, group) for _ in range(3))
    why: Callable[[], str] = lambda: (  # noqa: E731
        "\n".join(m.describe() for m in members) + f"\n{broker.log()}"
    )

    def balanced(active: list[JavaMember]) -> Callable[[], bool]:
        def check() -> bool:
            owned = [m.assignment() for m in active]
            share = PARTITIONS // len(active)
            return all(len(o) == share for o in owned) and frozenset().union(*owned) == frozenset(
                range(PARTITIONS)
            )

        return check

    wait_until(balanced(members), 90, "4 partitions each", why)
    placed = produce(broker.bootstrap, topic, range(600))
    wait_until(
        lambda: set().union(*(m.records() for m in members)) >= placed, 60, "600 records", why
    )

    leaver, survivors = members[0], members[1:]
    before = [m.assignment() for m in survivors]
    leaver.close()
    assert leaver.proc.returncode == 0, why()
    wait_until(balanced(survivors), 90, "the survivors to share 12 partitions", why)
    for member, kept in zip(survivors, before, strict=True):
        assert kept <= member.assignment(), why()
    later = produce(broker.bootstrap, topic, range(600, 900))
    wait_until(
        lambda: set().union(*(m.records() for m in survivors)) >= later,
        60,
        "the survivors to consume 300 more records",
        why,
    )
