"""The cluster-wide znodes: cluster id, broker registrations, the controller and its
epoch, controlled shutdown requests and producer id blocks."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Mapping

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError

from odradek.cluster.metadata import BrokerRegistration
from odradek.cluster.zk_data import (
    BROKERS,
    CLUSTER_ID,
    CONTROLLED_SHUTDOWN,
    CONTROLLER,
    CONTROLLER_EPOCH,
    PRODUCER_ID_BLOCK,
    STALE_REGISTRATION_WAIT_FACTOR,
    json_bytes,
)
from odradek.cluster.zk_session import ZkSession
from odradek.common.errors import ConfigError
from odradek.common.ids import new_cluster_id
from odradek.config.broker import Listener

log = logging.getLogger(__name__)


class BrokerZnodes(ZkSession):
    """The store's reads and writes of the cluster id, brokers, controller and producer ids."""

    def cluster_id(self, proposed: str | None = None) -> str:
        candidate = proposed or new_cluster_id()
        try:
            self.client.create(CLUSTER_ID, json_bytes({"version": "1", "id": candidate}))
            return candidate
        except NodeExistsError:
            data, _ = self.client.get(CLUSTER_ID)
            return str(json.loads(data)["id"])

    def register_broker(
        self, registration: BrokerRegistration, protocols: Mapping[str, str]
    ) -> None:
        """Ephemeral ``/brokers/ids/<id>``, with every advertised listener's address in
        ``endpoints`` and its security protocol (``protocols``: by listener name) in
        ``listener_security_protocol_map``; a live broker with the same id is an error."""
        endpoints = {  # Kafka writes an IPv6 address in brackets
            name: (f"[{host}]" if ":" in host else host, port)
            for name, (host, port) in registration.endpoints.items()
        }
        body = {
            "version": 5,
            "host": registration.host,
            "port": registration.port,
            "endpoints": [f"{name}://{host}:{port}" for name, (host, port) in endpoints.items()],
            "listener_security_protocol_map": {name: str(protocols[name]) for name in endpoints},
            "jmx_port": -1,
            "timestamp": str(int(time.time() * 1000)),
            "rack": registration.rack,
            "features": {},
        }
        path = f"{BROKERS}/{registration.broker_id}"
        # A node left by an earlier session of this broker (its ZooKeeper went away before the
        # broker could close it, and came back with the session restored) lasts until that
        # session expires: wait for it, as long as a session lasts, before calling it a
        # live broker.
        deadline = time.monotonic() + self.session_timeout * STALE_REGISTRATION_WAIT_FACTOR
        warned = False
        while True:
            try:
                self.client.create(path, json_bytes(body), ephemeral=True)
                return
            except NodeExistsError:
                pass
            gone = threading.Event()
            try:
                stat = self.client.exists(path, watch=lambda _event, done=gone: done.set())
            except NoNodeError:
                continue
            if stat is None:
                continue
            owner = stat.ephemeralOwner
            if owner == self.client.client_id[0]:  # ours already: a create retried
                self.client.set(path, json_bytes(body))
                return
            if time.monotonic() >= deadline:
                raise ConfigError(
                    f"broker.id {registration.broker_id} is already registered in ZooKeeper "
                    f"by a live broker (session 0x{owner:x}, not this broker's)"
                )
            if not warned:
                warned = True
                log.warning(
                    "broker.id %d is registered in ZooKeeper by session 0x%x (not this "
                    "broker's; left by its previous run?): waiting up to %.0f s for it to expire",
                    registration.broker_id,
                    owner,
                    deadline - time.monotonic(),
                )
            gone.wait(max(0.0, min(1.0, deadline - time.monotonic())))

    def live_brokers(self) -> dict[int, BrokerRegistration]:
        brokers = {}
        for child in self.client.get_children(BROKERS):
            try:
                data, _ = self.client.get(f"{BROKERS}/{child}")
            except NoNodeError:
                continue
            body = json.loads(data)
            endpoints: dict[str, tuple[str, int]] = {}
            for text in body.get("endpoints") or []:
                try:
                    listener = Listener.parse(text)
                except ConfigError:
                    log.warning("broker %s registered a malformed endpoint %r", child, text)
                    continue
                endpoints[listener.name] = (listener.host, listener.port)
            brokers[int(child)] = BrokerRegistration(
                int(child), body["host"], int(body["port"]), body.get("rack"), endpoints
            )
        return brokers

    def try_become_controller(self, broker_id: int) -> int | None:
        """Create the ephemeral ``/controller``; the new controller epoch, or None."""
        claimed = self.claim_controller(broker_id)
        return None if claimed is None else claimed[0]

    def claim_controller(self, broker_id: int) -> tuple[int, int] | None:
        """Create the ephemeral ``/controller`` and bump ``/controller_epoch``: (the new epoch,
        the epoch znode's version, which fences this controller's writes), or None."""
        body = json_bytes(
            {"version": 2, "brokerid": broker_id, "timestamp": str(int(time.time() * 1000))}
        )
        try:
            self.client.create(CONTROLLER, body, ephemeral=True)
        except NodeExistsError:
            return None
        while True:
            try:
                data, stat = self.client.get(CONTROLLER_EPOCH)
            except NoNodeError:
                try:
                    self.client.create(CONTROLLER_EPOCH, b"1")
                    return 1, 0
                except NodeExistsError:
                    continue
            epoch = int(data) + 1
            try:
                new_stat = self.client.set(
                    CONTROLLER_EPOCH, str(epoch).encode(), version=stat.version
                )
                return epoch, int(new_stat.version)
            except BadVersionError:
                continue

    def controller_id(self) -> int | None:
        try:
            data, _ = self.client.get(CONTROLLER)
        except NoNodeError:
            return None
        return int(json.loads(data)["brokerid"])

    async def allocate_producer_id_block_async(self, size: int, broker_id: int = -1) -> int:
        return await asyncio.to_thread(self.allocate_producer_id_block, size, broker_id)

    def request_controlled_shutdown(self, broker_id: int) -> None:
        try:
            self.client.create(f"{CONTROLLED_SHUTDOWN}/{broker_id}", b"", ephemeral=True)
        except NodeExistsError:
            pass

    def allocate_producer_id_block(self, size: int, broker_id: int = -1) -> int:
        while True:
            try:
                data, stat = self.client.get(PRODUCER_ID_BLOCK)
            except NoNodeError:
                try:
                    self.client.create(
                        PRODUCER_ID_BLOCK,
                        json_bytes(
                            {
                                "version": 1,
                                "broker": broker_id,
                                "block_start": "0",
                                "block_end": str(size - 1),
                            }
                        ),
                    )
                    return 0
                except NodeExistsError:
                    continue
            start = int(json.loads(data)["block_end"]) + 1 if data else 0
            try:
                self.client.set(
                    PRODUCER_ID_BLOCK,
                    json_bytes(
                        {
                            "version": 1,
                            "broker": broker_id,
                            "block_start": str(start),
                            "block_end": str(start + size - 1),
                        }
                    ),
                    version=stat.version,
                )
                return start
            except BadVersionError:
                continue
