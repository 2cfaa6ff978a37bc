"""Fetch: record batches left in the segment files (FileRecords) for the connection to send
with ``sendfile``, so a fetch's memory does not grow with its ``max_bytes``; long-polls until
``fetch.min.bytes`` arrive (woken by the append that brings them) or ``fetch.max.wait.ms``
passes. Old fetches (v0-3) get their batches read into memory and down-converted.

Fetch v7+ may use an incremental fetch session (KIP-227, ``server/fetch_sessions.py``): the
broker reads every partition of the session and answers only those with something new."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.cluster.purgatory import DelayedFetch
from odradek.cluster.replica_manager import PartitionRead, ReplicaManager, check_leader_epoch
from odradek.common.errors import (
    InvalidRequestError,
    KafkaError,
    UnknownTopicIdError,
    UnsupportedCompressionTypeError,
    UnsupportedVersionError,
)
from odradek.common.ids import TopicPartition
from odradek.observability import metrics
from odradek.protocol.api_versions import FETCH_KEY
from odradek.protocol.codec import build, response_module
from odradek.protocol.records.compression import CompressionType
from odradek.protocol.records.validation import down_convert
from odradek.security.acl import AclOperation, ResourceType
from odradek.server.authorization import TopicAuthorizationError, authorize, denied
from odradek.server.collaborators import Authorizing, HasQuotas, HasReplicaManager, LeaderDiscovery
from odradek.server.fetch_sessions import (
    INVALID_FETCH_SESSION_EPOCH,
    INVALID_SESSION_ID,
    FetchContext,
    FetchKind,
)
from odradek.server.handlers.fetch_session import (
    TOPIC_ID_FETCH_VERSION,
    FetchSessionCollaborators,
    Read,
    Target,
    Wanted,
    error_code,
    failed,
    fetch_sessions,
    incremental,
    now_ms,
    session_context,
    session_partitions,
    session_response,
    session_targets,
)
from odradek.server.leader_discovery import (
    node_endpoints,
    supports_leader_discovery,
    with_current_leader,
)

if TYPE_CHECKING:
    from odradek.config.topic import LogConfig
    from odradek.server.request_context import RequestContext


class FetchCollaborators(
    Authorizing, LeaderDiscovery, FetchSessionCollaborators, HasQuotas, HasReplicaManager, Protocol
):
    """What Fetch reads from the broker (Kafka's KafkaApis.handleFetchRequest: the replica
    manager, quotas, the authorizer, the fetch sessions, leader discovery)."""

    @property
    def shutting_down(self) -> bool: ...


READ_COMMITTED = 1
FIRST_V2_FETCH_VERSION = 4  # v0-3 get magic v0/v1 message sets, down-converted
ZSTD_MIN_FETCH_VERSION = 10  # KIP-110: older fetches of a zstd topic are refused
# What an old fetch reads into memory to down-convert, over all its partitions (each still gets
# at least its first batch): the client fetches again for the rest.
DOWN_CONVERSION_READ_BYTES = 8 * 1024 * 1024


def replica_id_of(request: Any) -> int:
    """The fetching follower's broker id (-1 for consumers); v15+ carries it in ReplicaState."""
    state = getattr(request, "replica_state", None)
    if state is not None:
        return int(state.replica_id)
    return int(getattr(request, "replica_id", -1))


def handle_fetch(broker: FetchCollaborators, ctx: RequestContext, request: Any) -> Any:
    header = ctx.header
    replica = replica_id_of(request)
    requested = _wanted_partitions(broker, request)
    context = session_context(broker, ctx, request, requested)
    if context.kind is FetchKind.ERROR:
        return session_response(ctx, context.error_code, INVALID_SESSION_ID)
    wanted: Sequence[Target] = requested
    if context.kind is FetchKind.INCREMENTAL:
        wanted = session_targets(broker, context)
    committed = getattr(request, "isolation_level", 0) == READ_COMMITTED
    if broker.authorizer is not None:
        wanted = _authorized(broker, ctx, wanted, replica >= 0)
    cluster = broker.cluster
    follower = cluster.is_follower(replica)
    if follower:
        for item in wanted:
            cluster.on_follower_fetch(item.tp, replica, item.offset)
    reads = _read_all(broker, wanted, request.max_bytes, committed, follower, header.api_version)
    metrics.fetch_requested(reads)
    available = sum(len(r.info.records) for r in reads if r.info is not None)
    max_wait_ms = int(request.max_wait.total_seconds() * 1000)
    errors = any(r.error is not None for r in reads)
    if (
        available >= request.min_bytes
        or max_wait_ms <= 0
        or errors
        or not wanted
        or broker.shutting_down
    ):
        return _respond(broker, ctx, request, wanted, reads, context)
    return _long_poll(broker, ctx, request, wanted, available, max_wait_ms, context)


def _respond(
    broker: FetchCollaborators,
    ctx: RequestContext,
    request: Any,
    wanted: Sequence[Target],
    reads: list[Read],
    context: FetchContext,
) -> Any:
    """The response, or for a consumer over its consumer_byte_rate an empty one (Kafka sends
    no data and takes the bytes back; the consumer fetches again after the throttle time,
    KIP-219). A throttled fetch leaves the session's offsets as they were."""
    if replica_id_of(request) < 0 and _fetch_throttled(broker, ctx, reads):
        session = context.session
        if context.kind is not FetchKind.INCREMENTAL or session is None:
            return session_response(ctx, ErrorCode.none, INVALID_SESSION_ID)
        if session.epoch != context.expected_epoch:
            return session_response(ctx, INVALID_FETCH_SESSION_EPOCH, session.id)
        return session_response(ctx, ErrorCode.none, session.id)
    return _response(broker, ctx, request, wanted, reads, context)


def _fetch_throttled(broker: FetchCollaborators, ctx: RequestContext, reads: list[Read]) -> bool:
    """The response's record bytes (every read with records is in it, session or not)
    against the consumer's consumer_byte_rate."""
    quotas = broker.quotas
    user, client_id = ctx.principal.name, ctx.header.client_id or ""
    if quotas.fetch.quota(user, client_id) is None:
        return False
    size = sum(len(r.info.records) for r in reads if r.info is not None)
    now = time.monotonic()
    if not quotas.record(quotas.fetch, ctx, size, now):
        return False
    quotas.fetch.unrecord(user, client_id, size, now)
    return True


def _long_poll(
    broker: FetchCollaborators,
    ctx: RequestContext,
    request: Any,
    wanted: Sequence[Target],
    available: int,
    max_wait_ms: int,
    context: FetchContext,
) -> Awaitable[Any]:
    """Register the delayed fetch now — before any other request runs — so the append that
    satisfies it always finds it; then wait for that append or for fetch.max.wait.ms.

    An append may wake the fetch without giving it more readable bytes (read_committed
    behind an open transaction); it then waits again until the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait_ms / 1000
    committed = getattr(request, "isolation_level", 0) == READ_COMMITTED
    purgatory = broker.replica_manager.fetch_purgatory

    def arm(accumulated: int) -> tuple[asyncio.Future[None], DelayedFetch, asyncio.TimerHandle]:
        woken: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        delayed = DelayedFetch([w.tp for w in wanted], request.min_bytes, accumulated, wake)
        purgatory.watch(delayed)
        return woken, delayed, loop.call_at(deadline, wake)

    first = arm(available)

    async def finish() -> Any:
        waiting = first
        while True:
            woken, delayed, timer = waiting
            try:
                await woken
            finally:
                timer.cancel()
                purgatory.unwatch(delayed)
            reads = _read_all(
                broker,
                wanted,
                request.max_bytes,
                committed,
                broker.cluster.is_follower(replica_id_of(request)),
                ctx.header.api_version,
            )
            got = sum(len(r.info.records) for r in reads if r.info is not None)
            if (
                got >= request.min_bytes
                or loop.time() >= deadline
                or broker.shutting_down
                or any(r.error is not None for r in reads)
            ):
                return _respond(broker, ctx, request, wanted, reads, context)
            waiting = arm(got)

    return finish()


def _authorized(
    broker: FetchCollaborators, ctx: RequestContext, wanted: Sequence[Target], follower: bool
) -> Sequence[Target]:
    """A follower needs CLUSTER_ACTION on the cluster, a consumer READ on each topic; the
    partitions it may not read fail with TOPIC_AUTHORIZATION_FAILED."""
    if follower:
        allowed = authorize(ctx, broker, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER)
        refused = frozenset() if allowed else frozenset(w.tp.topic for w in wanted)
    else:
        topics = (w.tp.topic for w in wanted if w.error is None)
        refused = denied(ctx, broker, AclOperation.READ, ResourceType.TOPIC, topics)
    if not refused:
        return wanted
    error = TopicAuthorizationError(f"Not authorized to read from {sorted(refused)}")
    return [failed(w, error) if w.error is None and w.tp.topic in refused else w for w in wanted]


def _wanted_partitions(broker: FetchCollaborators, request: Any) -> list[Wanted]:
    store = broker.metadata_store
    wanted: list[Wanted] = []
    for topic in request.topics:
        topic_id = getattr(topic, "topic_id", None)
        name = getattr(topic, "topic", None)
        error: Exception | None = None
        if topic_id is not None:
            found = store.by_id.get(topic_id)
            name = found.name if found is not None else ""
            if found is None:
                error = UnknownTopicIdError(f"unknown topic id {topic_id}")
        wanted.extend(
            Wanted(
                TopicPartition(name or "", partition.partition),
                topic_id,
                partition.fetch_offset,
                partition.partition_max_bytes,
                error,
                getattr(partition, "current_leader_epoch", -1),
            )
            for partition in topic.partitions
        )
    return wanted


def _read_all(
    broker: FetchCollaborators,
    wanted: Sequence[Target],
    max_bytes: int,
    committed: bool,
    follower: bool = False,
    version: int = FIRST_V2_FETCH_VERSION,
) -> list[Read]:
    """Each wanted partition's read within the request's ``max_bytes`` (the first partition
    with data gets at least one batch, Kafka's rule). v4+ leave the records in the segment
    files; for v0-3 at most DOWN_CONVERSION_READ_BYTES are read into memory (and at least
    one batch per partition) and down-converted. A ``follower``'s fetch reads up to the log
    end, a consumer's up to the high watermark."""
    reads = []
    remaining = max_bytes
    unconverted = DOWN_CONVERSION_READ_BYTES
    first_data = True
    manager = broker.replica_manager
    legacy = version < FIRST_V2_FETCH_VERSION
    for item in wanted:
        if item.error is not None:
            reads.append(Read(item.tp, item.error, None))  # type: ignore[arg-type]
            continue
        limit = min(item.max_bytes, remaining)
        config = _log_config(manager, item.tp) if version < ZSTD_MIN_FETCH_VERSION else None
        if config is not None and config.target_compression == CompressionType.ZSTD:
            reads.append(
                Read(
                    item.tp,
                    UnsupportedCompressionTypeError(
                        f"Fetching {item.tp} (compression.type zstd) needs Fetch v10 or later"
                    ),
                    None,
                )
            )
            continue
        if legacy:
            raw = manager.read(
                item.tp,
                item.offset,
                min(limit, unconverted),
                min_one_batch=True,
                committed=committed,
                current_leader_epoch=item.current_leader_epoch,
                replica=follower,
            )
            unconverted = max(0, unconverted - len(raw.info.records if raw.info else b""))
            read = _down_convert(raw, config, version, item.offset, limit, first_data)
        else:
            read = _read_file_records(manager, item, limit, first_data, committed, follower)
        if read.info is not None and read.info.records:
            remaining = max(0, remaining - len(read.info.records))
            first_data = False
        reads.append(read)
    return reads


def _read_file_records(
    manager: ReplicaManager,
    item: Target,
    max_bytes: int,
    min_one_batch: bool,
    committed: bool,
    follower: bool,
) -> Read:
    """ReplicaManager.read's checks and read, with the records left in the segment file
    (Log.read_file_records): nothing is read into memory, however large ``max_bytes``."""
    try:
        log_obj = manager.get_log(item.tp.topic, item.tp.partition)
        check_leader_epoch(log_obj, item.current_leader_epoch)
        if max_bytes < 0:
            raise InvalidRequestError("negative partition max bytes")
        info = log_obj.read_file_records(
            item.offset,
            max_bytes,
            min_one_batch,
            committed=committed,
            max_offset=log_obj.log_end_offset if follower else None,
        )
    except KafkaError as exc:
        return Read(item.tp, exc, None)
    return Read(item.tp, None, info)


def _log_config(manager: ReplicaManager, tp: TopicPartition) -> LogConfig | None:
    log_obj = manager.log_manager.logs.get(tp)
    return None if log_obj is None else log_obj.config


def _down_convert(
    read: PartitionRead,
    config: LogConfig | None,
    version: int,
    offset: int,
    limit: int,
    first_data: bool,
) -> Read:
    """Fetch v0-3 (Kafka's down-conversion): the v2 batches read become a magic v0 (Fetch v0-1)
    or v1 (v2-3) message set, one batch at a time, within the partition's byte limit. v3 keeps
    KIP-74's "at least one message" for the first partition with data; v0-2 have a hard limit
    (a message larger than it arrives partial, so the client reports it as too large)."""
    if read.info is None:
        return Read(read.tp, read.error, None)
    if config is not None and not config["message.downconversion.enable"]:
        return Read(
            read.tp,
            UnsupportedVersionError(
                f"Conversion to message format v{0 if version <= 1 else 1} is disabled for "
                f"partition {read.tp}"
            ),
            None,
        )
    try:
        records = down_convert(
            read.info.records,
            0 if version <= 1 else 1,
            offset,
            limit,
            min_one=version >= 3 and first_data,
            partial_first=version <= 2,
        )
    except KafkaError as exc:
        return Read(read.tp, exc, None)
    return Read(read.tp, None, replace(read.info, records=records))


def _response(
    broker: FetchCollaborators,
    ctx: RequestContext,
    request: Any,
    wanted: Sequence[Target],
    reads: list[Read],
    context: FetchContext,
) -> Any:
    """The response; from v16 a NOT_LEADER_OR_FOLLOWER partition names its leader (KIP-951).
    A full fetch asking for a session gets one if the cache has (or can free) a slot; an
    incremental one lists only what changed, unless its session moved on meanwhile."""
    session_id = INVALID_SESSION_ID
    if context.kind is FetchKind.INCREMENTAL:
        session = context.session
        assert session is not None
        if session.epoch != context.expected_epoch:
            return session_response(ctx, INVALID_FETCH_SESSION_EPOCH, session.id)
        session_id = session.id
        wanted, reads = incremental(wanted, reads, context)
    elif context.kind is FetchKind.FULL:
        session_id = fetch_sessions(broker).maybe_create(
            now_ms(),
            replica_id_of(request) >= 0,
            ctx.header.api_version >= TOPIC_ID_FETCH_VERSION,
            len(wanted),
            lambda: session_partitions(wanted, reads),
        )
    module = response_module(FETCH_KEY, ctx.header.api_version)
    committed = getattr(request, "isolation_level", 0) == READ_COMMITTED
    discovery = supports_leader_discovery(module)
    leaders: set[int] = set()
    by_topic: dict[tuple[str, uuid.UUID | None], list[Any]] = {}
    for item, read in zip(wanted, reads, strict=True):
        partition = _partition(module, item.tp.partition, read, committed)
        if discovery and read.info is None:
            partition = with_current_leader(broker, module, item.tp, partition, leaders)
        by_topic.setdefault((item.tp.topic, item.topic_id), []).append(partition)
    topics = tuple(
        build(module.FetchableTopicResponse, topic=name, topic_id=topic_id, partitions=tuple(parts))
        for (name, topic_id), parts in by_topic.items()
    )
    metrics.fetch_responded(reads)
    return build(
        module.FetchResponse,
        throttle_time=timedelta(0),
        error_code=ErrorCode.none,
        session_id=session_id,
        responses=topics,
        node_endpoints=node_endpoints(broker, module, ctx.listener_name, leaders)
        if leaders
        else (),
    )


def _partition(module: Any, partition: int, read: Read, committed: bool) -> Any:
    info = read.info
    if info is None:
        return build(
            module.PartitionData,
            partition_index=partition,
            error_code=error_code(read.error),
            high_watermark=-1,
            last_stable_offset=-1,
            log_start_offset=-1,
            aborted_transactions=None,
            preferred_read_replica=-1,
            records=b"",
        )
    aborted = None
    if committed:
        aborted = tuple(
            build(module.AbortedTransaction, producer_id=t.producer_id, first_offset=t.first_offset)
            for t in info.aborted or ()
        )
    return build(
        module.PartitionData,
        partition_index=partition,
        error_code=ErrorCode.none,
        high_watermark=info.high_watermark,
        last_stable_offset=info.last_stable_offset,
        log_start_offset=info.log_start_offset,
        aborted_transactions=aborted,
        preferred_read_replica=-1,
        records=info.records,
    )
