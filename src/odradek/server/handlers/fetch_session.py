"""Fetch's side of the fetch sessions (KIP-227, the cache in ``server/fetch_sessions.py``):
the partitions a request stands for (its own, or its session's), where a request stands in
the sessions, and which partitions an incremental response lists."""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from kio.schema.errors import ErrorCode

from odradek.common.errors import KafkaError, UnknownTopicIdError, UnknownTopicOrPartitionError
from odradek.common.ids import TopicPartition
from odradek.observability import metrics
from odradek.protocol.api_versions import FETCH_KEY
from odradek.protocol.codec import build, response_module
from odradek.server.collaborators import HasConfig, HasMetadataStore
from odradek.server.fetch_sessions import (
    FINAL_EPOCH,
    INITIAL_EPOCH,
    INVALID_SESSION_ID,
    CachedPartition,
    FetchContext,
    FetchKind,
    FetchSessionCache,
    PartitionKey,
)
from odradek.storage.file_records import FileRecords
from odradek.storage.log_results import FetchInfo

if TYPE_CHECKING:
    from odradek.server.request_context import RequestContext


class FetchSessionCollaborators(HasConfig, HasMetadataStore, Protocol):
    """What the fetch sessions read: their cache's size from the config, topic ids from
    the metadata."""


TOPIC_ID_FETCH_VERSION = 13  # topics (and forgotten topics, and sessions) by id


class Target(Protocol):
    """A partition to read: a request's (``Wanted``) or a session's (``CachedPartition``)."""

    @property
    def tp(self) -> TopicPartition: ...
    @property
    def topic_id(self) -> uuid.UUID | None: ...
    @property
    def offset(self) -> int: ...
    @property
    def max_bytes(self) -> int: ...
    @property
    def error(self) -> Exception | None: ...
    @property
    def current_leader_epoch(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Wanted:
    tp: TopicPartition
    topic_id: uuid.UUID | None
    offset: int
    max_bytes: int
    error: Exception | None = None
    current_leader_epoch: int = -1


def failed(target: Target, error: Exception) -> Wanted:
    return Wanted(
        target.tp,
        target.topic_id,
        target.offset,
        target.max_bytes,
        error,
        target.current_leader_epoch,
    )


@dataclass(frozen=True, slots=True)
class Read:
    """One partition's part of a fetch: an error, or what its log had (ReplicaManager's
    PartitionRead, whose records may be left in the segment file)."""

    tp: TopicPartition
    error: KafkaError | None
    info: FetchInfo[bytes | FileRecords] | None


_CACHES: weakref.WeakKeyDictionary[FetchSessionCollaborators, FetchSessionCache] = (
    weakref.WeakKeyDictionary()
)


def fetch_sessions(broker: FetchSessionCollaborators) -> FetchSessionCache:
    """The broker's fetch session cache (made on its first fetch, closed with it)."""
    cache = _CACHES.get(broker)
    if cache is None:
        cache = _CACHES[broker] = FetchSessionCache(
            int(broker.config.get("max.incremental.fetch.session.cache.slots")),
            int(broker.config.get("min.incremental.fetch.session.eviction.ms")),
        )
        weakref.finalize(broker, cache.close)
    return cache


def now_ms() -> int:
    return int(time.monotonic() * 1000)


def session_context(
    broker: FetchSessionCollaborators,
    ctx: RequestContext,
    request: Any,
    requested: list[Wanted],
) -> FetchContext:
    """Where the request stands in the fetch sessions (Fetch v0-6 have none: sessionless).
    An incremental request's partitions and forgotten topics update its session."""
    epoch = int(getattr(request, "session_epoch", FINAL_EPOCH))
    session_id = int(getattr(request, "session_id", INVALID_SESSION_ID))
    metrics.fetch_kind(epoch not in (INITIAL_EPOCH, FINAL_EPOCH))
    if epoch == FINAL_EPOCH and session_id == INVALID_SESSION_ID:
        return FetchContext(FetchKind.SESSIONLESS)
    by_id = ctx.header.api_version >= TOPIC_ID_FETCH_VERSION
    asked: list[CachedPartition] = []
    forgotten: list[PartitionKey] = []
    if epoch not in (INITIAL_EPOCH, FINAL_EPOCH):
        asked = [
            CachedPartition(w.tp, w.topic_id, w.offset, w.max_bytes, w.current_leader_epoch)
            for w in requested
        ]
        for topic in request.forgotten_topics_data:
            key = topic.topic_id if by_id else topic.topic
            forgotten.extend((key, int(p)) for p in topic.partitions)
    return fetch_sessions(broker).new_context(session_id, epoch, by_id, asked, forgotten, now_ms())


def session_targets(broker: FetchSessionCollaborators, context: FetchContext) -> list[Target]:
    """An incremental fetch reads all its session's partitions. A session by topic id (v13+)
    looks each topic up again: a topic deleted since is UNKNOWN_TOPIC_ID."""
    parts = context.partitions
    session = context.session
    if session is None or not session.uses_topic_ids:
        return list(parts)
    by_id = broker.metadata_store.by_id
    names: dict[uuid.UUID | None, str | None] = {}
    targets: list[Target] = []
    for part in parts:
        topic_id = part.topic_id
        if topic_id not in names:
            found = by_id.get(topic_id) if topic_id is not None else None
            names[topic_id] = found.name if found is not None else None
        name = names[topic_id]
        if name is None:
            targets.append(failed(part, UnknownTopicIdError(f"unknown topic id {topic_id}")))
            continue
        if name != part.tp.topic:
            part.tp = TopicPartition(name, part.tp.partition)
        targets.append(part)
    return targets


def session_response(ctx: RequestContext, error_code: int, session_id: int) -> Any:
    """A response without partitions: a top-level error, or a throttled fetch."""
    if error_code and metrics.ENABLED:
        metrics.record_error(FETCH_KEY, error_code)
    module = response_module(FETCH_KEY, ctx.header.api_version)
    return build(
        module.FetchResponse,
        throttle_time=timedelta(0),
        error_code=ErrorCode(error_code),
        session_id=session_id,
        responses=(),
        node_endpoints=(),
    )


def error_code(error: Exception | None) -> ErrorCode:
    if isinstance(error, UnknownTopicOrPartitionError | UnknownTopicIdError):
        return ErrorCode(error.error_code)
    return ErrorCode(getattr(error, "error_code", ErrorCode.unknown_server_error))


def session_partitions(wanted: Sequence[Target], reads: list[Read]) -> list[CachedPartition]:
    """A new session's entries for a full fetch's partitions, told what its response sends."""
    parts = [
        CachedPartition(w.tp, w.topic_id, w.offset, w.max_bytes, w.current_leader_epoch)
        for w in wanted
    ]
    for part, read in zip(parts, reads, strict=True):
        info = read.info
        if info is None:
            part.must_respond(0, error_code(read.error), -1, -1, -1)
        else:
            part.must_respond(
                len(info.records),
                0,
                info.high_watermark,
                info.last_stable_offset,
                info.log_start_offset,
            )
    return parts


def incremental(
    wanted: Sequence[Target], reads: list[Read], context: FetchContext
) -> tuple[list[Target], list[Read]]:
    """The partitions an incremental response lists (new records, an error, or a changed
    high watermark, last stable offset or log start offset); those with records go to the
    end of the session's order."""
    session = context.session
    assert session is not None
    listed: list[Target] = []
    listed_reads: list[Read] = []
    for part, item, read in zip(context.partitions, wanted, reads, strict=True):
        info = read.info
        if info is None:
            respond = part.must_respond(0, error_code(read.error), -1, -1, -1)
        else:
            size = len(info.records)
            respond = part.must_respond(
                size, 0, info.high_watermark, info.last_stable_offset, info.log_start_offset
            )
            if size:
                session.rotate_to_end(part)
        if respond:
            listed.append(item)
            listed_reads.append(read)
    return listed, listed_reads
