"""Comparison suite: odradek vs Tansu (and librdkafka's mock ceiling), written up as a report.

Runs ``foundation.py``'s cases (produce, consume, closed-loop and open-loop latency) and an
open-loop latency-vs-load sweep on the fair method of ``benchmarks/harness.py``: every
(broker, case) in a fresh client process against a broker running alone, the brokers
alternating A B A B per case over ``--repeats``, each figure a median with its min-max.
Writes ``latest.md`` (and, with matplotlib, ``latency_vs_load.png`` and ``throughput.png``)
to ``benchmarks/results/``; a smoke run's go to the work dir.

    python benchmarks/compare.py [--scale 1] [--repeats 3] [--brokers odradek,tansu,mock]
"""

from __future__ import annotations

import argparse
import atexit
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import foundation as fd
from benchmarks import harness

SWEEP_RATES = (1000, 2500, 5000, 10000, 20000)
SWEEP_CONSUMER = "fetch.wait.max.ms=1"
SWEEP_CASES = tuple(
    fd.open_loop_case(rate, SWEEP_CONSUMER, dict(fd.LATENCY_CONSUMERS)[SWEEP_CONSUMER])
    for rate in SWEEP_RATES
)
NAMES = {"mock": "mock (ceiling)", "odradek": "odradek", "tansu": "Tansu"}
COLOURS = {"mock": "grey", "odradek": "tab:blue", "tansu": "tab:orange"}


# --------------------------------------------------------------------------- markdown


def sweep_lines(run: harness.Run, sweep: Sequence[fd.Case]) -> list[str]:
    if not sweep:
        return []
    return [
        "## Latency vs load",
        "",
        f"Open-loop end-to-end latency, consumer `{SWEEP_CONSUMER}`, one rate per case (each "
        f"its own slots, alternated like the rest), {run.window_s:g} s per rate, 100 B values, "
        "acks=all, one partition. The producer keeps a fixed schedule and each record is timed "
        "from its scheduled send, so a side that falls behind shows up as latency.",
        "",
        *harness.table_lines(run.samples, fd.rows_for(sweep), run.brokers, fd.ROLES, run.repeats),
        "",
    ]


# --------------------------------------------------------------------------- plots


def errorbar_points(
    run: harness.Run, cases: Sequence[fd.Case], broker: str, metric: str
) -> tuple[list[int], list[float], list[list[float]]]:
    """(x index, median, [below, above]) for the cases where `broker` has `metric`."""
    xs: list[int] = []
    ys: list[float] = []
    err: list[list[float]] = [[], []]
    for i, case in enumerate(cases):
        by = harness.spreads(run.samples, case.key, metric)
        if broker in by:
            s = by[broker]
            xs.append(i)
            ys.append(s.median)
            err[0].append(s.median - s.low)
            err[1].append(s.high - s.median)
    return xs, ys, err


def write_plots(
    out: Path, run: harness.Run, cases: Sequence[fd.Case], sweep: Sequence[fd.Case]
) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "Plots skipped: matplotlib is not installed (`pip install -e .[bench]`)."
    fig, ax = plt.subplots(figsize=(8, 5))
    for broker in run.brokers:
        for metric, style in (("p50_ms", "-o"), ("p99_ms", "--s")):
            xs, ys, err = errorbar_points(run, sweep, broker, metric)
            if xs:
                rates = [sweep[i].rate for i in xs]
                label = f"{NAMES[broker]} {metric.split('_')[0]}"
                ax.errorbar(rates, ys, yerr=err, fmt=style, color=COLOURS[broker], label=label)
    ax.set(xscale="log", yscale="log", xlabel="offered load (records/s)", ylabel="latency (ms)")
    ax.set_xticks(SWEEP_RATES, [str(r) for r in SWEEP_RATES])
    ax.set_title(f"Open-loop end-to-end latency vs load ({SWEEP_CONSUMER}), median and range")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency_vs_load.png", dpi=110)
    plt.close(fig)

    bars = [c for c in cases if c.scenario in ("produce", "consume")]
    shown = list(run.brokers)
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / max(1, len(shown))
    for k, broker in enumerate(shown):
        xs, ys, err = errorbar_points(run, bars, broker, "mb_s")
        offset = (k - (len(shown) - 1) / 2) * width
        at = [x + offset for x in xs]
        ax.bar(at, ys, width, yerr=err, label=NAMES[broker], color=COLOURS[broker], capsize=2)
    ax.set_xticks(range(len(bars)), [c.key for c in bars], fontsize=7, rotation=30, ha="right")
    ax.set_ylabel("MB/s (value bytes), median and range")
    ax.set_title("Throughput by case")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=110)
    plt.close(fig)
    return "![latency vs load](latency_vs_load.png)\n\n![throughput](throughput.png)"


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> fd.Settings:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    fd.add_options(ap, default_scale=1.0)
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report directory (default: benchmarks/results; a smoke run's: the work dir)",
    )
    return fd.settings_from(ap, ap.parse_args(argv), "odradek-compare-")


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    atexit.register(fd.kill_all_live)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cases = fd.select_cases(fd.CASES + SWEEP_CASES, settings.only)
    main_cases = [c for c in cases if c not in SWEEP_CASES or c in fd.CASES]
    sweep = sorted((c for c in cases if c in SWEEP_CASES), key=lambda c: c.rate)
    title = "odradek vs Tansu: benchmark results"
    run = fd.run_suite(cases, settings, title, fd.command_line("compare.py", argv))
    out = settings.out or fd.results_dir(settings, run)
    out.mkdir(parents=True, exist_ok=True)
    plots = write_plots(out, run, cases, sweep)
    results = fd.result_lines(run, main_cases) + sweep_lines(run, sweep)
    markdown = harness.header_lines(run) + results + [plots, ""] + fd.tail_lines(run)
    print("\n" + "\n".join(results))
    fd.write_outputs(out / "latest.md", settings, run, cases, markdown)
    print(f"report: {out / 'latest.md'}; logs in {settings.work_dir}; total {run.runtime_s:.0f}s")
    return 1 if any(s.error for s in run.samples) else 0


if __name__ == "__main__":
    sys.exit(main())
