"""Comparison suite: odradek vs Tansu (and librdkafka's mock ceiling), written up as a report.

Runs ``foundation.py``'s scenarios (produce, consume, closed-loop and open-loop latency) against
every target in one run, then an open-loop latency-vs-load sweep, and writes
``benchmarks/results/latest.md`` plus, when matplotlib is installed (``pip install -e .[bench]``),
``latency_vs_load.png`` and ``throughput.png`` next to it.

    python benchmarks/compare.py [--scale 0.5] [--brokers odradek,tansu,mock] [--out DIR]

Everything here is imported from ``foundation.py``: broker start/stop (every broker process is
killed by PID), the mock cluster, the scenario runners, the table helpers.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import dataclasses
import io
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import foundation as fd

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_SCALE = 0.5
SWEEP_RATES = (1000, 2500, 5000, 10000, 20000)
SWEEP_SECS = 3.0
SWEEP_VARIANT = fd.LatencyVariant("fetch.wait.max.ms=1", {"fetch.wait.max.ms": 1})
SWEEP_SCENARIO = "latency-vs-load"
THROUGHPUT_SCENARIOS = ("produce", "consume")
NAMES = {"mock": "mock (ceiling)", "odradek": "odradek", "tansu": "Tansu"}
FAILURE_CHARS = 1500


# --------------------------------------------------------------------------- running


@contextlib.contextmanager
def open_loop_rate(rate: int) -> Iterator[None]:
    """foundation's open-loop runner reads its rate from a module constant; lend it ours."""
    saved = fd.OPEN_LOOP_RATE
    fd.OPEN_LOOP_RATE = rate
    try:
        yield
    finally:
        fd.OPEN_LOOP_RATE = saved


def sweep_settings(settings: fd.Settings) -> fd.Settings:
    # foundation's open loop lasts max(1, 5 * scale) seconds; pick the scale that gives SWEEP_SECS.
    return dataclasses.replace(settings, scale=SWEEP_SECS / 5.0)


def run_sweep(target: fd.Target, settings: fd.Settings) -> list[fd.Result]:
    """Open-loop end-to-end latency at each rate of SWEEP_RATES (bounded: 5 rates x ~3 s)."""
    short = sweep_settings(settings)
    results: list[fd.Result] = []
    for rate in SWEEP_RATES:
        with open_loop_rate(rate):
            fn = lambda: fd.run_open_loop(target, SWEEP_VARIANT, short)  # noqa: E731
            results.append(fd.guarded(target, SWEEP_SCENARIO, f"{rate}/s", fn))
    return results


def run_all(settings: fd.Settings) -> list[fd.Result]:
    results: list[fd.Result] = []
    for name in fd.ORDER:
        if name not in settings.brokers:
            continue
        print(f"== {name}", flush=True)
        began = time.monotonic()
        try:
            with fd.open_target(name, settings) as target:
                results.extend(fd.run_target(target, settings))
            # A fresh broker (empty data dir) for the sweep, without the throughput cases' data.
            shutil.rmtree(settings.work_dir / "odradek-data", ignore_errors=True)
            with fd.open_target(name, settings) as target:
                target.create_topics([(SWEEP_VARIANT.topic("open"), 1)])
                results.extend(run_sweep(target, settings))
        except Exception as exc:
            results.append(fd.Result("setup", "start broker", name, error=f"{exc}"))
            print(f"  [{name}] could not start: {exc}", flush=True)
        print(f"  [{name}] done in {time.monotonic() - began:.0f}s", flush=True)
    return results


# --------------------------------------------------------------------------- markdown


def md_cell(res: fd.Result | None, key: str) -> str:
    if res is None or res.error or key not in res.metrics:
        return fd.fmt_cell(res, key).strip()
    val = res.metrics[key]
    if key == "mb_s":
        mark = "\\*" if fd.is_partial(res) else ""
        return f"{val:.1f} MB/s ({res.metrics['rec_s'] / 1000:.1f}k rec/s){mark}"
    return f"{val:.2f} ms"


def index_of(results: list[fd.Result]) -> dict[tuple[str, str, str], fd.Result]:
    return {(r.scenario, r.case, r.broker): r for r in results}


def scenario_table(results: list[fd.Result], brokers: tuple[str, ...]) -> list[str]:
    index = index_of(results)
    shown = [b for b in fd.ORDER if b in brokers]
    skip = ("setup", SWEEP_SCENARIO)
    cases = list(dict.fromkeys((r.scenario, r.case) for r in results if r.scenario not in skip))
    head = ["scenario", "case", "metric", *(NAMES[b] for b in shown)]
    head += ["odradek / Tansu", "odradek vs mock"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for scen, case in cases:
        row = {b: index.get((scen, case, b)) for b in shown}
        odr, tan, mock = row.get("odradek"), row.get("tansu"), row.get("mock")
        for metric, label in fd.METRICS[scen]:
            is_tp = metric == "mb_s"
            vs_mock = fd.ratio(odr, mock, metric, pct=is_tp)
            if not is_tp and vs_mock != "-":
                vs_mock = f"{vs_mock}x"
            cells = [scen, case, "throughput" if is_tp else label]
            cells += [md_cell(row[b], metric) for b in shown]
            cells += [fd.ratio(odr, tan, metric), vs_mock]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def sweep_table(results: list[fd.Result], brokers: tuple[str, ...]) -> list[str]:
    index = index_of(results)
    shown = [b for b in fd.ORDER if b in brokers]
    lines = [
        "| offered rate (rec/s) | broker | achieved (rec/s) | p50 ms | p99 ms | p99.9 ms "
        "| > 100 ms |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for rate in SWEEP_RATES:
        for b in shown:
            res = index.get((SWEEP_SCENARIO, f"{rate}/s", b))
            if res is None:
                continue
            if res.error:
                lines.append(f"| {rate} | {NAMES[b]} | FAILED | - | - | - | - |")
                continue
            m = res.metrics
            lines.append(
                f"| {rate} | {NAMES[b]} | {m['rate']:.0f} | {m['p50_ms']:.2f} | "
                f"{m['p99_ms']:.2f} | {m['p99_9_ms']:.2f} | {m['over_100ms']:.0f} |"
            )
    return lines


def captured(fn: Callable[[list[fd.Result]], None], results: list[fd.Result]) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn(results)
    return buf.getvalue().strip()


def failure_lines(results: list[fd.Result]) -> list[str]:
    failed = [r for r in results if r.error]
    if not failed:
        return []
    out = ["", "## Failures", ""]
    for res in failed:
        text = res.error if len(res.error) <= FAILURE_CHARS else res.error[:FAILURE_CHARS] + "…"
        out += [f"**[{res.broker}] {res.scenario} {res.case}**", "", "```", text, "```", ""]
    return out


def write_markdown(
    path: Path,
    info: dict[str, str],
    results: list[fd.Result],
    settings: fd.Settings,
    meta: dict[str, str],
) -> None:
    lines = [
        "# odradek vs Tansu: benchmark results",
        "",
        f"Generated {meta['date']} by `{meta['command']}` "
        f"(scale {settings.scale:g}, total runtime {meta['runtime']}).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "## Setup",
        "",
        "- Load generator: confluent-kafka (librdkafka) in one Python process; one broker at a "
        "time on 127.0.0.1, killed by PID when its turn ends.",
        "- `mock` is librdkafka's in-process mock cluster: the client's own ceiling.",
        "- odradek: `python -m odradek serve`, durable log on a temp dir. Tansu: 0.6 from the "
        f"`{fd.TANSU_PACKAGE}` wheel, `memory://` storage.",
        f"- Producer: librdkafka defaults + `linger.ms={fd.LINGER_MS}`, no compression, null keys. "
        f"Produce: 1M x 1 KB and 3M x 100 B per case x scale {settings.scale:g}; each case is "
        f"capped at {settings.case_timeout:.0f} s.",
        "- Latency: 100 B values, acks=all, end-to-end produce -> consume. "
        f"Closed loop N={settings.closed_loop_n}; open loop {fd.OPEN_LOOP_RATE} rec/s for "
        f"{settings.open_loop_secs:g} s, timed from the *scheduled* send time.",
        "",
        "## Scenarios",
        "",
        "Throughput counts value bytes (1 MB = 10^6 B), higher is better; latency in ms, lower "
        "is better. `odradek / Tansu` is a plain ratio. `odradek vs mock` is throughput as a "
        "share of the client's ceiling, latency as a multiple of it. \\* = fewer records than "
        "targeted (case timeout hit).",
        "",
        *scenario_table(results, settings.brokers),
        "",
        "## Latency vs load",
        "",
        f"Open-loop end-to-end latency on a freshly started broker, consumer "
        f"`{SWEEP_VARIANT.label}`, {SWEEP_SECS:g} s per rate in increasing order, 100 B values, "
        "acks=all, one partition. The producer keeps a fixed schedule and "
        "each record is timed from its scheduled send, so a side that falls behind shows up as "
        "latency; `achieved` is records sent / duration.",
        "",
        *sweep_table(results, settings.brokers),
        "",
        meta["plots"],
        "",
        "## Notes",
        "",
        "```",
        captured(fd.print_notes, results) or "(none)",
        "```",
        *failure_lines(results),
    ]
    path.write_text("\n".join(lines).rstrip() + "\n")


# --------------------------------------------------------------------------- plots


def write_plots(out: Path, results: list[fd.Result], brokers: tuple[str, ...]) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "Plots skipped: matplotlib is not installed (`pip install -e .[bench]`)."
    index = index_of(results)
    colours = {"mock": "grey", "odradek": "tab:blue", "tansu": "tab:orange"}

    fig, ax = plt.subplots(figsize=(8, 5))
    for b in (b for b in fd.ORDER if b in brokers):
        for key, style in (("p50_ms", "-o"), ("p99_ms", "--s")):
            pts = [
                (rate, res.metrics[key])
                for rate in SWEEP_RATES
                if (res := index.get((SWEEP_SCENARIO, f"{rate}/s", b))) and not res.error
            ]
            if pts:
                xs, ys = zip(*pts, strict=True)
                label = f"{NAMES[b]} {key.split('_')[0]}"
                ax.plot(xs, ys, style, color=colours[b], label=label)
    ax.set(xscale="log", yscale="log", xlabel="offered load (records/s)", ylabel="latency (ms)")
    ax.set_xticks(SWEEP_RATES, [str(r) for r in SWEEP_RATES])
    ax.set_title(f"Open-loop end-to-end latency vs load ({SWEEP_VARIANT.label})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency_vs_load.png", dpi=110)
    plt.close(fig)

    cases = list(
        dict.fromkeys((r.scenario, r.case) for r in results if r.scenario in THROUGHPUT_SCENARIOS)
    )
    bars = [b for b in ("odradek", "tansu") if b in brokers]
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.8 / max(1, len(bars))
    for i, b in enumerate(bars):
        vals = []
        for scen, case in cases:
            res = index.get((scen, case, b))
            vals.append(res.metrics.get("mb_s", 0.0) if res and not res.error else 0.0)
        xs = [j + (i - (len(bars) - 1) / 2) * width for j in range(len(cases))]
        ax.bar(xs, vals, width, label=NAMES[b], color=colours[b])
    labels = [f"{s} {c}" for s, c in cases]
    ax.set_xticks(range(len(cases)), labels, fontsize=8, rotation=30, ha="right")
    ax.set_ylabel("MB/s (value bytes, higher is better)")
    ax.set_title("Throughput by scenario")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=110)
    plt.close(fig)
    return "![latency vs load](latency_vs_load.png)\n\n![throughput](throughput.png)"


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> tuple[fd.Settings, Path]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", default="odradek,tansu,mock", help="comma list (default: all)")
    ap.add_argument(
        "--scale",
        type=float,
        default=DEFAULT_SCALE,
        help=f"multiply foundation's record counts / durations (default {DEFAULT_SCALE})",
    )
    ap.add_argument("--case-timeout", type=float, default=60.0, help="seconds per case")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR, help="report directory")
    args = ap.parse_args(argv)
    brokers = tuple(b.strip() for b in args.brokers.split(",") if b.strip())
    unknown = set(brokers) - set(fd.ORDER)
    if unknown or not brokers:
        ap.error(f"unknown broker(s): {sorted(unknown)}")
    if args.scale <= 0:
        ap.error("--scale must be > 0")
    work = Path(tempfile.mkdtemp(prefix="odradek-compare-"))
    return fd.Settings(brokers, args.scale, args.case_timeout, None, work), args.out


def main(argv: list[str] | None = None) -> int:
    settings, out = parse_args(argv)
    atexit.register(fd.kill_all_live)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    info = fd.machine_info()
    fd.print_header(info, settings)
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    began = time.monotonic()
    try:
        results = run_all(settings)
    finally:
        fd.kill_all_live()
        shutil.rmtree(settings.work_dir / "odradek-data", ignore_errors=True)
    runtime = f"{time.monotonic() - began:.0f} s"
    fd.print_report(info, [r for r in results if r.scenario != SWEEP_SCENARIO], settings)
    print(f"\nLatency vs load ({SWEEP_VARIANT.label}):")
    print("\n".join(sweep_table(results, settings.brokers)))
    out.mkdir(parents=True, exist_ok=True)
    plots = write_plots(out, results, settings.brokers)
    argv_shown = " ".join(sys.argv[1:] if argv is None else argv)
    meta = {
        "date": date,
        "command": f"python benchmarks/compare.py {argv_shown}".strip(),
        "runtime": runtime,
        "plots": plots,
    }
    write_markdown(out / "latest.md", info, results, settings, meta)
    print(f"\n{plots.splitlines()[0] if plots.startswith('Plots') else 'plots written'}")
    print(f"report: {out / 'latest.md'}; broker logs in {settings.work_dir}; total {runtime}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
