from __future__ import annotations

from pathlib import Path

from odradek.storage.leader_epoch import LeaderEpochCache


def test_end_offset_for_epochs(tmp_path: Path) -> None:
    cache = LeaderEpochCache(tmp_path / "leader-epoch-checkpoint")
    cache.assign(0, 0)
    cache.assign(2, 100)
    cache.assign(5, 250)
    assert cache.end_offset_for(0, 400) == (0, 100)
    assert cache.end_offset_for(1, 400) == (0, 100)  # largest epoch <= 1 ended at 100
    assert cache.end_offset_for(3, 400) == (2, 250)
    assert cache.end_offset_for(5, 400) == (5, 400)  # the latest epoch ends at the log end
    assert cache.end_offset_for(9, 400) == (5, 400)
    reopened = LeaderEpochCache(tmp_path / "leader-epoch-checkpoint")
    assert reopened.entries == [(0, 0), (2, 100), (5, 250)]


def test_assign_ignores_old_epochs_and_truncation_drops_later_ones(tmp_path: Path) -> None:
    cache = LeaderEpochCache(tmp_path / "leader-epoch-checkpoint")
    cache.assign(1, 10)
    cache.assign(1, 50)
    cache.assign(0, 60)
    assert cache.entries == [(1, 10)]
    cache.assign(3, 80)
    cache.truncate_from_end(80)
    assert cache.entries == [(1, 10)] and cache.latest_epoch == 1
    assert LeaderEpochCache(tmp_path / "x").end_offset_for(0, 5) == (-1, -1)
