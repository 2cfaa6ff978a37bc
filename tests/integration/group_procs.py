"""Consumer-group members run as child processes, and the parent-side handle that drives them.

A kafka-python ``KafkaConsumer`` blocks inside its JoinGroup until the group settles, so two of
them in one thread deadlock; each member therefore runs in its own process. The child prints one
JSON object per line on stdout (events) and reads commands on stdin (``close``). The parent's
:class:`Member` collects the events on a thread and waits on them with deadlines.

Run as a script: ``python group_procs.py KIND CONFIG_JSON`` with KIND one of

* ``seed`` -- seed 001 experiment 2, literally: ``KafkaConsumer(topic, bootstrap_servers=[B],
  group_id=G)`` iterated with ``for message in consumer`` (plus ``consumer_timeout_ms`` so the
  loop can notice a ``close`` command).
* ``confluent`` -- a confluent-kafka consumer with synchronous commits: a record is reported
  (``record`` event) only once a commit covering it succeeded; when a commit fails (for
  instance REBALANCE_IN_PROGRESS during a rebalance) the batch is discarded and its partitions
  are rewound to the committed offsets, as an application that must not lose records does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Event = dict[str, Any]

# -- parent side --------------------------------------------------------------------------------


class Member:
    """One child process and the events it printed."""

    def __init__(self, kind: str, config: dict[str, Any], name: str = "member") -> None:
        self.name = name
        self.events: list[Event] = []
        self.stderr_lines: list[str] = []
        self._cond = threading.Condition()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), kind, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"ev": "junk", "line": line.rstrip()}
            with self._cond:
                self.events.append(event)
                self._cond.notify_all()
        with self._cond:
            self.events.append({"ev": "eof"})
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.stderr_lines.append(line.rstrip())
                del self.stderr_lines[:-200]

    def snapshot(self) -> list[Event]:
        with self._cond:
            return list(self.events)

    def of(self, ev: str) -> list[Event]:
        return [e for e in self.snapshot() if e["ev"] == ev]

    def wait_for(
        self, predicate: Callable[[list[Event]], bool], timeout: float, what: str = "condition"
    ) -> list[Event]:
        """Wait until ``predicate(events)`` holds; AssertionError with the output if not."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if predicate(self.events):
                    return list(self.events)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{self.name}: timed out waiting for {what}\n{self.describe()}"
                    )
                self._cond.wait(min(remaining, 0.2))

    def assignment(self) -> set[tuple[str, int]] | None:
        """The latest full assignment the member reported (None before the first)."""
        reported = self.of("assigned")
        if not reported:
            return None
        return {(t, p) for t, p in reported[-1]["partitions"]}

    def records(self) -> list[tuple[int, int, str]]:
        """(partition, offset, value) of every record the member reported."""
        return [(e["p"], e["o"], e["v"]) for e in self.of("record")]

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def close(self, timeout: float = 20.0) -> None:
        """Ask the consumer to close() cleanly and wait for the process to exit."""
        self.send("close")
        self.wait_for(lambda evs: any(e["ev"] == "closed" for e in evs), timeout, "close")
        self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: the member vanishes without leaving the group."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def describe(self) -> str:
        events = self.snapshot()
        shown = [e for e in events if e["ev"] != "record"]
        count = len(events) - len(shown)
        return (
            f"--- {self.name} (pid {self.proc.pid}, exit {self.proc.poll()}) events "
            f"({count} records omitted) ---\n"
            + "\n".join(json.dumps(e) for e in shown[-60:])
            + "\n--- stderr ---\n"
            + "\n".join(self.stderr_lines[-40:])
        )

    def __enter__(self) -> Member:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def stop_all(members: list[Member]) -> None:
    for member in members:
        member.kill()


# -- child side ---------------------------------------------------------------------------------


def emit(ev: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"ev": ev, "t": time.time(), **fields}) + "\n")
    sys.stdout.flush()


def _watch_stdin() -> threading.Event:
    closing = threading.Event()

    def read() -> None:
        for line in sys.stdin:
            if line.strip() == "close":
                break
        closing.set()  # "close" or the parent went away

    threading.Thread(target=read, daemon=True).start()
    return closing


def run_seed(config: dict[str, Any]) -> None:
    """Seed 001 experiment 2: ``for message in consumer: print(message)``."""
    import logging

    from kafka import KafkaConsumer

    # kafka-python's own account of joins, syncs and assignments goes to stderr, which the
    # parent keeps (the tail) for describe(): a member stuck in a rebalance says where.
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("kafka.coordinator").setLevel(logging.INFO)
    closing = _watch_stdin()
    consumer = KafkaConsumer(
        config["topic"],
        bootstrap_servers=[config["bootstrap"]],
        group_id=config["group"],
        consumer_timeout_ms=200,
        **config.get("extra", {}),
    )
    emit("started")
    reported: set[Any] = set()
    while not closing.is_set():
        for message in consumer:
            emit(
                "record",
                p=message.partition,
                o=message.offset,
                v=message.value.decode(),
                k=message.key.decode() if message.key else None,
            )
            if closing.is_set():
                break
        assignment = consumer.assignment()
        if assignment != reported:
            # position() resolves the start offset (auto_offset_reset), so a record produced
            # after this event is one the member must consume.
            positions = {f"{tp.partition}": consumer.position(tp) for tp in assignment}
            reported = set(assignment)
            emit(
                "assigned",
                partitions=sorted([tp.topic, tp.partition] for tp in assignment),
                positions=positions,
            )
    consumer.close()
    emit("closed")


def run_confluent(config: dict[str, Any]) -> None:
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    closing = _watch_stdin()
    conf: dict[str, Any] = {
        "bootstrap.servers": config["bootstrap"],
        "group.id": config["group"],
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        **config.get("conf", {}),
    }
    cooperative = conf.get("partition.assignment.strategy") == "cooperative-sticky"
    consumer = Consumer(conf)
    owned: set[tuple[str, int]] = set()

    def report() -> None:
        emit("assigned", partitions=sorted([t, p] for t, p in owned))

    def on_assign(_: Any, partitions: list[Any]) -> None:
        if not cooperative:
            owned.clear()
        owned.update((tp.topic, tp.partition) for tp in partitions)
        report()

    def on_revoke(_: Any, partitions: list[Any]) -> None:
        if cooperative:
            owned.difference_update((tp.topic, tp.partition) for tp in partitions)
        else:
            owned.clear()
        emit("revoked", partitions=sorted([tp.topic, tp.partition] for tp in partitions))
        report()

    def on_lost(consumer: Any, partitions: list[Any]) -> None:
        emit("lost", partitions=sorted([tp.topic, tp.partition] for tp in partitions))
        on_revoke(consumer, partitions)

    consumer.subscribe([config["topic"]], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    emit("started")
    batch_size = int(config.get("batch", 50))
    while not closing.is_set():
        messages = consumer.consume(num_messages=batch_size, timeout=0.2)
        batch = []
        for message in messages:
            if message.error():
                emit("error", error=str(message.error()))
                continue
            batch.append(message)
        if not batch:
            continue
        first: dict[tuple[str, int], int] = {}
        last: dict[tuple[str, int], int] = {}
        for message in batch:
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            assert topic is not None and partition is not None and offset is not None
            key = (topic, partition)
            first.setdefault(key, offset)
            last[key] = offset
        try:
            consumer.commit(
                offsets=[TopicPartition(t, p, o + 1) for (t, p), o in last.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            emit("commit_failed", error=str(exc.args[0]), partitions=sorted(last))
            for (t, p), offset in first.items():
                try:
                    consumer.seek(TopicPartition(t, p, offset))
                except KafkaException as seek_exc:  # no longer assigned: its new owner reads it
                    emit("seek_failed", p=p, error=str(seek_exc.args[0]))
            continue
        for message in batch:
            emit(
                "record",
                p=message.partition(),
                o=message.offset(),
                v=(message.value() or b"").decode(),
            )
    consumer.close()
    emit("closed")


def main() -> None:
    kind, config = sys.argv[1], json.loads(sys.argv[2])
    runners = {"seed": run_seed, "confluent": run_confluent}
    try:
        runners[kind](config)
    except Exception as exc:
        emit("crashed", error=repr(exc))
        raise


if __name__ == "__main__":
    main()
