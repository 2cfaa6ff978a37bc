"""Fetch sessions (KIP-227): the session cache's rules (creation, epochs, errors, eviction,
what an incremental response lists), then the Fetch handler's use of them on an in-process
broker (v12 by topic name, v13 by topic id)."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kio.schema.errors import ErrorCode
from kio.schema.fetch.v12 import request as fetch_v12
from kio.schema.fetch.v13 import request as fetch_v13
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i32, i32Timedelta, i64

from odradek.cluster.admin_manager import TopicSpec
from odradek.common.ids import TopicPartition
from odradek.observability import metrics
from odradek.observability.prometheus import prometheus_families
from odradek.protocol import api_versions as keys
from odradek.protocol.codec import RequestHeader, encode_response
from odradek.protocol.records.codec import encode_batch
from odradek.security.client_quotas import ClientQuotaManager, QuotaType
from odradek.server.broker import BrokerServer
from odradek.server.fetch_sessions import (
    FETCH_SESSION_ID_NOT_FOUND,
    FETCH_SESSION_TOPIC_ID_ERROR,
    INVALID_FETCH_SESSION_EPOCH,
    INVALID_SESSION_ID,
    CachedPartition,
    FetchKind,
    FetchSessionCache,
    next_epoch,
)
from odradek.server.handlers.fetch import handle_fetch
from odradek.server.handlers.fetch_session import fetch_sessions
from odradek.server.request_context import ConnectionInfo, RequestContext
from odradek.testing import Broker

EVICTION_MS = 1000


def part(topic: str, partition: int, offset: int = 0) -> CachedPartition:
    return CachedPartition(TopicPartition(topic, partition), None, offset, 1024)


def parts(count: int, topic: str = "t") -> list[CachedPartition]:
    return [part(topic, p) for p in range(count)]


def create(
    cache: FetchSessionCache, now: int, size: int, privileged: bool = False, topic: str = "t"
) -> int:
    return cache.maybe_create(now, privileged, False, size, lambda: parts(size, topic))


@pytest.fixture
def cache() -> FetchSessionCache:
    return FetchSessionCache(3, EVICTION_MS, random.Random(7))


# -- the cache ----------------------------------------------------------------------------------


def test_a_full_fetch_opens_a_session_at_epoch_one(cache: FetchSessionCache) -> None:
    context = cache.new_context(0, 0, False, [], [], now_ms=0)
    assert context.kind is FetchKind.FULL
    session_id = create(cache, 0, 2)
    assert session_id != INVALID_SESSION_ID
    session = cache.get(session_id)
    assert session is not None and session.epoch == 1 and len(session.partitions) == 2


def test_an_incremental_fetch_updates_its_session_and_advances_the_epoch(
    cache: FetchSessionCache,
) -> None:
    session_id = create(cache, 0, 2)
    context = cache.new_context(session_id, 1, False, [part("t", 1, 50), part("u", 0)], [], 10)
    assert context.kind is FetchKind.INCREMENTAL and context.expected_epoch == 2
    session = cache.get(session_id)
    assert session is not None and session.epoch == 2
    assert [(p.tp, p.offset) for p in context.partitions] == [
        (TopicPartition("t", 0), 0),
        (TopicPartition("t", 1), 50),
        (TopicPartition("u", 0), 0),
    ]
    assert cache.partitions_cached == 3


def test_session_errors_leave_the_session_as_it_was(cache: FetchSessionCache) -> None:
    session_id = create(cache, 0, 2)
    unknown = cache.new_context(session_id + 1, 1, False, [], [], 0)
    assert (unknown.kind, unknown.error_code) == (FetchKind.ERROR, FETCH_SESSION_ID_NOT_FOUND)
    stale = cache.new_context(session_id, 5, False, [part("t", 0, 99)], [("t", 1)], 0)
    assert (stale.kind, stale.error_code) == (FetchKind.ERROR, INVALID_FETCH_SESSION_EPOCH)
    by_id = cache.new_context(session_id, 1, True, [], [], 0)
    assert by_id.error_code == FETCH_SESSION_TOPIC_ID_ERROR
    session = cache.get(session_id)
    assert session is not None and session.epoch == 1
    assert [p.offset for p in session.partitions.values()] == [0, 0]


def test_a_final_epoch_closes_the_session_named(cache: FetchSessionCache) -> None:
    session_id = create(cache, 0, 2)
    context = cache.new_context(session_id, -1, False, parts(2), [], 0)
    assert context.kind is FetchKind.SESSIONLESS
    assert cache.get(session_id) is None and cache.partitions_cached == 0


def test_a_full_fetch_naming_a_session_closes_it_and_asks_for_another(
    cache: FetchSessionCache,
) -> None:
    session_id = create(cache, 0, 2)
    assert cache.new_context(session_id, 0, False, [], [], 0).kind is FetchKind.FULL
    assert cache.get(session_id) is None


def test_forgetting_every_partition_ends_the_session(cache: FetchSessionCache) -> None:
    session_id = create(cache, 0, 2)
    context = cache.new_context(session_id, 1, False, [], [("t", 0)], 0)
    assert context.kind is FetchKind.INCREMENTAL
    assert [p.tp.partition for p in context.partitions] == [1]
    context = cache.new_context(session_id, 2, False, [], [("t", 1)], 0)
    assert context.kind is FetchKind.SESSIONLESS and cache.get(session_id) is None


def test_no_slots_no_sessions() -> None:
    cache = FetchSessionCache(0, EVICTION_MS)
    assert create(cache, 0, 5) == INVALID_SESSION_ID
    assert create(cache, 0, 5, privileged=True) == INVALID_SESSION_ID


def test_a_full_cache_keeps_young_sessions_from_consumers(cache: FetchSessionCache) -> None:
    ids = [create(cache, 0, 10) for _ in range(3)]
    assert create(cache, 100, 50) == INVALID_SESSION_ID
    assert cache.evictions == 0 and all(cache.get(i) is not None for i in ids)


def test_an_idle_session_is_evicted_first(cache: FetchSessionCache) -> None:
    first, second, third = (create(cache, t, 10) for t in (0, 1, 2))
    for session_id, epoch in ((first, 1), (third, 1)):  # the second one stays idle
        assert cache.new_context(session_id, epoch, False, [], [], 600).kind is (
            FetchKind.INCREMENTAL
        )
    assert create(cache, 1002, 1) != INVALID_SESSION_ID
    assert cache.get(second) is None and cache.evictions == 1
    assert cache.get(first) is not None and cache.get(third) is not None


def test_a_follower_evicts_the_smallest_young_consumer_session(cache: FetchSessionCache) -> None:
    large, small, medium = (create(cache, 0, n) for n in (30, 5, 10))
    assert create(cache, 10, 1, privileged=True) != INVALID_SESSION_ID
    assert cache.get(small) is None
    assert cache.get(large) is not None and cache.get(medium) is not None


def test_young_follower_sessions_are_not_evicted_by_anyone(cache: FetchSessionCache) -> None:
    for _ in range(3):
        create(cache, 0, 1, privileged=True)
    assert create(cache, 10, 100, privileged=True) == INVALID_SESSION_ID
    assert create(cache, 10, 100) == INVALID_SESSION_ID


def test_aged_sessions_give_way_to_more_valuable_ones(cache: FetchSessionCache) -> None:
    small, large, follower = (
        create(cache, 0, 5),
        create(cache, 0, 50),
        create(cache, 0, 1, privileged=True),
    )
    for session_id in (small, large, follower):  # used since, so not idle; but aged
        cache.new_context(session_id, 1, False, [], [], EVICTION_MS + 1)
    assert create(cache, EVICTION_MS + 2, 4) == INVALID_SESSION_ID  # smaller than all of them
    assert create(cache, EVICTION_MS + 2, 20) != INVALID_SESSION_ID
    assert cache.get(small) is None and cache.get(large) is not None
    assert cache.get(follower) is not None


def test_an_incremental_response_lists_only_what_changed() -> None:
    cached = part("t", 0)
    assert cached.must_respond(0, 0, 10, 10, 0)  # first sight of the offsets
    assert not cached.must_respond(0, 0, 10, 10, 0)
    assert cached.must_respond(100, 0, 10, 10, 0)  # records
    assert cached.must_respond(0, 0, 11, 10, 0)  # high watermark
    assert cached.must_respond(0, 0, 11, 11, 0)  # last stable offset
    assert cached.must_respond(0, 0, 11, 11, 3)  # log start offset
    assert not cached.must_respond(0, 0, 11, 11, 3)
    assert cached.must_respond(0, ErrorCode.not_leader_or_follower, -1, -1, -1)
    assert cached.must_respond(0, 0, 11, 11, 3)  # recovered: sent again


def test_a_partition_with_records_moves_to_the_end(cache: FetchSessionCache) -> None:
    session_id = create(cache, 0, 3)
    session = cache.get(session_id)
    assert session is not None
    session.rotate_to_end(session.partitions[("t", 0)])
    assert [key[1] for key in session.partitions] == [1, 2, 0]


def test_epochs_wrap_to_one_and_the_final_epoch_stays() -> None:
    assert next_epoch(0) == 1 and next_epoch(41) == 42
    assert next_epoch(2**31 - 1) == 1
    assert next_epoch(-1) == -1


def test_the_cache_gauges_follow_sessions_and_partitions() -> None:
    sessions, partitions = metrics.FETCH_SESSIONS.sessions, metrics.FETCH_SESSIONS.partitions
    cache = FetchSessionCache(5, EVICTION_MS)
    first = create(cache, 0, 4)
    second = create(cache, 0, 6)
    assert metrics.FETCH_SESSIONS.sessions - sessions == 2
    assert metrics.FETCH_SESSIONS.partitions - partitions == 10
    cache.new_context(first, 1, False, [part("u", 0)], [("t", 0), ("t", 1)], 1)
    assert metrics.FETCH_SESSIONS.partitions - partitions == 9
    cache.remove(second)
    assert metrics.FETCH_SESSIONS.sessions - sessions == 1
    cache.close()
    assert metrics.FETCH_SESSIONS.sessions == sessions
    assert metrics.FETCH_SESSIONS.partitions == partitions


# -- the Fetch handler --------------------------------------------------------------------------

BATCH = encode_batch([(b"k", b"v" * 100)])


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[BrokerServer]:
    async with Broker(data_dir=tmp_path / "data") as running:
        assert running.server is not None
        server = running.server
        await server.admin_manager.create_topic_async(TopicSpec("events", 3, 1), False)
        yield server


def ctx(version: int) -> RequestContext:
    return RequestContext(RequestHeader(keys.FETCH_KEY, version, 1, "test"), ConnectionInfo())


def request_v12(
    session_id: int, epoch: int, offsets: dict[int, int], forgotten: tuple[int, ...] = ()
) -> Any:
    return fetch_v12.FetchRequest(
        replica_id=BrokerId(-1),
        max_wait=i32Timedelta.parse(timedelta(0)),
        min_bytes=i32(1),
        session_id=i32(session_id),
        session_epoch=i32(epoch),
        topics=(
            fetch_v12.FetchTopic(
                topic=TopicName("events"),
                partitions=tuple(
                    fetch_v12.FetchPartition(
                        partition=i32(p), fetch_offset=i64(o), partition_max_bytes=i32(2**20)
                    )
                    for p, o in offsets.items()
                ),
            ),
        )
        if offsets
        else (),
        forgotten_topics_data=(
            (
                fetch_v12.ForgottenTopic(
                    topic=TopicName("events"), partitions=tuple(i32(p) for p in forgotten)
                ),
            )
            if forgotten
            else ()
        ),
    )


def request_v13(
    topic_id: uuid.UUID,
    session_id: int,
    epoch: int,
    offsets: dict[int, int],
    forgotten: tuple[int, ...] = (),
) -> Any:
    return fetch_v13.FetchRequest(
        replica_id=BrokerId(-1),
        max_wait=i32Timedelta.parse(timedelta(0)),
        min_bytes=i32(1),
        session_id=i32(session_id),
        session_epoch=i32(epoch),
        topics=(
            fetch_v13.FetchTopic(
                topic_id=topic_id,
                partitions=tuple(
                    fetch_v13.FetchPartition(
                        partition=i32(p), fetch_offset=i64(o), partition_max_bytes=i32(2**20)
                    )
                    for p, o in offsets.items()
                ),
            ),
        )
        if offsets
        else (),
        forgotten_topics_data=(
            (
                fetch_v13.ForgottenTopic(
                    topic_id=topic_id, partitions=tuple(i32(p) for p in forgotten)
                ),
            )
            if forgotten
            else ()
        ),
    )


def fetch(broker: BrokerServer, version: int, request: Any) -> Any:
    """The handler's response, checked to encode (as the connection would send it)."""
    response = handle_fetch(broker, ctx(version), request)
    assert encode_response(RequestHeader(keys.FETCH_KEY, version, 1, "test"), response)
    return response


def listed(response: Any) -> dict[int, tuple[int, int]]:
    """partition -> (high watermark, record bytes) of each partition the response lists."""
    return {
        p.partition_index: (p.high_watermark, len(p.records or b""))
        for topic in response.responses
        for p in topic.partitions
    }


def produce(broker: BrokerServer, partition: int) -> None:
    broker.replica_manager.append_records("events", partition, BATCH)


async def test_incremental_fetches_list_only_partitions_with_news(broker: BrokerServer) -> None:
    produce(broker, 0)
    full = fetch(broker, 12, request_v12(0, 0, {0: 0, 1: 0, 2: 0}))
    assert full.session_id != INVALID_SESSION_ID and full.error_code == ErrorCode.none
    assert listed(full) == {0: (1, len(BATCH)), 1: (0, 0), 2: (0, 0)}
    session_id = full.session_id
    quiet = fetch(broker, 12, request_v12(session_id, 1, {0: 1}))
    assert (quiet.session_id, listed(quiet)) == (session_id, {})
    produce(broker, 2)
    news = fetch(broker, 12, request_v12(session_id, 2, {}))
    assert listed(news) == {2: (1, len(BATCH))}
    # The session remembers partition 2's offset (0) until the fetcher says otherwise.
    again = fetch(broker, 12, request_v12(session_id, 3, {}))
    assert listed(again) == {2: (1, len(BATCH))}
    moved = fetch(broker, 12, request_v12(session_id, 4, {2: 1}))
    assert listed(moved) == {}


async def test_session_errors_on_the_wire(broker: BrokerServer) -> None:
    full = fetch(broker, 12, request_v12(0, 0, {0: 0}))
    session_id = full.session_id
    wrong = fetch(broker, 12, request_v12(session_id, 7, {}))
    assert (wrong.error_code, wrong.responses) == (ErrorCode.invalid_fetch_session_epoch, ())
    unknown = fetch(broker, 12, request_v12(session_id + 1, 1, {}))
    assert unknown.error_code == ErrorCode.fetch_session_id_not_found
    assert unknown.session_id == INVALID_SESSION_ID
    # Neither error advanced the session: epoch 1 is still the one expected.
    assert fetch(broker, 12, request_v12(session_id, 1, {})).error_code == 0
    closed = fetch(broker, 12, request_v12(session_id, -1, {0: 0}))
    assert closed.session_id == INVALID_SESSION_ID and listed(closed) == {0: (0, 0)}
    gone = fetch(broker, 12, request_v12(session_id, 2, {}))
    assert gone.error_code == ErrorCode.fetch_session_id_not_found


async def test_forgotten_partitions_leave_the_session(broker: BrokerServer) -> None:
    session_id = fetch(broker, 12, request_v12(0, 0, {0: 0, 1: 0})).session_id
    fetch(broker, 12, request_v12(session_id, 1, {}, forgotten=(0,)))
    produce(broker, 0)
    produce(broker, 1)
    response = fetch(broker, 12, request_v12(session_id, 2, {}))
    assert listed(response) == {1: (1, len(BATCH))}


async def test_sessions_by_topic_id(broker: BrokerServer) -> None:
    topic_id = broker.metadata_store.topics["events"].topic_id
    full = fetch(broker, 13, request_v13(topic_id, 0, 0, {0: 0, 1: 0}))
    session_id = full.session_id
    assert session_id != INVALID_SESSION_ID
    produce(broker, 1)
    news = fetch(broker, 13, request_v13(topic_id, session_id, 1, {}, (0,)))
    assert [t.topic_id for t in news.responses] == [topic_id]
    assert listed(news) == {1: (1, len(BATCH))}
    # A name-keyed (v12) request cannot continue a session keyed by topic id.
    mixed = fetch(broker, 12, request_v12(session_id, 2, {}))
    assert mixed.error_code == ErrorCode.fetch_session_topic_id_error
    await broker.admin_manager.delete_topic_async("events")
    deleted = fetch(broker, 13, request_v13(topic_id, session_id, 2, {}))
    assert [p.error_code for t in deleted.responses for p in t.partitions] == [
        ErrorCode.unknown_topic_id
    ]


async def test_a_throttled_fetch_sends_nothing_and_keeps_the_session(
    broker: BrokerServer,
) -> None:
    """Over its consumer_byte_rate a consumer gets an empty response (KIP-219): a full fetch
    opens no session, an incremental one keeps its session, and what it was not sent is
    sent once the quota allows."""
    session_id = fetch(broker, 12, request_v12(0, 0, {0: 0, 1: 0})).session_id
    produce(broker, 1)
    unlimited = broker.quotas.fetch
    broker.quotas.fetch = ClientQuotaManager(
        QuotaType.FETCH, lambda: {"clients/test": {"consumer_byte_rate": "1"}}
    )
    sessions = len(fetch_sessions(broker))
    throttled = fetch(broker, 12, request_v12(session_id, 1, {}))
    assert (throttled.session_id, throttled.responses) == (session_id, ())
    full = fetch(broker, 12, request_v12(0, 0, {1: 0}))
    assert (full.session_id, full.responses) == (INVALID_SESSION_ID, ())
    assert len(fetch_sessions(broker)) == sessions
    broker.quotas.fetch = unlimited
    after = fetch(broker, 12, request_v12(session_id, 2, {}))
    assert listed(after) == {1: (1, len(BATCH))}


async def test_a_disabled_cache_answers_sessionless(tmp_path: Path) -> None:
    overrides = {"max.incremental.fetch.session.cache.slots": "0"}
    async with Broker(data_dir=tmp_path / "data", overrides=overrides) as running:
        assert running.server is not None
        server = running.server
        await server.admin_manager.create_topic_async(TopicSpec("events", 1, 1), False)
        response = fetch(server, 12, request_v12(0, 0, {0: 0}))
        assert response.session_id == INVALID_SESSION_ID and listed(response) == {0: (0, 0)}
        assert len(fetch_sessions(server)) == 0


def test_the_cache_is_on_the_prometheus_endpoint() -> None:
    was = metrics.ENABLED
    metrics.enable()
    try:
        cache = FetchSessionCache(1, 0)
        create(cache, 0, 3)
        create(cache, 5, 3)  # the first one was idle past the eviction time
        metrics.fetch_kind(incremental=True)
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in prometheus_families()
            if family.name.startswith("kafka_server_fetchsessioncache_")
            for s in family.samples
        }
        prefix = "kafka_server_fetchsessioncache_"
        assert samples[(prefix + "numincrementalfetchsessions", ())] >= 1
        assert samples[(prefix + "numincrementalfetchpartitionscached", ())] >= 3
        assert samples[(prefix + "incrementalfetchsessionevictions_total", ())] >= 1
        assert samples[(prefix + "fetches_total", (("fetch", "incremental"),))] >= 1
        cache.close()
    finally:
        if not was:
            metrics.disable()
