"""The fair-comparison harness: schedule, statistics, spread flag, tables, case processes."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from benchmarks import harness
from benchmarks.harness import Roles, Row, Sample, Slot, Spread

ROLES = Roles(subject="odradek", peer="tansu", ceiling="mock")
BROKERS = ("mock", "odradek", "tansu")


def samples(case: str, metric: str, by_broker: dict[str, list[float]]) -> list[Sample]:
    return [
        Sample(case, broker, repeat, {metric: value})
        for broker, values in by_broker.items()
        for repeat, value in enumerate(values)
    ]


def test_brokers_alternate_within_each_repeat_case_by_case() -> None:
    slots = harness.schedule(["a", "b"], ["X", "Y"], 3)
    assert [(s.case, s.broker, s.repeat) for s in slots] == [
        ("a", "X", 0),
        ("a", "Y", 0),
        ("a", "X", 1),
        ("a", "Y", 1),
        ("a", "X", 2),
        ("a", "Y", 2),
        ("b", "X", 0),
        ("b", "Y", 0),
        ("b", "X", 1),
        ("b", "Y", 1),
        ("b", "X", 2),
        ("b", "Y", 2),
    ]


def test_summary_is_median_min_max() -> None:
    assert harness.summarise([300.0, 100.0, 200.0]) == Spread(200.0, 100.0, 300.0, 3)
    assert harness.summarise([4.0, 1.0, 2.0, 3.0]) == Spread(2.5, 1.0, 4.0, 4)
    with pytest.raises(ValueError):
        harness.summarise([])


def test_spread_over_thirty_percent_of_the_median_is_flagged() -> None:
    steady = harness.summarise([90.0, 100.0, 120.0])  # (120 - 90) / 100 = 30 %: not over
    assert steady.spread == pytest.approx(0.30)
    assert not steady.flagged
    wide = harness.summarise([90.0, 100.0, 121.0])
    assert wide.spread == pytest.approx(0.31)
    assert wide.flagged
    assert harness.summarise([0.0, 0.0]).spread == 0.0
    assert harness.summarise([0.0, 0.0, 1.0]).flagged


def test_ratio_of_medians_with_its_extreme_range() -> None:
    a = Spread(450.0, 415.0, 470.0, 3)
    b = Spread(300.0, 288.0, 301.0, 3)
    r = harness.ratio(a, b)
    assert r is not None
    assert r.value == pytest.approx(1.5)
    assert r.low == pytest.approx(415 / 301)
    assert r.high == pytest.approx(470 / 288)
    assert harness.ratio(a, Spread(1.0, 0.0, 2.0, 3)) is None


def test_formatting() -> None:
    s = Spread(412.34, 398.0, 431.9, 3)
    assert harness.fmt_spread(s, 3) == "412 (398-432)"
    assert harness.fmt_spread(Spread(1.234, 1.2, 1.3, 2), 3) == "1.23 (1.20-1.30) n=2"
    assert harness.fmt_ratio(harness.Ratio(1.5, 1.44, 1.56)) == "1.50 (1.44-1.56)"
    assert harness.fmt_ratio(harness.Ratio(0.42, 0.38, 0.45), percent=True) == "42 % (38-45 %)"
    assert harness.fmt_ratio(harness.Ratio(0.00214, 0.002, 0.0025)) == "0.00214 (0.002-0.0025)"
    assert harness.fmt_ratio(None) == "-"


def test_table_gives_each_broker_its_range_the_ratios_and_the_flag() -> None:
    runs = samples(
        "produce 1KB",
        "mb_s",
        {
            "mock": [1000.0, 1000.0, 1000.0],
            "odradek": [450.0, 415.0, 470.0],
            "tansu": [300.0, 200.0, 301.0],
        },
    )
    rows = [Row("produce 1KB", "mb_s", "MB/s")]
    head, _rule, line = harness.table_lines(runs, rows, BROKERS, ROLES, 3)
    assert head.split(" | ")[4:8] == ["tansu", "odradek / tansu", "odradek / mock", "tansu / mock"]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[:5] == [
        "produce 1KB",
        "MB/s",
        "1000 (1000-1000)",
        "450 (415-470)",
        "300 (200-301)",
    ]
    assert cells[5] == "1.50 (1.38-2.35)"
    assert cells[6] == "45 % (42-47 %)"
    assert cells[8] == "tansu 34 %"  # (301 - 200) / 300
    assert harness.flagged_rows(runs, rows) == ["produce 1KB MB/s: tansu 34 %"]


def test_failed_and_missing_runs_are_left_out_and_counted() -> None:
    runs = samples("c", "p50_ms", {"odradek": [1.0, 1.2], "tansu": [2.0]})
    runs.append(Sample("c", "tansu", 1, error="BenchError: broker exited"))
    rows = [Row("c", "p50_ms", "p50 ms", higher_is_better=False)]
    line = harness.table_lines(runs, rows, ("odradek", "tansu"), ROLES, 2)[2]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2:5] == ["1.10 (1.00-1.20)", "2.00 (2.00-2.00) n=1", "0.55 (0.5-0.6)"]
    assert harness.failure_lines(runs)[0] == "**c on tansu, repeat 2**"


def test_a_short_window_or_too_few_repeats_is_a_smoke_run() -> None:
    def run(window: float, repeats: int) -> harness.Run:
        return harness.Run("t", "cmd", [], {}, BROKERS, repeats, window, (0, 0, 0), "")

    assert not run(3.0, 3).smoke
    assert run(2.9, 3).smoke
    assert run(5.0, 2).smoke
    assert "SMOKE RUN" in "\n".join(harness.header_lines(run(0.25, 1)))
    assert "SMOKE RUN" not in "\n".join(harness.header_lines(run(5.0, 3)))


def test_every_slot_is_run_and_a_failure_is_recorded_not_raised() -> None:
    def measure(slot: Slot) -> dict[str, float]:
        if slot.broker == "Y" and slot.repeat == 1:
            raise RuntimeError("no broker")
        return {"mb_s": 1.0 + slot.repeat}

    seen: list[tuple[int, int]] = []
    slots = harness.schedule(["a"], ["X", "Y"], 2)
    out = harness.run_slots(slots, measure, lambda n, total, _s: seen.append((n, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [s.metrics for s in out] == [{"mb_s": 1.0}, {"mb_s": 1.0}, {"mb_s": 2.0}, {}]
    assert out[3].error == "RuntimeError: no broker"


def test_document_holds_samples_and_summaries() -> None:
    run = harness.Run("t", "cmd", ["m"], {"cores": "2"}, ("odradek",), 3, 5.0, (1, 1, 1), "")
    run.samples = samples("c", "mb_s", {"odradek": [1.0, 2.0, 3.0]})
    doc = harness.run_document(run, [Row("c", "mb_s", "MB/s")], ROLES)
    assert doc["smoke"] is False
    assert len(doc["samples"]) == 3
    (summary,) = doc["summaries"]
    assert summary["median"] == 2.0 and summary["flagged"] is True


def test_the_last_json_object_line_is_the_answer() -> None:
    assert harness.last_json_line('noise\n{"metrics": {"a": 1}}\n\n') == {"metrics": {"a": 1}}
    assert harness.last_json_line('{"a": 1}\n{"b": 2}\nnot json {') == {"b": 2}
    assert harness.last_json_line("[1, 2]\n{broken") is None


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_case_process_answers_metrics_or_an_error(tmp_path: Path) -> None:
    code = 'print("log line"); print(\'{"metrics": {"mb_s": 12.5}}\')'
    assert harness.run_case_process(python(code), 60, tmp_path / "a.log") == {"mb_s": 12.5}
    code = 'import sys; print("trace", file=sys.stderr); print(\'{"error": "boom"}\')'
    with pytest.raises(harness.CaseFailed, match=r"boom(.|\n)*trace"):
        harness.run_case_process(python(code), 60, tmp_path / "b.log")
    with pytest.raises(harness.CaseFailed, match="no answer"):
        harness.run_case_process(python("raise SystemExit(3)"), 60, tmp_path / "c.log")


def test_a_case_process_past_its_timeout_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    with pytest.raises(harness.CaseFailed, match="timed out"):
        harness.run_case_process(python(code), 10, tmp_path / "d.log")
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process_exists(pid):
        time.sleep(0.1)
    assert not process_exists(pid)


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_steal_is_the_share_of_cpu_ticks_given_to_others() -> None:
    assert harness.steal_percent((1000, 10), (2000, 60)) == pytest.approx(5.0)
    assert harness.steal_percent((1000, 10), (1000, 10)) == 0.0
    total, steal = harness.cpu_ticks()
    assert total >= steal >= 0
