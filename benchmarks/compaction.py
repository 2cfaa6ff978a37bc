"""Compaction benchmark: how long the log cleaner takes over a big partition, how much memory
the cleaner worker and the broker need, and what it does to produce latency meanwhile.

1. Start ``python -m odradek serve`` on a temporary data dir (killed by PID group at exit).
2. Load a 1-partition topic (cleanup.policy=delete for now, 64 MiB segments) with
   ``--records`` (default 1,000,000 x ``--scale``) records of ``--value-bytes`` (1 KiB) over
   ``--keys`` (100,000 x ``--scale``) keys, with confluent-kafka (acks=1, batched).
3. Roll the tail segment (segment.ms) so that the whole log is cleanable.
4. Baseline: produce latency on another partition (topic ``latency``), one record at a time,
   acks=1, produce() + flush(), for ``--probe-seconds``.
5. Switch the big topic to cleanup.policy=compact (IncrementalAlterConfigs) and measure the
   same latency until the broker logs ``cleaned up to offset <log end>``.
6. Report: time to compact (config switch -> that log line), records and bytes before/after,
   peak memory (VmHWM from /proc) of the cleaner worker process and of the broker, p50/p99/max
   latency before vs during, and check that a consumer from the beginning gets exactly one
   record per key.

    python benchmarks/compaction.py                 # 1M x 1 KiB over 100k keys
    python benchmarks/compaction.py --scale 0.1     # 100k x 1 KiB over 10k keys
    python benchmarks/compaction.py --json out.json
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

REPO = Path(__file__).resolve().parent.parent
BIG, LATENCY = "compaction-bench", "latency-probe"
_LIVE: list[subprocess.Popen[bytes]] = []


@dataclass
class Latency:
    samples: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        if not seconds:
            return cls()
        ordered = sorted(seconds)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return cls(len(ordered), statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000)


@dataclass
class Result:
    records: int
    keys: int
    value_bytes: int
    load_seconds: float = 0.0
    load_mb_per_s: float = 0.0
    log_bytes_before: int = 0
    log_bytes_after: int = 0
    records_after: int = 0
    compact_seconds: float = 0.0
    cleanings: list[str] = field(default_factory=list)
    worker_peak_rss_mb: float = 0.0
    worker_pids: list[int] = field(default_factory=list)
    broker_peak_rss_mb_before: float = 0.0
    broker_peak_rss_mb: float = 0.0
    latency_before: Latency = field(default_factory=Latency)
    latency_during: Latency = field(default_factory=Latency)
    consumer_check: str = ""


# -- processes and /proc -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kill(proc: subprocess.Popen[bytes]) -> None:
    """TERM then KILL the broker's own process group (pgid == its pid)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


@atexit.register
def _kill_live() -> None:
    for proc in _LIVE:
        kill(proc)


def start_broker(data_dir: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "odradek",
        "serve",
        "--data-dir",
        str(data_dir),
        "--override",
        f"listeners=PLAINTEXT://127.0.0.1:{port}",
        "--override",
        "log.cleaner.backoff.ms=200",
        "--override",
        "log.retention.check.interval.ms=1000",
    ]
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            start_new_session=True,
        )
    _LIVE.append(proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"broker exited {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return proc
        time.sleep(0.05)
    raise SystemExit("broker not ready after 30 s")


def proc_status(pid: int, field_name: str) -> int:
    """A ``kB`` field of /proc/<pid>/status in bytes (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cleaner_workers(broker_pid: int) -> list[int]:
    """The broker's multiprocessing worker processes (not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == broker_pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def log_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("*.log"))


# -- clients -----------------------------------------------------------------------------------


def admin_for(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topics(bootstrap: str, segment_bytes: int) -> None:
    topics = [
        NewTopic(
            BIG,
            1,
            1,
            config={
                "cleanup.policy": "delete",
                "retention.ms": "-1",
                "segment.bytes": str(segment_bytes),
                "min.cleanable.dirty.ratio": "0.01",
            },
        ),
        NewTopic(LATENCY, 1, 1),
    ]
    admin = admin_for(bootstrap)  # (must outlive its futures)
    for future in admin.create_topics(topics).values():
        future.result(30)


def alter_topic(bootstrap: str, topic: str, values: dict[str, str]) -> None:
    entries = [
        ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in values.items()
    ]
    resource = ConfigResource("topic", topic, incremental_configs=entries)
    admin = admin_for(bootstrap)
    admin.incremental_alter_configs([resource])[resource].result(30)


def load(bootstrap: str, records: int, keys: int, value_bytes: int) -> float:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": 1,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "queue.buffering.max.kbytes": 512 * 1024,
            "message.timeout.ms": 120_000,
        }
    )
    failures: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    padding = b"x" * value_bytes
    started = time.monotonic()
    for seq in range(records):
        value = f"{seq:010d}|".encode() + padding[: value_bytes - 11]
        while True:
            try:
                producer.produce(
                    BIG,
                    key=f"key-{seq % keys:08d}".encode(),
                    value=value,
                    partition=0,
                    on_delivery=on_delivery,
                )
                break
            except BufferError:
                producer.poll(0.05)
        if seq % 10_000 == 0:
            producer.poll(0)
    if producer.flush(300) != 0 or failures:
        raise SystemExit(f"load failed: {failures[:3]}")
    return time.monotonic() - started


def end_offset(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watermarks"})
    try:
        return int(consumer.get_watermark_offsets(TopicPartition(topic, 0), 10)[1])
    finally:
        consumer.close()


class Prober:
    """One record at a time to the latency topic: produce(), flush(), time it."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": 1, "linger.ms": 0})
        self.producer.produce(LATENCY, value=b"warm-up", partition=0)
        self.producer.flush(10)

    def once(self) -> float:
        started = time.perf_counter()
        self.producer.produce(LATENCY, value=b"p" * 100, partition=0)
        if self.producer.flush(30) != 0:
            raise SystemExit("a latency probe was not delivered within 30 s")
        return time.perf_counter() - started


def cleaned_lines(log_path: Path) -> list[tuple[int, str]]:
    pattern = re.compile(rf"{BIG}-0: cleaned up to offset (\d+).*")
    text = log_path.read_text(errors="replace")
    return [(int(m.group(1)), m.group(0)) for m in pattern.finditer(text)]


def verify(bootstrap: str, keys: int, timeout: float) -> str:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-verify",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.max.bytes": 50 * 1024 * 1024,
        }
    )
    seen: dict[bytes, int] = {}
    count = 0
    try:
        consumer.assign([TopicPartition(BIG, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == -191:  # _PARTITION_EOF
                    break
                raise KafkaException(msg.error())
            count += 1
            seen[msg.key()] = msg.offset()
    finally:
        consumer.close()
    status = "ok" if count == keys == len(seen) else "MISMATCH"
    return f"{status}: {count} records, {len(seen)} distinct keys (expected {keys})"


# -- the run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> Result:
    records = int(args.records * args.scale)
    keys = max(1, int(args.keys * args.scale))
    result = Result(records, keys, args.value_bytes)
    work = Path(tempfile.mkdtemp(prefix="odradek-compaction-bench-"))
    data, log_path, port = work / "data", work / "broker.log", free_port()
    bootstrap = f"127.0.0.1:{port}"
    print(f"work dir {work}; {records:,} records x {args.value_bytes} B over {keys:,} keys")
    broker = start_broker(data, port, log_path)
    try:
        create_topics(bootstrap, args.segment_mb * 1024 * 1024)
        result.load_seconds = load(bootstrap, records, keys, args.value_bytes)
        result.load_mb_per_s = records * args.value_bytes / result.load_seconds / 1e6
        print(f"loaded in {result.load_seconds:.1f}s ({result.load_mb_per_s:.0f} MB/s)")

        alter_topic(bootstrap, BIG, {"segment.ms": "1000"})  # roll the tail: all cleanable
        big_dir = data / f"{BIG}-0"
        deadline = time.monotonic() + 60
        while not (big_dir / f"{records:020d}.log").exists():
            if time.monotonic() > deadline:
                raise SystemExit("the tail segment did not roll")
            time.sleep(0.1)
        assert end_offset(bootstrap, BIG) == records
        result.log_bytes_before = log_bytes(big_dir)
        result.broker_peak_rss_mb_before = proc_status(broker.pid, "VmHWM") / 1e6

        prober = Prober(bootstrap)
        baseline, stop = [], time.monotonic() + args.probe_seconds
        while time.monotonic() < stop:
            baseline.append(prober.once())
        result.latency_before = Latency.of(baseline)
        print(f"baseline latency: {result.latency_before}")

        alter_topic(bootstrap, BIG, {"cleanup.policy": "compact"})
        started = time.monotonic()
        during: list[float] = []
        next_check, deadline = started, started + args.timeout
        while True:
            during.append(prober.once())
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 0.25
                lines = cleaned_lines(log_path)
                if lines and max(o for o, _ in lines) >= records:
                    result.compact_seconds = now - started
                    result.cleanings = [line for _, line in lines]
                    break
                if now > deadline:
                    raise SystemExit(f"not compacted after {args.timeout:.0f}s")
                workers = cleaner_workers(broker.pid)
                result.worker_pids = sorted(set(result.worker_pids) | set(workers))
        result.latency_during = Latency.of(during)
        result.worker_peak_rss_mb = (
            max((proc_status(pid, "VmHWM") for pid in cleaner_workers(broker.pid)), default=0) / 1e6
        )
        result.broker_peak_rss_mb = proc_status(broker.pid, "VmHWM") / 1e6
        result.log_bytes_after = log_bytes(big_dir)
        result.records_after = records - sum(
            int(m.group(1))
            for m in (re.search(r": (\d+) records removed", line) for line in result.cleanings)
            if m
        )
        print(f"compacted in {result.compact_seconds:.1f}s")
        if args.verify:
            result.consumer_check = verify(bootstrap, keys, timeout=120)
        return result
    finally:
        kill(broker)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(result: Result) -> None:
    def lat(x: Latency) -> str:
        return (
            f"p50 {x.p50_ms:6.2f} ms  p99 {x.p99_ms:7.2f} ms  max {x.max_ms:7.2f} ms  "
            f"({x.samples} samples)"
        )

    print()
    print(
        f"records / keys / value        {result.records:,} / {result.keys:,} / "
        f"{result.value_bytes} B"
    )
    print(
        f"load                          {result.load_seconds:.1f} s "
        f"({result.load_mb_per_s:.0f} MB/s, acks=1)"
    )
    print(
        f"time to compact               {result.compact_seconds:.1f} s "
        "(config switch -> 'cleaned up to offset <end>')"
    )
    for line in result.cleanings:
        print(f"  {line}")
    print(
        f"log bytes before -> after     {result.log_bytes_before / 1e6:,.1f} MB -> "
        f"{result.log_bytes_after / 1e6:,.1f} MB"
    )
    print(f"records after (from the log)  {result.records_after:,}")
    print(
        f"cleaner worker peak RSS       {result.worker_peak_rss_mb:,.0f} MB "
        f"(VmHWM, pids {result.worker_pids})"
    )
    print(
        f"broker peak RSS               {result.broker_peak_rss_mb:,.0f} MB "
        f"(before cleaning: {result.broker_peak_rss_mb_before:,.0f} MB)"
    )
    print(f"produce latency before        {lat(result.latency_before)}")
    print(f"produce latency while cleaning {lat(result.latency_during)}")
    if result.consumer_check:
        print(f"consumer from the beginning   {result.consumer_check}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiplies --records and --keys (default 1)"
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--value-bytes", type=int, default=1024)
    parser.add_argument("--segment-mb", type=int, default=64)
    parser.add_argument(
        "--probe-seconds", type=float, default=5.0, help="baseline latency sampling time"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="give up when compaction takes longer (s)"
    )
    parser.add_argument("--no-verify", dest="verify", action="store_false")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    args = parser.parse_args()
    result = run(args)
    report(result)
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result), indent=2))
    return 0 if not result.consumer_check or result.consumer_check.startswith("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
