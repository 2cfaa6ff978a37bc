"""Shared helpers for the client-compatibility integration tests.

Every client test converts what its client handed back into :class:`Got` so that the
field-by-field checks are written once (:func:`assert_round_trip`).
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")

# Kafka protocol error codes the tests expect clients to surface.
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
TOPIC_ALREADY_EXISTS = 36

BROKER_MAX_MESSAGE_BYTES = 1_048_588  # the broker's default message.max.bytes
LARGE_OK_BYTES = 900 * 1024  # fits under the broker's limit
OVERSIZED_BYTES = 2 * 1024 * 1024  # ~2 MB: the broker must reject it
CLIENT_MAX_BYTES = 8 * 1024 * 1024  # client-side limits raised past the oversized record

BASE_TS = 1_700_000_000_000  # explicit CreateTime timestamps, well in the past
MID_BATCH_OFFSET = 17  # a consumer starting here starts inside a (compressed) batch

LATENCY_RECORDS = 20
LATENCY_MEDIAN_LIMIT_S = 0.050


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Rec:
    """A record to produce."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp: int


@dataclass(frozen=True)
class Got:
    """A record as a client returned it, normalised."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp: int
    create_time: bool  # True when the client reports a CreateTime timestamp


def sample_records(n: int = 40) -> list[Rec]:
    """Varied records: null key, null value, binary data, 0..3 headers, repeated header keys,
    empty header value, compressible payloads, and timestamps that are NOT monotonic within
    a batch (negative timestamp deltas are legal and real clients produce them)."""
    records: list[Rec] = []
    for i in range(n):
        key: bytes | None = f"key-{i}".encode()
        value: bytes | None = (f"value-{i}-" * (1 + i % 25)).encode()
        if i == 3:
            key = None
        if i == 5:
            value = None  # a tombstone
        if i == 7:
            value = bytes(range(256)) * 4
        if i == 11:
            key = b"\x00\xff\x00binary-key"
        headers: list[tuple[str, bytes]] = [(f"h{j}", f"hv-{i}-{j}".encode()) for j in range(i % 4)]
        if i == 13:
            headers = [("dup", b"first"), ("dup", b"second"), ("empty", b""), ("ünï", b"\x01")]
        timestamp = BASE_TS + ((i * 7) % n) * 1000 + i
        records.append(Rec(key, value, headers, timestamp))
    return records


def assert_round_trip(
    sent: Sequence[Rec], got: Sequence[Got], start: int = 0, partition: int = 0
) -> None:
    """Every record from offset ``start`` on back, in order, at consecutive offsets, with every
    field intact (``sent`` holds all records, from offset 0)."""
    expected = sent[start:]
    assert len(got) == len(expected), f"expected {len(expected)} records back, got {len(got)}"
    for i, (s, g) in enumerate(zip(expected, got, strict=True), start=start):
        where = f"record {i} (offset {g.offset})"
        assert g.partition == partition, f"{where}: partition {g.partition}"
        assert g.offset == i, f"{where}: expected offset {i}"
        assert g.key == s.key, f"{where}: key {g.key!r} != {s.key!r}"
        assert g.value == s.value, f"{where}: value {g.value!r:.80} != {s.value!r:.80}"
        assert g.headers == s.headers, f"{where}: headers {g.headers!r} != {s.headers!r}"
        assert g.create_time, f"{where}: timestamp type is not CreateTime"
        assert g.timestamp == s.timestamp, f"{where}: timestamp {g.timestamp} != {s.timestamp}"


def assert_in_order(got: Sequence[Got], n: int) -> None:
    """``n`` records with values ``b"0"..b"n-1"`` at offsets 0..n-1, in order."""
    offsets = [g.offset for g in got]
    assert len(got) == n, f"expected {n} records, got {len(got)}"
    bad = [i for i, o in enumerate(offsets) if o != i]
    assert not bad, (
        f"offsets not consecutive from 0; first mismatch at index {bad[0]}: "
        f"{offsets[max(0, bad[0] - 2) : bad[0] + 3]}"
    )
    bad_values = [i for i, g in enumerate(got) if g.value != str(i).encode()]
    assert not bad_values, (
        f"values out of order; first at index {bad_values[0]}: {got[bad_values[0]].value!r}"
    )


def wait_for(
    predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05
) -> object:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def latency_summary(latencies: Sequence[float]) -> str:
    ms = sorted(round(x * 1000, 1) for x in latencies)
    return f"median {statistics.median(latencies) * 1000:.1f} ms; all (ms, sorted): {ms}"


def assert_low_latency(latencies: Sequence[float], broker_log: str) -> None:
    assert len(latencies) == LATENCY_RECORDS, f"only {len(latencies)} latencies measured"
    median = statistics.median(latencies)
    assert median < LATENCY_MEDIAN_LIMIT_S, (
        "a consumer parked in a long-polling Fetch was not woken by the produce: "
        f"{latency_summary(latencies)}\n--- broker log ---\n{broker_log}"
    )


def spacing(i: int) -> float:
    """Pause between latency probes so that the consumer's next Fetch is parked at the broker
    (waiting for data) when the next record is produced.  Not synchronisation: it only makes
    the probes sample the parked state; varied so they don't phase-lock with any broker timer."""
    return 0.03 + (i % 5) * 0.02
