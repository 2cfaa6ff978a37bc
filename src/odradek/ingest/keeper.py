"""The keeper (ZooKeeper, over kazoo): where a target without transactions keeps, per
partition, the consumed offset and the block begun after it.

One znode per partition, ``<path>/topics/<topic>/partitions/<partition>``, holding JSON
``{"committed": <next offset or null>, "block": [<start>, <end>] or null}``. A block is
*begun* (its range written) before it is inserted and *committed* (the offset moved to its
end, the range cleared) after; both are compare-and-set on the znode's version, so of two
writers of a partition (a zombie after a rebalance) one finds the znode changed. A block
begun and not committed is read again by whoever owns the partition next, with the same
range, and inserted again (the target drops the repeat)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    BadVersionError,
    KazooException,
    NodeExistsError,
    NoNodeError,
)
from kazoo.handlers.threading import KazooTimeoutError

from odradek.ingest.batch import TopicPartition
from odradek.ingest.errors import OffsetConflict, SettingsError, TargetUnavailable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class PartitionState:
    """A partition's znode: the next offset to consume (None: none yet) and the begun block."""

    committed: int | None = None
    block: tuple[int, int] | None = None
    version: int | None = None  # None: no znode yet

    @property
    def stored(self) -> int | None:
        """Where the partition's next block starts: the begun block's start, if there is one
        (its records are read again), else the committed offset."""
        return self.block[0] if self.block is not None else self.committed


def split_hosts(keeper: str) -> tuple[str, str]:
    """``host:port[,host:port][/chroot]`` -> (hosts, chroot)."""
    hosts, slash, chroot = keeper.partition("/")
    if not hosts or any(not h.rpartition(":")[2].isdigit() for h in hosts.split(",")):
        raise SettingsError(f"--keeper expects HOST:PORT[,HOST:PORT][/PATH], got {keeper!r}")
    return hosts, (slash + chroot).rstrip("/")


@contextmanager
def _unavailable_on_failure(what: str) -> Iterator[None]:
    try:
        yield
    except (BadVersionError, NodeExistsError) as exc:
        raise OffsetConflict(f"{what}: the keeper's znode changed ({type(exc).__name__})") from None
    except (KazooException, KazooTimeoutError) as exc:
        raise TargetUnavailable(f"keeper: {what}: {type(exc).__name__} {exc}".rstrip()) from None


class Keeper:
    """Partition states under one path (one group and table), on one ZooKeeper session shared
    by the consumers of the process (kazoo's client is thread-safe)."""

    def __init__(self, keeper: str, path: str) -> None:
        hosts, chroot = split_hosts(keeper)
        self.address = keeper
        self.path = chroot + "/" + path.strip("/")
        logging.getLogger("kazoo").setLevel(logging.ERROR)  # its retries: our state lines
        self._connected: bool | None = None  # None: not yet
        self.client = KazooClient(hosts=hosts, timeout=10.0)
        self.client.add_listener(self._state_changed)
        try:
            self.client.start(timeout=CONNECT_TIMEOUT_S)
        except KazooTimeoutError:
            self.client.close()
            raise TargetUnavailable(
                f"cannot connect to the keeper (ZooKeeper) at {keeper} "
                f"within {CONNECT_TIMEOUT_S:g}s"
            ) from None

    def _state_changed(self, state: str) -> None:
        """One line per change of the ZooKeeper session's state (kazoo retries by itself)."""
        connected = state == KazooState.CONNECTED
        if connected and self._connected is False:
            log.warning("the keeper at %s answers again", self.address)
        elif not connected and self._connected:
            log.warning("lost the keeper at %s (%s); retrying", self.address, state.lower())
        self._connected = connected

    def znode(self, tp: TopicPartition) -> str:
        return f"{self.path}/topics/{tp[0]}/partitions/{tp[1]}"

    def read(self, tp: TopicPartition) -> PartitionState:
        with _unavailable_on_failure(f"reading {self.znode(tp)}"):
            try:
                data, stat = self.client.get(self.znode(tp))
            except NoNodeError:
                return PartitionState()
        value: dict[str, Any] = json.loads(data)
        block = value.get("block")
        return PartitionState(
            value.get("committed"), None if block is None else (block[0], block[1]), stat.version
        )

    def begin(self, tp: TopicPartition, state: PartitionState, block: tuple[int, int]) -> int:
        """Record ``block`` as begun, if the znode is still ``state``; its new version."""
        return self._put(tp, state, {"committed": state.committed, "block": list(block)})

    def commit(self, tp: TopicPartition, state: PartitionState, version: int, end: int) -> None:
        """Move the offset to ``end`` and clear the block, if the znode is still at
        ``version`` (what ``begin`` left, or the state read when replaying)."""
        self._put(tp, PartitionState(state.committed, state.block, version), {"committed": end})

    def _put(self, tp: TopicPartition, state: PartitionState, value: dict[str, Any]) -> int:
        data = json.dumps({"block": None, **value}).encode()
        path = self.znode(tp)
        with _unavailable_on_failure(f"writing {path}"):
            if state.version is None:
                self.client.create(path, data, makepath=True)
                return 0
            stat = self.client.set(path, data, version=state.version)
        return int(stat.version)

    def close(self) -> None:
        self.client.stop()
        self.client.close()
