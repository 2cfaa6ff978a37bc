"""The cluster metadata store in ZooKeeper, through kazoo (Kafka's KafkaZkClient).

The znode layout and JSON shapes are in :mod:`odradek.cluster.zk_data`; the store is made of
one part per kind of znode (:mod:`~odradek.cluster.zk_brokers`, :mod:`~odradek.cluster.zk_topics`,
:mod:`~odradek.cluster.zk_configs`, :mod:`~odradek.cluster.zk_acls`) over its session
(:mod:`~odradek.cluster.zk_session`), and :mod:`~odradek.cluster.zk_watches` keeps its cache
current.

kazoo calls watch callbacks on its own threads; the store hands them to the asyncio loop with
``call_soon_threadsafe`` so the broker only ever sees them on its loop. The awaitable writes
(``*_async``) run their kazoo calls on a worker thread (``asyncio.to_thread``; the kazoo
client is thread-safe) and update the cache back on the loop, after ZooKeeper accepted them;
the cache is never touched from a worker thread.

The metadata announced by change notifications (user and client configs, ACLs) is written and
re-read under one lock, which also covers handing the result to the loop: one ZooKeeper session
sees changes in the order ZooKeeper made them, so the cache takes them in that order too and a
broker's own write never overtakes a newer change another broker made (Kafka's authorizer and
config handlers serialize the same way).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from odradek.cluster.metadata import BrokerRegistration as BrokerRegistration
from odradek.cluster.metadata import PartitionState as PartitionState
from odradek.cluster.zk_acls import AclZnodes
from odradek.cluster.zk_brokers import BrokerZnodes
from odradek.cluster.zk_configs import ConfigZnodes
from odradek.cluster.zk_data import BROKER_CONFIGS, DEFAULT_BROKER, TOPICS
from odradek.cluster.zk_topics import TopicZnodes
from odradek.cluster.zk_watches import MetadataListener as MetadataListener
from odradek.cluster.zk_watches import WatchedMetadata as WatchedMetadata
from odradek.security.acl import pattern_from_znode_path

log = logging.getLogger(__name__)


class ZkMetadataStore(BrokerZnodes, TopicZnodes, ConfigZnodes, AclZnodes):
    """The cluster's metadata in ZooKeeper (a :class:`MetadataStore`), cached in memory and
    kept current by :class:`WatchedMetadata`."""

    def load(self) -> None:
        self.topics.clear()
        self.by_id.clear()
        for name in self.client.get_children(TOPICS):
            topic = self._read_topic(name)
            if topic is not None:
                self.topics[name] = topic
                self.by_id[topic.topic_id] = topic
        self.broker_configs = {}
        for entity in self.client.get_children(BROKER_CONFIGS):
            data, _ = self.client.get(f"{BROKER_CONFIGS}/{entity}")
            key = "" if entity == DEFAULT_BROKER else entity
            self.broker_configs[key] = dict(json.loads(data).get("config", {}))
        self.entity_configs = {}
        for entity_path in self._entity_paths():
            configs = self.read_entity_configs(entity_path)
            if configs:
                self.entity_configs[entity_path] = configs
        self.acls = {}
        for path in self._acl_znode_paths():
            try:
                pattern, entries = pattern_from_znode_path(path), self.read_acls(path)
            except ValueError as exc:  # a resource type we do not know, or malformed
                log.warning("ignoring the ACLs in %s: %s", path, exc)
                continue
            if entries:
                self.acls[pattern] = entries

    def raw(self) -> Any:
        return self.client
