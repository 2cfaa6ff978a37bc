"""The broker's metrics: Kafka's MBean names, the hot-path accumulators behind them, and their
Prometheus families. A leaf: it imports nothing from odradek, so any layer may import it.

The hot path only does attribute and list increments on slotted objects (no locks, no
labels lookups, no allocation): everything runs on the event loop thread, and the text
exposition (and Jolokia's view) is built from these plain numbers at scrape time. That is
about ten times cheaper per update than prometheus_client's own ``Counter.inc`` and
``Histogram.observe`` (which take a lock and walk the buckets in Python).

Names follow what the Prometheus JMX exporter's Kafka rules make of Kafka's MBeans, e.g.
``kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec,topic=t`` (Count) becomes
``kafka_server_brokertopicmetrics_messagesin_total{topic="t"}``; the all-topics MBean has no
``topic`` label. Request latencies are native Prometheus histograms in milliseconds.

Counters are per process, like Kafka's (JVM-wide) Yammer registry. Recording is off until a
broker enables it (``metrics.port`` set), so a broker without metrics pays nothing."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, is_dataclass
from typing import Any, get_args, get_origin

from prometheus_client.core import HistogramMetricFamily, Metric

ENABLED = False
"""Set by ``enable()`` when a broker in this process starts its metrics endpoint."""


def enable() -> None:
    global ENABLED
    ENABLED = True


def disable() -> None:
    global ENABLED
    ENABLED = False


# -- Kafka's names ------------------------------------------------------------------------------

API_NAMES: dict[int, str] = {
    0: "Produce",
    1: "Fetch",
    2: "ListOffsets",
    3: "Metadata",
    4: "LeaderAndIsr",
    5: "StopReplica",
    6: "UpdateMetadata",
    7: "ControlledShutdown",
    8: "OffsetCommit",
    9: "OffsetFetch",
    10: "FindCoordinator",
    11: "JoinGroup",
    12: "Heartbeat",
    13: "LeaveGroup",
    14: "SyncGroup",
    15: "DescribeGroups",
    16: "ListGroups",
    17: "SaslHandshake",
    18: "ApiVersions",
    19: "CreateTopics",
    20: "DeleteTopics",
    21: "DeleteRecords",
    22: "InitProducerId",
    23: "OffsetForLeaderEpoch",
    24: "AddPartitionsToTxn",
    25: "AddOffsetsToTxn",
    26: "EndTxn",
    27: "WriteTxnMarkers",
    28: "TxnOffsetCommit",
    29: "DescribeAcls",
    30: "CreateAcls",
    31: "DeleteAcls",
    32: "DescribeConfigs",
    33: "AlterConfigs",
    34: "AlterReplicaLogDirs",
    35: "DescribeLogDirs",
    36: "SaslAuthenticate",
    37: "CreatePartitions",
    38: "CreateDelegationToken",
    39: "RenewDelegationToken",
    40: "ExpireDelegationToken",
    41: "DescribeDelegationToken",
    42: "DeleteGroups",
    43: "ElectLeaders",
    44: "IncrementalAlterConfigs",
    45: "AlterPartitionReassignments",
    46: "ListPartitionReassignments",
    47: "OffsetDelete",
    48: "DescribeClientQuotas",
    49: "AlterClientQuotas",
    50: "DescribeUserScramCredentials",
    51: "AlterUserScramCredentials",
    52: "Vote",
    53: "BeginQuorumEpoch",
    54: "EndQuorumEpoch",
    55: "DescribeQuorum",
    56: "AlterPartition",
    57: "UpdateFeatures",
    58: "Envelope",
    59: "FetchSnapshot",
    60: "DescribeCluster",
    61: "DescribeProducers",
    62: "BrokerRegistration",
    63: "BrokerHeartbeat",
    64: "UnregisterBroker",
    65: "DescribeTransactions",
    66: "ListTransactions",
    67: "AllocateProducerIds",
    68: "ConsumerGroupHeartbeat",
    69: "ConsumerGroupDescribe",
    70: "ControllerRegistration",
    71: "GetTelemetrySubscriptions",
    72: "PushTelemetry",
    73: "AssignReplicasToDirs",
    74: "ListClientMetricsResources",
    75: "DescribeTopicPartitions",
}
PRODUCE, FETCH = 0, 1
FETCH_CONSUMER = "FetchConsumer"
"""Kafka records Fetch timings under ``Fetch`` and ``FetchConsumer`` (or ``FetchFollower``);
a single node has no followers, so ``FetchConsumer`` repeats ``Fetch`` at scrape time."""


@dataclass(frozen=True, slots=True)
class TopicMeter:
    attr: str  # TopicStats attribute
    mbean: str  # the ``name=`` of kafka.server:type=BrokerTopicMetrics
    event_type: str  # Yammer's EventType attribute
    per_topic: bool = True  # False: Kafka keeps it on the all-topics MBean only

    @property
    def prometheus(self) -> str:
        """``kafka_server_brokertopicmetrics_<name without PerSec, lower case>`` (+ _total)."""
        return "kafka_server_brokertopicmetrics_" + self.mbean.removesuffix("PerSec").lower()


TOPIC_METERS: tuple[TopicMeter, ...] = (
    TopicMeter("messages_in", "MessagesInPerSec", "messages"),
    TopicMeter("bytes_in", "BytesInPerSec", "bytes"),
    TopicMeter("bytes_out", "BytesOutPerSec", "bytes"),
    TopicMeter("bytes_rejected", "BytesRejectedPerSec", "bytes"),
    TopicMeter("produce_requests", "TotalProduceRequestsPerSec", "requests"),
    TopicMeter("fetch_requests", "TotalFetchRequestsPerSec", "requests"),
    TopicMeter("failed_produce", "FailedProduceRequestsPerSec", "requests"),
    TopicMeter("failed_fetch", "FailedFetchRequestsPerSec", "requests"),
    TopicMeter("invalid_crc", "InvalidMessageCrcRecordsPerSec", "requests", per_topic=False),
    TopicMeter("invalid_magic", "InvalidMagicNumberRecordsPerSec", "requests", per_topic=False),
)

# (MBean name of kafka.network:type=RequestMetrics, RequestStats attribute)
REQUEST_TIMES: tuple[tuple[str, str], ...] = (
    ("TotalTimeMs", "total_time"),
    ("RequestQueueTimeMs", "request_queue_time"),
    ("LocalTimeMs", "local_time"),
    ("RemoteTimeMs", "remote_time"),
    ("ResponseQueueTimeMs", "response_queue_time"),
    ("ResponseSendTimeMs", "response_send_time"),
)

BUCKETS_MS: tuple[float, ...] = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
    30000.0,
)
"""Upper bounds (ms) of the request-time histograms; a last bucket holds +Inf."""
_BUCKETS_S = tuple(bound / 1000.0 for bound in BUCKETS_MS)  # what the hot path compares
_FIRST_BOUND_S = _BUCKETS_S[0]
_INF_INDEX = len(BUCKETS_MS)
_SUM_INDEX = _INF_INDEX + 1
_IMMEDIATE_ZEROS = ("remote_time", "response_queue_time")
VERSION_SLOTS = 256  # request versions counted in a list; larger ones (never seen) in a dict

# Error codes Kafka does not count as failed produce/fetch requests: they are expected
# outcomes, not broker failures (ReplicaManager.appendToLocalLog / readFromLocalLog).
PRODUCE_EXPECTED_ERRORS = frozenset({2, 3, 6, 10, 18, 56})
FETCH_EXPECTED_ERRORS = frozenset({1, 3, 6, 9, 56, 74, 75, 100, 110})
MESSAGE_TOO_LARGE = 10
CORRUPT_MESSAGE = 2
UNSUPPORTED_FOR_MESSAGE_FORMAT = 43
UNKNOWN_TOPIC_ID = 100


# -- accumulators ---------------------------------------------------------------------------------


class TopicStats:
    """BrokerTopicMetrics of one topic (or of all topics): plain counts."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "bytes_rejected",
        "created",
        "failed_fetch",
        "failed_produce",
        "fetch_requests",
        "invalid_crc",
        "invalid_magic",
        "messages_in",
        "produce_requests",
        "topic",
    )

    def __init__(self, topic: str | None) -> None:
        self.topic = topic
        self.created = time.monotonic()
        self.messages_in = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.bytes_rejected = 0
        self.produce_requests = 0
        self.fetch_requests = 0
        self.failed_produce = 0
        self.failed_fetch = 0
        self.invalid_crc = 0
        self.invalid_magic = 0

    def count(self, attr: str) -> int:
        value: int = getattr(self, attr)
        return value


def new_histogram() -> list[float]:
    """Bucket counts (one per bound, then +Inf), then the sum of observations."""
    return [0] * (_INF_INDEX + 1) + [0.0]


def histogram_count(histogram: list[float]) -> int:
    return int(sum(histogram[:_SUM_INDEX]))


def histogram_sum(histogram: list[float]) -> float:
    return histogram[_SUM_INDEX]


class RequestStats:
    """RequestMetrics of one API: requests per version, errors per code, time histograms.

    The hot path keeps the histograms' sums in seconds and does not touch RemoteTimeMs and
    ResponseQueueTimeMs for responses written at once (zero for both, so their count is the
    total's minus theirs);
    ``histogram()`` gives the exported view, in milliseconds."""

    __slots__ = (
        "api_key",
        "created",
        "errors",
        "local_time",
        "name",
        "other_versions",
        "remote_time",
        "request_queue_time",
        "response_queue_time",
        "response_send_time",
        "total_time",
        "versions",
    )

    def __init__(self, api_key: int) -> None:
        self.api_key = api_key
        self.name = API_NAMES.get(api_key, f"Api{api_key}")
        self.created = time.monotonic()
        self.versions = [0] * VERSION_SLOTS
        self.other_versions: dict[int, int] = {}
        self.errors: dict[int, int] = {}
        self.total_time = new_histogram()
        self.request_queue_time = new_histogram()
        self.local_time = new_histogram()
        self.remote_time = new_histogram()
        self.response_queue_time = new_histogram()
        self.response_send_time = new_histogram()

    @property
    def count(self) -> int:
        return sum(self.versions) + sum(self.other_versions.values())

    def version_counts(self) -> dict[int, int]:
        counts = {version: n for version, n in enumerate(self.versions) if n}
        counts.update(self.other_versions)
        return counts

    def histogram(self, attr: str) -> list[float]:
        """Bucket counts and the sum in milliseconds (a copy)."""
        raw: list[float] = getattr(self, attr)
        view = list(raw)
        view[_SUM_INDEX] = raw[_SUM_INDEX] * 1000.0
        if attr in _IMMEDIATE_ZEROS:  # responses written at once: zero, not recorded
            view[0] += histogram_count(self.total_time) - histogram_count(raw)
        return view


TOPICS: dict[str, TopicStats] = {}
RETIRED = TopicStats(None)
"""The all-topics-only counters, and the counts of topics forgotten since (the all-topics
MBeans are sums: the hot path updates only the topic's stats)."""
STARTED = time.monotonic()


def all_topics(attr: str) -> int:
    """The all-topics count of a TopicStats attribute."""
    return RETIRED.count(attr) + sum(stats.count(attr) for stats in TOPICS.values())


REQUESTS: dict[int, RequestStats] = {}
_BY_KEY: list[RequestStats | None] = [None] * 256  # the hot path's lookup


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


def topic_stats(topic: str) -> TopicStats:
    stats = TOPICS.get(topic)
    if stats is None:
        stats = TOPICS[topic] = TopicStats(topic)
    return stats


def request_stats(api_key: int) -> RequestStats:
    stats = REQUESTS.get(api_key)
    if stats is None:
        stats = REQUESTS[api_key] = RequestStats(api_key)
        if 0 <= api_key < len(_BY_KEY):
            _BY_KEY[api_key] = stats
    return stats


def forget_topics(live: Collection[str]) -> None:
    """Drop the per-topic stats of topics that no longer exist (Kafka removes their MBeans
    on deletion); the all-topics counts keep them."""
    for topic in [t for t in TOPICS if t not in live]:
        gone = TOPICS.pop(topic)
        for meter in TOPIC_METERS:
            setattr(RETIRED, meter.attr, RETIRED.count(meter.attr) + gone.count(meter.attr))


def reset() -> None:
    """Forget everything (tests and benchmarks)."""
    RETIRED.__init__(None)  # type: ignore[misc]  # in place: importers keep the object
    TOPICS.clear()
    REQUESTS.clear()
    _BY_KEY[:] = [None] * len(_BY_KEY)
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
    bounds = _BUCKETS_S
    for histogram, elapsed in (
        (stats.total_time, send_done - received),
        (stats.request_queue_time, started - received),
        (stats.local_time, local_done - started),
        (stats.remote_time, completed - local_done),
        (stats.response_queue_time, send_start - completed),
        (stats.response_send_time, send_done - send_start),
    ):
        histogram[bisect_left(bounds, elapsed)] += 1
        histogram[_SUM_INDEX] += elapsed


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
    stats = _BY_KEY[header[1]] or request_stats(header[1])
    stats.versions[header[3]] += 1
    bounds = _BUCKETS_S
    elapsed = send_done - received
    histogram = stats.total_time
    histogram[_bisect(bounds, elapsed)] += 1
    histogram[_SUM_INDEX] += elapsed
    elapsed = local_done - started
    histogram = stats.local_time
    histogram[_bisect(bounds, elapsed)] += 1
    histogram[_SUM_INDEX] += elapsed
    # queue and send times are nearly always in the first bucket: skip the bisect then
    elapsed = started - received
    histogram = stats.request_queue_time
    histogram[0 if elapsed <= _FIRST_BOUND_S else _bisect(bounds, elapsed)] += 1
    histogram[_SUM_INDEX] += elapsed
    elapsed = send_done - local_done
    histogram = stats.response_send_time
    histogram[0 if elapsed <= _FIRST_BOUND_S else _bisect(bounds, elapsed)] += 1
    histogram[_SUM_INDEX] += elapsed


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
    _walk_errors(response, counts)
    for code, count in counts.items():
        record_error(api_key, code, count)


_ENTITY_PLANS: dict[type, tuple[bool, tuple[str, ...], tuple[str, ...]]] = {}


def _plan(cls: type) -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
    """(has error_code, tuple fields, entity fields) of a kio entity class, cached."""
    plan = _ENTITY_PLANS.get(cls)
    if plan is None:
        fields = getattr(cls, "__dataclass_fields__", {})
        tuples, entities = [], []
        for name, field in fields.items():
            kind = field.type
            if get_origin(kind) is tuple:
                tuples.append(name)
            elif any(is_dataclass(t) for t in (kind, *get_args(kind))):
                entities.append(name)
        plan = _ENTITY_PLANS[cls] = ("error_code" in fields, tuple(tuples), tuple(entities))
    return plan


def _walk_errors(entity: object, counts: dict[int, int]) -> None:
    has_code, tuples, entities = _plan(type(entity))
    if has_code:
        code = int(getattr(entity, "error_code", 0) or 0)
        if code:
            counts[code] = counts.get(code, 0) + 1
    for name in tuples:
        items = getattr(entity, name, None)
        if items and hasattr(items[0], "__dataclass_fields__"):
            for item in items:
                _walk_errors(item, counts)
    for name in entities:
        value = getattr(entity, name, None)
        if value is not None and hasattr(value, "__dataclass_fields__"):
            _walk_errors(value, counts)


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


# -- Prometheus exposition -------------------------------------------------------------------------


def _counter(name: str, documentation: str) -> Metric:
    return Metric(name, documentation, "counter")


def error_name(code: int) -> str:
    """Kafka's Errors enum name (``UNKNOWN_TOPIC_OR_PARTITION``) of an error code."""
    try:
        from kio.schema.errors import ErrorCode

        return ErrorCode(code).name.upper()
    except (ImportError, ValueError):
        return f"UNKNOWN_{code}"


def prometheus_families(live_topics: Collection[str] | None = None) -> Iterator[Metric]:
    """Families for everything recorded on the hot path. ``live_topics``: the topics that
    exist (per-topic series of others are left out)."""
    for meter in TOPIC_METERS:
        family = _counter(
            meter.prometheus, f"kafka.server:type=BrokerTopicMetrics,name={meter.mbean} (Count)"
        )
        family.add_sample(meter.prometheus + "_total", {}, all_topics(meter.attr))
        if meter.per_topic:
            for topic, stats in sorted(TOPICS.items()):
                if live_topics is None or topic in live_topics:
                    family.add_sample(
                        meter.prometheus + "_total", {"topic": topic}, stats.count(meter.attr)
                    )
        yield family
    requests = sorted(REQUESTS.values(), key=lambda s: s.api_key)
    family = _counter(
        "kafka_network_requestmetrics_requests",
        "kafka.network:type=RequestMetrics,name=RequestsPerSec (Count)",
    )
    for request in requests:
        for version, count in sorted(request.version_counts().items()):
            family.add_sample(
                "kafka_network_requestmetrics_requests_total",
                {"request": request.name, "version": str(version)},
                count,
            )
    yield family
    family = _counter(
        "kafka_network_requestmetrics_errors",
        "kafka.network:type=RequestMetrics,name=ErrorsPerSec (Count); non-zero error codes only",
    )
    for request in requests:
        for code, count in sorted(request.errors.items()):
            family.add_sample(
                "kafka_network_requestmetrics_errors_total",
                {"request": request.name, "error": error_name(code)},
                count,
            )
    yield family
    for mbean, attr in REQUEST_TIMES:
        name = "kafka_network_requestmetrics_" + mbean.lower()
        histogram_family = HistogramMetricFamily(
            name,
            f"kafka.network:type=RequestMetrics,name={mbean} (milliseconds)",
            labels=["request"],
        )
        for request in requests:
            if not request.count:
                continue
            histogram = request.histogram(attr)
            names = [request.name, FETCH_CONSUMER] if request.api_key == FETCH else [request.name]
            for request_name in names:
                histogram_family.add_metric(
                    [request_name], buckets(histogram), histogram[_SUM_INDEX]
                )
        yield histogram_family
    for index, (name, what) in enumerate(
        (("throttled_responses", "responses throttled"), ("throttle_time_ms", "throttle time, ms"))
    ):
        family = _counter(
            f"kafka_server_quota_{name}",
            f"Client quotas (kafka.server:type=Produce|Fetch|Request throttle-time): {what}",
        )
        for quota, counts in sorted(THROTTLES.items()):
            family.add_sample(f"kafka_server_quota_{name}_total", {"quota": quota}, counts[index])
        yield family
    for attr, mbean in (("isr_shrinks", "isrshrinks"), ("isr_expands", "isrexpands")):
        family = _counter(
            f"kafka_server_replicamanager_{mbean}",
            f"kafka.server:type=ReplicaManager,name={mbean} (Count)",
        )
        family.add_sample(f"kafka_server_replicamanager_{mbean}_total", {}, getattr(COUNTERS, attr))
        yield family
    yield from _fetch_session_families()


def _fetch_session_families() -> Iterator[Metric]:
    prefix = "kafka_server_fetchsessioncache_"
    for mbean, value in (
        ("NumIncrementalFetchSessions", FETCH_SESSIONS.sessions),
        ("NumIncrementalFetchPartitionsCached", FETCH_SESSIONS.partitions),
    ):
        gauge = Metric(
            prefix + mbean.lower(), f"kafka.server:type=FetchSessionCache,name={mbean}", "gauge"
        )
        gauge.add_sample(prefix + mbean.lower(), {}, value)
        yield gauge
    family = _counter(
        prefix + "incrementalfetchsessionevictions",
        "kafka.server:type=FetchSessionCache,name=IncrementalFetchSessionEvictionsPerSec (Count)",
    )
    family.add_sample(
        prefix + "incrementalfetchsessionevictions_total", {}, FETCH_SESSIONS.evictions
    )
    yield family
    family = _counter(
        prefix + "fetches",
        "Fetch requests, full (sessionless or opening a session) or incremental (KIP-227)",
    )
    for kind in ("full", "incremental"):
        family.add_sample(prefix + "fetches_total", {"fetch": kind}, getattr(FETCH_SESSIONS, kind))
    yield family


def buckets(histogram: list[float]) -> list[tuple[str, float]]:
    """A histogram's cumulative buckets as Prometheus takes them: ``(le, count)``."""
    cumulative = 0.0
    result = []
    for bound, count in zip((*BUCKETS_MS, float("inf")), histogram[:_SUM_INDEX], strict=True):
        cumulative += count
        result.append((_format_bound(bound), cumulative))
    return result


def _format_bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


# -- meters: (MBean key properties, count source) for the Jolokia view ------------------------

MeterKey = tuple[str, tuple[tuple[str, str], ...]]  # (domain, key properties in Kafka's order)


def meter_sources() -> Iterator[tuple[MeterKey, int, float, str]]:
    """Every rate MBean and its count now: (key, count, created (monotonic), event type)."""
    server = "kafka.server"
    for meter in TOPIC_METERS:
        props = (("type", "BrokerTopicMetrics"), ("name", meter.mbean))
        yield (server, props), all_topics(meter.attr), STARTED, meter.event_type
        if meter.per_topic:
            for topic, stats in TOPICS.items():
                yield (
                    (server, (*props, ("topic", topic))),
                    stats.count(meter.attr),
                    stats.created,
                    meter.event_type,
                )
    for request in REQUESTS.values():
        for version, count in request.version_counts().items():
            yield (
                (
                    "kafka.network",
                    (
                        ("type", "RequestMetrics"),
                        ("name", "RequestsPerSec"),
                        ("request", request.name),
                        ("version", str(version)),
                    ),
                ),
                count,
                request.created,
                "requests",
            )
        for code, count in request.errors.items():
            yield (
                (
                    "kafka.network",
                    (
                        ("type", "RequestMetrics"),
                        ("name", "ErrorsPerSec"),
                        ("request", request.name),
                        ("error", error_name(code)),
                    ),
                ),
                count,
                request.created,
                "requests",
            )
    yield (
        (
            server,
            (("type", "FetchSessionCache"), ("name", "IncrementalFetchSessionEvictionsPerSec")),
        ),
        FETCH_SESSIONS.evictions,
        STARTED,
        "evictions",
    )
    for attr, mbean, event_type in (
        ("isr_shrinks", "IsrShrinksPerSec", "shrinks"),
        ("isr_expands", "IsrExpandsPerSec", "expands"),
    ):
        yield (
            (server, (("type", "ReplicaManager"), ("name", mbean))),
            getattr(COUNTERS, attr),
            STARTED,
            event_type,
        )


def histogram_sources() -> Iterator[tuple[MeterKey, Callable[[], list[float]]]]:
    """Every request-time histogram MBean and a reader of its current buckets."""
    for stats in REQUESTS.values():
        if not stats.count:
            continue
        names = [stats.name, FETCH_CONSUMER] if stats.api_key == FETCH else [stats.name]
        for request_name in names:
            for mbean, attr in REQUEST_TIMES:
                yield (
                    (
                        "kafka.network",
                        (("type", "RequestMetrics"), ("name", mbean), ("request", request_name)),
                    ),
                    _reader(stats, attr),
                )


def _reader(stats: RequestStats, attr: str) -> Callable[[], list[float]]:
    return lambda: stats.histogram(attr)


def quantile(buckets: list[float], q: float) -> float:
    """``histogram_quantile``: linear interpolation inside the bucket holding rank q*N."""
    total = sum(buckets[:_SUM_INDEX])
    if total <= 0:
        return 0.0
    rank = q * total
    cumulative = 0.0
    lower = 0.0
    for index, count in enumerate(buckets[:_SUM_INDEX]):
        if index == _INF_INDEX:
            return BUCKETS_MS[-1]
        upper = BUCKETS_MS[index]
        if count and cumulative + count >= rank:
            return lower + (upper - lower) * (rank - cumulative) / count
        cumulative += count
        lower = upper
    return BUCKETS_MS[-1]
