"""Why #19's one-process run under-measured Tansu: one case, six conditions, alternated.

The old ``foundation.py`` ran every mock case, then every odradek case, then every Tansu case
from one long-lived client process, on one broker per target holding every case's topic. This
measures Tansu's ``produce 1KB acks=1 p=1`` (a fresh, empty Tansu each time) under:

* ``fresh``     -- the fair method: a fresh client process, only the case's topic.
* ``client``    -- one long-lived client process (kept across repeats) that first ran the other
                   produce and consume cases in-process against the mock cluster.
* ``topics``    -- a fresh client process, Tansu holding the old suite's 11 other topics
                   besides the case's (32 partitions in all), as the old run made them first.
* ``after-odradek``         -- a fresh client process, right after an odradek wrote for
                               ``--write-seconds`` and was stopped, its log left on disk
                               (the old run deleted it only at exit).
* ``after-odradek-deleted`` -- the same with the log deleted and the file system synced
                               before Tansu starts (what ``foundation.py`` does now).
* ``after-busy``            -- a fresh client process after two processes spun the CPUs for
                               as long, with no broker and no disk.

Conditions alternate within each repeat; the table gives each one's median (min-max) and its
share of ``fresh``.  Run it on a quiet machine for figures; the conclusions are in
``benchmarks/README.md``.

    python benchmarks/method_check.py [--repeats 4] [--scale 0.4] [--write-seconds 8]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import foundation as fd
from benchmarks import harness

CASE = fd.PRODUCE_CASES[0]  # produce 1KB acks=1 p=1, the case
CONDITIONS = ("fresh", "client", "topics", "after-odradek", "after-odradek-deleted", "after-busy")
ROLES = harness.Roles(subject="", peer="", ceiling="fresh")  # each condition / fresh
OLD_TOPICS = [(c.topic, c.partitions) for c in fd.PRODUCE_CASES[1:] + fd.LATENCY_CASES if c != CASE]
HISTORY = [c for c in fd.PRODUCE_CASES + fd.CONSUME_CASES if c != CASE]


@dataclasses.dataclass
class Check:
    work: Path
    window: float
    write_seconds: float
    worker: LongLivedClient | None = None


class LongLivedClient:
    """A client process that runs case after case in-process, as the old harness did."""

    def __init__(self, log: Path) -> None:
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            start_new_session=True,
        )

    def run(self, run: fd.CaseRun) -> dict[str, float]:
        stdin, stdout = self.pipes()
        stdin.write(run.to_json().encode() + b"\n")
        stdin.flush()
        answer = harness.last_json_line(stdout.readline().decode())
        if answer is None or "error" in answer:
            raise fd.BenchError(f"long-lived client: {answer}")
        return {str(k): float(v) for k, v in answer["metrics"].items()}

    def pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        if self.proc.stdin is None or self.proc.stdout is None:
            raise fd.BenchError("long-lived client has no pipes")
        return self.proc.stdin, self.proc.stdout

    def stop(self) -> None:
        harness.stop_group(self.proc)
        self.log.close()


def worker() -> int:
    """The long-lived client: one CaseRun per stdin line, one JSON answer per stdout line."""
    for line in sys.stdin:
        try:
            run = fd.CaseRun.from_json(line)
            answer: dict[str, object] = {"metrics": fd.MEASURES[run.case.scenario](run)}
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)
    return 0


@contextlib.contextmanager
def broker(name: str, work: Path, topics: list[tuple[str, int]]) -> Iterator[fd.ProcessBroker]:
    work.mkdir(parents=True, exist_ok=True)
    if name == "mock":
        started: fd.ProcessBroker = fd.MockHost(topics, work / "mock.log")
    else:
        started = fd.make_process_broker(name, fd.Settings((name,), 1.0, 0.0, None, work))
    try:
        started.start(ready_timeout=fd.BROKER_READY_S)
        yield started
    finally:
        started.stop()


def case_run(case: fd.Case, target: fd.ProcessBroker, window: float) -> fd.CaseRun:
    return fd.CaseRun(case, target.name, target.bootstrap, target.pid, window, 100_000, 120.0)


def in_fresh_process(run: fd.CaseRun, log: Path) -> dict[str, float]:
    argv = [sys.executable, str(fd.SCRIPT), "--run-case", run.to_json()]
    return harness.run_case_process(argv, run.timeout + 30, log)


def long_lived(check: Check) -> LongLivedClient:
    """The client process of the ``client`` condition, made once with its history."""
    if check.worker is None:
        check.worker = LongLivedClient(check.work / "long-lived.log")
        for case in HISTORY:
            with broker(
                "mock", check.work / f"history-{case.topic}", [(case.topic, case.partitions)]
            ) as mock:
                check.worker.run(case_run(case, mock, check.window))
    return check.worker


def write_with_odradek(check: Check, work: Path) -> None:
    """An odradek writes for `write_seconds` and is stopped (its clean shutdown fsyncs the
    log); the log stays on disk, as the old run left it until its end."""
    writer = dataclasses.replace(fd.PRODUCE_CASES[1], label="writer 1KB acks=1 p=6")
    with broker("odradek", work, []) as odradek:
        in_fresh_process(case_run(writer, odradek, check.write_seconds), work / "writer.log")


def write_and_delete(check: Check, work: Path) -> None:
    """As `write_with_odradek`, then the log deleted and the file system synced."""
    write_with_odradek(check, work)
    shutil.rmtree(work, ignore_errors=True)
    os.sync()


def burn_cpu(check: Check, work: Path) -> None:
    """No broker, no disk: two processes spin for as long as the odradek conditions take."""
    seconds = check.write_seconds + 5
    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    spinners = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    for proc in spinners:
        proc.wait()


PRELUDES: dict[str, Callable[[Check, Path], None]] = {
    "after-odradek": write_with_odradek,
    "after-odradek-deleted": write_and_delete,
    "after-busy": burn_cpu,
}


def measure(slot: harness.Slot, check: Check) -> dict[str, float]:
    work = check.work / f"{slot.broker}-r{slot.repeat + 1}"
    work.mkdir(parents=True)
    try:
        if slot.broker in PRELUDES:
            PRELUDES[slot.broker](check, work / "prelude")
        client = long_lived(check) if slot.broker == "client" else None
        extra = OLD_TOPICS if slot.broker == "topics" else []
        dirty = harness.dirty_bytes() / 2**20
        with broker("tansu", work, []) as tansu:
            if extra:
                fd.admin_create_topics(tansu.bootstrap, extra, fd.ClientLog("admin"))
            run = case_run(CASE, tansu, check.window)
            metrics = client.run(run) if client else in_fresh_process(run, work / "client.log")
        return metrics | {"dirty_mb": dirty}
    finally:
        shutil.rmtree(work / "prelude", ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--worker"]:
        return worker()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--scale", type=float, default=0.4, help="of foundation's 5 s window")
    ap.add_argument("--write-seconds", type=float, default=8.0)
    opts = ap.parse_args(args)
    atexit.register(fd.kill_all_live)
    check = Check(
        Path(tempfile.mkdtemp(prefix="odradek-method-")), 5.0 * opts.scale, opts.write_seconds
    )
    slots = harness.schedule([CASE.key], CONDITIONS, opts.repeats)
    load_before = harness.load_average()
    try:
        samples = harness.run_slots(slots, lambda s: measure(s, check), fd.show_progress)
    finally:
        if check.worker is not None:
            check.worker.stop()
        fd.kill_all_live()
    rows = [
        harness.Row(CASE.key, "mb_s", "MB/s"),
        harness.Row(CASE.key, "broker_cpu_ms_per_mb", "Tansu CPU ms/MB", higher_is_better=False),
        harness.Row(CASE.key, "client_cpu_ms_per_mb", "client CPU ms/MB", higher_is_better=False),
    ]
    before, after = harness.fmt_load(load_before), harness.fmt_load(harness.load_average())
    print(f"\nload average before {before}, after {after}")
    print("\n".join(harness.table_lines(samples, rows, CONDITIONS, ROLES, opts.repeats)))
    print("\ndirty + writeback MiB when Tansu started:")
    for s in samples:
        dirty = s.metrics.get("dirty_mb", -1)
        print(f"  {s.broker:<10} r{s.repeat + 1}: {dirty:.0f} {s.error[:300]}")
    print(f"logs in {check.work}")
    return 1 if any(s.error for s in samples) else 0


if __name__ == "__main__":
    sys.exit(main())
