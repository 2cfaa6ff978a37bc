"""The follower's side of a fetch session (KIP-227; Kafka's FetchSessionHandler) and the
Fetch requests it makes: what the leader's session holds, the id and epoch of the next fetch,
which partitions a fetch sends (all of them when full; only the new or changed ones when
incremental) and which it asks the leader to forget, built into a Fetch v12 request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from kio.schema.errors import ErrorCode
from kio.schema.fetch.v12 import request as fetch_v12
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i8, i32, i32Timedelta, i64

from odradek.common.ids import TopicPartition

INVALID_SESSION_ID = 0
INITIAL_EPOCH = 0  # a full fetch (with session id 0: asking for a new session)
_MAX_EPOCH = 2**31 - 1


@dataclass(frozen=True, slots=True)
class PartitionFetch:
    """What a fetch asks of one partition; the session has it until it changes."""

    offset: int
    log_start_offset: int
    leader_epoch: int
    max_bytes: int


@dataclass(slots=True)
class SessionRequest:
    """One fetch within the session: its id and epoch, the partitions to send and those to
    forget."""

    session_id: int
    epoch: int
    send: dict[TopicPartition, PartitionFetch]
    forget: list[TopicPartition]


@dataclass(slots=True)
class FetchSessionHandler:
    """The fetching side of a fetch session (Kafka's FetchSessionHandler): what the leader's
    session holds, and the id and epoch of the next fetch."""

    session_id: int = INVALID_SESSION_ID
    epoch: int = INITIAL_EPOCH
    partitions: dict[TopicPartition, PartitionFetch] = field(default_factory=dict)

    def build(self, wanted: dict[TopicPartition, PartitionFetch]) -> SessionRequest | None:
        """The next fetch of ``wanted`` (None: nothing to fetch or forget). A full fetch sends
        every partition; an incremental one those that are new or changed, and forgets those
        no longer wanted."""
        if self.epoch == INITIAL_EPOCH:
            if not wanted:
                return None
            send, forget = dict(wanted), []
        else:
            if not wanted and not self.partitions:
                return None
            known = self.partitions
            send = {tp: asked for tp, asked in wanted.items() if known.get(tp) != asked}
            forget = [tp for tp in known if tp not in wanted]
        self.partitions = dict(wanted)
        return SessionRequest(self.session_id, self.epoch, send, forget)

    def handle_response(self, error_code: int, session_id: int) -> bool:
        """Advance after a response; False when it had a top-level error (the next fetch is
        full: a new session, closing the old one unless the leader no longer knows it)."""
        if error_code != ErrorCode.none:
            if error_code == ErrorCode.fetch_session_id_not_found:
                self.session_id = INVALID_SESSION_ID
            self.epoch = INITIAL_EPOCH
            return False
        if self.epoch == INITIAL_EPOCH or session_id == INVALID_SESSION_ID:
            # A new session (epoch 1), or none: sessionless, or closed by the leader.
            self.session_id = session_id
            self.epoch = INITIAL_EPOCH if session_id == INVALID_SESSION_ID else 1
        else:
            self.epoch = 1 if self.epoch == _MAX_EPOCH else self.epoch + 1
        return True

    def handle_error(self) -> None:
        """The fetch failed (connection lost, timed out): the next one is full, closing the
        session it names."""
        self.epoch = INITIAL_EPOCH


def fetch_request(
    session: SessionRequest, replica_id: int, max_wait_ms: int, min_bytes: int, max_bytes: int
) -> fetch_v12.FetchRequest:
    """The Fetch a follower sends its leader for ``session``: the partitions it sends and
    forgets, with ``replica.fetch.wait.max.ms``, ``replica.fetch.min.bytes`` and
    ``replica.fetch.response.max.bytes``."""
    by_topic: dict[str, list[Any]] = {}
    for tp, asked in session.send.items():
        by_topic.setdefault(tp.topic, []).append(
            fetch_v12.FetchPartition(
                partition=i32(tp.partition),
                current_leader_epoch=i32(asked.leader_epoch),
                fetch_offset=i64(asked.offset),
                last_fetched_epoch=i32(-1),
                log_start_offset=i64(asked.log_start_offset),
                partition_max_bytes=i32(asked.max_bytes),
            )
        )
    forgotten: dict[str, list[i32]] = {}
    for tp in session.forget:
        forgotten.setdefault(tp.topic, []).append(i32(tp.partition))
    return fetch_v12.FetchRequest(
        cluster_id=None,
        replica_id=BrokerId(replica_id),
        max_wait=i32Timedelta.parse(timedelta(milliseconds=max_wait_ms)),
        min_bytes=i32(min_bytes),
        max_bytes=i32(max_bytes),
        isolation_level=i8(0),
        session_id=i32(session.session_id),
        session_epoch=i32(session.epoch),
        topics=tuple(
            fetch_v12.FetchTopic(topic=TopicName(t), partitions=tuple(ps))
            for t, ps in by_topic.items()
        ),
        forgotten_topics_data=tuple(
            fetch_v12.ForgottenTopic(topic=TopicName(t), partitions=tuple(ps))
            for t, ps in forgotten.items()
        ),
        rack_id="",
    )
