"""Kafka's RequestMetrics (``kafka.network:type=RequestMetrics``) per API: the API names, the
six request-time histograms of each request, its counts per version and per error code, the
process's table of them (``REQUESTS``, and ``BY_KEY`` for the hot path's lookup), and the
walk that counts the error codes of a response entity (ErrorsPerSec)."""

from __future__ import annotations

import time
from dataclasses import is_dataclass
from typing import get_args, get_origin

from odradek.observability.histogram import SUM_INDEX, histogram_count, new_histogram

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

# (MBean name of kafka.network:type=RequestMetrics, RequestStats attribute)
REQUEST_TIMES: tuple[tuple[str, str], ...] = (
    ("TotalTimeMs", "total_time"),
    ("RequestQueueTimeMs", "request_queue_time"),
    ("LocalTimeMs", "local_time"),
    ("RemoteTimeMs", "remote_time"),
    ("ResponseQueueTimeMs", "response_queue_time"),
    ("ResponseSendTimeMs", "response_send_time"),
)
_IMMEDIATE_ZEROS = ("remote_time", "response_queue_time")
VERSION_SLOTS = 256  # request versions counted in a list; larger ones (never seen) in a dict


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
        view[SUM_INDEX] = raw[SUM_INDEX] * 1000.0
        if attr in _IMMEDIATE_ZEROS:  # responses written at once: zero, not recorded
            view[0] += histogram_count(self.total_time) - histogram_count(raw)
        return view


REQUESTS: dict[int, RequestStats] = {}
BY_KEY: list[RequestStats | None] = [None] * 256  # the hot path's lookup


def request_stats(api_key: int) -> RequestStats:
    stats = REQUESTS.get(api_key)
    if stats is None:
        stats = REQUESTS[api_key] = RequestStats(api_key)
        if 0 <= api_key < len(BY_KEY):
            BY_KEY[api_key] = stats
    return stats


def error_name(code: int) -> str:
    """Kafka's Errors enum name (``UNKNOWN_TOPIC_OR_PARTITION``) of an error code."""
    try:
        from kio.schema.errors import ErrorCode

        return ErrorCode(code).name.upper()
    except (ImportError, ValueError):
        return f"UNKNOWN_{code}"


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


def count_errors(entity: object, counts: dict[int, int]) -> None:
    """Add the non-zero ``error_code`` of a response entity and of every entity within it to
    ``counts`` (code: how many)."""
    has_code, tuples, entities = _plan(type(entity))
    if has_code:
        code = int(getattr(entity, "error_code", 0) or 0)
        if code:
            counts[code] = counts.get(code, 0) + 1
    for name in tuples:
        items = getattr(entity, name, None)
        if items and hasattr(items[0], "__dataclass_fields__"):
            for item in items:
                count_errors(item, counts)
    for name in entities:
        value = getattr(entity, name, None)
        if value is not None and hasattr(value, "__dataclass_fields__"):
            count_errors(value, counts)
