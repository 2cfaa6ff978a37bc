"""A single node (no ``zookeeper.connect``): a cluster of one broker. It is its own
controller, the only replica and the leader of every partition it hosts (ISR = [itself]), and
its metadata (``LocalMetadataStore``) changes as soon as it is written. Its answers to the
controller's requests are those of a cluster where nothing can move."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kio.schema.errors import ErrorCode

from odradek.cluster.elections import ElectionResult
from odradek.common.ids import TopicPartition
from odradek.server.cluster_membership import BrokerEndpoint, TopicDescriber

if TYPE_CHECKING:
    from odradek.cluster.metadata import LocalMetadataStore, TopicMetadata
    from odradek.cluster.reassignment import OngoingReassignment
    from odradek.server.broker import BrokerServer
    from odradek.server.group_service import GroupService
    from odradek.server.txn_service import TxnService

NO_SUCH_PARTITION = "The partition does not exist."


class SingleNodeCluster:
    """``ClusterMembership`` for a broker that is the whole cluster."""

    def __init__(self, broker: BrokerServer, store: LocalMetadataStore) -> None:
        self.broker = broker
        self.store = store

    # -- lifecycle ---------------------------------------------------------------------------

    async def prepare(self) -> str:
        """The cluster id of the log dirs' meta.properties (a new one for new dirs)."""
        return self.broker.log_manager.startup(self.broker.node_id, None)

    async def start(self) -> None:
        """Nothing to join: the listeners being bound is all it takes."""

    async def controlled_shutdown(self) -> None:
        """No other broker to hand leaderships to."""

    async def stop(self) -> None:
        self.store.close()  # its writes under way finish; its writer thread ends

    def start_group_coordinator(self, groups: GroupService) -> None:
        groups.load_all()  # it leads every __consumer_offsets partition from the start

    def start_txn_coordinator(self, txns: TxnService) -> None:
        txns.load_all()

    # -- metadata ----------------------------------------------------------------------------

    def broker_endpoints(self, listener_name: str) -> list[BrokerEndpoint]:
        own = self.broker.endpoint_for(listener_name)
        return [] if own is None else [BrokerEndpoint(self.broker.node_id, *own, self.broker.rack)]

    def broker_endpoint(self, broker_id: int, listener_name: str) -> tuple[str, int] | None:
        """Itself, on ``listener_name`` or, to a client of a listener it does not advertise,
        at its first advertised address."""
        if broker_id != self.broker.node_id:
            return None
        return self.broker.endpoint_for(listener_name) or self.broker.advertised_endpoint

    def leader_of(self, tp: TopicPartition) -> int:
        return self.broker.node_id

    def controller_id(self) -> int:
        return self.broker.node_id

    def known_leader(self, tp: TopicPartition) -> tuple[int, int] | None:
        """None: it leads every partition it has, so it names no other leader."""
        return None

    def describe_topic(self, describer: TopicDescriber, topic: TopicMetadata) -> Any:
        return describer.hosted_topic(topic)

    async def wait_for_metadata(self, ready: Callable[[], bool], timeout_s: float) -> None:
        """Its metadata shows a change once written: nothing to wait for."""

    # -- replication -------------------------------------------------------------------------

    def is_follower(self, replica_id: int) -> bool:
        """No broker follows it: a fetch with a replica id is read like a consumer's."""
        return False

    def on_follower_fetch(self, tp: TopicPartition, replica: int, fetch_offset: int) -> None:
        """Nothing to track: its ISR is itself alone."""

    # -- the controller's requests -----------------------------------------------------------

    def _known(self, tp: TopicPartition) -> bool:
        topic = self.store.topics.get(tp.topic)
        return topic is not None and 0 <= tp.partition < topic.partitions

    async def elect_leaders(
        self, wanted: list[TopicPartition] | None, unclean: bool
    ) -> list[ElectionResult]:
        """Its only replica is always the preferred leader and in the ISR: no election is
        needed for any partition it has."""
        partitions = (
            wanted
            if wanted is not None
            else [
                TopicPartition(t.name, p)
                for t in self.store.topics.values()
                for p in range(t.partitions)
            ]
        )
        return [
            ElectionResult(
                tp, ErrorCode.election_not_needed, "Leader election not needed for topic partition."
            )
            if self._known(tp)
            else ElectionResult(tp, ErrorCode.unknown_topic_or_partition, NO_SUCH_PARTITION)
            for tp in partitions
        ]

    async def alter_reassignments(
        self, wanted: Mapping[TopicPartition, list[int] | None]
    ) -> dict[TopicPartition, tuple[ErrorCode, str | None]]:
        """Only a reassignment to itself is valid (and changes nothing); none is ever under
        way to cancel."""
        node = self.broker.node_id
        results: dict[TopicPartition, tuple[ErrorCode, str | None]] = {}
        for tp, replicas in wanted.items():
            if not self._known(tp):
                results[tp] = (ErrorCode.unknown_topic_or_partition, NO_SUCH_PARTITION)
            elif replicas is None:
                results[tp] = (
                    ErrorCode.no_reassignment_in_progress,
                    f"No reassignment in progress for {tp}.",
                )
            elif replicas != [node]:
                results[tp] = (
                    ErrorCode.invalid_replica_assignment,
                    f"Unknown broker(s) in replica assignment: "
                    f"{[r for r in replicas if r != node]}.",
                )
            else:
                results[tp] = (ErrorCode.none, None)
        return results

    async def list_reassignments(
        self, wanted: list[TopicPartition] | None
    ) -> list[OngoingReassignment]:
        return []

    # -- what the metrics view reads ---------------------------------------------------------

    def offline_partition_count(self) -> int:
        """The partitions whose log it does not host (their log dir is offline). A topic
        whose partitions are all hosted is told from the log manager's per-topic tally, so
        that only the others are looked up partition by partition."""
        manager = self.broker.log_manager
        logs, hosted = manager.logs, manager.hosted
        offline = 0
        for topic in self.store.topics.values():
            count = topic.partitions
            if hosted.get(topic.name) != (count, count * (count - 1) // 2):
                offline += sum(
                    1
                    for partition in range(count)
                    if TopicPartition(topic.name, partition) not in logs
                )
        return offline

    def under_replicated_count(self) -> int:
        return 0  # every partition's only replica, and in its ISR

    def under_min_isr_count(self) -> int:
        return 0

    def leader_count(self) -> int:
        return len(self.broker.log_manager.logs)

    def is_active_controller(self) -> bool:
        return True

    def not_ready_reason(self) -> str | None:
        return None

    def stopping_reason(self) -> str:
        return "shutting down"
