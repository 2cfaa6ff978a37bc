"""The broker's once-a-second time checks (segment.ms rolls, flush.ms flushes) visit at most
TIME_CHECKS_PER_CALL logs a call, the next ones in turn, so that many idle partitions cost no
CPU; a log deleted meanwhile is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from odradek.common.clock import FakeClock
from odradek.common.ids import TopicPartition
from odradek.storage import log_manager as log_manager_module
from odradek.storage.file_cache import FileCache
from odradek.storage.log_manager import LogManager
from tests.unit.storage.helpers import T0, TOPIC_ID, append, log_config, make_batch


def test_every_log_is_checked_in_turn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_manager_module, "TIME_CHECKS_PER_CALL", 2)
    clock = FakeClock(T0)
    manager = LogManager([tmp_path / "data"], clock, file_cache=FileCache(100))
    manager.startup(node_id=0, cluster_id="MkU3OEVBNTcwNTJENDM2Qk")
    config = log_config(segment_ms=1000, flush_ms=500)
    logs = [manager.get_or_create_log(TopicPartition("t", p), TOPIC_ID, config) for p in range(5)]
    for log in logs:
        append(log, make_batch(1))
    manager.delete_log(logs[4].tp)
    clock.advance(1001)

    manager.maybe_roll_and_flush_for_time()
    assert [len(log.segments) for log in logs[:4]] == [2, 2, 1, 1]
    assert [log.recovery_point for log in logs[:4]] == [1, 1, 0, 0]
    manager.maybe_roll_and_flush_for_time()  # the other two; the deleted one is skipped
    manager.maybe_roll_and_flush_for_time()  # a new round: nothing is due
    assert [len(log.segments) for log in logs[:4]] == [2, 2, 2, 2]
    assert [log.recovery_point for log in logs[:4]] == [1, 1, 1, 1]
    assert manager.online_dirs == manager.log_dirs
    manager.shutdown()
