"""Followers fetching from leaders (Kafka's ReplicaFetcherManager / ReplicaFetcherThread).

Per leader broker there are ``num.replica.fetchers`` fetchers, each an asyncio task with one
connection; a partition goes to fetcher ``hash(tp) % num.replica.fetchers`` of its leader.
A partition first truncates (OffsetForLeaderEpoch: keep only what the leader has for our
latest epoch), then fetches from its log end offset; fetched batches are appended as they
are and the follower's high watermark follows the leader's.

Each fetcher keeps a fetch session (KIP-227) with its leader: after the first full fetch it
sends only the partitions whose fetch position changed (and forgets those it stopped
fetching); the leader answers only partitions with news. A session error, a lost connection
or a leader without a free session slot starts over with a full fetch. The session and the
Fetch requests it makes are :mod:`odradek.cluster.replica_fetch_session`; this module applies
the responses (appends, the high watermark, truncation)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode
from kio.schema.list_offsets.v7 import request as list_offsets_v7
from kio.schema.offset_for_leader_epoch.v4 import request as epoch_v4
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i8, i32, i64

from odradek.cluster.broker_client import BrokerClient, BrokerConnectionError
from odradek.cluster.replica_fetch_session import FetchSessionHandler, PartitionFetch, fetch_request
from odradek.common.errors import CorruptRecordError, KafkaError
from odradek.common.ids import TopicPartition
from odradek.protocol.records.batch import HEADER_SIZE, read_header, validate_batches
from odradek.storage.log import Log

if TYPE_CHECKING:
    from odradek.config.broker import BrokerConfig
    from odradek.security.inter_broker import InterBrokerSecurity

log = logging.getLogger(__name__)

EARLIEST_TIMESTAMP = -2
UNDEFINED_EPOCH = -1
_AUTHORIZATION_ERRORS = frozenset(
    {ErrorCode.topic_authorization_failed, ErrorCode.cluster_authorization_failed}
)
_AUTHORIZATION_HINT = (
    " (a follower needs CLUSTER_ACTION on the cluster: is this broker's principal in the"
    " leader's super.users, or granted it by an ACL?)"
)


@dataclass(slots=True, eq=False)
class FetchState:
    leader_epoch: int
    truncating: bool = True
    paused_until: float = 0.0


def whole_batches(records: bytes) -> bytes:
    """Cut a fetched chunk after its last complete batch."""
    position = 0
    total = len(records)
    while total - position >= HEADER_SIZE:
        size = read_header(records, position).size
        if size < HEADER_SIZE:
            raise CorruptRecordError(f"record batch size {size} is below the minimum")
        if position + size > total:
            break
        position += size
    return records if position == total else records[:position]


class ReplicaFetcher:
    def __init__(self, manager: ReplicaFetcherManager, leader: int, index: int) -> None:
        self.manager = manager
        self.leader = leader
        self.index = index
        self.partitions: dict[TopicPartition, FetchState] = {}
        self._wakeup = asyncio.Event()
        self._client: BrokerClient | None = None
        self._endpoint: tuple[str, int] | None = None
        self._stopped = False
        self._warned: set[tuple[TopicPartition, ErrorCode]] = set()  # logged, not yet cleared
        self.session = FetchSessionHandler()
        self.task = asyncio.get_running_loop().create_task(self._run())

    def add(self, tp: TopicPartition, leader_epoch: int) -> None:
        self.partitions[tp] = FetchState(leader_epoch)
        self._wakeup.set()

    def remove(self, tp: TopicPartition) -> None:
        self.partitions.pop(tp, None)
        self._forget_errors(tp)

    def stop(self) -> None:
        # Python 3.11's asyncio.wait_for can swallow a cancellation that arrives as its inner
        # call fails (a refused connection): the loop also checks this flag.
        self._stopped = True
        self.task.cancel()
        if self._client is not None:
            self._client.close()

    def _connection(self) -> BrokerClient | None:
        endpoint = self.manager.endpoint_of(self.leader)
        if endpoint is None:
            return None
        if self._client is None or self._endpoint != endpoint:
            if self._client is not None:
                self._client.close()
            self._endpoint = endpoint
            self._client = BrokerClient(
                endpoint[0],
                endpoint[1],
                f"broker-{self.manager.local_id}-fetcher-{self.index}",
                self.manager.socket_timeout_s,
                self.manager.security,
            )
        return self._client

    async def _run(self) -> None:
        backoff = self.manager.config_int("replica.fetch.backoff.ms") / 1000
        while not self._stopped:
            if not self.partitions:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            client = self._connection()
            if client is None:
                await asyncio.sleep(backoff)
                continue
            try:
                truncating = [tp for tp, st in self.partitions.items() if st.truncating]
                if truncating:
                    await self._truncate(client, truncating)
                if any(not st.truncating for st in self.partitions.values()):
                    await self._fetch(client)
            except BrokerConnectionError as exc:
                log.info("fetching from broker %d: %s", self.leader, exc)
                await asyncio.sleep(backoff)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("replica fetcher for broker %d failed", self.leader)
                await asyncio.sleep(backoff)

    # -- truncation -------------------------------------------------------------------------

    async def _truncate(self, client: BrokerClient, tps: list[TopicPartition]) -> None:
        by_topic: dict[str, list[Any]] = {}
        logs: dict[TopicPartition, Log] = {}
        asked: dict[TopicPartition, FetchState] = {}
        for tp in tps:
            log_obj = self.manager.log_of(tp)
            state = self.partitions.get(tp)
            if log_obj is None or state is None:
                self.partitions.pop(tp, None)
                continue
            logs[tp] = log_obj
            asked[tp] = state
            by_topic.setdefault(tp.topic, []).append(
                epoch_v4.OffsetForLeaderPartition(
                    partition=i32(tp.partition),
                    current_leader_epoch=i32(state.leader_epoch),
                    leader_epoch=i32(log_obj.epoch_cache.latest_epoch),
                )
            )
        if not by_topic:
            return
        request = epoch_v4.OffsetForLeaderEpochRequest(
            replica_id=BrokerId(self.manager.local_id),
            topics=tuple(
                epoch_v4.OffsetForLeaderTopic(topic=TopicName(t), partitions=tuple(ps))
                for t, ps in by_topic.items()
            ),
        )
        response = await client.request(request)
        for topic in response.topics:
            for item in topic.partitions:
                tp = TopicPartition(topic.topic, item.partition)
                state = self.partitions.get(tp)
                log_obj = logs.get(tp)
                if state is None or log_obj is None or asked.get(tp) is not state:
                    continue
                if item.error_code != ErrorCode.none:
                    self._on_partition_error(tp, state, item.error_code)
                    continue
                done = self._truncate_to_leader(log_obj, item.leader_epoch, item.end_offset)
                state.truncating = not done

    @staticmethod
    def _truncate_to_leader(log_obj: Log, leader_epoch: int, end_offset: int) -> bool:
        """KIP-101/279 (Kafka's getOffsetTruncationState): keep what we share with the leader
        of the latest epoch both know. True when done; False when the leader answered an
        epoch we lack: we cut to the end of our largest smaller epoch and ask again."""
        done = True
        if end_offset < 0:
            offset = log_obj.high_watermark
        elif leader_epoch == UNDEFINED_EPOCH:
            offset = end_offset
        else:
            local_epoch, local_end = log_obj.epoch_cache.end_offset_for(
                leader_epoch, log_obj.log_end_offset
            )
            if local_end < 0:
                offset = log_obj.high_watermark
            elif local_epoch != leader_epoch:
                offset, done = local_end, False
            else:
                offset = min(local_end, end_offset)
        offset = max(0, min(offset, log_obj.log_end_offset))
        if offset < log_obj.log_end_offset:
            log.info(
                "%s: truncating from %d to %d (leader epoch %d ends at %d)",
                log_obj.tp,
                log_obj.log_end_offset,
                offset,
                leader_epoch,
                end_offset,
            )
            log_obj.truncate_to(offset)
        return done

    # -- fetching ---------------------------------------------------------------------------

    async def _fetch(self, client: BrokerClient) -> None:
        manager = self.manager
        now = asyncio.get_running_loop().time()
        max_bytes = manager.config_int("replica.fetch.max.bytes")
        wanted: dict[TopicPartition, PartitionFetch] = {}
        sent: dict[TopicPartition, tuple[FetchState, int]] = {}
        for tp, state in list(self.partitions.items()):
            if state.truncating or state.paused_until > now:
                continue
            log_obj = manager.log_of(tp)
            if log_obj is None:
                self.partitions.pop(tp, None)
                continue
            sent[tp] = (state, log_obj.log_end_offset)
            wanted[tp] = PartitionFetch(
                log_obj.log_end_offset, log_obj.log_start_offset, state.leader_epoch, max_bytes
            )
        session = self.session.build(wanted)
        if session is None:
            await asyncio.sleep(0.05)
            return
        request = fetch_request(
            session,
            manager.local_id,
            manager.config_int("replica.fetch.wait.max.ms"),
            manager.config_int("replica.fetch.min.bytes"),
            manager.config_int("replica.fetch.response.max.bytes"),
        )
        wait_s = manager.config_int("replica.fetch.wait.max.ms") / 1000
        try:
            response = await client.request(request, timeout_s=manager.socket_timeout_s + wait_s)
        except BaseException:
            self.session.handle_error()
            raise
        if not self.session.handle_response(response.error_code, response.session_id):
            log.info(
                "fetch session %d with broker %d: %s; fetching in full",
                session.session_id,
                self.leader,
                ErrorCode(response.error_code).name.upper(),
            )
            return
        for topic in response.responses:
            for data in topic.partitions:
                tp = TopicPartition(topic.topic, data.partition_index)
                current = self.partitions.get(tp)
                log_obj = manager.log_of(tp)
                if (
                    current is None
                    or log_obj is None
                    or sent.get(tp) != (current, log_obj.log_end_offset)
                ):
                    continue  # removed, or its role changed while the fetch was in flight
                state = current
                if data.error_code == ErrorCode.offset_out_of_range:
                    await self._out_of_range(client, tp, state, log_obj)
                    continue
                if data.error_code != ErrorCode.none:
                    self._on_partition_error(tp, state, data.error_code)
                    continue
                if self._warned:
                    self._forget_errors(tp)
                self._append(log_obj, data)

    def _append(self, log_obj: Log, data: Any) -> None:
        try:
            records = whole_batches(bytes(data.records or b""))
        except KafkaError as exc:
            log.error("%s: corrupt data from leader %d: %s", log_obj.tp, self.leader, exc)
            return
        if records:
            try:
                validated = validate_batches(records, 2**31 - 1)
            except KafkaError as exc:
                log.error("%s: corrupt data from leader %d: %s", log_obj.tp, self.leader, exc)
                return
            log_obj.append_as_follower(records, validated)
        log_obj.maybe_increment_high_watermark(int(data.high_watermark))
        leader_start = int(data.log_start_offset)
        if leader_start > log_obj.log_start_offset and leader_start <= log_obj.high_watermark:
            log_obj.delete_records_before(leader_start)

    async def _out_of_range(
        self, client: BrokerClient, tp: TopicPartition, state: FetchState, log_obj: Log
    ) -> None:
        """Our log end is outside the leader's log: past its end, truncate (via epochs);
        below its start, start over at the leader's log start offset."""
        request = list_offsets_v7.ListOffsetsRequest(
            replica_id=BrokerId(self.manager.local_id),
            isolation_level=i8(0),
            topics=(
                list_offsets_v7.ListOffsetsTopic(
                    name=TopicName(tp.topic),
                    partitions=(
                        list_offsets_v7.ListOffsetsPartition(
                            partition_index=i32(tp.partition),
                            current_leader_epoch=i32(state.leader_epoch),
                            timestamp=i64(EARLIEST_TIMESTAMP),
                        ),
                    ),
                ),
            ),
        )
        response = await client.request(request)
        item = response.topics[0].partitions[0]
        if item.error_code != ErrorCode.none:
            self._on_partition_error(tp, state, item.error_code)
            return
        leader_start = int(item.offset)
        if log_obj.log_end_offset < leader_start:
            log.info("%s: below the leader's log start %d; starting over there", tp, leader_start)
            log_obj.truncate_fully_and_start_at(leader_start)
        else:
            state.truncating = True

    def _on_partition_error(self, tp: TopicPartition, state: FetchState, code: int) -> None:
        """Retry after the backoff. A retriable error is expected (leadership moved, metadata
        behind: the manager is told the new state by the metadata watch); any other one (an
        authorization failure: this broker lacks CLUSTER_ACTION) keeps the partition out of
        the ISR, so it is logged at WARNING, once per partition and error until a fetch of
        the partition succeeds."""
        backoff_ms = self.manager.config_int("replica.fetch.backoff.ms")
        state.paused_until = asyncio.get_running_loop().time() + backoff_ms / 1000
        error = ErrorCode(code)
        if error in (ErrorCode.fenced_leader_epoch, ErrorCode.not_leader_or_follower):
            state.truncating = True
        if error.retriable:
            log.debug("%s: fetch from %d answered %s", tp, self.leader, error.name)
            return
        if (tp, error) in self._warned:
            return
        self._warned.add((tp, error))
        log.warning(
            "%s: the leader (broker %d) answered this follower's fetch with %s%s; retrying"
            " every %d ms",
            tp,
            self.leader,
            error.name.upper(),
            _AUTHORIZATION_HINT if error in _AUTHORIZATION_ERRORS else "",
            backoff_ms,
        )

    def _forget_errors(self, tp: TopicPartition) -> None:
        """The partition fetched again (or left this fetcher): log its next error again."""
        self._warned = {warned for warned in self._warned if warned[0] != tp}


class ReplicaFetcherManager:
    def __init__(
        self,
        local_id: int,
        config: BrokerConfig,
        log_of: Callable[[TopicPartition], Log | None],
        endpoint_of: Callable[[int], tuple[str, int] | None],
        security: InterBrokerSecurity | None = None,
    ) -> None:
        """``endpoint_of``: a broker's inter-broker address; ``security``: how to connect
        there (None: PLAINTEXT)."""
        self.local_id = local_id
        self.config = config
        self.log_of = log_of
        self.endpoint_of = endpoint_of
        self.security = security
        self.socket_timeout_s = int(config.get("replica.socket.timeout.ms")) / 1000
        self.fetchers: dict[tuple[int, int], ReplicaFetcher] = {}
        self.assigned: dict[TopicPartition, tuple[int, int]] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    def config_int(self, name: str) -> int:
        return int(self.config.get(name))

    def add(self, tp: TopicPartition, leader: int, leader_epoch: int) -> None:
        self.remove(tp)
        count = max(1, self.config_int("num.replica.fetchers"))
        key = (leader, hash(tp) % count)
        fetcher = self.fetchers.get(key)
        if fetcher is None:
            fetcher = self.fetchers[key] = ReplicaFetcher(self, leader, key[1])
        fetcher.add(tp, leader_epoch)
        self.assigned[tp] = key

    def remove(self, tp: TopicPartition) -> None:
        key = self.assigned.pop(tp, None)
        if key is None:
            return
        fetcher = self.fetchers.get(key)
        if fetcher is not None:
            fetcher.remove(tp)
            if not fetcher.partitions:
                fetcher.stop()
                del self.fetchers[key]
                # Keep the cancelled task referenced until it has finished.
                self._stopping.add(fetcher.task)
                fetcher.task.add_done_callback(self._stopping.discard)

    async def stop(self) -> None:
        fetchers = list(self.fetchers.values())
        for fetcher in fetchers:
            fetcher.stop()
        self.fetchers.clear()
        self.assigned.clear()
        await asyncio.gather(*(f.task for f in fetchers), return_exceptions=True)
