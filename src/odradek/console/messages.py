"""The message browser and the test producer: reading one partition from an offset, a
timestamp, the beginning or the end with key/value substring filters, and producing a record
with key, headers and value. Blocking calls on confluent-kafka's Consumer and Producer.

Records are read uncommitted (``isolation.level=read_uncommitted``): the browser shows what
the log holds, up to the high watermark, including records of open or aborted transactions.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka import KafkaError as ClientError

from odradek.console.client_config import client_settings
from odradek.console.gateway import KafkaError, KafkaGateway
from odradek.console.models import Record

START_MODES = ("beginning", "end", "offset", "timestamp")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_SCAN = 20_000
READ_DEADLINE_S = 10.0
_TIMESTAMP_TYPES = {0: "NONE", 1: "CreateTime", 2: "LogAppendTime"}


@dataclass(frozen=True)
class BrowseQuery:
    """Where to start reading one partition, what to keep and how many."""

    topic: str
    partition: int
    mode: str = "end"
    offset: int | None = None
    timestamp: int | None = None
    key_filter: str = ""
    value_filter: str = ""
    limit: int = DEFAULT_LIMIT

    def matches(self, record: Record) -> bool:
        return _contains(record.key, self.key_filter) and _contains(record.value, self.value_filter)

    @property
    def filtered(self) -> bool:
        return bool(self.key_filter or self.value_filter)


@dataclass(frozen=True)
class BrowseResult:
    """The records kept, the offsets read (``first`` to ``next`` exclusive) and the log's
    range when reading started."""

    records: tuple[Record, ...]
    first: int
    next: int
    scanned: int
    log_start: int
    log_end: int
    notes: tuple[str, ...] = field(default=())


def _contains(data: bytes | None, needle: str) -> bool:
    if not needle:
        return True
    return data is not None and needle.encode() in data


class ConsumerPool:
    """Idle browsing consumers (no group: they are only assigned partitions), reused across
    requests so a page does not pay for a new client's connections."""

    def __init__(self, settings: Mapping[str, str], size: int = 4) -> None:
        self.settings = client_settings(
            settings,
            {
                "group.id": "odradek-console-browser",
                "enable.auto.commit": "false",
                "enable.partition.eof": "true",
                "isolation.level": "read_uncommitted",
                "fetch.wait.max.ms": "10",  # a read stops at the log end: do not wait there
                "client.id": "odradek-console-browser",
            },
        )
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._size = size
        self._lock = threading.Lock()
        self._all: list[Any] = []

    @contextmanager
    def consumer(self) -> Iterator[Any]:
        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            client = Consumer(self.settings)
            with self._lock:
                self._all.append(client)
        try:
            yield client
        finally:
            client.unassign()
            if self._idle.qsize() < self._size:
                self._idle.put(client)
            else:
                self._close(client)

    def _close(self, client: Any) -> None:
        with self._lock:
            if client in self._all:
                self._all.remove(client)
        client.close()

    def close(self) -> None:
        with self._lock:
            clients, self._all = self._all, []
        for client in clients:
            client.close()


def resolve_start(gateway: KafkaGateway, query: BrowseQuery) -> tuple[int, int, int]:
    """(first offset to read, log start, log end) for ``query``."""
    tp = (query.topic, query.partition)
    bounds = gateway.offsets([tp]).get(tp)
    if bounds is None:
        raise KafkaError(f"no offsets for {query.topic}-{query.partition} (no such partition?)")
    start, end = bounds.start, bounds.end
    if query.mode == "beginning":
        return start, start, end
    if query.mode == "offset":
        return min(max(query.offset or 0, start), end), start, end
    if query.mode == "timestamp":
        found = gateway.offsets_for_time([tp], query.timestamp or 0).get(tp, -1)
        return (found if found >= 0 else end), start, end
    window = MAX_SCAN if query.filtered else query.limit
    return max(start, end - window), start, end


def browse(gateway: KafkaGateway, pool: ConsumerPool, query: BrowseQuery) -> BrowseResult:
    """Read ``query``'s partition from its start up to the log end (as it was when reading
    started), keeping matching records: the first ``limit`` of them, or the last ``limit``
    when reading from the end. At most ``MAX_SCAN`` records are read."""
    first, log_start, log_end = resolve_start(gateway, query)
    kept: deque[Record] = deque(maxlen=query.limit if query.mode == "end" else None)
    scanned, position, notes = 0, first, []
    if first < log_end:
        with pool.consumer() as consumer:
            consumer.assign([TopicPartition(query.topic, query.partition, first)])
            for record in _read(consumer, first, log_end):
                scanned += 1
                position = record.offset + 1
                if query.matches(record):
                    kept.append(record)
                if scanned >= MAX_SCAN:
                    notes.append(f"stopped after reading {MAX_SCAN:,} records")
                    break
                if query.mode != "end" and len(kept) >= query.limit:
                    break
    records = tuple(kept)[: query.limit]
    return BrowseResult(records, first, position, scanned, log_start, log_end, tuple(notes))


def _read(consumer: Any, start: int, end: int) -> Iterator[Record]:
    """Records from ``start`` until ``end`` (exclusive), the partition's end or the deadline.
    Each ``consume`` asks for no more records than remain, as it waits until it has them."""
    deadline = time.monotonic() + READ_DEADLINE_S
    position = start
    while time.monotonic() < deadline:
        wanted = min(max(end - position, 1), 500)
        batch: Sequence[Any] = consumer.consume(num_messages=wanted, timeout=0.2)
        for message in batch:
            error = message.error()
            if error is not None:
                if error.code() == ClientError._PARTITION_EOF:
                    return
                raise KafkaError(str(error.str()))
            yield _record(message)
            position = message.offset() + 1
            if position >= end:
                return


def _record(message: Any) -> Record:
    kind, timestamp = message.timestamp()
    headers = tuple((name, value) for name, value in (message.headers() or ()))
    return Record(
        message.partition(),
        message.offset(),
        timestamp,
        _TIMESTAMP_TYPES.get(kind, str(kind)),
        message.key(),
        message.value(),
        headers,
    )


class MessageProducer:
    """The producer behind "produce a test message" (one for the console's life)."""

    def __init__(self, settings: Mapping[str, str], timeout: float) -> None:
        self.timeout = timeout
        self.producer = Producer(
            client_settings(settings, {"client.id": "odradek-console-producer"})
        )

    def produce(
        self,
        topic: str,
        partition: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> tuple[int, int]:
        """(partition, offset) of the record once the cluster acknowledged it."""
        outcome: list[tuple[Any, Any]] = []
        kwargs: dict[str, Any] = {"key": key, "value": value, "headers": list(headers)}
        if partition is not None:
            kwargs["partition"] = partition
        try:
            self.producer.produce(topic, on_delivery=lambda e, m: outcome.append((e, m)), **kwargs)
        except (KafkaException, BufferError) as exc:
            raise KafkaError(str(exc)) from exc
        deadline = time.monotonic() + self.timeout
        while not outcome and time.monotonic() < deadline:
            self.producer.poll(0.1)
        if not outcome:
            raise KafkaError(f"not acknowledged within {self.timeout:.0f} s")
        error, message = outcome[0]
        if error is not None:
            raise KafkaError(str(error.str()))
        return int(message.partition()), int(message.offset())

    def close(self) -> None:
        self.producer.flush(self.timeout)


def parse_headers(text: str) -> list[tuple[str, bytes]]:
    """Headers from ``name=value`` lines (``name`` alone: an empty value)."""
    headers = []
    for line in text.splitlines():
        if line.strip():
            name, _, value = line.partition("=")
            headers.append((name.strip(), value.encode()))
    return headers
