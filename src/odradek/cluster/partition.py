"""One replicated partition as this broker sees it (Kafka's Partition): its role, leader
epoch, replica set and ISR, the followers' positions when it leads, the high watermark,
and the produce requests waiting for the ISR (acks=all). Sans-IO: ISR changes are proposed
here and written to ZooKeeper by the caller."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from odradek.common.errors import (
    KafkaError,
    NotEnoughReplicasAfterAppendError,
    NotLeaderOrFollowerError,
    RequestTimedOutError,
)
from odradek.common.ids import TopicPartition
from odradek.storage.log import Log

NO_LEADER = -1


@dataclass(slots=True)
class FollowerState:
    log_end_offset: int = -1
    last_caught_up_ms: int = 0
    last_fetch_leader_leo: int = -1
    last_fetch_ms: int = 0


@dataclass(slots=True)
class DelayedProduce:
    required_offset: int
    callback: Callable[[KafkaError | None], None]
    done: bool = False

    def complete(self, error: KafkaError | None) -> None:
        if not self.done:
            self.done = True
            self.callback(error)


@dataclass(slots=True)
class Partition:
    tp: TopicPartition
    log: Log
    local_id: int
    replicas: tuple[int, ...] = ()
    leader: int = NO_LEADER
    leader_epoch: int = -1
    isr: tuple[int, ...] = ()
    zk_version: int = -1
    followers: dict[int, FollowerState] = field(default_factory=dict)
    pending_isr: tuple[int, ...] | None = None  # an ISR change being written to ZooKeeper
    waiting: list[DelayedProduce] = field(default_factory=list)
    min_insync_replicas: int = 1

    @property
    def is_leader(self) -> bool:
        return self.leader == self.local_id

    @property
    def maximal_isr(self) -> set[int]:
        """The ISR the high watermark must respect: the current one and any addition in
        flight (an expansion is effective for safety before ZooKeeper confirms it)."""
        return set(self.isr) | set(self.pending_isr or ())

    # -- role changes --------------------------------------------------------------------------

    def make_leader(
        self,
        leader_epoch: int,
        isr: tuple[int, ...],
        replicas: tuple[int, ...],
        zk_version: int,
        now_ms: int,
    ) -> None:
        """Become (or stay) leader: a new epoch starts at our log end offset."""
        new_epoch = leader_epoch != self.leader_epoch or not self.is_leader
        self.leader, self.leader_epoch = self.local_id, leader_epoch
        self.isr, self.replicas, self.zk_version = isr, replicas, zk_version
        self.pending_isr = None
        self.log.replicated = True
        if new_epoch:
            self.log.leader_epoch = leader_epoch
            self.log.epoch_cache.assign(leader_epoch, self.log.log_end_offset)
            self.followers = {
                r: FollowerState(last_caught_up_ms=now_ms if r in isr else 0)
                for r in replicas
                if r != self.local_id
            }
        else:
            for replica in replicas:
                if replica != self.local_id and replica not in self.followers:
                    self.followers[replica] = FollowerState()
            for gone in [r for r in self.followers if r not in replicas]:
                del self.followers[gone]
        self.maybe_increment_high_watermark()

    def make_follower(
        self,
        leader: int,
        leader_epoch: int,
        isr: tuple[int, ...],
        replicas: tuple[int, ...],
        zk_version: int,
    ) -> None:
        was_leader = self.is_leader
        self.leader, self.leader_epoch = leader, leader_epoch
        self.isr, self.replicas, self.zk_version = isr, replicas, zk_version
        self.pending_isr = None
        self.followers = {}
        self.log.replicated = True
        self.log.leader_epoch = max(self.log.leader_epoch, leader_epoch)
        if was_leader or leader == NO_LEADER:
            self.fail_waiting(
                NotLeaderOrFollowerError(f"{self.tp}: this broker is no longer the leader")
            )

    def update_isr(self, isr: tuple[int, ...], zk_version: int) -> None:
        """The ISR changed in ZooKeeper without a new leader epoch."""
        self.isr, self.zk_version = isr, zk_version
        self.pending_isr = None
        if self.is_leader:
            self.maybe_increment_high_watermark()

    # -- follower progress (leader side) -------------------------------------------------------

    def record_follower_fetch(self, replica: int, fetch_offset: int, now_ms: int) -> None:
        """Kafka's Replica.updateFetchState: a follower fetching at ``fetch_offset`` has
        everything before it; it is caught up if it reached our log end offset as of this
        fetch or the previous one."""
        state = self.followers.get(replica)
        if state is None:
            return
        leader_leo = self.log.log_end_offset
        if fetch_offset >= leader_leo:
            state.last_caught_up_ms = max(state.last_caught_up_ms, now_ms)
        elif fetch_offset >= state.last_fetch_leader_leo:
            state.last_caught_up_ms = max(state.last_caught_up_ms, state.last_fetch_ms)
        state.log_end_offset = fetch_offset
        state.last_fetch_leader_leo = leader_leo
        state.last_fetch_ms = now_ms

    def isr_expansion(
        self, now_ms: int, lag_time_max_ms: int, only: Collection[int] | None = None
    ) -> tuple[int, ...] | None:
        """The ISR with every caught-up follower added, or None when nothing changes: a
        follower joins once it has reached the high watermark and the current epoch, and
        has been caught up within ``replica.lag.time.max.ms`` (KIP-841)."""
        if not self.is_leader or self.pending_isr is not None:
            return None
        epoch_start = self.log.epoch_cache.entries[-1][1] if self.log.epoch_cache.entries else 0
        joining = [
            r
            for r, s in self.followers.items()
            if r not in self.isr
            and r in self.replicas
            and (only is None or r in only)
            and s.log_end_offset >= self.log.high_watermark
            and s.log_end_offset >= epoch_start
            and now_ms - s.last_caught_up_ms <= lag_time_max_ms
        ]
        if not joining:
            return None
        return tuple(r for r in self.replicas if r in self.isr or r in joining)

    def isr_shrink(self, now_ms: int, lag_time_max_ms: int) -> tuple[int, ...] | None:
        """The ISR without followers that have not caught up for ``replica.lag.time.max.ms``,
        or None when all keep up."""
        if not self.is_leader or self.pending_isr is not None:
            return None
        leader_leo = self.log.log_end_offset

        def lagging(replica: int) -> bool:
            state = self.followers.get(replica, FollowerState())
            return (
                state.log_end_offset != leader_leo
                and now_ms - state.last_caught_up_ms > lag_time_max_ms
            )

        out = {r for r in self.isr if r != self.local_id and (r not in self.replicas or lagging(r))}
        if not out:
            return None
        return tuple(r for r in self.isr if r not in out)

    # -- high watermark and delayed produce ----------------------------------------------------

    def maybe_increment_high_watermark(self) -> bool:
        """HW = the smallest log end offset across the ISR; True when it moved."""
        if not self.is_leader:
            return False
        new_hw = self.log.log_end_offset
        for replica in self.maximal_isr:
            if replica == self.local_id:
                continue
            state = self.followers.get(replica)
            new_hw = min(new_hw, state.log_end_offset if state is not None else -1)
        if self.log.maybe_increment_high_watermark(new_hw):
            self._complete_waiting()
            return True
        return False

    def wait_for_isr(
        self, required_offset: int, callback: Callable[[KafkaError | None], None]
    ) -> DelayedProduce:
        """acks=all: call back once the high watermark reaches ``required_offset``."""
        delayed = DelayedProduce(required_offset, callback)
        self.waiting.append(delayed)
        self._complete_waiting()
        return delayed

    def _complete_waiting(self) -> None:
        if not self.waiting:
            return
        hw = self.log.high_watermark
        still = []
        for delayed in self.waiting:
            if delayed.done:
                continue
            if hw >= delayed.required_offset:
                error = (
                    None
                    if len(self.isr) >= self.min_insync_replicas
                    else NotEnoughReplicasAfterAppendError(
                        f"{self.tp}: the ISR shrank to {len(self.isr)} replica(s), below "
                        f"min.insync.replicas={self.min_insync_replicas}, after the append"
                    )
                )
                delayed.complete(error)
            else:
                still.append(delayed)
        self.waiting = still

    def expire(self, delayed: DelayedProduce) -> None:
        if not delayed.done:
            delayed.complete(
                RequestTimedOutError(f"{self.tp}: the in-sync replicas did not acknowledge in time")
            )

    def fail_waiting(self, error: KafkaError) -> None:
        waiting, self.waiting = self.waiting, []
        for delayed in waiting:
            delayed.complete(error)
