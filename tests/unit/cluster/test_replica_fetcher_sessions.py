"""The follower's side of a fetch session (FetchSessionHandler): a full fetch first, then
only changed partitions and forgotten ones, at the next epoch; errors start over in full.
The last test plays the follower against the broker's session cache."""

from __future__ import annotations

from functools import partial

from kio.schema.errors import ErrorCode

from odradek.cluster.replica_fetch_session import FetchSessionHandler, PartitionFetch
from odradek.common.ids import TopicPartition
from odradek.server.fetch_sessions import CachedPartition, FetchKind, FetchSessionCache

TP0, TP1, TP2 = (TopicPartition("t", p) for p in range(3))
SESSION = 1234


def at(offset: int) -> PartitionFetch:
    return PartitionFetch(offset, 0, 5, 1024)


def test_a_full_fetch_then_only_what_changed() -> None:
    handler = FetchSessionHandler()
    full = handler.build({TP0: at(0), TP1: at(0)})
    assert full is not None and (full.session_id, full.epoch) == (0, 0)
    assert set(full.send) == {TP0, TP1} and full.forget == []
    assert handler.handle_response(ErrorCode.none, SESSION)
    incremental = handler.build({TP0: at(10), TP1: at(0), TP2: at(0)})
    assert incremental is not None and (incremental.session_id, incremental.epoch) == (SESSION, 1)
    assert set(incremental.send) == {TP0, TP2} and incremental.forget == []
    assert handler.handle_response(ErrorCode.none, SESSION)
    forgetting = handler.build({TP0: at(10), TP2: at(0)})
    assert forgetting is not None and forgetting.epoch == 2
    assert forgetting.send == {} and forgetting.forget == [TP1]


def test_nothing_to_fetch_sends_nothing() -> None:
    handler = FetchSessionHandler()
    assert handler.build({}) is None
    handler.build({TP0: at(0)})
    handler.handle_response(ErrorCode.none, SESSION)
    last = handler.build({})  # the session's last partition is forgotten
    assert last is not None and last.forget == [TP0]
    handler.handle_response(ErrorCode.none, 0)  # the leader closed the empty session
    assert (handler.session_id, handler.epoch) == (0, 0)
    assert handler.build({}) is None


def test_session_errors_start_over_in_full() -> None:
    handler = FetchSessionHandler()
    handler.build({TP0: at(0)})
    handler.handle_response(ErrorCode.none, SESSION)
    handler.build({TP0: at(0)})
    assert not handler.handle_response(ErrorCode.invalid_fetch_session_epoch, SESSION)
    retry = handler.build({TP0: at(0)})
    # Full, naming the old session so the leader closes it.
    assert retry is not None and (retry.session_id, retry.epoch) == (SESSION, 0)
    assert set(retry.send) == {TP0}
    assert not handler.handle_response(ErrorCode.fetch_session_id_not_found, 0)
    assert (handler.session_id, handler.epoch) == (0, 0)
    handler.handle_response(ErrorCode.none, SESSION + 1)
    handler.handle_error()  # the connection dropped
    assert (handler.session_id, handler.epoch) == (SESSION + 1, 0)


def test_a_leader_without_a_slot_keeps_the_follower_in_full_fetches() -> None:
    handler = FetchSessionHandler()
    handler.build({TP0: at(0)})
    assert handler.handle_response(ErrorCode.none, 0)
    again = handler.build({TP0: at(0)})
    assert again is not None and (again.epoch, set(again.send)) == (0, {TP0})


def test_the_follower_and_the_broker_cache_agree() -> None:
    handler = FetchSessionHandler()
    cache = FetchSessionCache(10, 1000)
    offsets = {TP0: 0, TP1: 0, TP2: 0}
    for step in range(6):
        request = handler.build({tp: at(o) for tp, o in offsets.items()})
        assert request is not None
        asked = [CachedPartition(tp, None, a.offset, a.max_bytes) for tp, a in request.send.items()]
        forgotten = [(tp.topic, tp.partition) for tp in request.forget]
        context = cache.new_context(
            request.session_id, request.epoch, False, asked, forgotten, step
        )
        if context.kind is FetchKind.FULL:
            session_id = cache.maybe_create(step, True, False, len(asked), partial(list, asked))
        else:
            assert context.kind is FetchKind.INCREMENTAL and context.session is not None
            session_id = context.session.id
            assert {p.tp: p.offset for p in context.partitions} == offsets
        assert handler.handle_response(ErrorCode.none, session_id)
        offsets[TP1] += 1  # the follower appended what it fetched of t-1
        if step == 3:
            del offsets[TP2]  # no longer followed from this leader
    assert len(cache) == 1
