"""Where a topic's partitions live once the admin manager has written the topic: the brokers
its replicas may be assigned to, and who opens and deletes its logs.

A single node (``LocalTopicHosting``) is the only broker and hosts every partition: the
admin manager's writes open a new topic's logs at once and delete a deleted topic's files.
In a ZooKeeper cluster (``ZkTopicHosting``) the brokers are the registered ones, logs are
opened by the roles the controller's partition states give (``cluster/replication.py``),
and a deletion is queued for the controller."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from odradek.common.errors import KafkaStorageError
from odradek.common.ids import TopicPartition

if TYPE_CHECKING:
    from odradek.cluster.metadata import MetadataStore, TopicMetadata
    from odradek.storage.log import Log
    from odradek.storage.log_manager import LogManager

log = logging.getLogger("odradek.cluster.admin_manager")  # the admin manager's own lines


class TopicHosting(Protocol):
    def brokers(self) -> dict[int, str | None]:
        """The live brokers replicas may be assigned to: id -> rack."""
        ...

    def load(self) -> None:
        """At startup, after the metadata store has loaded."""
        ...

    async def topic_created(self, topic: TopicMetadata, first: int = 0) -> None:
        """``topic`` (or its partitions ``first``.. when it grew) was written: without
        holding the event loop."""
        ...

    def topic_created_now(self, topic: TopicMetadata) -> None:
        """The blocking form of :meth:`topic_created`, for a new topic."""
        ...

    async def delete_topic(self, topic: TopicMetadata) -> None:
        """DeleteTopics for a topic found deletable."""
        ...

    def delete_topic_now(self, topic: TopicMetadata) -> None:
        """The blocking form of :meth:`delete_topic`."""
        ...


class LocalTopicHosting:
    """A single node: every partition's only replica is here."""

    def __init__(
        self,
        node_id: int,
        rack: str | None,
        store: MetadataStore,
        log_manager: LogManager,
        log_config: Callable[[TopicMetadata], Any],
    ) -> None:
        self.node_id = node_id
        self.rack = rack
        self.store = store
        self.log_manager = log_manager
        self.log_config = log_config

    def brokers(self) -> dict[int, str | None]:
        return {self.node_id: self.rack}

    def load(self) -> None:
        """Open the log of every partition the metadata names."""
        self.store.load()
        for topic in self.store.topics.values():
            config = self.log_config(topic)
            for p in range(topic.partitions):
                # A log dir that fails (logged) leaves its partitions offline.
                with contextlib.suppress(KafkaStorageError):
                    self.log_manager.get_or_create_log(
                        TopicPartition(topic.name, p), topic.topic_id, config
                    )
        orphans = self.log_manager.stored_partitions() - {
            TopicPartition(t.name, p)
            for t in self.store.topics.values()
            for p in range(t.partitions)
        }
        for tp in sorted(orphans):
            log.warning("%s: log directory without topic metadata; left untouched", tp)

    async def topic_created(self, topic: TopicMetadata, first: int = 0) -> None:
        """Open the logs of partitions ``first``.. without holding the event loop: their
        files' fsyncs run in a worker thread, then each log is opened on the loop, one turn
        per partition."""
        config = self.log_config(topic)
        tps = [TopicPartition(topic.name, p) for p in range(first, topic.partitions)]
        await asyncio.to_thread(self.log_manager.prepare_logs(tps, topic.topic_id))
        for tp in tps:
            await asyncio.sleep(0)
            current = self.store.topics.get(topic.name)
            if current is None or current.topic_id != topic.topic_id:
                return  # deleted meanwhile
            self.log_manager.get_or_create_log(tp, topic.topic_id, config)

    def topic_created_now(self, topic: TopicMetadata) -> None:
        self._open_logs(topic)

    def _open_logs(self, topic: TopicMetadata) -> list[Log]:
        config = self.log_config(topic)
        return [
            self.log_manager.get_or_create_log(
                TopicPartition(topic.name, p), topic.topic_id, config
            )
            for p in range(topic.partitions)
        ]

    async def delete_topic(self, topic: TopicMetadata) -> None:
        """The files first: on a full disk their space is what the metadata write needs."""
        self._delete_logs(topic)
        await self.store.delete_topic_async(topic.name)

    def delete_topic_now(self, topic: TopicMetadata) -> None:
        self._delete_logs(topic)  # the files first, as delete_topic does
        self.store.delete_topic(topic.name)

    def _delete_logs(self, topic: TopicMetadata) -> None:
        for partition in range(topic.partitions):
            self.log_manager.delete_log(TopicPartition(topic.name, partition))
        log.info("deleted topic %s", topic.name)


class ZkTopicHosting:
    """A ZooKeeper cluster: replicas go to the registered brokers, which open their logs as
    the controller gives them roles; only the controller deletes a topic's znodes."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def brokers(self) -> dict[int, str | None]:
        return {b.broker_id: b.rack for b in self.store.brokers.values()}

    def load(self) -> None:
        """Nothing to open: the partition states give this broker its replicas."""

    async def topic_created(self, topic: TopicMetadata, first: int = 0) -> None:
        """Nothing to open here: the controller elects the new partitions' leaders."""

    def topic_created_now(self, topic: TopicMetadata) -> None:
        """Nothing to open here: the controller elects the new partitions' leaders."""

    async def delete_topic(self, topic: TopicMetadata) -> None:
        await self.store.delete_topic_async(topic.name)
        log.info("queued topic %s for deletion", topic.name)

    def delete_topic_now(self, topic: TopicMetadata) -> None:
        raise RuntimeError(
            "in a cluster a deletion is queued for the controller: use delete_topic_async"
        )
