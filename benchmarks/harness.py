"""The fair method for benchmarks that compare brokers (#19), independent of their scenarios.

* ``schedule``: per case, every broker in turn, repeated: A B A B (A B C A B C with a ceiling).
* ``run_slots``: measures each slot with a caller's function (which starts the slot's broker,
  runs the case in a fresh client process with ``run_case_process`` and stops the broker),
  recording the load average and the kernel's dirty bytes beside every figure.
* ``summarise``/``ratio``: the median and min-max of a figure over its repeats, the spread
  (max - min) / median, flagged over ``SPREAD_LIMIT``, and ratios with their ranges.
* ``Row``/``table_lines``/``run_document``: the results as markdown and JSON, with the method,
  the machine, the load average before and after, and the flagged rows.

Nothing here imports a Kafka client; a scenario module supplies the brokers and the cases.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SPREAD_LIMIT = 0.30
"""A row whose (max - min) / median exceeds this is flagged: its median is not to be trusted."""
MIN_WINDOW_S = 3.0
"""Timed windows shorter than this let fixed costs dominate: such a run is a smoke run."""
MIN_REPEATS = 3
SETTLE_DIRTY_BYTES = 128 * 2**20
SETTLE_TIMEOUT_S = 30.0
STOP_WAITS = ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0))
TAIL_CHARS = 1500


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class Slot:
    """One measurement: a case on one broker, in one repeat."""

    case: str
    broker: str
    repeat: int


def schedule(cases: Sequence[str], brokers: Sequence[str], repeats: int) -> list[Slot]:
    """Case by case, the brokers alternate within each repeat: A B A B ... for `repeats`."""
    return [Slot(c, b, r) for c in cases for r in range(repeats) for b in brokers]


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Spread:
    """One figure over its repeats: median, min and max, and how many repeats gave it."""

    median: float
    low: float
    high: float
    n: int

    @property
    def spread(self) -> float:
        """(max - min) / median; infinite when the median is 0 and the values differ."""
        width = self.high - self.low
        if self.median == 0:
            return 0.0 if width == 0 else float("inf")
        return width / abs(self.median)

    @property
    def flagged(self) -> bool:
        return self.spread > SPREAD_LIMIT


def summarise(values: Sequence[float]) -> Spread:
    if not values:
        raise ValueError("no values to summarise")
    return Spread(statistics.median(values), min(values), max(values), len(values))


@dataclass(frozen=True)
class Ratio:
    """a / b: the ratio of the medians, and the range min(a)/max(b) .. max(a)/min(b)."""

    value: float
    low: float
    high: float


def ratio(a: Spread, b: Spread) -> Ratio | None:
    """None when b's figures reach 0 (no ratio can be given)."""
    if b.low <= 0 or b.median <= 0:
        return None
    return Ratio(a.median / b.median, a.low / b.high, a.high / b.low)


def fmt_number(value: float) -> str:
    """Three significant figures, without an exponent for the magnitudes benchmarks see."""
    if value == 0 or abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def fmt_spread(s: Spread, repeats: int) -> str:
    """`median (min-max)`, with the count when fewer repeats than scheduled gave a figure."""
    text = f"{fmt_number(s.median)} ({fmt_number(s.low)}-{fmt_number(s.high)})"
    return text if s.n >= repeats else f"{text} n={s.n}"


def fmt_ratio(r: Ratio | None, percent: bool = False) -> str:
    if r is None:
        return "-"
    if percent:
        return f"{100 * r.value:.0f} % ({100 * r.low:.0f}-{100 * r.high:.0f} %)"
    return f"{fmt_number(r.value)} ({fmt_number(r.low)}-{fmt_number(r.high)})"


# --------------------------------------------------------------------------- machine


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def fmt_load(load: Sequence[float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def cpu_pressure() -> str:
    """The kernel's CPU pressure (share of time some task waited for a CPU), when exposed."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "n/a"
    fields = dict(part.split("=", 1) for part in first.split()[1:] if "=" in part)
    return f"{fields.get('avg10', '?')} % (10 s), {fields.get('avg60', '?')} % (60 s)"


def machine() -> dict[str, str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cores": f"{os.cpu_count()} (usable by this process: {usable or '?'})",
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def dirty_bytes() -> int:
    """Page cache waiting to be written back (Dirty + Writeback in /proc/meminfo)."""
    total = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("Dirty", "Writeback"):
                total += int(rest.split()[0]) * 1024
    return total


def settle(limit: int = SETTLE_DIRTY_BYTES, timeout: float = SETTLE_TIMEOUT_S) -> float:
    """Flush the file systems (a deleted log's discards included) and wait, bounded, until
    nothing much is left to write back, so the next broker does not pay for the previous
    slot's writes; returns the seconds it took."""
    began = time.monotonic()
    os.sync()
    deadline = began + timeout
    while dirty_bytes() > limit and time.monotonic() < deadline:
        time.sleep(0.2)
    return time.monotonic() - began


def cpu_ticks() -> tuple[int, int]:
    """(all, steal) CPU time ticks of the machine since boot, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return 0, 0
    ticks = [int(x) for x in fields[:8]]
    return sum(ticks), ticks[7] if len(ticks) > 7 else 0


def steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of the CPU time the hypervisor gave to others between two `cpu_ticks`."""
    total = after[0] - before[0]
    return 100 * (after[1] - before[1]) / total if total > 0 else 0.0


# --------------------------------------------------------------------------- processes


class CaseFailed(Exception):
    """A case process failed; the message holds its error and the tail of its stderr."""


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started in its own session (pgid == its PID): TERM, then KILL."""
    if proc.poll() is not None:
        return
    for sig, wait in STOP_WAITS:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def last_json_line(text: str) -> dict[str, Any] | None:
    """The last stdout line that is a JSON object: a case process's answer."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if isinstance(doc, dict):
                    return doc
    return None


def run_case_process(argv: list[str], timeout: float, stderr_path: Path) -> dict[str, float]:
    """Run one case in a fresh process (its own session, stopped by PID on timeout); it prints
    ``{"metrics": {...}}`` or ``{"error": "..."}`` as its last stdout line."""
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            stop_group(proc)
            proc.communicate()
            message = f"case process timed out after {timeout:.0f}s{tail(stderr_path)}"
            raise CaseFailed(message) from exc
        finally:
            stop_group(proc)
    answer = last_json_line(out.decode(errors="replace"))
    if answer is None:
        raise CaseFailed(f"case process exited {proc.returncode}, no answer{tail(stderr_path)}")
    if "error" in answer:
        raise CaseFailed(f"{answer['error']}{tail(stderr_path)}")
    return {str(k): float(v) for k, v in answer.get("metrics", {}).items()}


def tail(path: Path, chars: int = TAIL_CHARS) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return f"\n--- {path.name}:\n{text[-chars:]}" if text else ""


# --------------------------------------------------------------------------- driver


@dataclass
class Sample:
    """What one slot measured (or why it did not), and the machine around it."""

    case: str
    broker: str
    repeat: int
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""
    load1: float = 0.0
    dirty_mb: float = 0.0
    settled_s: float = 0.0
    wall_s: float = 0.0
    steal_pct: float = 0.0


Measure = Callable[[Slot], dict[str, float]]
Progress = Callable[[int, int, Sample], None]


def run_slots(slots: Sequence[Slot], measure: Measure, progress: Progress) -> list[Sample]:
    samples: list[Sample] = []
    for number, slot in enumerate(slots, 1):
        settled = settle()
        sample = Sample(slot.case, slot.broker, slot.repeat, settled_s=settled)
        sample.load1, sample.dirty_mb = load_average()[0], dirty_bytes() / 2**20
        began, ticks = time.monotonic(), cpu_ticks()
        try:
            sample.metrics = measure(slot)
        except Exception as exc:
            sample.error = f"{type(exc).__name__}: {exc}"
        sample.wall_s = time.monotonic() - began
        sample.steal_pct = steal_percent(ticks, cpu_ticks())
        samples.append(sample)
        progress(number, len(slots), sample)
    return samples


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Row:
    """One line of a results table: one figure of one case, across the brokers."""

    case: str
    metric: str
    label: str
    higher_is_better: bool = True


@dataclass(frozen=True)
class Roles:
    """Which brokers the ratio columns compare: subject / peer, and each one / ceiling; a role
    that names none of the brokers has no column."""

    subject: str
    peer: str
    ceiling: str


def spreads(samples: Iterable[Sample], case: str, metric: str) -> dict[str, Spread]:
    """Per broker, the figure `metric` of `case` over the repeats that measured it."""
    values: dict[str, list[float]] = {}
    for s in samples:
        if s.case == case and not s.error and metric in s.metrics:
            values.setdefault(s.broker, []).append(s.metrics[metric])
    return {broker: summarise(vals) for broker, vals in values.items()}


def flagged_brokers(by_broker: Mapping[str, Spread]) -> list[str]:
    return [f"{b} {100 * s.spread:.0f} %" for b, s in by_broker.items() if s.flagged]


def table_lines(
    samples: Sequence[Sample],
    rows: Sequence[Row],
    brokers: Sequence[str],
    roles: Roles,
    repeats: int,
) -> list[str]:
    """Markdown: each broker's median (min-max), subject/peer, each broker's share of the
    ceiling (throughput) or multiple of it (latency), and the brokers whose spread is over
    the limit."""
    others = [b for b in brokers if b != roles.ceiling]
    ratio_heads = []
    if roles.subject in brokers and roles.peer in brokers:
        ratio_heads.append(f"{roles.subject} / {roles.peer}")
    if roles.ceiling in brokers:
        ratio_heads += [f"{b} / {roles.ceiling}" for b in others]
    head = ["case", "figure", *brokers, *ratio_heads, f"spread > {100 * SPREAD_LIMIT:.0f} %"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        by = spreads(samples, row.case, row.metric)
        cells = [row.case, row.label]
        cells += [fmt_spread(by[b], repeats) if b in by else "-" for b in brokers]
        if roles.subject in brokers and roles.peer in brokers:
            cells.append(pair_ratio(by, roles.subject, roles.peer, percent=False))
        if roles.ceiling in brokers:
            percent = row.higher_is_better
            cells += [pair_ratio(by, b, roles.ceiling, percent=percent) for b in others]
        cells.append(", ".join(flagged_brokers(by)) or "")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def pair_ratio(by: Mapping[str, Spread], a: str, b: str, percent: bool) -> str:
    if a not in by or b not in by:
        return "-"
    return fmt_ratio(ratio(by[a], by[b]), percent)


def flagged_rows(samples: Sequence[Sample], rows: Sequence[Row]) -> list[str]:
    out = []
    for row in rows:
        flags = flagged_brokers(spreads(samples, row.case, row.metric))
        if flags:
            out.append(f"{row.case} {row.label}: {', '.join(flags)}")
    return out


def failure_lines(samples: Sequence[Sample]) -> list[str]:
    out: list[str] = []
    for s in samples:
        if s.error:
            text = s.error if len(s.error) <= TAIL_CHARS else s.error[:TAIL_CHARS] + "..."
            out += [f"**{s.case} on {s.broker}, repeat {s.repeat + 1}**", "", "```", text, "```"]
            out.append("")
    return out


@dataclass
class Run:
    """A whole comparison: what was measured, how, where, and the machine's load around it."""

    title: str
    command: str
    method: list[str]
    machine: dict[str, str]
    brokers: tuple[str, ...]
    repeats: int
    window_s: float
    load_before: tuple[float, float, float]
    pressure_before: str
    samples: list[Sample] = field(default_factory=list)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    pressure_after: str = ""
    started: str = ""
    runtime_s: float = 0.0

    @property
    def smoke(self) -> bool:
        """Too short or too few repeats to be a measurement."""
        return self.window_s < MIN_WINDOW_S or self.repeats < MIN_REPEATS


def smoke_banner(run: Run) -> list[str]:
    if not run.smoke:
        return []
    return [
        f"> **SMOKE RUN, NOT A MEASUREMENT**: timed windows of {run.window_s:g} s "
        f"(a measurement needs >= {MIN_WINDOW_S:g} s) and {run.repeats} repeat(s) "
        f"(>= {MIN_REPEATS}). It shows that the harness works, nothing about the brokers.",
        "",
    ]


def header_lines(run: Run) -> list[str]:
    loads = [s.load1 for s in run.samples]
    during = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-"
    steal = [s.steal_pct for s in run.samples]
    stolen = f"{min(steal):.1f}-{max(steal):.1f} %" if steal else "-"
    return [
        f"# {run.title}",
        "",
        *smoke_banner(run),
        f"Generated {run.started} by `{run.command}` in {run.runtime_s:.0f} s.",
        "",
        "## Method",
        "",
        *(f"- {line}" for line in run.method),
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in run.machine.items()),
        f"| load average before (1, 5, 15 min) | {fmt_load(run.load_before)} |",
        f"| load average after | {fmt_load(run.load_after)} |",
        f"| 1-min load average at the slots' starts | {during} |",
        f"| CPU pressure before / after | {run.pressure_before} / {run.pressure_after} |",
        f"| CPU steal during the slots (hypervisor) | {stolen} |",
        "",
    ]


def run_document(run: Run, rows: Sequence[Row], roles: Roles) -> dict[str, Any]:
    """The JSON form: everything in the markdown, every sample, and every summary."""
    summaries = []
    for row in rows:
        for broker, s in spreads(run.samples, row.case, row.metric).items():
            summaries.append(
                {"case": row.case, "metric": row.metric, "broker": broker}
                | asdict(s)
                | {"spread": s.spread, "flagged": s.flagged}
            )
    doc = asdict(run)
    doc |= {"smoke": run.smoke, "spread_limit": SPREAD_LIMIT, "roles": asdict(roles)}
    doc["summaries"] = summaries
    return doc
