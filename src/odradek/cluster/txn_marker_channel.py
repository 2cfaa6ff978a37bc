"""Delivering transaction markers in a cluster (Kafka's TransactionMarkerChannelManager).

When a transaction commits or aborts, its coordinator has a COMMIT or ABORT marker written to
every partition of the transaction. Partitions led by this broker are written locally and
count once their in-sync replicas have the marker; the others go to their leaders as
WriteTxnMarkers requests over a broker-to-broker connection, one per leader. A partition
whose leader is unknown or unreachable, or that answers a retriable error, is retried (the
leader may be moving) until every marker is written or its topic is gone; then the
coordinator is called back with each partition's result."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from kio.schema.errors import ErrorCode
from kio.schema.types import ProducerId, TopicName
from kio.schema.write_txn_markers.v1 import request as markers_v1
from kio.static.primitive import i16, i32

from odradek.cluster.broker_client import BrokerClient, BrokerConnectionError
from odradek.cluster.replica_manager import ReplicaManager
from odradek.common.errors import NotEnoughReplicasAfterAppendError
from odradek.common.ids import TopicPartition
from odradek.common.writes import PendingWrites
from odradek.security.inter_broker import InterBrokerSecurity

log = logging.getLogger(__name__)

MARKER_ATTEMPTS = 120
MARKER_RETRY_S = 0.5
LOCAL_REPLICATION_TIMEOUT_S = MARKER_RETRY_S * 20

Results = dict[TopicPartition, ErrorCode]
# Write markers to partitions led here, adding the writes to be replicated.
LocalMarkerWriter = Callable[[int, int, bool, list[TopicPartition], PendingWrites], Results]


class TransactionMarkerChannelManager:
    def __init__(
        self,
        node_id: int,
        replica_manager: ReplicaManager,
        topic_exists: Callable[[str], bool],
        leader_of: Callable[[TopicPartition], int],
        endpoint_of: Callable[[int], tuple[str, int] | None],
        write_local: LocalMarkerWriter,
        security: InterBrokerSecurity | None = None,
    ) -> None:
        """``endpoint_of``: a broker's inter-broker address; ``security``: how to connect
        there (None: PLAINTEXT)."""
        self.node_id = node_id
        self.replica_manager = replica_manager
        self.topic_exists = topic_exists
        self.leader_of = leader_of
        self.endpoint_of = endpoint_of
        self.write_local = write_local
        self.security = security
        self._clients: dict[int, BrokerClient] = {}
        self._sends: set[asyncio.Task[None]] = set()
        self._stopped = False

    def send(
        self,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        partitions: Iterable[TopicPartition],
        on_done: Callable[[Results], None],
    ) -> None:
        task = asyncio.get_running_loop().create_task(
            self._send(producer_id, producer_epoch, commit, list(partitions), on_done)
        )
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(
        self,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        partitions: list[TopicPartition],
        on_done: Callable[[Results], None],
    ) -> None:
        results: Results = {}
        pending = list(partitions)
        for _attempt in range(MARKER_ATTEMPTS):
            if self._stopped:  # Python 3.11's wait_for can swallow the stop's cancellation
                return
            by_leader: dict[int, list[TopicPartition]] = {}
            for tp in pending:
                if not self.topic_exists(tp.topic):
                    results[tp] = ErrorCode.unknown_topic_or_partition
                    continue
                by_leader.setdefault(self.leader_of(tp), []).append(tp)
            pending = []
            for leader, tps in by_leader.items():
                if leader == self.node_id:
                    outcome = await self._write_local(producer_id, producer_epoch, commit, tps)
                elif leader < 0:
                    outcome = dict.fromkeys(tps, ErrorCode.leader_not_available)
                else:
                    outcome = await self._write_remote(
                        leader, producer_id, producer_epoch, commit, tps
                    )
                for tp, code in outcome.items():
                    results[tp] = code
                    if code not in (ErrorCode.none, ErrorCode.unknown_topic_or_partition):
                        pending.append(tp)
            if not pending:
                break
            await asyncio.sleep(MARKER_RETRY_S)
        on_done(results)

    async def _write_local(
        self, producer_id: int, producer_epoch: int, commit: bool, tps: list[TopicPartition]
    ) -> Results:
        """Local markers count once the partition's ISR has them."""
        writes = PendingWrites()
        results = self.write_local(producer_id, producer_epoch, commit, tps, writes)
        if writes:
            replicated = await self.replica_manager.wait_for_isr(
                writes.offsets(), LOCAL_REPLICATION_TIMEOUT_S
            )
            for tp, error in replicated.items():
                if error is not None and not isinstance(error, NotEnoughReplicasAfterAppendError):
                    results[tp] = ErrorCode.request_timed_out
        return results

    async def _write_remote(
        self,
        leader: int,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        tps: list[TopicPartition],
    ) -> Results:
        endpoint = self.endpoint_of(leader)
        if endpoint is None:
            return dict.fromkeys(tps, ErrorCode.leader_not_available)
        client = self._clients.get(leader)
        if client is None or (client.host, client.port) != endpoint:
            if client is not None:
                client.close()
            client = self._clients[leader] = BrokerClient(
                endpoint[0],
                endpoint[1],
                f"broker-{self.node_id}-txn-markers",
                security=self.security,
            )
        by_topic: dict[str, list[int]] = {}
        for tp in tps:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        request = markers_v1.WriteTxnMarkersRequest(
            markers=(
                markers_v1.WritableTxnMarker(
                    producer_id=ProducerId(producer_id),
                    producer_epoch=i16(producer_epoch),
                    transaction_result=commit,
                    coordinator_epoch=i32(0),
                    topics=tuple(
                        markers_v1.WritableTxnMarkerTopic(
                            name=TopicName(name), partition_indexes=tuple(i32(p) for p in ps)
                        )
                        for name, ps in by_topic.items()
                    ),
                ),
            )
        )
        try:
            response = await client.request(request, timeout_s=30.0)
        except BrokerConnectionError as exc:
            log.info("sending transaction markers to broker %d: %s", leader, exc)
            return dict.fromkeys(tps, ErrorCode.network_exception)
        outcome: Results = {}
        for marker in response.markers:
            for topic in marker.topics:
                for part in topic.partitions:
                    outcome[TopicPartition(topic.name, part.partition_index)] = ErrorCode(
                        part.error_code
                    )
        return {tp: outcome.get(tp, ErrorCode.unknown_server_error) for tp in tps}

    async def stop(self) -> None:
        self._stopped = True
        for client in self._clients.values():
            client.close()
        for task in self._sends:
            task.cancel()
        for task in list(self._sends):
            with contextlib.suppress(asyncio.CancelledError):
                await task
