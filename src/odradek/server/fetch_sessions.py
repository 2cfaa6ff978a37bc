"""Incremental fetch sessions (KIP-227): the broker's cache of sessions, sans-IO.

A fetcher's first full fetch (session id 0, epoch 0) may get a session: the broker remembers
each partition's fetch parameters and what it last told the fetcher (high watermark, last
stable offset, log start offset). Later fetches name the session and its next epoch and list
only the partitions that changed (or are forgotten); the broker reads every partition of the
session and answers only those with something new. Epoch -1 asks for no session (and closes
the one named).

The cache holds at most ``max.incremental.fetch.session.cache.slots`` sessions. A new session
takes a free slot, else evicts the least recently used session if it was idle longer than
``min.incremental.fetch.session.eviction.ms``, else the least valuable session it outranks:
followers' (privileged) sessions outrank consumers', larger sessions outrank smaller ones,
and a session younger than the eviction time is safe from all but a follower evicting a
consumer. Times are milliseconds from any monotonic clock the caller passes in."""

from __future__ import annotations

import enum
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from odradek.common.ids import TopicPartition
from odradek.observability import metrics

INVALID_SESSION_ID = 0
INITIAL_EPOCH = 0  # with session id 0: a full fetch asking for a new session
FINAL_EPOCH = -1  # a full fetch without a session (closing the one named)
_MAX_EPOCH = 2**31 - 1
_MAX_SESSION_ID = 2**31 - 1

# Top-level errors (Kafka's Errors)
FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71
FETCH_SESSION_TOPIC_ID_ERROR = 106

PartitionKey = tuple[str | uuid.UUID, int]
"""A session's partition: (topic name, partition) before Fetch v13, (topic id, partition) after."""


def next_epoch(epoch: int) -> int:
    """The epoch after ``epoch``: the final epoch stays final; after the largest comes 1."""
    if epoch < 0:
        return FINAL_EPOCH
    return 1 if epoch == _MAX_EPOCH else epoch + 1


@dataclass(slots=True, eq=False)
class CachedPartition:
    """One partition of a session: what the fetcher last asked for, and the offsets it was
    last sent (-1: never, or an error since, so the partition is sent again)."""

    tp: TopicPartition
    topic_id: uuid.UUID | None
    offset: int
    max_bytes: int
    current_leader_epoch: int = -1
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1

    @property
    def error(self) -> None:
        """A cached partition carries no error of its own (fetch targets may)."""
        return None

    def key(self, by_topic_id: bool) -> PartitionKey:
        return (
            (self.topic_id or uuid.UUID(int=0)) if by_topic_id else self.tp.topic,
            self.tp.partition,
        )

    def update_request(self, asked: CachedPartition) -> None:
        """Take the fetch parameters of a later request for this partition."""
        self.offset = asked.offset
        self.max_bytes = asked.max_bytes
        self.current_leader_epoch = asked.current_leader_epoch

    def must_respond(
        self,
        records_size: int,
        error_code: int,
        high_watermark: int,
        last_stable_offset: int,
        log_start_offset: int,
    ) -> bool:
        """Whether an incremental response lists this partition (new records, an error, or a
        changed offset), remembering the offsets it is sent. An error resets the cached high
        watermark, so the partition is sent again once it recovers."""
        respond = records_size > 0 or error_code != 0
        if high_watermark != self.high_watermark:
            respond = True
            self.high_watermark = high_watermark
        if last_stable_offset != self.last_stable_offset:
            respond = True
            self.last_stable_offset = last_stable_offset
        if log_start_offset != self.log_start_offset:
            respond = True
            self.log_start_offset = log_start_offset
        if error_code != 0:
            self.high_watermark = -1
        return respond


@dataclass(slots=True, eq=False)
class FetchSession:
    """A fetcher's session: its partitions in fetch order, and its expected next epoch."""

    id: int
    privileged: bool  # a follower's
    uses_topic_ids: bool  # Fetch v13+
    partitions: dict[PartitionKey, CachedPartition]
    creation_ms: int
    last_used_ms: int
    epoch: int = 1
    cached_size: int = 0  # the size the cache last counted

    def update(self, asked: Iterable[CachedPartition], forgotten: Iterable[PartitionKey]) -> None:
        """An incremental request: new partitions join at the end, listed ones take their new
        parameters, forgotten ones leave."""
        by_id = self.uses_topic_ids
        partitions = self.partitions
        for part in asked:
            key = part.key(by_id)
            cached = partitions.get(key)
            if cached is None:
                partitions[key] = part
            else:
                cached.update_request(part)
        for key in forgotten:
            partitions.pop(key, None)

    def rotate_to_end(self, part: CachedPartition) -> None:
        """A partition that returned records goes last, so the others get their turn at the
        response's byte limit next time."""
        key = part.key(self.uses_topic_ids)
        if self.partitions.pop(key, None) is part:
            self.partitions[key] = part

    def evictable_by_all(self, eviction_ms: int) -> bool:
        """Older than the eviction time when last used (Kafka evaluates it at each use)."""
        return self.last_used_ms - self.creation_ms > eviction_ms


class FetchKind(enum.Enum):
    ERROR = "error"  # a top-level error, no partitions; the session (if any) is unchanged
    SESSIONLESS = "sessionless"  # a full fetch answered with session id 0
    FULL = "full"  # a full fetch that asks for a new session
    INCREMENTAL = "incremental"  # a fetch within a session


@dataclass(slots=True)
class FetchContext:
    """What one Fetch request is within the sessions: its kind, the top-level error of an
    ERROR, the session of an INCREMENTAL one and the epoch the session must still be at when
    the response is built (another request of the session may have advanced it meanwhile),
    and the session's partitions in fetch order."""

    kind: FetchKind
    error_code: int = 0
    session: FetchSession | None = None
    expected_epoch: int = 0
    partitions: list[CachedPartition] = field(default_factory=list)


class FetchSessionCache:
    """The broker's sessions, at most ``max_entries`` of them (0: no sessions)."""

    def __init__(self, max_entries: int, eviction_ms: int, rng: random.Random | None = None):
        self.max_entries = max_entries
        self.eviction_ms = eviction_ms
        self.sessions: dict[int, FetchSession] = {}
        self._by_last_use: dict[int, FetchSession] = {}  # least recently used first
        self.partitions_cached = 0
        self.evictions = 0
        self._rng = rng or random.Random()

    def __len__(self) -> int:
        return len(self.sessions)

    def get(self, session_id: int) -> FetchSession | None:
        return self.sessions.get(session_id)

    def new_context(
        self,
        session_id: int,
        epoch: int,
        uses_topic_ids: bool,
        asked: Iterable[CachedPartition],
        forgotten: Iterable[PartitionKey],
        now_ms: int,
    ) -> FetchContext:
        """Kafka's FetchManager.newContext: a full fetch closes the session it names (and asks
        for a new one unless its epoch is final); an incremental one must name a cached
        session at its current epoch, then updates it and advances its epoch."""
        if epoch in (INITIAL_EPOCH, FINAL_EPOCH):
            if session_id != INVALID_SESSION_ID:
                self.remove(session_id)
            kind = FetchKind.SESSIONLESS if epoch == FINAL_EPOCH else FetchKind.FULL
            return FetchContext(kind)
        session = self.sessions.get(session_id)
        if session is None:
            return FetchContext(FetchKind.ERROR, FETCH_SESSION_ID_NOT_FOUND)
        if session.epoch != epoch:
            return FetchContext(FetchKind.ERROR, INVALID_FETCH_SESSION_EPOCH)
        if session.uses_topic_ids != uses_topic_ids:
            return FetchContext(FetchKind.ERROR, FETCH_SESSION_TOPIC_ID_ERROR)
        session.update(asked, forgotten)
        if not session.partitions:
            self.remove(session_id)
            return FetchContext(FetchKind.SESSIONLESS)
        self.touch(session, now_ms)
        session.epoch = next_epoch(session.epoch)
        return FetchContext(
            FetchKind.INCREMENTAL,
            session=session,
            expected_epoch=session.epoch,
            partitions=list(session.partitions.values()),
        )

    def maybe_create(
        self,
        now_ms: int,
        privileged: bool,
        uses_topic_ids: bool,
        size: int,
        partitions: Callable[[], list[CachedPartition]],
    ) -> int:
        """A new session of ``size`` partitions (made by ``partitions``, only if needed) for a
        full fetch, if a slot is free or can be freed; its id, or INVALID_SESSION_ID (the
        fetch stays sessionless)."""
        if len(self.sessions) >= self.max_entries and not self._try_evict(privileged, size, now_ms):
            return INVALID_SESSION_ID
        session_id = self._new_session_id()
        session = FetchSession(
            session_id,
            privileged,
            uses_topic_ids,
            {part.key(uses_topic_ids): part for part in partitions()},
            now_ms,
            now_ms,
        )
        self.sessions[session_id] = session
        metrics.fetch_session_created()
        self.touch(session, now_ms)
        return session_id

    def touch(self, session: FetchSession, now_ms: int) -> None:
        """The session was used now: most recently used, and its size counted again."""
        session.last_used_ms = now_ms
        self._by_last_use.pop(session.id, None)
        self._by_last_use[session.id] = session
        size = len(session.partitions)
        delta = size - session.cached_size
        session.cached_size = size
        self.partitions_cached += delta
        metrics.fetch_session_partitions(delta)

    def remove(self, session_id: int) -> FetchSession | None:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return None
        self._by_last_use.pop(session_id, None)
        self.partitions_cached -= session.cached_size
        metrics.fetch_session_removed(session.cached_size)
        return session

    def close(self) -> None:
        """Drop every session (the broker is gone)."""
        for session_id in list(self.sessions):
            self.remove(session_id)

    def _try_evict(self, privileged: bool, size: int, now_ms: int) -> bool:
        """Free a slot for a new session of ``size`` partitions: the least recently used
        session if idle past the eviction time, else the least valuable evictable session if
        the new one is worth at least as much ((privileged, size), then the id, which for
        the new session is 0)."""
        if not self._by_last_use:
            return False
        stalest = next(iter(self._by_last_use.values()))
        if now_ms - stalest.last_used_ms > self.eviction_ms:
            self._evict(stalest)
            return True
        candidates = (
            s
            for s in self.sessions.values()
            if s.evictable_by_all(self.eviction_ms) or (privileged and not s.privileged)
        )
        victim = min(candidates, key=_value, default=None)
        if victim is None or (privileged, size, INVALID_SESSION_ID) < _value(victim):
            return False
        self._evict(victim)
        return True

    def _evict(self, session: FetchSession) -> None:
        self.remove(session.id)
        self.evictions += 1
        metrics.fetch_session_evicted()

    def _new_session_id(self) -> int:
        while True:
            session_id = self._rng.randint(1, _MAX_SESSION_ID)
            if session_id not in self.sessions:
                return session_id


def _value(session: FetchSession) -> tuple[bool, int, int]:
    """Kafka's EvictableKey order: consumers' before followers', smaller before larger."""
    return (session.privileged, session.cached_size, session.id)
