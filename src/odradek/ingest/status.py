"""Consumer statistics, like ClickHouse's ``system.kafka_consumers``: per consumer its
assignments with current offsets and lag, poll and commit times, rebalances, exceptions,
records read, rows written and broken records. A running ingest keeps them in a status file
(``odradek ingest --status`` reads it) and serves them as Prometheus metrics."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odradek.ingest.batch import TopicPartition, WriteJob

MAX_EXCEPTIONS = 10


@dataclass
class PartitionStatus:
    current_offset: int | None = None  # the next offset, as stored in the target
    high_watermark: int | None = None

    @property
    def lag(self) -> int | None:
        if self.current_offset is None or self.high_watermark is None:
            return None
        return max(0, self.high_watermark - self.current_offset)


@dataclass
class PartitionCounts:
    """What one consumer wrote of a partition since it started (kept across rebalances)."""

    rows_written: int = 0
    broken_messages: int = 0


@dataclass
class ConsumerStatus:
    """One consumer's figures; updated by its thread, read by the status writer."""

    consumer_id: str
    assignments: dict[TopicPartition, PartitionStatus] = field(default_factory=dict)
    last_poll_time: float | None = None
    num_messages_read: int = 0
    last_commit_time: float | None = None
    num_commits: int = 0
    last_rebalance_time: float | None = None
    num_rebalance_assignments: int = 0
    num_rebalance_revocations: int = 0
    rows_written: int = 0
    broken_messages: int = 0
    is_paused: bool = False
    num_exceptions: int = 0
    written: dict[TopicPartition, PartitionCounts] = field(default_factory=dict)
    exceptions: deque[tuple[float, str]] = field(
        default_factory=lambda: deque(maxlen=MAX_EXCEPTIONS)
    )
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def assigned(self, stored: dict[TopicPartition, int | None]) -> None:
        with self.lock:
            for tp, offset in stored.items():
                self.assignments[tp] = PartitionStatus(offset)
            self.num_rebalance_assignments += 1
            self.last_rebalance_time = time.time()

    def revoked(self, partitions: list[TopicPartition]) -> None:
        with self.lock:
            for tp in partitions:
                self.assignments.pop(tp, None)
            self.num_rebalance_revocations += 1
            self.last_rebalance_time = time.time()

    def polled(self, records: int) -> None:
        with self.lock:
            self.last_poll_time = time.time()
            self.num_messages_read += records

    def committed(self, job: WriteJob) -> None:
        with self.lock:
            for tp, block in job.partitions.items():
                if tp in self.assignments:
                    self.assignments[tp].current_offset = block.next
                counts = self.written.setdefault(tp, PartitionCounts())
                counts.rows_written += len(block.rows)
                counts.broken_messages += block.broken
                self.rows_written += len(block.rows)
            self.last_commit_time = time.time()
            self.num_commits += 1
            self.broken_messages += job.broken

    def watermarks(self, highs: dict[TopicPartition, int]) -> None:
        with self.lock:
            for tp, high in highs.items():
                if tp in self.assignments:
                    self.assignments[tp].high_watermark = high

    def exception(self, text: str) -> None:
        with self.lock:
            self.exceptions.append((time.time(), text))
            self.num_exceptions += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "consumer_id": self.consumer_id,
                "assignments": [
                    {
                        "topic": t,
                        "partition_id": p,
                        "current_offset": s.current_offset,
                        "high_watermark": s.high_watermark,
                        "lag": s.lag,
                    }
                    for (t, p), s in sorted(self.assignments.items())
                ],
                "exceptions": [{"time": t, "text": x} for t, x in self.exceptions],
                "num_exceptions": self.num_exceptions,
                "partitions": [
                    {
                        "topic": t,
                        "partition_id": p,
                        "rows_written": c.rows_written,
                        "broken_messages": c.broken_messages,
                    }
                    for (t, p), c in sorted(self.written.items())
                ],
                "last_poll_time": self.last_poll_time,
                "num_messages_read": self.num_messages_read,
                "last_commit_time": self.last_commit_time,
                "num_commits": self.num_commits,
                "last_rebalance_time": self.last_rebalance_time,
                "num_rebalance_revocations": self.num_rebalance_revocations,
                "num_rebalance_assignments": self.num_rebalance_assignments,
                "rows_written": self.rows_written,
                "broken_messages": self.broken_messages,
                "is_paused": self.is_paused,
            }


def status_path(state_dir: Path, group: str, table: str) -> Path:
    return state_dir / f"{_safe(group)}--{_safe(table)}.status.json"


def pause_path(state_dir: Path, group: str, table: str) -> Path:
    return state_dir / f"{_safe(group)}--{_safe(table)}.paused"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def write_status(path: Path, document: dict[str, Any]) -> None:
    """Atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(document, indent=1))
    os.replace(temp, path)


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _when(stamp: float | None) -> str:
    if stamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def render(document: dict[str, Any]) -> str:
    """The status in ``system.kafka_consumers``' vertical layout, one block per consumer."""
    alive = process_alive(int(document["pid"])) and not document.get("stopped")
    lines = [
        f"ingest pid {document['pid']} ({'running' if alive else 'not running'}), "
        f"group {document['group']!r} -> {document['target']} table {document['table']!r}, "
        f"status of {_when(document['updated'])}"
    ]
    for number, consumer in enumerate(document["consumers"], 1):
        parts = consumer["assignments"]
        fields: list[tuple[str, Any]] = [
            ("consumer_id", consumer["consumer_id"]),
            ("assignments.topic", [a["topic"] for a in parts]),
            ("assignments.partition_id", [a["partition_id"] for a in parts]),
            ("assignments.current_offset", [a["current_offset"] for a in parts]),
            ("assignments.lag", [a["lag"] for a in parts]),
            ("exceptions.time", [_when(e["time"]) for e in consumer["exceptions"]]),
            ("exceptions.text", [e["text"] for e in consumer["exceptions"]]),
            ("last_poll_time", _when(consumer["last_poll_time"])),
            ("num_messages_read", consumer["num_messages_read"]),
            ("last_commit_time", _when(consumer["last_commit_time"])),
            ("num_commits", consumer["num_commits"]),
            ("last_rebalance_time", _when(consumer["last_rebalance_time"])),
            ("num_rebalance_revocations", consumer["num_rebalance_revocations"]),
            ("num_rebalance_assignments", consumer["num_rebalance_assignments"]),
            ("rows_written", consumer["rows_written"]),
            ("broken_messages", consumer["broken_messages"]),
            ("is_paused", int(consumer["is_paused"])),
        ]
        width = max(len(name) for name, _ in fields) + 1
        lines += ["", f"Row {number}:", "──────"]
        lines += [f"{name + ':':<{width}} {value}" for name, value in fields]
    return "\n".join(lines)
