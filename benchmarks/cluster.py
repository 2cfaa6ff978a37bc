"""Cluster benchmark: failover unavailability and replicated produce throughput, 3 brokers.

A real ZooKeeper (Debian's package) and three ``python -m odradek serve`` brokers on 127.0.0.1
form one cluster for the whole run; the load generator is confluent-kafka (librdkafka).

1. **Leader kill** (``--kills``, 10): topic RF=3, 1 partition, ``min.insync.replicas=2``; an
   idempotent producer (acks=all, ``linger.ms=1``) sends one record per millisecond from a
   thread. Each round SIGKILLs the partition's current leader (found with the AdminClient)
   and measures the time from the kill to the first delivery report of a record that was
   *handed to the producer after the kill*; then restarts the killed broker and waits until
   the ISR is back to 3. The dead leader is only noticed when its ZooKeeper session expires, so
   this figure is dominated by ``zookeeper.session.timeout.ms`` (``--session-timeout-ms``).
2. **Clean shutdown** (``--shutdowns``, 5): the same with SIGTERM (controlled shutdown moves the
   leadership away before the broker closes).
3. **Produce throughput**: 1 KiB and 100 B values, 1 and 6 partitions, RF=3 with acks=all
   (``min.insync.replicas=2``) vs RF=1 with acks=1.

After each failover phase the partition is read back from offset 0 and every acknowledged
value must be there exactly once (at the offset its delivery report gave): the unavailability
figures only mean something if nothing acknowledged was lost.

    python benchmarks/cluster.py [--scale 1] [--session-timeout-ms 6000] [--out DIR]

Writes ``benchmarks/results/cluster.md``. Every process (ZooKeeper, brokers) is stopped by PID
on exit; the broker logs stay in the work dir the script prints.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import confluent_kafka
import foundation as fd
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.zookeeper import ZooKeeperProcess  # noqa: E402
from tests.support.zookeeper import available as zookeeper_available  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BROKER_IDS = (1, 2, 3)
CHROOT = "/bench"
SEND_INTERVAL = 0.001  # failover producer: one record per millisecond
FAILOVER_TIMEOUT = 120.0  # per round: kill -> first acknowledgement of a new record
ISR_TIMEOUT = 180.0  # per round: restart -> ISR back to 3
LOG_TAIL_LINES = 30
QUIET = {"log_level": 2}  # librdkafka: only critical messages from the harness' own clients
T = TypeVar("T")


class BenchError(Exception):
    """Something the broker did that the report should show verbatim."""


def wait_until(
    predicate: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1
) -> T:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            result = predicate()
        except Exception as exc:  # client errors while the cluster changes: "not yet"
            last, result = exc, None
        if result:
            return result
        if time.monotonic() > deadline:
            raise BenchError(
                f"timed out after {timeout:.0f} s waiting for {what}"
                + (f" (last error: {last!r})" if last else "")
            )
        time.sleep(interval)


# --------------------------------------------------------------------------- processes


class Broker:
    """One ``odradek serve`` in its own session (its process group is the broker, log cleaner
    workers included); fixed port and data dir across restarts."""

    def __init__(
        self, broker_id: int, port: int, work: Path, zk_connect: str, session_ms: int
    ) -> None:
        self.id = broker_id
        self.port = port
        self.data_dir = work / f"broker-{broker_id}"
        self.log_path = work / f"broker-{broker_id}.log"
        self.zk_connect = zk_connect
        self.session_ms = session_ms
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        overrides = {
            "broker.id": self.id,
            "zookeeper.connect": self.zk_connect,
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "metrics.port": -1,
            "zookeeper.session.timeout.ms": self.session_ms,
            "offsets.topic.num.partitions": 4,
            "transaction.state.log.num.partitions": 4,
            "replica.lag.time.max.ms": 10_000,
        }
        cmd = [sys.executable, "-m", "odradek", "serve", "--data-dir", str(self.data_dir)]
        for key, value in overrides.items():
            cmd += ["--override", f"{key}={value}"]
        return cmd

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            out.write(f"\n==== bench: starting broker {self.id} at {time.time():.3f}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise BenchError(
                    f"broker {self.id} exited with {self.proc.returncode}\n{self.log_tail()}"
                )
            if fd.tcp_ready(self.port):
                return
            time.sleep(0.05)
        raise BenchError(f"broker {self.id} not listening after {timeout:.0f} s\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def mark(self, text: str) -> None:
        """A line in the broker's log, so that its log can be read against the benchmark."""
        with self.log_path.open("ab") as out:
            out.write(f"==== bench: {text} at {time.time():.3f}\n".encode())

    def crash(self) -> None:
        """SIGKILL to the broker's whole process group."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        """SIGTERM to the broker process: a clean (controlled) shutdown."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def stop(self, grace: float = 20.0) -> None:
        """Cleanup: SIGTERM, then SIGKILL to its process group if it has not exited."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # still running: its whole group
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return f"--- broker {self.id} log tail ({self.log_path}):\n" + fd.tail_file(
            self.log_path, lines
        )


class Cluster:
    def __init__(self, work: Path, session_ms: int) -> None:
        self.work = work
        self.session_ms = session_ms
        self.zk = ZooKeeperProcess(work / "zookeeper")
        self.brokers: dict[int, Broker] = {}

    def start(self) -> None:
        self.zk.directory.mkdir(parents=True, exist_ok=True)
        self.zk.start()
        connect = self.zk.connect + CHROOT
        ports: set[int] = set()
        while len(ports) < len(BROKER_IDS):
            ports.add(fd.free_port())
        for broker_id, port in zip(BROKER_IDS, sorted(ports), strict=True):
            self.brokers[broker_id] = Broker(broker_id, port, self.work, connect, self.session_ms)
        for broker in self.brokers.values():
            broker.start()
        wait_until(lambda: self.live_registered() == set(BROKER_IDS), 90, "3 brokers in Metadata")

    def stop(self) -> None:
        for broker in self.brokers.values():
            with contextlib.suppress(Exception):
                broker.stop()
        self.zk.stop()

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers.values())

    def admin(self) -> AdminClient:
        # A fresh client each time: a long-lived one keeps the leaders it learnt.
        return AdminClient(
            {
                "bootstrap.servers": self.bootstrap,
                "socket.connection.setup.timeout.ms": 3000,
                **QUIET,
            }
        )

    def live_registered(self) -> set[int]:
        return set(self.admin().list_topics(timeout=5).brokers)

    def partition(self, topic: str, partition: int = 0) -> Any:
        meta = self.admin().list_topics(topic, timeout=5).topics[topic]
        if meta.error is not None:
            raise BenchError(f"{topic}: {meta.error}")
        return meta.partitions[partition]

    def controller(self) -> int | None:
        admin = self.admin()  # referenced until the future is done
        with contextlib.suppress(Exception):
            found = admin.describe_cluster(request_timeout=5).result(6).controller
            return None if found is None else int(found.id)
        return None

    def leader(self, topic: str) -> int | None:
        leader = int(self.partition(topic).leader)
        return leader if leader in self.brokers else None

    def full_isr(self, topic: str, partitions: int, rf: int) -> bool:
        meta = self.admin().list_topics(topic, timeout=5).topics[topic]
        if meta.error is not None or len(meta.partitions) != partitions:
            return False
        return all(p.leader >= 0 and len(p.isrs) == rf for p in meta.partitions.values())

    def create_topic(self, name: str, partitions: int, rf: int, config: dict[str, str]) -> None:
        topic = NewTopic(name, partitions, rf, config=config)
        admin = self.admin()  # referenced until the future is done: collected, it is destroyed
        try:
            admin.create_topics([topic], request_timeout=30)[name].result(40)
        except Exception as exc:
            raise BenchError(f"CreateTopics {name}: {exc}") from exc
        wait_until(
            lambda: self.full_isr(name, partitions, rf),
            60,
            f"{name}: a leader and the full ISR on every partition",
        )

    def log_problems(self) -> list[str]:
        """ERROR/CRITICAL lines in the brokers' logs (the first few of each broker)."""
        out = []
        for broker in self.brokers.values():
            try:
                text = broker.log_path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            bad = [line for line in text if " ERROR " in line or " CRITICAL " in line]
            if bad:
                out.append(f"broker {broker.id}: {len(bad)} ERROR lines, e.g. {bad[0][:200]}")
        return out

    def logs(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(b.log_tail(lines) for b in self.brokers.values())


# --------------------------------------------------------------------------- log checks

LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] \w+ \S+: (.*)$")
MARK_LINE = re.compile(r"^==== bench: (.*) at ([\d.]+)$")
ISR_CHANGE = re.compile(r"^(\S+): ISR \[([\d, ]*)\] -> \[([\d, ]*)\]$")


def stopped_replicas_added(brokers: list[Broker]) -> list[str]:
    """ISR expansions (a leader's "<partition>: ISR [..] -> [..]" log line) that add a broker
    whose process was not running at that moment: between its SIGKILL (the benchmark's
    marker) or its "shut down cleanly" line and its next "started in" line."""
    events: list[tuple[float, int, str]] = []
    for broker in brokers:
        try:
            lines = broker.log_path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            if mark := MARK_LINE.match(line):
                if mark.group(1).startswith("kill round") and mark.group(1).endswith("signal"):
                    events.append((float(mark.group(2)), broker.id, "down"))
            elif log := LOG_LINE.match(line):
                at = datetime.strptime(log.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                text = log.group(2)
                if text == "shut down cleanly":
                    events.append((at, broker.id, "down"))
                elif text.startswith(f"odradek broker {broker.id} started in"):
                    events.append((at, broker.id, "up"))
                elif ISR_CHANGE.match(text):
                    events.append((at, broker.id, text))
    running = {b.id: False for b in brokers}
    found: list[str] = []
    for at, broker_id, text in sorted(events):
        if text in ("up", "down"):
            running[broker_id] = text == "up"
        elif change := ISR_CHANGE.match(text):
            before = {int(x) for x in change.group(2).split(",") if x.strip()}
            after = {int(x) for x in change.group(3).split(",") if x.strip()}
            stopped = sorted(x for x in after - before if not running.get(x, True))
            if stopped:
                stamp = datetime.fromtimestamp(at).strftime("%H:%M:%S.%f")[:-3]
                found.append(f"{stamp} leader {broker_id}: {text} (broker {stopped} not running)")
    return found


# --------------------------------------------------------------------------- failover


@dataclass
class Ack:
    seq: int
    offset: int
    at: float  # monotonic time of the delivery report


class PacedProducer(threading.Thread):
    """Idempotent producer (acks=all, linger.ms=1) sending ``b"<seq>"`` every millisecond to
    partition 0; records when each record was handed over and when its report came back."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True, name=f"producer-{topic}")
        self.topic = topic
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 1,
                "error_cb": self._on_error,
                **QUIET,
            }
        )
        self.sent_at: list[float] = []  # index: seq
        self.acks: list[Ack] = []
        self.failures: list[tuple[int, str]] = []
        self.errors: deque[str] = deque(maxlen=20)
        self.fatal: list[str] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.watch_from = float("inf")
        self.first_new_ack: float | None = None  # first ack of a record sent after watch_from
        self.first_any_ack: float | None = None  # first delivery report after watch_from

    def _on_error(self, err: Any) -> None:
        self.errors.append(f"{time.monotonic():.3f} {err}")
        if err.fatal():
            self.fatal.append(str(err))

    def _on_delivery(self, err: Any, msg: Any) -> None:
        now = time.monotonic()
        seq = int(msg.value())
        if err is not None:
            self.failures.append((seq, str(err)))
            return
        self.acks.append(Ack(seq, msg.offset(), now))
        with self.lock:
            if now >= self.watch_from:
                if self.first_any_ack is None:
                    self.first_any_ack = now
                if self.first_new_ack is None and self.sent_at[seq] >= self.watch_from:
                    self.first_new_ack = now

    def watch(self, at: float) -> None:
        with self.lock:
            self.watch_from, self.first_new_ack, self.first_any_ack = at, None, None

    def run(self) -> None:
        produce, poll = self.producer.produce, self.producer.poll
        next_send = time.monotonic()
        while not self.stopping.is_set():
            now = time.monotonic()
            if now >= next_send:
                seq = len(self.sent_at)
                self.sent_at.append(time.monotonic())
                try:
                    produce(self.topic, b"%d" % seq, partition=0, on_delivery=self._on_delivery)
                except BufferError:
                    self.sent_at.pop()
                next_send = max(next_send + SEND_INTERVAL, now - 0.05)
            poll(max(0.0, next_send - time.monotonic()))

    def finish(self, timeout: float = 60.0) -> int:
        """Stop sending, wait for the outstanding reports; returns how many never came."""
        self.stopping.set()
        self.join(10)
        return int(self.producer.flush(timeout))


@dataclass
class Round:
    number: int
    broker: int
    was_controller: bool
    seconds: float  # signal -> first ack of a record sent after the signal
    any_seconds: float  # signal -> first delivery report of any record
    new_leader: int | None = None
    exit_seconds: float | None = None  # SIGTERM -> process exit (negative: non-zero exit code)
    gap: float = 0.0  # longest time without any delivery report, signal -> restart
    max_latency: float = 0.0  # slowest record handed over between the signal and the restart
    rejoin_gap: float = 0.0  # longest time without a delivery report, restart -> ISR of 3
    rejoin_seconds: float = 0.0  # restart -> ISR of 3


def ack_window(
    producer: PacedProducer, first: int, start: float, end: float
) -> tuple[float, float]:
    """(longest time without a delivery report, slowest record) over [start, end], from the
    acknowledgements from index ``first - 1`` on (the last one before ``start``)."""
    acks = producer.acks[max(0, first - 1) :]
    gap = 0.0
    previous = start
    for ack in acks:
        if ack.at > end:
            gap = max(gap, end - previous)
            break
        gap = max(gap, ack.at - max(previous, start))
        previous = ack.at
    else:
        gap = max(gap, end - previous)
    sent = producer.sent_at
    latency = max((a.at - sent[a.seq] for a in acks if start <= sent[a.seq] <= end), default=0.0)
    return gap, latency


@dataclass
class Phase:
    name: str  # "kill" / "term"
    topic: str
    rounds: list[Round] = field(default_factory=list)
    check: str = ""
    check_ok: bool = False
    error: str = ""
    notes: list[str] = field(default_factory=list)


def run_failover(cluster: Cluster, phase: Phase, count: int) -> None:
    try:
        cluster.create_topic(phase.topic, 1, 3, {"min.insync.replicas": "2"})
    except Exception as exc:
        phase.error = f"{type(exc).__name__}: {exc}\n{cluster.logs()}"
        return
    producer = PacedProducer(cluster.bootstrap, phase.topic)
    producer.start()
    try:
        wait_until(lambda: len(producer.acks) > 100, 30, "the producer's first acknowledgements")
        for number in range(1, count + 1):
            phase.rounds.append(failover_round(cluster, producer, phase, number))
            r = phase.rounds[-1]
            print(f"  [{phase.name} {number}/{count}] {round_text(r)}", flush=True)
    except Exception as exc:
        phase.error = f"{type(exc).__name__}: {exc}"
        if producer.errors:
            phase.error += "\nproducer error_cb (last):\n" + "\n".join(producer.errors)
        phase.error += "\n" + cluster.logs()
        print(f"  [{phase.name}] FAILED: {exc}", flush=True)
    finally:
        left = producer.finish()
    phase.notes.append(
        f"{len(producer.sent_at)} records sent, {len(producer.acks)} acknowledged, "
        f"{len(producer.failures)} failed delivery reports, {left} without a report at the end"
    )
    if producer.failures:
        phase.notes.append(f"failed deliveries (first 5): {producer.failures[:5]}")
    if producer.fatal:
        phase.notes.append(f"fatal producer errors: {producer.fatal[:3]}")
    verify(cluster, phase, producer)


def failover_round(cluster: Cluster, producer: PacedProducer, phase: Phase, number: int) -> Round:
    topic = phase.topic
    victim = wait_until(lambda: cluster.leader(topic), 30, f"{topic}: a leader")
    was_controller = cluster.controller() == victim
    broker = cluster.brokers[victim]
    broker.mark(f"{phase.name} round {number}: signal")
    first_ack = len(producer.acks)
    signalled = time.monotonic()
    producer.watch(signalled)
    if phase.name == "kill":
        broker.crash()
    else:
        broker.terminate()
    wait_until(
        lambda: producer.first_new_ack,
        FAILOVER_TIMEOUT,
        f"{topic}: an acknowledgement of a record sent after the {phase.name} of broker {victim}",
        interval=0.005,
    )
    assert producer.first_new_ack is not None and producer.first_any_ack is not None
    seconds = producer.first_new_ack - signalled
    any_seconds = producer.first_any_ack - signalled
    exit_seconds = None
    if phase.name == "term":
        assert broker.proc is not None
        try:
            broker.proc.wait(60)
        except subprocess.TimeoutExpired:
            raise BenchError(f"broker {victim} still running 60 s after SIGTERM") from None
        exit_seconds = time.monotonic() - signalled
        exit_seconds = exit_seconds if broker.proc.returncode == 0 else -exit_seconds
        if broker.proc.returncode != 0:
            phase.notes.append(
                f"round {number}: broker {victim} exited with code "
                f"{broker.proc.returncode} after SIGTERM"
            )
    new_leader = wait_until(lambda: cluster.leader(topic), 30, f"{topic}: a new leader")
    restart_ack = len(producer.acks)
    restarted = time.monotonic()
    broker.mark(f"{phase.name} round {number}: restart")
    broker.start()
    # Registered first: leaders were seen adding a stopped replica back into the ISR, so a full
    # ISR alone does not prove that the restarted broker is back.
    wait_until(
        lambda: victim in cluster.live_registered(),
        60,
        f"broker {victim} registered again",
        interval=0.05,
    )
    wait_until(
        lambda: cluster.full_isr(topic, 1, 3),
        ISR_TIMEOUT,
        f"{topic}: ISR back to 3 after restarting broker {victim}",
        interval=0.05,
    )
    rejoined = time.monotonic()
    time.sleep(0.2)  # the reports of records sent just before `rejoined`
    gap, latency = ack_window(producer, first_ack, signalled, restarted)
    rejoin_gap, _ = ack_window(producer, restart_ack, restarted, rejoined)
    return Round(
        number,
        victim,
        was_controller,
        seconds,
        any_seconds,
        new_leader,
        exit_seconds,
        gap,
        latency,
        rejoin_gap,
        rejoined - restarted,
    )


def round_text(r: Round) -> str:
    exit_s = (
        ""
        if r.exit_seconds is None
        else (
            f", process exited {abs(r.exit_seconds):.2f} s after SIGTERM"
            + (" (NON-ZERO exit code)" if r.exit_seconds < 0 else "")
        )
    )
    role = " (controller)" if r.was_controller else ""
    return (
        f"broker {r.broker}{role} -> new leader {r.new_leader}: first new ack "
        f"{r.seconds:.3f} s, first report of any record {r.any_seconds:.3f} s, longest "
        f"ack gap {r.gap:.3f} s, slowest record {r.max_latency:.3f} s{exit_s}; restart -> "
        f"ISR 3 in {r.rejoin_seconds:.2f} s, longest ack gap meanwhile {r.rejoin_gap:.3f} s"
    )


def read_partition(bootstrap: str, topic: str, timeout: float = 120.0) -> list[tuple[int, bytes]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-verify",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 100,
            **QUIET,
        }
    )
    got: list[tuple[int, bytes]] = []
    errors: list[str] = []
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in consumer.consume(10_000, 0.5):
                err = msg.error()
                offset, value = msg.offset() or 0, msg.value() or b""
                if err is None:
                    got.append((offset, value))
                elif err.code() == KafkaError._PARTITION_EOF:
                    if offset >= high:
                        return got
                else:
                    errors.append(str(err))
    finally:
        consumer.close()
    raise BenchError(
        f"{topic}: read {len(got)} records (watermarks {low}..{high}) in "
        f"{timeout:.0f} s without reaching the end; errors {errors[-3:]}"
    )


def verify(cluster: Cluster, phase: Phase, producer: PacedProducer) -> None:
    try:
        records = read_partition(cluster.bootstrap, phase.topic)
    except Exception as exc:
        phase.check = f"could not read the partition back: {exc}"
        return
    counts = Counter(int(v) for _, v in records)
    at_offset = {offset: int(v) for offset, v in records}
    acked = {a.seq: a.offset for a in producer.acks}
    lost = sorted(s for s in acked if counts[s] == 0)
    doubled = sorted(s for s, n in counts.items() if n > 1)
    moved = sorted(s for s, o in acked.items() if counts[s] and at_offset.get(o) != s)
    unacked = sum(1 for s in counts if s not in acked)
    problems = []
    if lost:
        problems.append(f"{len(lost)} acknowledged records LOST (seqs {lost[:10]})")
    if doubled:
        problems.append(f"{len(doubled)} values DUPLICATED in the log (seqs {doubled[:10]})")
    if moved:
        problems.append(
            f"{len(moved)} acknowledged records not at their reported offset (seqs {moved[:10]})"
        )
    phase.check_ok = not problems
    summary = (
        f"{len(records)} records read back from offset 0; {len(acked)} acknowledged "
        f"values each present {'exactly once' if phase.check_ok else 'NOT exactly once'}"
        f" at the offset their delivery report gave; {unacked} unacknowledged values "
        "also present"
    )
    phase.check = ("OK: " if phase.check_ok else "FAILED: ") + "; ".join([summary, *problems])


# --------------------------------------------------------------------------- throughput


@dataclass(frozen=True)
class ThroughputCase:
    size: int
    partitions: int
    replicated: bool  # RF=3 acks=all (min.insync.replicas=2) vs RF=1 acks=1

    @property
    def topic(self) -> str:
        return f"tp-{self.size}b-p{self.partitions}-rf{3 if self.replicated else 1}"

    @property
    def base_count(self) -> int:
        # About 5-10 s per case on 2 cores: RF=3 acks=all 1 KiB is ~5x slower than RF=1.
        if self.size == 1024:
            return 500_000 if self.replicated else 2_000_000
        return 4_000_000 if self.replicated else 6_000_000

    @property
    def label(self) -> str:
        size = "1 KiB" if self.size == 1024 else f"{self.size} B"
        return f"{size}, {self.partitions} partition{'s' if self.partitions > 1 else ''}"


THROUGHPUT_CASES = tuple(
    ThroughputCase(size, parts, replicated)
    for size in (1024, 100)
    for parts in (1, 6)
    for replicated in (False, True)
)


@dataclass
class Throughput:
    case: ThroughputCase
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""


def run_throughput(
    cluster: Cluster, case: ThroughputCase, scale: float, case_timeout: float
) -> Throughput:
    res = Throughput(case)
    rf = 3 if case.replicated else 1
    acks = "all" if case.replicated else "1"
    print(f"  [throughput] {case.label}, RF={rf} acks={acks} ...", end="", flush=True)
    failures: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    log = fd.ClientLog(case.topic)
    try:
        config = {"min.insync.replicas": "2"} if case.replicated else {}
        cluster.create_topic(case.topic, case.partitions, rf, config)
        producer = Producer(
            {
                **fd.producer_config(cluster.bootstrap, log, acks),
                "delivery.report.only.error": True,
                "on_delivery": on_delivery,
            }
        )
        try:
            producer.list_topics(case.topic, timeout=10)
            count = max(1000, int(case.base_count * scale))
            value = os.urandom(case.size)
            start = time.perf_counter()
            deadline = start + case_timeout
            sent = fd.produce_bounded(producer, case.topic, value, count, deadline)
            left = producer.flush(max(1.0, deadline - time.perf_counter()))
            elapsed = time.perf_counter() - start
        finally:
            fd.drop_producer(producer)
        delivered = sent - left - len(failures)
        if delivered <= 0:
            raise BenchError(f"nothing delivered; failures {failures[:3]}\n{log.tail()}")
        res.metrics = fd.throughput(delivered, case.size, elapsed) | {
            "target": count,
            "failed": len(failures),
            "undelivered": left,
        }
        if failures:
            res.error = f"{len(failures)} failed deliveries, first: {failures[0]}"
        m = res.metrics
        partial = " (partial: case timeout)" if m["records"] < count else ""
        print(
            f" {m['mb_s']:.1f} MB/s, {m['rec_s']:.0f} rec/s in {m['seconds']:.1f} s{partial}",
            flush=True,
        )
    except Exception as exc:
        res.error = f"{type(exc).__name__}: {exc}\n{cluster.logs()}"
        print(" FAILED", flush=True)
    return res


# --------------------------------------------------------------------------- report


@dataclass
class Report:
    settings: argparse.Namespace
    info: dict[str, str]
    phases: list[Phase] = field(default_factory=list)
    throughput: list[Throughput] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)
    stopped_in_isr: list[str] = field(default_factory=list)
    runtime: float = 0.0


def machine_info() -> dict[str, str]:
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "src"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": fd.cpu_model(),
        "loadavg (start)": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "confluent-kafka": fd.client_version(),
        "librdkafka": confluent_kafka.libversion()[0],
        "odradek": fd.odradek_version() + (" + uncommitted changes in src/" if dirty else ""),
        "zookeeper": zookeeper_version(),
    }


def zookeeper_version() -> str:
    jars = sorted(Path("/usr/share/java").glob("zookeeper-3*.jar"))
    return jars[-1].stem if jars else "Debian zookeeper package"


def phase_lines(phases: list[Phase], session_ms: int) -> list[str]:
    lines = [
        "| event | rounds | median s | min s | max s | each round (s) | longest ack gap, "
        "median (max) s | slowest record, median (max) s | acknowledged values read back |",
        "|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    names = {
        "kill": f"leader SIGKILL (session timeout {session_ms} ms)",
        "term": "leader SIGTERM (controlled shutdown)",
    }
    for phase in phases:
        secs = [r.seconds for r in phase.rounds]
        check = "OK, exactly once" if phase.check_ok else ("FAILED" if phase.check else "-")
        if not secs:
            lines.append(f"| {names[phase.name]} | 0 | - | - | - | FAILED | - | - | {check} |")
            continue
        each = ", ".join(f"{s:.2f}" for s in secs)
        if phase.error:
            each += " (then FAILED)"
        gaps = [r.gap for r in phase.rounds]
        slowest = [r.max_latency for r in phase.rounds]
        lines.append(
            f"| {names[phase.name]} | {len(secs)} | {statistics.median(secs):.2f} | "
            f"{min(secs):.2f} | {max(secs):.2f} | {each} | {statistics.median(gaps):.2f} "
            f"({max(gaps):.2f}) | {statistics.median(slowest):.2f} ({max(slowest):.2f}) "
            f"| {check} |"
        )
    return lines


def throughput_lines(results: list[Throughput]) -> list[str]:
    index = {(r.case.size, r.case.partitions, r.case.replicated): r for r in results}
    lines = [
        "| values | partitions | RF=1 acks=1 | RF=3 acks=all | RF3-all / RF1-1 |",
        "|---|---:|---:|---:|---:|",
    ]

    def cell(res: Throughput | None) -> str:
        if res is None:
            return "-"
        if not res.metrics:
            return "FAILED"
        m = res.metrics
        mark = "\\*" if m["records"] < m["target"] or res.error else ""
        return f"{m['mb_s']:.1f} MB/s ({m['rec_s'] / 1000:.1f}k rec/s){mark}"

    for size in (1024, 100):
        for parts in (1, 6):
            one, three = index.get((size, parts, False)), index.get((size, parts, True))
            ratio = "-"
            if one and three and one.metrics and three.metrics:
                ratio = f"{three.metrics['mb_s'] / one.metrics['mb_s']:.2f}"
            size_label = "1 KiB" if size == 1024 else f"{size} B"
            lines.append(f"| {size_label} | {parts} | {cell(one)} | {cell(three)} | {ratio} |")
    return lines


def note_lines(report: Report) -> list[str]:
    out: list[str] = []
    for phase in report.phases:
        out.append(f"{phase.name}: {phase.check or 'read-back check not run'}")
        out += [f"{phase.name}: {n}" for n in phase.notes]
        out += [f"{phase.name} round {r.number}: {round_text(r)}" for r in phase.rounds]
    out += [f"broker logs: {line}" for line in report.log_problems]
    if report.stopped_in_isr:
        out.append(
            f"broker logs: {len(report.stopped_in_isr)} ISR expansions added a broker "
            "whose process was not running (acks=all then waits for it), e.g."
        )
        # The failover topics first: there it shows up in the figures above.
        shown = sorted(report.stopped_in_isr, key=lambda line: "failover-" not in line)
        out += [f"  {line}" for line in shown[:8]]
    for res in report.throughput:
        m = res.metrics
        if m and (m["failed"] or m["undelivered"] or m["records"] < m["target"]):
            out.append(
                f"throughput {res.case.topic}: {m['records']:.0f} of {m['target']:.0f} "
                f"delivered, {m['failed']:.0f} failed, {m['undelivered']:.0f} undelivered"
            )
    return out


def failure_lines(report: Report) -> list[str]:
    failed = [(f"{p.name} phase", p.error) for p in report.phases if p.error]
    failed += [(f"throughput {r.case.topic}", r.error) for r in report.throughput if r.error]
    failed += [("run", e) for e in report.errors]
    out: list[str] = []
    for what, text in failed:
        out += [f"**{what}**", "", "```", text, "```", ""]
    return out


def print_report(report: Report) -> None:
    s = report.settings
    print("\n" + "=" * 100)
    print(
        f"Unavailability: signal to the leader -> first acknowledgement of a record produced "
        f"after the signal (zookeeper.session.timeout.ms={s.session_timeout_ms})"
    )
    print("\n".join(phase_lines(report.phases, s.session_timeout_ms)))
    print("\nProduce throughput (value bytes, 1 MB = 1e6 B; linger.ms=5):")
    print("\n".join(throughput_lines(report.throughput)))
    print("\nNotes:")
    print("\n".join(note_lines(report)) or "(none)")
    failures = failure_lines(report)
    if failures:
        print("\nFailures:")
        print("\n".join(failures))


def write_markdown(path: Path, report: Report, command: str, date: str) -> None:
    s = report.settings
    lines = [
        "# odradek cluster mode: failover and replicated produce",
        "",
        f"Generated {date} by `{command}` (scale {s.scale:g}, total runtime "
        f"{report.runtime:.0f} s).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in report.info.items()),
        "",
        "## Setup",
        "",
        "- One ZooKeeper (Debian's package, `tickTime=200`) and three `python -m odradek serve` "
        "brokers on 127.0.0.1, all on this machine, for the whole run. Broker overrides: "
        f"`zookeeper.session.timeout.ms={s.session_timeout_ms}`, "
        "`replica.lag.time.max.ms=10000`, `offsets.topic.num.partitions=4`, "
        "`transaction.state.log.num.partitions=4`, `metrics.port=-1`; everything else default.",
        "- Load generator: confluent-kafka (librdkafka) in the benchmark's process.",
        f"- Failover: topic RF=3, 1 partition, `min.insync.replicas=2`. One idempotent producer "
        f"(acks=all, `enable.idempotence=true`, `linger.ms=1`) sends a record every "
        f"{SEND_INTERVAL * 1000:g} ms from its own thread. Each round signals the partition's "
        "current leader (as the AdminClient reports it) and measures the time from the signal "
        "to the first delivery report of a record that was handed to the producer *after* "
        "the signal; the killed broker is then started again and the next round waits until "
        "the ISR is back to 3. SIGKILL goes to the broker's process group (a crash); SIGTERM to "
        "the broker process (controlled shutdown: leadership is moved before it closes).",
        "- Read-back check: after each failover phase the partition is read from offset 0; "
        "every acknowledged value must be there exactly once, at the offset its delivery "
        "report gave.",
        "- Throughput: per case 2M x 1 KiB (RF=1), 500k x 1 KiB (RF=3), 6M x 100 B (RF=1) and "
        f"4M x 100 B (RF=3) records x scale {s.scale:g} (each case capped at "
        f"{s.case_timeout:.0f} s), librdkafka defaults + `linger.ms=5`, null keys, no "
        "compression, a fresh topic per case. RF=3 "
        "topics have `min.insync.replicas=2` and are written with acks=all; RF=1 topics with "
        "acks=1. The clock runs from the first `produce()` until `flush()` returns.",
        "",
        "## Unavailability after losing the leader",
        "",
        "`median/min/max/each round`: from the signal to the first delivery report of a record "
        "handed to the producer after the signal (the figure asked for). `longest ack gap`: the "
        "longest time without any delivery report between the signal and the restart of the "
        "broker; `slowest record`: the longest send-to-acknowledgement time of a record handed "
        "over in that window. After a SIGKILL the three agree (nothing is acknowledged until "
        "the dead broker's ZooKeeper session expires and a new leader is elected); after a "
        "SIGTERM the old leader goes on acknowledging until its leadership has moved, so the "
        "first figure can be near zero and the gap is the pause the producer sees. A round "
        "whose victim was also the controller includes a controller election (see Notes).",
        "",
        *phase_lines(report.phases, s.session_timeout_ms),
        "",
        "## Produce throughput",
        "",
        "Value bytes, 1 MB = 10^6 B, higher is better. \\* = fewer records than targeted "
        "(case timeout hit) or failed deliveries.",
        "",
        *throughput_lines(report.throughput),
        "",
        "## Notes",
        "",
        "```",
        *(note_lines(report) or ["(none)"]),
        "```",
    ]
    failures = failure_lines(report)
    if failures:
        lines += ["", "## Failures", "", *failures]
    path.write_text("\n".join(lines).rstrip() + "\n")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiplies throughput record counts and the number of failover "
        "rounds (at least 2 each); e.g. 0.2 for a quick run",
    )
    ap.add_argument(
        "--session-timeout-ms",
        type=int,
        default=6000,
        help="the brokers' zookeeper.session.timeout.ms (default 6000)",
    )
    ap.add_argument("--kills", type=int, default=None, help="SIGKILL rounds (default 10 x scale)")
    ap.add_argument(
        "--shutdowns", type=int, default=None, help="SIGTERM rounds (default 5 x scale)"
    )
    ap.add_argument(
        "--phases",
        default="kill,term,throughput",
        help="comma list from kill, term, throughput (default: all)",
    )
    ap.add_argument(
        "--case-timeout",
        type=float,
        default=60.0,
        help="upper bound in seconds for each throughput case",
    )
    ap.add_argument("--out", type=Path, default=RESULTS_DIR, help="report directory")
    args = ap.parse_args(argv)
    if args.scale <= 0:
        ap.error("--scale must be > 0")
    args.kills = args.kills if args.kills is not None else max(2, round(10 * args.scale))
    args.shutdowns = args.shutdowns if args.shutdowns is not None else max(2, round(5 * args.scale))
    args.phases = tuple(p.strip() for p in args.phases.split(",") if p.strip())
    unknown = set(args.phases) - {"kill", "term", "throughput"}
    if unknown or not args.phases:
        ap.error(f"unknown phase(s): {sorted(unknown)}")
    return args


def run(cluster: Cluster, report: Report) -> None:
    s = report.settings
    print("== starting ZooKeeper and 3 brokers", flush=True)
    began = time.monotonic()
    cluster.start()
    print(
        f"  cluster ready in {time.monotonic() - began:.1f} s: brokers "
        f"{cluster.bootstrap}, ZooKeeper {cluster.zk.connect}{CHROOT}",
        flush=True,
    )
    for name, count in (("kill", s.kills), ("term", s.shutdowns)):
        if name in s.phases:
            print(
                f"== failover: leader {'SIGKILL' if name == 'kill' else 'SIGTERM'} x {count}",
                flush=True,
            )
            phase = Phase(name, f"failover-{name}")
            report.phases.append(phase)
            run_failover(cluster, phase, count)
            print(f"  [{name}] read-back: {phase.check}", flush=True)
    if "throughput" in s.phases:
        print("== produce throughput", flush=True)
        for case in THROUGHPUT_CASES:
            if not all(b.alive() for b in cluster.brokers.values()):
                report.errors.append(
                    "a broker is down; throughput cases skipped\n" + cluster.logs()
                )
                break
            report.throughput.append(run_throughput(cluster, case, s.scale, s.case_timeout))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not zookeeper_available():
        print("needs Debian's zookeeper package and java (scripts/install-test-deps.sh)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="odradek-cluster-bench-"))
    cluster = Cluster(work, args.session_timeout_ms)
    atexit.register(cluster.stop)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Report(args, machine_info())
    print("odradek cluster benchmark")
    for key, val in report.info.items():
        print(f"  {key:<16}{val}")
    print(
        f"  {'scale':<16}{args.scale:g}  kills {args.kills}, shutdowns {args.shutdowns}, "
        f"session timeout {args.session_timeout_ms} ms"
    )
    print(f"  {'work dir':<16}{work}", flush=True)
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    began = time.monotonic()
    try:
        run(cluster, report)
    except Exception as exc:
        report.errors.append(f"{type(exc).__name__}: {exc}\n{cluster.logs()}")
    finally:
        cluster.stop()
        report.log_problems = cluster.log_problems()
        report.stopped_in_isr = stopped_replicas_added(list(cluster.brokers.values()))
    report.runtime = time.monotonic() - began
    report.info["loadavg (end)"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print_report(report)
    argv_shown = " ".join(sys.argv[1:] if argv is None else argv)
    command = f"python benchmarks/cluster.py {argv_shown}".strip()
    args.out.mkdir(parents=True, exist_ok=True)
    write_markdown(args.out / "cluster.md", report, command, date)
    for data_dir in work.glob("broker-*/"):
        shutil.rmtree(data_dir, ignore_errors=True)  # the logs (broker-N.log) stay
    print(
        f"\nreport: {args.out / 'cluster.md'}; broker logs in {work}; total {report.runtime:.0f} s"
    )
    failed = report.errors or any(p.error or not p.check_ok for p in report.phases)
    return 1 if failed or any(r.error for r in report.throughput) else 0


if __name__ == "__main__":
    sys.exit(main())
