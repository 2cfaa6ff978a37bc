"""Topic and partition-state znodes: reading, creating, updating and deleting topics."""

from __future__ import annotations

import asyncio
import json

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from odradek.cluster.metadata import (
    PartitionState,
    TopicMetadata,
)
from odradek.cluster.zk_data import (
    DELETE_TOPICS,
    TOPIC_CONFIGS,
    TOPICS,
    json_bytes,
    parse_state,
    parse_topic_body,
    state_body,
)
from odradek.cluster.zk_session import ZkSession
from odradek.common.errors import TopicAlreadyExistsError
from odradek.common.ids import TopicPartition
from odradek.storage.topic_id import encode_topic_id


class TopicZnodes(ZkSession):
    """The store's topic znodes, their configs and partition states, cached as written."""

    def _read_topic(self, name: str) -> TopicMetadata | None:
        try:
            data, _ = self.client.get(f"{TOPICS}/{name}")
        except NoNodeError:
            return None
        return parse_topic_body(name, data, self.topic_configs(name))

    def topic_configs(self, name: str) -> dict[str, str]:
        try:
            data, _ = self.client.get(f"{TOPIC_CONFIGS}/{name}")
        except NoNodeError:
            return {}
        return {k: str(v) for k, v in json.loads(data).get("config", {}).items()}

    # The writes: kazoo calls (``_write_*``, thread-safe, no cache) then the cache update on the
    # caller's thread, which for the awaitable forms is the loop.

    async def create_topic_async(self, topic: TopicMetadata) -> None:
        self._check_absent(topic.name)
        await asyncio.to_thread(self._write_new_topic, topic)
        self._cache_topic(topic)

    def create_topic(self, topic: TopicMetadata) -> None:
        self._check_absent(topic.name)
        self._write_new_topic(topic)
        self._cache_topic(topic)

    async def update_topic_async(self, topic: TopicMetadata) -> None:
        await asyncio.to_thread(self._write_topic_update, topic)
        self._cache_topic(topic)

    async def delete_topic_async(self, name: str) -> None:
        """Queued for the controller; the topic watch drops it from the cache."""
        await asyncio.to_thread(self.queue_topic_deletion, name)

    def _check_absent(self, name: str) -> None:
        if name in self.topics:
            raise TopicAlreadyExistsError(f"Topic '{name}' already exists.")

    def _cache_topic(self, topic: TopicMetadata) -> None:
        old = self.topics.get(topic.name)
        if old is not None and old.topic_id != topic.topic_id:
            self.by_id.pop(old.topic_id, None)
        self.topics[topic.name] = topic
        self.by_id[topic.topic_id] = topic

    def _write_new_topic(self, topic: TopicMetadata) -> None:
        body = {
            "version": 3,
            "topic_id": encode_topic_id(topic.topic_id),
            "partitions": {str(p): r for p, r in sorted(topic.assignment.items())},
            "adding_replicas": {},
            "removing_replicas": {},
        }
        transaction = self.client.transaction()
        transaction.create(
            f"{TOPIC_CONFIGS}/{topic.name}", json_bytes({"version": 1, "config": topic.configs})
        )
        transaction.create(f"{TOPICS}/{topic.name}", json_bytes(body))
        results = transaction.commit()
        failures = [r for r in results if isinstance(r, Exception)]
        if any(isinstance(f, NodeExistsError) for f in failures):
            raise TopicAlreadyExistsError(f"Topic '{topic.name}' already exists.")
        if failures:
            raise failures[0]

    def _write_topic_update(self, topic: TopicMetadata) -> None:
        self.client.ensure_path(f"{TOPIC_CONFIGS}/{topic.name}")
        self.client.set(
            f"{TOPIC_CONFIGS}/{topic.name}", json_bytes({"version": 1, "config": topic.configs})
        )
        data, stat = self.client.get(f"{TOPICS}/{topic.name}")
        body = json.loads(data)
        partitions = {str(p): r for p, r in sorted(topic.assignment.items())}
        # New partitions only (replicas of existing ones move by reassignment). The topic
        # znode is rewritten even when unchanged: its watch makes every broker re-read the
        # topic's configs.
        body["partitions"] = {**partitions, **body.get("partitions", {})}
        self.client.set(f"{TOPICS}/{topic.name}", json_bytes(body), version=stat.version)

    def delete_topic(self, name: str) -> TopicMetadata | None:
        topic = self.topics.pop(name, None)
        if topic is not None:
            self.by_id.pop(topic.topic_id, None)
        self.client.delete(f"{TOPICS}/{name}", recursive=True)
        try:
            self.client.delete(f"{TOPIC_CONFIGS}/{name}")
        except NoNodeError:
            pass
        return topic

    def queue_topic_deletion(self, name: str) -> None:
        try:
            self.client.create(f"{DELETE_TOPICS}/{name}", b"")
        except NodeExistsError:
            pass

    # -- partition state -----------------------------------------------------------------------

    def partition_state(self, topic: str, partition: int) -> PartitionState | None:
        try:
            data, stat = self.client.get(f"{TOPICS}/{topic}/partitions/{partition}/state")
        except NoNodeError:
            return None
        return parse_state(data, stat.version)

    def set_partition_state(self, topic: str, partition: int, state: PartitionState) -> int:
        """Create or conditionally update the state znode; returns its new version.
        Raises kazoo's BadVersionError when someone else updated it first."""
        path = f"{TOPICS}/{topic}/partitions/{partition}/state"
        if state.zk_version < 0:
            self.client.create(path, state_body(state), makepath=True)
            return 0
        stat = self.client.set(path, state_body(state), version=state.zk_version)
        return int(stat.version)

    def update_isr(self, tp: TopicPartition, state: PartitionState) -> int | None:
        """The leader's ISR change, conditional on the state version it knows; the new
        version, or None when the state changed meanwhile (a new leader, the controller)."""
        path = f"{TOPICS}/{tp.topic}/partitions/{tp.partition}/state"
        try:
            stat = self.client.set(path, state_body(state), version=state.zk_version)
        except (BadVersionError, NoNodeError):
            return None
        return int(stat.version)
