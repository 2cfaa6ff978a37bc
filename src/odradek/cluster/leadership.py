"""Which partitions this broker serves clients for, and what an append waits for before it is
acknowledged: the ReplicaManager's leadership, one of two kinds.

A single node (``LocalLeadership``) leads every partition whose log it hosts and is that
partition's whole ISR, so an append is replicated once written. A broker of a ZooKeeper
cluster (``ReplicatedLeadership``) serves only the partitions it leads, and an acks=all
append waits until the ISR has it (Kafka's delayed produce)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from odradek.common.errors import (
    KafkaError,
    NotEnoughReplicasError,
    NotLeaderOrFollowerError,
    RequestTimedOutError,
)
from odradek.common.ids import TopicPartition
from odradek.common.writes import InternalWrite

if TYPE_CHECKING:
    from odradek.cluster.metadata import MetadataStore
    from odradek.cluster.partition import Partition
    from odradek.storage.log import Log


class PartitionLeadership(Protocol):
    def leader_log(self, tp: TopicPartition, log_obj: Log | None) -> Log | None:
        """``tp``'s log (``log_obj``, None if not hosted) if clients are served from it here;
        None if this broker does not host ``tp``; raises NOT_LEADER_OR_FOLLOWER for a
        partition it has a replica of but does not lead."""
        ...

    def check_min_isr(self, topic: str, partition: int) -> None:
        """Before an acks=all append: raise NOT_ENOUGH_REPLICAS if the ISR is too small."""
        ...

    def isr_offset(self, next_offset: int) -> int | None:
        """After an acks=all append ending before ``next_offset``: the offset the high
        watermark must reach before it is acknowledged; None if it already has."""
        ...

    def replicated_write(self, log_obj: Log) -> InternalWrite | None:
        """The internal write a request must see replicated before it is answered (Kafka's
        internal writes are acks=-1); None when the log has no replicas to wait for."""
        ...

    async def wait_for_isr(
        self, required: dict[TopicPartition, int], timeout_s: float
    ) -> dict[TopicPartition, KafkaError | None]:
        """Wait until each partition's high watermark reaches its required offset; per
        partition None, or why not."""
        ...


class LocalLeadership:
    """A single node: the leader and the only in-sync replica of every partition it hosts."""

    def leader_log(self, tp: TopicPartition, log_obj: Log | None) -> Log | None:
        return log_obj

    def check_min_isr(self, topic: str, partition: int) -> None:
        """A single node does not hold acks=all to min.insync.replicas: its ISR is itself."""

    def isr_offset(self, next_offset: int) -> int | None:
        return None  # the high watermark moved with the append

    def replicated_write(self, log_obj: Log) -> InternalWrite | None:
        return None

    async def wait_for_isr(
        self, required: dict[TopicPartition, int], timeout_s: float
    ) -> dict[TopicPartition, KafkaError | None]:
        return dict.fromkeys(required)


class ReplicatedLeadership:
    """A broker of a cluster: ``partitions`` are the replicated partitions hosted here (kept
    by the replication side as the controller's partition states change); only their leaders
    serve clients."""

    def __init__(self, partitions: dict[TopicPartition, Partition], store: MetadataStore) -> None:
        self.partitions = partitions
        self.store = store

    def leader_log(self, tp: TopicPartition, log_obj: Log | None) -> Log | None:
        replica = self.partitions.get(tp)
        if replica is not None and replica.is_leader:
            return log_obj
        topic = self.store.topics.get(tp.topic)
        if topic is not None and tp.partition in topic.assignment:
            raise NotLeaderOrFollowerError(
                f"This server is not the leader for partition {tp.topic}-{tp.partition}"
            )
        return None

    def check_min_isr(self, topic: str, partition: int) -> None:
        """Kafka's check: acks=all needs min.insync.replicas in the ISR before the append."""
        found = self.partitions.get(TopicPartition(topic, partition))
        if found is not None and found.is_leader and len(found.isr) < found.min_insync_replicas:
            raise NotEnoughReplicasError(
                f"The size of the current ISR {set(found.isr)} is insufficient to satisfy the "
                f"min.isr requirement of {found.min_insync_replicas} for partition {found.tp}"
            )

    def isr_offset(self, next_offset: int) -> int | None:
        return next_offset

    def replicated_write(self, log_obj: Log) -> InternalWrite | None:
        return InternalWrite(log_obj.tp, log_obj.log_end_offset)

    async def wait_for_isr(
        self, required: dict[TopicPartition, int], timeout_s: float
    ) -> dict[TopicPartition, KafkaError | None]:
        """Kafka's delayed produce: per partition None, or why not: the leadership moved, the
        ISR shrank below min.insync.replicas (after append), or the timeout passed."""
        outcome: dict[TopicPartition, KafkaError | None] = {}
        loop = asyncio.get_running_loop()
        waits = []
        for tp, offset in required.items():
            partition = self.partitions.get(tp)
            if partition is None or not partition.is_leader:
                outcome[tp] = NotLeaderOrFollowerError(
                    f"{tp}: leadership moved before the ISR had the records"
                )
                continue
            future: asyncio.Future[KafkaError | None] = loop.create_future()

            def done(
                error: KafkaError | None, f: asyncio.Future[KafkaError | None] = future
            ) -> None:
                if not f.done():
                    f.set_result(error)

            waits.append((tp, partition, partition.wait_for_isr(offset, done), future))
        try:
            async with asyncio.timeout(timeout_s):
                for _, _, _, future in waits:
                    await future
        except TimeoutError:
            for _, partition, delayed, _ in waits:
                partition.expire(delayed)
        for tp, _, _, future in waits:
            outcome[tp] = (
                future.result()
                if future.done()
                else RequestTimedOutError(f"{tp}: the in-sync replicas did not acknowledge in time")
            )
        return outcome
