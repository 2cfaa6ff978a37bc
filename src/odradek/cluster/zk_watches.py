"""The watches that keep the metadata store's cache in step with ZooKeeper."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kazoo.exceptions import KazooException
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

from odradek.cluster.metadata import check_entity_path
from odradek.cluster.zk_data import (
    BROKERS,
    CONFIG_CHANGE_PREFIX,
    CONFIG_CHANGES,
    CONTROLLED_SHUTDOWN,
    CONTROLLER,
    TOPICS,
    parse_state,
    parse_topic_body,
)
from odradek.cluster.zk_notifications import ChangeNotificationListener
from odradek.common.ids import TopicPartition
from odradek.security.acl import (
    ACL_CHANGE_PREFIX,
    EXTENDED_ACL_CHANGES_PATH,
    LITERAL_ACL_CHANGES_PATH,
    parse_change_notification,
)

if TYPE_CHECKING:
    from odradek.cluster.zk_store import ZkMetadataStore

log = logging.getLogger(__name__)


class MetadataListener:
    """What the broker does when the cluster metadata changes (called on its loop)."""

    def brokers_changed(self) -> None: ...

    def topic_changed(self, name: str) -> None: ...

    def partition_changed(self, tp: TopicPartition) -> None: ...

    def controller_changed(self) -> None: ...


class WatchedMetadata:
    """Keeps a ZkMetadataStore's cache (brokers, topics, partition states, controller, user and
    client configs, ACLs) in step with ZooKeeper through kazoo watches; every change is applied on
    the broker's loop and reported to the listener."""

    def __init__(self, store: ZkMetadataStore, listener: MetadataListener) -> None:
        self.store = store
        self.listener = listener
        self._topic_watches: set[str] = set()
        self._state_watches: set[TopicPartition] = set()

    def start(self) -> None:
        client = self.store.client
        ChildrenWatch(client, BROKERS, self._on_brokers)
        ChildrenWatch(client, TOPICS, self._on_topics)
        DataWatch(client, CONTROLLER, self._on_controller)
        ChildrenWatch(client, CONTROLLED_SHUTDOWN, self._on_shutting_down)
        ChangeNotificationListener(
            self.store, CONFIG_CHANGES, CONFIG_CHANGE_PREFIX, self._on_config_change
        ).start()
        for path in (LITERAL_ACL_CHANGES_PATH, EXTENDED_ACL_CHANGES_PATH):
            ChangeNotificationListener(
                self.store, path, ACL_CHANGE_PREFIX, self._on_acl_change
            ).start()

    def _on_acl_change(self, path: str, data: bytes) -> None:
        """Re-read the resource pattern an ACL change notification names."""
        self.store.refresh_acls(parse_change_notification(path, data))

    def _on_config_change(self, _path: str, data: bytes) -> None:
        """Re-read the user, client, client-metrics or group entity a ``/config/changes``
        notification names (the notifications of topics and brokers are not followed here)."""
        body = json.loads(data)
        entity_path = body.get("entity_path") if isinstance(body, dict) else None
        if body.get("version") != 2 or not isinstance(entity_path, str):
            raise ValueError(f"not a version 2 config change notification: {body!r}")
        if entity_path.startswith(("users/", "clients/", "client-metrics/", "groups/")):
            check_entity_path(entity_path)
            self.store.refresh_entity_configs(entity_path)

    def _on_shutting_down(self, children: list[str]) -> bool | None:
        if self.store.closing.is_set():
            return False
        ids = {int(c) for c in children}

        def apply() -> None:
            self.store.shutting_down = ids

        self._post(apply)

        # kazoo threads -> loop
        return None

    def _post(self, callback: Callable[[], None]) -> None:
        self.store._on_loop(callback)

    def _on_brokers(self, _children: list[str]) -> bool | None:
        if self.store.closing.is_set():
            return False
        try:
            brokers = self.store.live_brokers()
        except KazooException as exc:  # the watch fires again when the session is back
            log.warning("reading the broker registrations failed: %r", exc)
            return None

        def apply() -> None:
            self.store.brokers = brokers
            self.listener.brokers_changed()

        self._post(apply)
        return None

    def _on_controller(self, data: bytes | None, _stat: Any) -> bool | None:
        if self.store.closing.is_set():
            return False
        controller = int(json.loads(data)["brokerid"]) if data else None

        def apply() -> None:
            self.store.controller = controller
            self.listener.controller_changed()

        self._post(apply)
        return None

    def _on_topics(self, children: list[str]) -> bool | None:
        if self.store.closing.is_set():
            return False
        for name in children:
            if name not in self._topic_watches:
                self._topic_watches.add(name)
                DataWatch(self.store.client, f"{TOPICS}/{name}", self._topic_watcher(name))
        return None

    # kazoo passes a third argument (the event) to callbacks that take three: these take two.

    def _topic_watcher(self, name: str) -> Callable[[bytes | None, Any], bool | None]:
        def watch(data: bytes | None, stat: Any) -> bool | None:
            return self._on_topic(name, data, stat)

        return watch

    def _state_watcher(self, tp: TopicPartition) -> Callable[[bytes | None, Any], bool | None]:
        def watch(data: bytes | None, stat: Any) -> bool | None:
            return self._on_state(tp, data, stat)

        return watch

    def _on_topic(self, name: str, data: bytes | None, _stat: Any) -> bool | None:
        if self.store.closing.is_set():
            return False
        if data is None:
            self._topic_watches.discard(name)

            def removed() -> None:
                topic = self.store.topics.pop(name, None)
                if topic is not None:
                    self.store.by_id.pop(topic.topic_id, None)
                    for p in topic.assignment:
                        self.store.states.pop(TopicPartition(name, p), None)
                self.listener.topic_changed(name)

            self._post(removed)
            return False
        topic = parse_topic_body(name, data, self.store.topic_configs(name))
        for partition in topic.assignment:
            tp = TopicPartition(name, partition)
            if tp not in self._state_watches:
                self._state_watches.add(tp)
                DataWatch(
                    self.store.client,
                    f"{TOPICS}/{name}/partitions/{partition}/state",
                    self._state_watcher(tp),
                )

        def changed() -> None:
            old = self.store.topics.get(name)
            if old is not None and old.topic_id != topic.topic_id:
                self.store.by_id.pop(old.topic_id, None)
            self.store.topics[name] = topic
            self.store.by_id[topic.topic_id] = topic
            self.listener.topic_changed(name)

        self._post(changed)
        return None

    def _on_state(self, tp: TopicPartition, data: bytes | None, stat: Any) -> bool | None:
        if self.store.closing.is_set():
            return False
        if data is None:
            if tp.topic not in self._topic_watches:
                self._state_watches.discard(tp)
                return False
            return None
        state = parse_state(data, stat.version)

        def changed() -> None:
            old = self.store.states.get(tp)
            if old is not None and old.zk_version > state.zk_version:
                return
            self.store.states[tp] = state
            self.listener.partition_changed(tp)

        self._post(changed)
        return None
