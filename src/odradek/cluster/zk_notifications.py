"""Kafka's change notification listener: sequential znodes each announcing one change."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kazoo.exceptions import KazooException, NoNodeError
from kazoo.recipe.watchers import ChildrenWatch

from odradek.cluster.zk_data import CHANGE_EXPIRATION_MS
from odradek.cluster.zk_session import ZkSession

log = logging.getLogger(__name__)


class ChangeNotificationListener:
    """Kafka's change notifications: a znode whose sequential children (``<prefix><n>``) each
    announce one change. Every new notification is handed to ``handler`` (its path and data,
    on kazoo's thread) once and in order — all of them at start, as Kafka does, since a change
    may have landed between the store's load and the watch — and the ones older than
    :data:`CHANGE_EXPIRATION_MS` are deleted."""

    def __init__(
        self,
        store: ZkSession,
        path: str,
        prefix: str,
        handler: Callable[[str, bytes], None],
    ) -> None:
        self.store = store
        self.path = path
        self.prefix = prefix
        self.handler = handler
        self._last_sequence = -1

    def start(self) -> None:
        ChildrenWatch(self.store.client, self.path, self._on_children)

    def _on_children(self, children: list[str]) -> bool | None:
        if self.store.closing.is_set():
            return False
        notifications = sorted(
            (int(child[len(self.prefix) :]), child)
            for child in children
            if child.startswith(self.prefix) and child[len(self.prefix) :].isdigit()
        )
        expired_before = time.time() * 1000 - CHANGE_EXPIRATION_MS
        try:
            for sequence, child in notifications:
                if sequence > self._last_sequence:
                    self._process(f"{self.path}/{child}", expired_before)
                    self._last_sequence = sequence
        except KazooException as exc:  # the rest are read at the next notification
            log.warning("reading the change notifications in %s failed: %r", self.path, exc)
        return None

    def _process(self, path: str, expired_before: float) -> None:
        try:
            data, stat = self.store.client.get(path)
        except NoNodeError:  # purged by another broker: long since processed
            return
        try:
            self.handler(path, data)
        except ValueError as exc:  # JSONDecodeError included
            log.warning("ignoring the malformed change notification %s: %r", path, exc)
        if stat.ctime < expired_before:
            try:
                self.store.client.delete(path)
            except NoNodeError:
                pass
