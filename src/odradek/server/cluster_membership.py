"""The seam between a broker and its cluster: what request handlers, the coordinators and the
metrics view need to know about the other brokers, the controller and the partition states.

Two implementations, one chosen where the broker is built (``BrokerServer.__init__``): a
single node (``server/single_node.py``) is a cluster of one broker, its own controller and
the leader of every partition it hosts, whose metadata changes are visible at once; with
``zookeeper.connect`` set, ``server/cluster_service.py`` registers the broker in ZooKeeper
and follows the controller's partition states. Nothing else asks which of the two it is."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from kio.schema.errors import ErrorCode

    from odradek.cluster.elections import ElectionResult
    from odradek.cluster.metadata import TopicMetadata
    from odradek.cluster.reassignment import OngoingReassignment
    from odradek.common.ids import TopicPartition
    from odradek.server.group_service import GroupService
    from odradek.server.txn_service import TxnService


class BrokerEndpoint(NamedTuple):
    broker_id: int
    host: str
    port: int
    rack: str | None


class TopicDescriber(Protocol):
    """Builds a Metadata response's topic entry from where its partitions' states are kept:
    the logs this broker hosts, or the controller's partition states."""

    def hosted_topic(self, topic: TopicMetadata) -> Any: ...

    def replicated_topic(self, topic: TopicMetadata) -> Any: ...


class ClusterMembership(Protocol):
    """How this broker is one of its cluster's brokers."""

    # -- lifecycle ---------------------------------------------------------------------------

    async def prepare(self) -> str:
        """Before the logs load: the cluster id, with the log dirs prepared for it."""
        ...

    async def start(self) -> None:
        """After the listeners are bound: join the cluster."""
        ...

    async def controlled_shutdown(self) -> None:
        """At the start of a clean shutdown: hand this broker's leaderships over."""
        ...

    async def stop(self) -> None:
        """At the end of a clean shutdown: leave the cluster, close the metadata store."""
        ...

    def start_group_coordinator(self, groups: GroupService) -> None:
        """Load the group coordinator's state: now, or as offsets leaderships arrive."""
        ...

    def start_txn_coordinator(self, txns: TxnService) -> None:
        """Load the transaction coordinator's state: now, or as leaderships arrive."""
        ...

    # -- metadata ----------------------------------------------------------------------------

    def broker_endpoints(self, listener_name: str) -> list[BrokerEndpoint]:
        """Every live broker's address on ``listener_name``, by id (a broker without that
        listener is left out, as in Kafka)."""
        ...

    def broker_endpoint(self, broker_id: int, listener_name: str) -> tuple[str, int] | None:
        """One live broker's address for a client of ``listener_name``; None if unknown."""
        ...

    def leader_of(self, tp: TopicPartition) -> int:
        """``tp``'s leader (the coordinator of an internal partition's keys); -1 if none."""
        ...

    def controller_id(self) -> int:
        """The active controller's id as Metadata and DescribeCluster give it; -1 if none."""
        ...

    def known_leader(self, tp: TopicPartition) -> tuple[int, int] | None:
        """(leader id, leader epoch) of ``tp`` to name to a client this broker refused as
        NOT_LEADER_OR_FOLLOWER (KIP-951); None if there is none to name."""
        ...

    def describe_topic(self, describer: TopicDescriber, topic: TopicMetadata) -> Any:
        """``topic``'s Metadata entry, its partitions described from where their states are."""
        ...

    async def wait_for_metadata(self, ready: Callable[[], bool], timeout_s: float) -> None:
        """After a CreateTopics or DeleteTopics: return once this broker's metadata shows the
        change (``ready``), or when ``timeout_s`` has passed."""
        ...

    # -- replication -------------------------------------------------------------------------

    def is_follower(self, replica_id: int) -> bool:
        """Whether a fetch from ``replica_id`` is a follower's (read up to the log end, and
        counted toward the ISR)."""
        ...

    def on_follower_fetch(self, tp: TopicPartition, replica: int, fetch_offset: int) -> None:
        """A follower fetched ``tp`` from ``fetch_offset``."""
        ...

    # -- the controller's requests -----------------------------------------------------------

    async def elect_leaders(
        self, wanted: list[TopicPartition] | None, unclean: bool
    ) -> list[ElectionResult]:
        """ElectLeaders for ``wanted`` (None: every partition); raises KafkaError for a
        request-level error."""
        ...

    async def alter_reassignments(
        self, wanted: Mapping[TopicPartition, list[int] | None]
    ) -> dict[TopicPartition, tuple[ErrorCode, str | None]]:
        """AlterPartitionReassignments: each partition's (error code, message)."""
        ...

    async def list_reassignments(
        self, wanted: list[TopicPartition] | None
    ) -> list[OngoingReassignment]:
        """ListPartitionReassignments: the reassignments under way among ``wanted``."""
        ...

    # -- what the metrics view reads ---------------------------------------------------------

    def offline_partition_count(self) -> int:
        """Partitions without a leader (Kafka's OfflinePartitionsCount)."""
        ...

    def under_replicated_count(self) -> int:
        """Partitions led here whose ISR is smaller than their replica set."""
        ...

    def under_min_isr_count(self) -> int:
        """Partitions led here whose ISR is below their min.insync.replicas."""
        ...

    def leader_count(self) -> int:
        """Partitions led here."""
        ...

    def is_active_controller(self) -> bool: ...

    def not_ready_reason(self) -> str | None:
        """Why this broker is not yet a working member of its cluster, or None."""
        ...

    def stopping_reason(self) -> str:
        """What ``/ready`` says while ``stop()`` has begun but before the listeners close."""
        ...
