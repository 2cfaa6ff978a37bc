"""The follower's truncation before fetching (KIP-101 / KIP-279) and cutting fetched chunks to
whole batches. No sockets: the leader's OffsetForLeaderEpoch answers come from a leader Log's
epoch cache, as odradek's handler computes them.

Kafka's AbstractFetcherThread.getOffsetTruncationState is the spec: with the leader's
(epoch, end offset) for our latest epoch, a follower that has that epoch truncates to
min(leader end, its own end for the epoch, its log end offset) and is done; a follower that
does not have it truncates to the end of its largest smaller epoch and asks again; an
undefined answer truncates to the high watermark."""

from __future__ import annotations

import struct
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kio.schema.errors import ErrorCode
from kio.schema.offset_for_leader_epoch.v4 import response as epoch_v4

from odradek.cluster import replica_fetcher
from odradek.cluster.replica_fetcher import FetchState, ReplicaFetcher, whole_batches
from odradek.common.clock import FakeClock
from odradek.common.errors import CorruptRecordError
from odradek.protocol.codec import build
from odradek.protocol.records.batch import HEADER_SIZE, read_header
from odradek.storage.log import Log
from tests.unit.storage.helpers import T0, TP, append, make_batch, open_log

truncate_to_leader = ReplicaFetcher._truncate_to_leader


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def log_with_epochs(
    directory: Path, clock: FakeClock, epochs: list[tuple[int, int]], end: int
) -> Log:
    """A log whose leader epochs start at the given offsets, one record per batch, up to
    ``end``."""
    log = open_log(directory, clock)
    starts = {offset: epoch for epoch, offset in epochs}
    for offset in range(end):
        if offset in starts:
            log.leader_epoch = starts[offset]
            log.epoch_cache.assign(starts[offset], offset)
        append(log, make_batch(1))
    assert log.epoch_cache.entries == epochs
    return log


@pytest.fixture
def follower(tmp_path: Path, clock: FakeClock) -> Log:
    """Epochs 0 (0-9), 2 (10-19) and 4 (20-29); high watermark 5."""
    log = log_with_epochs(tmp_path / "follower", clock, [(0, 0), (2, 10), (4, 20)], 30)
    log.update_high_watermark(5)
    return log


# -- _truncate_to_leader ---------------------------------------------------------------------


def test_leader_has_our_latest_epoch_and_ends_it_earlier(follower: Log) -> None:
    truncate_to_leader(follower, 4, 25)
    assert follower.log_end_offset == 25
    assert follower.epoch_cache.entries == [(0, 0), (2, 10), (4, 20)]


def test_leader_has_our_latest_epoch_and_more(follower: Log) -> None:
    truncate_to_leader(follower, 4, 40)
    assert follower.log_end_offset == 30  # never past our own log end


def test_leader_answers_an_older_epoch_that_we_have(follower: Log) -> None:
    """The leader never had epoch 4: it answers where its epoch 2 ended."""
    truncate_to_leader(follower, 2, 15)
    assert follower.log_end_offset == 15
    assert follower.epoch_cache.entries == [(0, 0), (2, 10)]
    assert follower.leader_epoch == 2


def test_older_epoch_ending_later_on_the_leader_is_cut_at_our_end_of_it(follower: Log) -> None:
    """The leader's epoch 2 went on to 25; ours ended at 20 where our epoch 4 began."""
    truncate_to_leader(follower, 2, 25)
    assert follower.log_end_offset == 20  # our epoch 2 ends at 20
    assert follower.epoch_cache.entries == [(0, 0), (2, 10)]


def test_oldest_epoch(follower: Log) -> None:
    truncate_to_leader(follower, 0, 7)
    assert follower.log_end_offset == 7
    assert follower.epoch_cache.entries == [(0, 0)]


def test_undefined_answer_truncates_to_the_high_watermark(follower: Log) -> None:
    truncate_to_leader(follower, -1, -1)
    assert follower.log_end_offset == 5
    assert follower.high_watermark == 5


def test_undefined_answer_with_the_high_watermark_at_the_end_keeps_everything(
    follower: Log,
) -> None:
    follower.update_high_watermark(30)
    truncate_to_leader(follower, -1, -1)
    assert follower.log_end_offset == 30


def test_high_watermark_is_clamped_by_truncation(follower: Log) -> None:
    follower.update_high_watermark(28)
    truncate_to_leader(follower, 4, 22)
    assert (follower.log_end_offset, follower.high_watermark) == (22, 22)


def test_leader_epoch_below_our_first_epoch(tmp_path: Path, clock: FakeClock) -> None:
    log = log_with_epochs(tmp_path / "follower", clock, [(3, 0)], 10)
    truncate_to_leader(log, 1, 5)
    assert (log.log_start_offset, log.log_end_offset) == (0, 0)


# -- the OffsetForLeaderEpoch round trips ---------------------------------------------------


class LeaderStub:
    """Answers OffsetForLeaderEpoch from a leader Log, as the broker's handler does."""

    def __init__(self, leader: Log, error: ErrorCode = ErrorCode.none) -> None:
        self.leader = leader
        self.error = error
        self.asked: list[tuple[int, int]] = []  # (current leader epoch, leader epoch)

    async def request(self, request: Any, timeout_s: float | None = None) -> Any:
        topics = []
        for topic in request.topics:
            partitions = []
            for item in topic.partitions:
                self.asked.append((item.current_leader_epoch, item.leader_epoch))
                epoch, end = self.leader.epoch_cache.end_offset_for(
                    item.leader_epoch, self.leader.log_end_offset
                )
                if self.error != ErrorCode.none:
                    epoch, end = -1, -1
                partitions.append(
                    build(
                        epoch_v4.EpochEndOffset,
                        error_code=self.error,
                        partition=item.partition,
                        leader_epoch=epoch,
                        end_offset=end,
                    )
                )
            topics.append(
                build(
                    epoch_v4.OffsetForLeaderTopicResult,
                    topic=topic.topic,
                    partitions=tuple(partitions),
                )
            )
        return build(epoch_v4.OffsetForLeaderEpochResponse, throttle_time=0, topics=tuple(topics))


def fetcher_for(follower: Log, leader_epoch: int) -> tuple[ReplicaFetcher, FetchState]:
    """A ReplicaFetcher without its task and connection (only the truncation step is run)."""
    fetcher = ReplicaFetcher.__new__(ReplicaFetcher)

    def log_of(tp: Any) -> Log | None:
        return follower if tp == TP else None

    fetcher.manager = SimpleNamespace(  # type: ignore[assignment]
        local_id=2, log_of=log_of, config_int=lambda name: 100
    )
    fetcher.leader = 1
    fetcher.index = 0
    state = FetchState(leader_epoch)
    fetcher.partitions = {TP: state}
    return fetcher, state


async def truncate_until_done(fetcher: ReplicaFetcher, stub: LeaderStub, state: FetchState) -> int:
    """Run the truncation step as the fetcher loop does, until it says it is done."""
    rounds = 0
    while state.truncating and rounds < 5:
        await fetcher._truncate(stub, [TP])  # type: ignore[arg-type]
        rounds += 1
    return rounds


async def test_truncation_completes_when_the_leader_has_our_epoch(
    tmp_path: Path, clock: FakeClock
) -> None:
    leader = log_with_epochs(tmp_path / "leader", clock, [(0, 0), (2, 10)], 15)
    follower = log_with_epochs(tmp_path / "follower", clock, [(0, 0), (2, 10)], 18)
    fetcher, state = fetcher_for(follower, leader_epoch=3)
    stub = LeaderStub(leader)
    assert await truncate_until_done(fetcher, stub, state) == 1
    assert stub.asked == [(3, 2)]  # fenced by the current epoch, asking for our latest
    assert follower.log_end_offset == 15
    assert not state.truncating


async def test_truncation_error_keeps_truncating_after_a_pause(
    tmp_path: Path, clock: FakeClock
) -> None:
    leader = log_with_epochs(tmp_path / "leader", clock, [(0, 0)], 5)
    follower = log_with_epochs(tmp_path / "follower", clock, [(0, 0)], 8)
    fetcher, state = fetcher_for(follower, leader_epoch=1)
    await fetcher._truncate(
        LeaderStub(leader, ErrorCode.fenced_leader_epoch),  # type: ignore[arg-type]
        [TP],
    )
    assert state.truncating and state.paused_until > 0
    assert follower.log_end_offset == 8


async def test_truncation_asks_again_until_a_common_epoch(tmp_path: Path, clock: FakeClock) -> None:
    # leader: epoch 0 at 0-9, epoch 1 at 10-11, epoch 5 from 12; it never had epoch 3
    leader = log_with_epochs(tmp_path / "leader", clock, [(0, 0), (1, 10), (5, 12)], 20)
    # follower: epoch 0 at 0-14 (its 10-14 are not the leader's), epoch 3 from 15
    follower = log_with_epochs(tmp_path / "follower", clock, [(0, 0), (3, 15)], 18)
    fetcher, state = fetcher_for(follower, leader_epoch=5)
    stub = LeaderStub(leader)
    await truncate_until_done(fetcher, stub, state)
    # round 1: epoch 3 -> leader (1, 12); we lack epoch 1: truncate to our end of epoch 0 (15)
    # round 2: epoch 0 -> leader (0, 10): truncate to 10, the last offset both logs share
    assert [asked for _, asked in stub.asked] == [3, 0]
    assert follower.log_end_offset == 10
    assert follower.epoch_cache.entries == [(0, 0)]
    assert not state.truncating


# -- whole_batches -----------------------------------------------------------------------------


BATCHES = [make_batch(1, tag="a"), make_batch(3, tag="b"), make_batch(2, tag="c")]
CHUNK = b"".join(BATCHES)


def test_whole_batches_keeps_a_chunk_of_complete_batches() -> None:
    assert whole_batches(CHUNK) == CHUNK
    assert whole_batches(b"") == b""


@pytest.mark.parametrize(
    "cut", [1, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 1, len(BATCHES[2]) - 1]
)
def test_whole_batches_cuts_after_the_last_complete_batch(cut: int) -> None:
    two = len(BATCHES[0]) + len(BATCHES[1])
    assert whole_batches(CHUNK[: two + cut]) == CHUNK[:two]


def test_whole_batches_of_a_partial_first_batch_is_empty() -> None:
    assert whole_batches(CHUNK[:10]) == b""
    assert whole_batches(CHUNK[: len(BATCHES[0]) - 1]) == b""


def test_whole_batches_stops_at_a_corrupt_batch_length(monkeypatch: pytest.MonkeyPatch) -> None:
    corrupt = bytearray(BATCHES[1])
    struct.pack_into(">i", corrupt, 8, -12)  # batchLength
    calls = 0
    original = read_header  # the function replica_fetcher imported, wrapped below

    def guarded(buffer: Any, position: int = 0) -> Any:
        nonlocal calls
        calls += 1
        if calls > 100:
            raise RuntimeError("whole_batches does not terminate")
        return original(buffer, position)

    monkeypatch.setattr(replica_fetcher, "read_header", guarded)
    try:
        result = whole_batches(BATCHES[0] + bytes(corrupt))
    except CorruptRecordError:
        return
    assert result.startswith(BATCHES[0])
