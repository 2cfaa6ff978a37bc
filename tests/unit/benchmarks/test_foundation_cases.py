"""foundation.py's cases: what a case process is told survives JSON, and the catalogue."""

from __future__ import annotations

from pathlib import Path

from benchmarks import foundation as fd


def test_a_case_run_round_trips_through_json() -> None:
    for case in fd.CASES:
        run = fd.CaseRun(case, "tansu", "127.0.0.1:9092", 1234, 5.0, 1000, 120.0)
        assert fd.CaseRun.from_json(run.to_json()) == run


def test_consume_is_reported_with_default_and_short_backoff_consumers() -> None:
    consume = [c for c in fd.CASES if c.scenario == "consume"]
    settings = {dict(c.consumer).get("fetch.queue.backoff.ms") for c in consume}
    assert settings == {None, 10}
    for parts in (1, 6):
        assert sum(c.partitions == parts for c in consume) == 2


def test_every_case_has_its_own_topic_and_key() -> None:
    assert len({c.key for c in fd.CASES}) == len(fd.CASES)
    assert len({c.topic for c in fd.CASES}) == len(fd.CASES)


def test_cases_are_selected_by_text_without_duplicates() -> None:
    picked = fd.select_cases(fd.CASES + fd.CASES, ["produce 1KB acks=1"])
    assert [c.key for c in picked] == ["produce 1KB acks=1 p=1", "produce 1KB acks=1 p=6"]
    assert len(fd.select_cases(fd.CASES, [])) == len(fd.CASES)


def test_scale_sets_the_timed_window(tmp_path: Path) -> None:
    full = fd.Settings(("odradek",), 1.0, 120.0, None, tmp_path)
    assert full.window == 5.0
    assert fd.Settings(("odradek",), 0.6, 120.0, None, tmp_path).window >= 3.0
    assert fd.Settings(("odradek",), 0.05, 120.0, None, tmp_path).window < 3.0
