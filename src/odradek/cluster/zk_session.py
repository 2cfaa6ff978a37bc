"""The ZooKeeper session behind the cluster metadata store and the cache it keeps."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
import warnings
from collections.abc import Callable

from kazoo.client import KazooClient

from odradek.cluster.metadata import (
    AclsChanged,
    BrokerRegistration,
    PartitionState,
    TopicMetadata,
)
from odradek.cluster.zk_data import (
    BROKER_CONFIGS,
    BROKERS,
    CLIENT_CONFIGS,
    CLIENT_METRICS_CONFIGS,
    CONFIG_CHANGES,
    CONTROLLED_SHUTDOWN,
    DELETE_TOPICS,
    GROUP_CONFIGS,
    TOPIC_CONFIGS,
    TOPICS,
    USER_CONFIGS,
)
from odradek.common.errors import ConfigError
from odradek.common.ids import TopicPartition
from odradek.security.acl import (
    AccessControlEntry,
    ResourcePattern,
    acl_store_paths,
)

log = logging.getLogger(__name__)


class ZkSession:
    """The store's kazoo session (connecting, creating the top-level znodes, closing) and the
    metadata cache its parts share; the cache is only ever changed on the broker's loop."""

    def __init__(
        self,
        connect: str,
        session_timeout_ms: int = 18_000,
        connection_timeout_ms: int | None = None,
    ) -> None:
        self.connect = connect
        self.client = KazooClient(hosts=connect, timeout=session_timeout_ms / 1000)
        self.connection_timeout = (connection_timeout_ms or session_timeout_ms) / 1000
        self.session_timeout = session_timeout_ms / 1000
        self.topics: dict[str, TopicMetadata] = {}
        self.by_id: dict[uuid.UUID, TopicMetadata] = {}
        self.broker_configs: dict[str, dict[str, str]] = {}
        self.entity_configs: dict[str, dict[str, str]] = {}
        self.acls: dict[ResourcePattern, frozenset[AccessControlEntry]] = {}
        self.on_acls_changed: AclsChanged | None = None
        self.brokers: dict[int, BrokerRegistration] = {}
        self.states: dict[TopicPartition, PartitionState] = {}
        self.controller: int | None = None
        self.shutting_down: set[int] = set()  # brokers in controlled shutdown
        self.closing = threading.Event()  # watches stop doing ZooKeeper reads once set
        self._loop: asyncio.AbstractEventLoop | None = None
        # Held while notified metadata is written or re-read and its cache update posted.
        self._notified = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        try:
            with warnings.catch_warnings():
                # A new chroot does not exist yet; ensure_path below creates it.
                warnings.filterwarnings("ignore", "No chroot path exists")
                self.client.start(timeout=self.connection_timeout)
        except Exception as exc:  # kazoo raises its own timeout type
            raise ConfigError(f"cannot connect to ZooKeeper at {self.connect}: {exc}") from exc
        for path in (
            BROKERS,
            TOPICS,
            TOPIC_CONFIGS,
            BROKER_CONFIGS,
            USER_CONFIGS,
            CLIENT_CONFIGS,
            CLIENT_METRICS_CONFIGS,
            GROUP_CONFIGS,
            CONFIG_CHANGES,
            DELETE_TOPICS,
            "/cluster",
            CONTROLLED_SHUTDOWN,
            *acl_store_paths(),
        ):
            self.client.ensure_path(path)

    def close(self, timeout: float = 10.0) -> None:
        """Close the session (its ephemeral znodes go at once), waiting at most ``timeout``.

        kazoo's stop() joins its callback thread without a limit, and a watch callback that
        issued a read just as the connection closed waits for an answer that never comes, so
        a broker once hung here after SIGTERM. Watches stop reading once ``closing`` is set;
        if the client still does not stop in time it is left to its daemon threads and the
        session simply expires on the server."""
        self.closing.set()
        stopper = threading.Thread(target=self.client.stop, name="zk-close", daemon=True)
        stopper.start()
        stopper.join(timeout)
        if stopper.is_alive():
            log.warning(
                "the ZooKeeper client did not stop within %.0f s; its session will "
                "expire on the server",
                timeout,
            )
            return
        self.client.close()

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def _on_loop(self, callback: Callable[[], None]) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(callback)
