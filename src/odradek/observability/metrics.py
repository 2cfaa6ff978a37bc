"""The broker's metrics on the hot path: the switch that turns recording on, the recording
functions the server calls as it answers requests, and the process-wide counters that are
neither per topic nor per request (ISR changes, fetch sessions, client-quota throttling). A
leaf: it imports nothing from odradek outside observability, so any layer may import it.

The hot path only does attribute and list increments on slotted objects (no locks, no
labels lookups, no allocation): everything runs on the event loop thread, and the text
exposition (and Jolokia's view) is built from these plain numbers at scrape time. That is
about ten times cheaper per update than prometheus_client's own ``Counter.inc`` and
``Histogram.observe`` (which take a lock and walk the buckets in Python).

The accumulators are in :mod:`~odradek.observability.broker_topic_metrics` (per topic),
:mod:`~odradek.observability.request_metrics` (per API) and
:mod:`~odradek.observability.histogram`; their Prometheus families in
:mod:`~odradek.observability.prometheus`, their MBeans for Jolokia in
:mod:`~odradek.observability.mbeans`.

Counters are per process, like Kafka's (JVM-wide) Yammer registry. Recording is off until a
broker enables it (``metrics.port`` set), so a broker without metrics pays nothing."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

from odradek.observability.broker_topic_metrics import RETIRED, TOPICS, topic_stats
from odradek.observability.histogram import BUCKETS_S, FIRST_BOUND_S, SUM_INDEX
from odradek.observability.request_metrics import (
    BY_KEY,
    FETCH,
    PRODUCE,
    REQUESTS,
    VERSION_SLOTS,
    RequestStats,
    count_errors,
    request_stats,
)

ENABLED = False
"""Set by ``enable()`` when a broker in this process starts its metrics endpoint."""


def enable() -> None:
    global ENABLED
    ENABLED = True


def disable() -> None:
    global ENABLED
    ENABLED = False


# Error codes Kafka does not count as failed produce/fetch requests: they are expected
# outcomes, not broker failures (ReplicaManager.appendToLocalLog / readFromLocalLog).
PRODUCE_EXPECTED_ERRORS = frozenset({2, 3, 6, 10, 18, 56})
FETCH_EXPECTED_ERRORS = frozenset({1, 3, 6, 9, 56, 74, 75, 100, 110})
MESSAGE_TOO_LARGE = 10
CORRUPT_MESSAGE = 2
UNSUPPORTED_FOR_MESSAGE_FORMAT = 43
UNKNOWN_TOPIC_ID = 100

STARTED = time.monotonic()
"""When this process's metrics began: the start of the meters that are not per topic or
request."""


class _Counters:
    """Process-wide counters that are not per topic or per request."""

    __slots__ = ("isr_expands", "isr_shrinks")

    def __init__(self) -> None:
        self.isr_shrinks = 0  # cluster mode's ISR changes count these; a single node never does
        self.isr_expands = 0


COUNTERS = _Counters()


class _FetchSessions:
    """kafka.server:type=FetchSessionCache (KIP-227) summed over the process's session caches,
    and how many Fetch requests were full or incremental. The gauges are kept whether or not
    recording is on (a cache changes them by deltas); the counters only while it is."""

    __slots__ = ("evictions", "full", "incremental", "partitions", "sessions")

    def __init__(self) -> None:
        self.sessions = 0  # NumIncrementalFetchSessions
        self.partitions = 0  # NumIncrementalFetchPartitionsCached
        self.evictions = 0  # IncrementalFetchSessionEvictionsPerSec (Count)
        self.full = 0  # full Fetch requests (sessionless, or opening a session)
        self.incremental = 0  # Fetch requests within a session


FETCH_SESSIONS = _FetchSessions()
# Client quotas: per quota (producer_byte_rate, ...), [throttled responses, throttle time ms].
THROTTLES: dict[str, list[int]] = {}


def reset() -> None:
    """Forget everything (tests and benchmarks)."""
    RETIRED.__init__(None)  # type: ignore[misc]  # in place: importers keep the object
    TOPICS.clear()
    REQUESTS.clear()
    BY_KEY[:] = [None] * len(BY_KEY)
    COUNTERS.isr_shrinks = COUNTERS.isr_expands = 0
    # The session gauges stay: live caches change them by deltas.
    FETCH_SESSIONS.evictions = FETCH_SESSIONS.full = FETCH_SESSIONS.incremental = 0
    THROTTLES.clear()


# -- hot-path recording: the server calls these only while ENABLED, or they return at once -----


def record_request(
    header: bytes | memoryview,
    received: float,
    started: float,
    local_done: float,
    completed: float,
    send_start: float,
    send_done: float,
) -> None:
    """One request answered after a wait (or behind another): ``time.perf_counter()``
    values; ``header`` is the request frame (its first four bytes: api key, version)."""
    stats = request_stats(header[0] << 8 | header[1])
    _count_version(stats, header[2] << 8 | header[3])
    bounds = BUCKETS_S
    for histogram, elapsed in (
        (stats.total_time, send_done - received),
        (stats.request_queue_time, started - received),
        (stats.local_time, local_done - started),
        (stats.remote_time, completed - local_done),
        (stats.response_queue_time, send_start - completed),
        (stats.response_send_time, send_done - send_start),
    ):
        histogram[bisect_left(bounds, elapsed)] += 1
        histogram[SUM_INDEX] += elapsed


def _count_version(stats: RequestStats, version: int) -> None:
    if version < VERSION_SLOTS:
        stats.versions[version] += 1
    else:
        stats.other_versions[version] = stats.other_versions.get(version, 0) + 1


def record_immediate(
    header: bytes | memoryview,
    received: float,
    started: float,
    local_done: float,
    send_done: float,
    _bisect: Any = bisect_left,
) -> None:
    """One request whose response was written as soon as it was made (most requests): no
    remote or response-queue time. The hottest function here: keep it flat."""
    if header[0] or header[2]:  # api key or version >= 256: not on any fast path
        record_request(header, received, started, local_done, local_done, local_done, send_done)
        return
    stats = BY_KEY[header[1]] or request_stats(header[1])
    stats.versions[header[3]] += 1
    bounds = BUCKETS_S
    elapsed = send_done - received
    histogram = stats.total_time
    histogram[_bisect(bounds, elapsed)] += 1
    histogram[SUM_INDEX] += elapsed
    elapsed = local_done - started
    histogram = stats.local_time
    histogram[_bisect(bounds, elapsed)] += 1
    histogram[SUM_INDEX] += elapsed
    # queue and send times are nearly always in the first bucket: skip the bisect then
    elapsed = started - received
    histogram = stats.request_queue_time
    histogram[0 if elapsed <= FIRST_BOUND_S else _bisect(bounds, elapsed)] += 1
    histogram[SUM_INDEX] += elapsed
    elapsed = send_done - local_done
    histogram = stats.response_send_time
    histogram[0 if elapsed <= FIRST_BOUND_S else _bisect(bounds, elapsed)] += 1
    histogram[SUM_INDEX] += elapsed


def record_error(api_key: int, error_code: int, count: int = 1) -> None:
    """ErrorsPerSec: responses (partitions, for partitioned APIs) with a non-zero error."""
    errors = request_stats(api_key).errors
    code = int(error_code)
    errors[code] = errors.get(code, 0) + count


def response_errors(api_key: int, response: object) -> None:
    """ErrorsPerSec of APIs other than Produce and Fetch (whose handlers count their
    partition errors as they go): every non-zero ``error_code`` in the response entity."""
    if not ENABLED or api_key <= FETCH:
        return
    counts: dict[int, int] = {}
    count_errors(response, counts)
    for code, count in counts.items():
        record_error(api_key, code, count)


def produced(topic: str, records: int, size: int) -> None:
    """One partition's batch appended: ``records`` from the validated batch header."""
    if not ENABLED:
        return
    stats = TOPICS.get(topic) or topic_stats(topic)
    stats.produce_requests += 1
    stats.messages_in += records
    stats.bytes_in += size


def client_throttled(quota: str, throttle_ms: int) -> None:
    """A response throttled for ``throttle_ms`` by a client quota (Kafka's throttle-time)."""
    if not ENABLED:
        return
    counts = THROTTLES.setdefault(quota, [0, 0])
    counts[0] += 1
    counts[1] += throttle_ms


def produce_failed(topic: str, size: int, error_code: int) -> None:
    """One partition's append failed with ``error_code``."""
    if not ENABLED:
        return
    stats = topic_stats(topic)
    stats.produce_requests += 1
    if error_code not in PRODUCE_EXPECTED_ERRORS:
        stats.failed_produce += 1
    if error_code == MESSAGE_TOO_LARGE:
        stats.bytes_rejected += size
    elif error_code == CORRUPT_MESSAGE:
        RETIRED.invalid_crc += 1
    elif error_code == UNSUPPORTED_FOR_MESSAGE_FORMAT:
        RETIRED.invalid_magic += 1
    record_error(PRODUCE, error_code)


def fetch_requested(reads: Iterable[Any]) -> None:
    """The first read of a Fetch request's partitions (``PartitionRead``s): Kafka counts
    TotalFetchRequestsPerSec per partition read, not per request."""
    if not ENABLED:
        return
    for read in reads:
        error = read.error
        code = 0 if error is None else int(getattr(error, "error_code", -1))
        if code == UNKNOWN_TOPIC_ID:
            continue
        topic = read.tp.topic
        stats = TOPICS.get(topic) or topic_stats(topic)
        stats.fetch_requests += 1
        if code and code not in FETCH_EXPECTED_ERRORS:
            stats.failed_fetch += 1


def fetch_responded(reads: Iterable[Any]) -> None:
    """The reads a Fetch response is built from: bytes out per topic, errors per code."""
    if not ENABLED:
        return
    for read in reads:
        info = read.info
        if info is not None:
            size = len(info.records)
            if size:
                topic = read.tp.topic
                stats = TOPICS.get(topic) or topic_stats(topic)
                stats.bytes_out += size
        else:
            record_error(FETCH, int(getattr(read.error, "error_code", -1)))


def fetch_session_created() -> None:
    FETCH_SESSIONS.sessions += 1


def fetch_session_removed(partitions: int) -> None:
    FETCH_SESSIONS.sessions -= 1
    FETCH_SESSIONS.partitions -= partitions


def fetch_session_partitions(delta: int) -> None:
    """A session's partition count changed by ``delta``."""
    FETCH_SESSIONS.partitions += delta


def fetch_session_evicted() -> None:
    if ENABLED:
        FETCH_SESSIONS.evictions += 1


def fetch_kind(incremental: bool) -> None:
    """One Fetch request: full (session epoch 0 or -1) or incremental (any other epoch,
    whether or not its session is found)."""
    if not ENABLED:
        return
    if incremental:
        FETCH_SESSIONS.incremental += 1
    else:
        FETCH_SESSIONS.full += 1
