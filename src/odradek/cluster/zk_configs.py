"""Config znodes: dynamic broker configs, user and client entity configs and client-metrics
resources."""

from __future__ import annotations

import asyncio
import json

from kazoo.exceptions import NoNodeError

from odradek.cluster.metadata import check_entity_path
from odradek.cluster.zk_data import (
    BROKER_CONFIGS,
    CLIENT_CONFIGS,
    CLIENT_METRICS_CONFIGS,
    CONFIG,
    CONFIG_CHANGE_PREFIX,
    CONFIG_CHANGES,
    DEFAULT_BROKER,
    GROUP_CONFIGS,
    USER_CONFIGS,
    json_bytes,
)
from odradek.cluster.zk_session import ZkSession


class ConfigZnodes(ZkSession):
    """The store's broker and entity configs; entity changes are announced under
    ``/config/changes`` and written and re-read under the notified-metadata lock."""

    def _entity_paths(self) -> list[str]:
        """Every user and client entity, client-metrics resource and group with a znode (some
        may hold no configs)."""
        paths = [f"clients/{c}" for c in self.client.get_children(CLIENT_CONFIGS)]
        metrics = self.client.get_children(CLIENT_METRICS_CONFIGS)
        paths.extend(f"client-metrics/{name}" for name in metrics)
        paths.extend(f"groups/{name}" for name in self.client.get_children(GROUP_CONFIGS))
        for user in self.client.get_children(USER_CONFIGS):
            paths.append(f"users/{user}")
            try:
                clients = self.client.get_children(f"{USER_CONFIGS}/{user}/clients")
            except NoNodeError:
                continue
            paths.extend(f"users/{user}/clients/{c}" for c in clients)
        return paths

    def read_entity_configs(self, entity_path: str) -> dict[str, str]:
        """A user or client entity's configs in ZooKeeper (empty when it has none)."""
        try:
            data, _ = self.client.get(f"{CONFIG}/{entity_path}")
        except NoNodeError:
            return {}
        if not data:  # a parent created on the way to users/<u>/clients/<c>
            return {}
        return {k: str(v) for k, v in json.loads(data).get("config", {}).items()}

    async def set_broker_configs_async(self, broker: str, configs: dict[str, str]) -> None:
        await asyncio.to_thread(self._write_broker_configs, broker, configs)
        self._cache_broker_configs(broker, configs)

    async def set_entity_configs_async(self, entity_path: str, configs: dict[str, str]) -> None:
        check_entity_path(entity_path)
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._write_entity_configs, entity_path, configs, loop)

    def set_broker_configs(self, broker: str, configs: dict[str, str]) -> None:
        self._write_broker_configs(broker, configs)
        self._cache_broker_configs(broker, configs)

    def _write_broker_configs(self, broker: str, configs: dict[str, str]) -> None:
        path = f"{BROKER_CONFIGS}/{broker or DEFAULT_BROKER}"
        self.client.ensure_path(path)
        self.client.set(path, json_bytes({"version": 1, "config": configs}))

    def _cache_broker_configs(self, broker: str, configs: dict[str, str]) -> None:
        if configs:
            self.broker_configs[broker] = configs
        else:
            self.broker_configs.pop(broker, None)

    def _write_entity_configs(
        self, entity_path: str, configs: dict[str, str], loop: asyncio.AbstractEventLoop
    ) -> None:
        """Write the entity's znode as Kafka does (an entity without configs keeps its znode,
        with an empty config), announce the change, and post the cache update to ``loop``."""
        path = f"{CONFIG}/{entity_path}"
        body = json_bytes({"version": 1, "config": configs})
        with self._notified:
            try:
                self.client.set(path, body)
            except NoNodeError:
                self.client.create(path, body, makepath=True)
            self.client.create(
                f"{CONFIG_CHANGES}/{CONFIG_CHANGE_PREFIX}",
                json_bytes({"version": 2, "entity_path": entity_path}),
                sequence=True,
            )
            loop.call_soon_threadsafe(self._cache_entity_configs, entity_path, configs)

    def refresh_entity_configs(self, entity_path: str) -> None:
        """Re-read an entity whose change was announced and post it to the cache."""
        with self._notified:
            configs = self.read_entity_configs(entity_path)
            self._on_loop(lambda: self._cache_entity_configs(entity_path, configs))

    def _cache_entity_configs(self, entity_path: str, configs: dict[str, str]) -> None:
        if configs:
            self.entity_configs[entity_path] = configs
        else:
            self.entity_configs.pop(entity_path, None)
