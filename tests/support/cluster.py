"""A cluster of ``odradek serve`` processes sharing one ZooKeeper, for the cluster-mode tests.

Each broker is a :class:`BrokerProcess` with its own data dir and a fixed loopback port (kept
across restarts) and Kafka's ZooKeeper-mode broker configs (``broker.id``,
``zookeeper.connect``, ...). The cluster is ready when every live broker answers Metadata with
all live brokers and DescribeCluster names a controller.

Helpers read cluster state the way an operator would: through confluent-kafka's AdminClient
(``partition_state``, ``controller_id``), through a Metadata request sent to one chosen broker
(``metadata_from``, which also gives the leader epoch), and offline through
``odradek dump-log`` over a replica's segment files (``replica_log``). Every failed wait raises
an AssertionError carrying the tail of every broker's log.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # the module has no __all__
    AdminClient,
    NewTopic,
)

from tests.support.broker_process import BrokerProcess, free_port
from tests.support.child_env import odradek_env
from tests.support.raw_client import ConnectionClosedError, RawClient

T = TypeVar("T")

# Kafka's broker configs for a small test cluster (see the module docstring of each test for
# what it overrides). Internal topics get few partitions so that they are created quickly.
BASE_OVERRIDES: dict[str, str] = {
    "metrics.port": "-1",
    "zookeeper.session.timeout.ms": "6000",
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.num.partitions": "4",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "replica.lag.time.max.ms": "5000",
    "group.initial.rebalance.delay.ms": "0",
}

LOG_TAIL_CHARS = 6000
QUIET_CLIENT = {"log_level": 2}  # librdkafka: only critical messages from the harness' clients
# The test clients' librdkafka messages (connection refused after every kill, ...) go through
# Python logging: pytest shows them with a failing test's captured log, not on stderr.
CLIENT_LOG = {"logger": logging.getLogger("librdkafka")}


class WaitTimeout(AssertionError):
    pass


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    message: str | Callable[[], str],
    interval: float = 0.1,
    context: Callable[[], str] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy and return that. Client and
    connection errors raised by the predicate count as "not yet" (the last one is reported); an
    AssertionError fails at once. On timeout: AssertionError with ``message`` (a string or a
    callable producing one) and ``context()``."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = predicate()
        except (KafkaException, OSError, ConnectionClosedError, KeyError, ValueError) as exc:
            last_error, result = exc, None
        if result:
            return result
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            if last_error is not None:
                text += f"\nlast error: {last_error!r}"
            if context is not None:
                text += "\n" + context()
            raise WaitTimeout(f"{text} (waited {timeout:.0f} s)")
        time.sleep(interval)


@dataclass(frozen=True)
class PartitionState:
    leader: int  # -1: none
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader_epoch: int = -1  # -1: not known (the AdminClient does not report it)
    error: int = 0

    def __iter__(self) -> Any:  # (leader, replicas, isr), as the brief's tuple
        return iter((self.leader, self.replicas, self.isr))


@dataclass
class ReplicaLog:
    """A replica's log as ``odradek dump-log --print-data-log`` shows it."""

    broker_id: int
    batches: list[str] = field(default_factory=list)  # batch lines without position
    records: list[tuple[int, str, str]] = field(default_factory=list)  # (offset, key, value)
    problems: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def end_offset(self) -> int:
        return self.records[-1][0] + 1 if self.records else 0

    def values(self) -> list[str]:
        return [value for _, _, value in self.records]


_RECORD_LINE = re.compile(r"^\| offset: (\d+) .*? key: (.*?) payload: (.*)$")
_POSITION = re.compile(r" position: \d+")


def parse_dump(broker_id: int, output: str) -> ReplicaLog:
    log = ReplicaLog(broker_id, output=output)
    for line in output.splitlines():
        if line.startswith("baseOffset: "):
            log.batches.append(_POSITION.sub("", line))
        elif line.startswith("| offset: "):
            match = _RECORD_LINE.match(line)
            if match is None:
                log.problems.append(f"unparsed record line: {line}")
            else:
                log.records.append((int(match.group(1)), match.group(2), match.group(3)))
        elif line.startswith("Problem: "):
            log.problems.append(line)
    return log


class Cluster:
    """N brokers (ids 1..N) registered in the ZooKeeper at ``zk_connect`` (with its chroot).

    Each broker has a PLAINTEXT listener (the harness's way in) and one more per entry of
    ``listeners`` (listener name -> security protocol), each on a port of its own kept across
    restarts (``address``)."""

    def __init__(
        self,
        root: Path,
        zk_connect: str,
        size: int = 3,
        overrides: Mapping[str, str] | None = None,
        ready_timeout: float = 60.0,
        listeners: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.zk_connect = zk_connect
        self.ids = list(range(1, size + 1))
        self.overrides = {**BASE_OVERRIDES, **{k: str(v) for k, v in (overrides or {}).items()}}
        self.ready_timeout = ready_timeout
        extra = {name.upper(): protocol for name, protocol in (listeners or {}).items()}
        ports: set[int] = set()
        while len(ports) < size * (1 + len(extra)):
            ports.add(free_port())
        free = iter(sorted(ports))
        self.listener_ports: dict[int, dict[str, int]] = {}
        self.brokers: dict[int, BrokerProcess] = {}
        for broker_id in self.ids:
            port = next(free)
            own = self.listener_ports[broker_id] = {name: next(free) for name in extra}
            listener_overrides = {}
            if extra:
                listener_overrides = {
                    "listeners": ",".join(
                        [f"PLAINTEXT://127.0.0.1:{port}"]
                        + [f"{name}://127.0.0.1:{p}" for name, p in own.items()]
                    ),
                    "listener.security.protocol.map": ",".join(
                        ["PLAINTEXT:PLAINTEXT"] + [f"{n}:{p}" for n, p in extra.items()]
                    ),
                }
            broker = BrokerProcess(
                root / f"broker-{broker_id}",
                port=port,
                overrides={
                    "broker.id": str(broker_id),
                    "zookeeper.connect": zk_connect,
                    **listener_overrides,
                    **self.overrides,
                },
            )
            broker.log_path = root / f"broker-{broker_id}.log"
            self.brokers[broker_id] = broker

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float | None = None) -> Cluster:
        self.root.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(len(self.ids)) as pool:
            for future in [pool.submit(b.start, 30.0) for b in self.brokers.values()]:
                future.result()
        self.wait_ready(timeout or self.ready_timeout)
        return self

    def wait_ready(self, timeout: float | None = None) -> None:
        """Until every live broker answers Metadata listing all live brokers, with the same
        controller, and DescribeCluster names that controller."""
        wait_until(
            self._ready,
            timeout or self.ready_timeout,
            lambda: f"cluster not ready: live {self.live_ids()}, views {self._views()}",
            interval=0.2,
            context=self.logs,
        )

    def _views(self) -> dict[int, Any]:
        views: dict[int, Any] = {}
        for broker_id in self.live_ids():
            try:
                md = self.metadata_from(broker_id, topics=[])
                views[broker_id] = (sorted(b.node_id for b in md.brokers), md.controller_id)
            except Exception as exc:  # only for a failure message
                views[broker_id] = repr(exc)
        return views

    def _ready(self) -> bool:
        live = sorted(self.live_ids())
        controllers = set()
        for broker_id in live:
            md = self.metadata_from(broker_id, topics=[])
            if sorted(b.node_id for b in md.brokers) != live:
                return False
            controllers.add(int(md.controller_id))
        if len(controllers) != 1 or controllers.pop() not in live:
            return False
        return self.controller_id() in live

    def live_ids(self) -> list[int]:
        return [i for i, b in self.brokers.items() if b.proc is not None and b.proc.poll() is None]

    def broker(self, broker_id: int) -> BrokerProcess:
        return self.brokers[broker_id]

    def kill(self, broker_id: int) -> None:
        """SIGKILL: a crash."""
        self.brokers[broker_id].kill()

    def pause(self, broker_id: int) -> None:
        """SIGSTOP: the process stops dead (like a long GC pause); ``resume`` continues it."""
        os.kill(self.brokers[broker_id].pid, signal.SIGSTOP)

    def resume(self, broker_id: int) -> None:
        os.kill(self.brokers[broker_id].pid, signal.SIGCONT)

    def start_broker(self, broker_id: int, timeout: float = 30.0) -> BrokerProcess:
        """Start a stopped or killed broker again: same data dir, same port."""
        broker = self.brokers[broker_id]
        try:
            return broker.start(timeout)
        except RuntimeError as exc:
            raise AssertionError(
                f"broker {broker_id} did not start: {exc}\n{self.logs()}"
            ) from None

    def restart(self, broker_id: int, timeout: float = 30.0) -> BrokerProcess:
        """SIGTERM (a clean shutdown), then start again."""
        self.stop_broker(broker_id)
        return self.start_broker(broker_id, timeout)

    def stop_broker(self, broker_id: int, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait for a clean shutdown; a broker still running after ``timeout`` is
        killed and the test fails."""
        broker = self.brokers[broker_id]
        try:
            return broker.stop(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"broker {broker_id} did not stop within {timeout} s of SIGTERM\n{self.logs()}"
            ) from None

    def stop(self, grace: float = 15.0, hurry_after: float | None = None) -> None:
        """SIGTERM every broker at once, SIGKILL whatever still runs after ``grace`` seconds.
        With ``hurry_after``, brokers still running that many seconds after the first SIGTERM
        get a second one, which skips the rest of their controlled shutdown (all stopping at
        once, the last one's cannot finish: no controller is left to move its leaderships).
        Safe to call repeatedly; never leaves a process behind."""
        procs = [
            b.proc for b in self.brokers.values() if b.proc is not None and b.proc.poll() is None
        ]
        for proc in procs:
            try:
                proc.send_signal(signal.SIGCONT)  # a paused broker cannot handle SIGTERM
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        if hurry_after is not None and procs:
            hurry_at = time.monotonic() + min(hurry_after, grace)
            for proc in procs:
                try:
                    proc.wait(max(0.0, hurry_at - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            for proc in procs:
                if proc.poll() is None:
                    try:
                        proc.send_signal(signal.SIGTERM)
                    except ProcessLookupError:
                        pass
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(10)

    # -- addresses and clients ----------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers.values())

    def address(self, broker_id: int, listener: str) -> str:
        """``127.0.0.1:PORT`` of one of the broker's extra listeners."""
        return f"127.0.0.1:{self.listener_ports[broker_id][listener.upper()]}"

    def bootstrap_of(self, listener: str) -> str:
        """Every broker's address on one of the extra listeners."""
        return ",".join(self.address(broker_id, listener) for broker_id in self.ids)

    def admin(self) -> AdminClient:
        """A fresh confluent-kafka AdminClient: a long-lived one caches the controller and
        leaders it learnt and, after a failover, keeps waiting for a dead controller
        ("Timed out waiting for controller") until its next metadata refresh."""
        return AdminClient(
            {
                "bootstrap.servers": self.bootstrap,
                "socket.connection.setup.timeout.ms": 3000,
                **QUIET_CLIENT,
            }
        )

    def raw(self, broker_id: int, timeout: float = 10.0) -> RawClient:
        return RawClient.to(self.brokers[broker_id].bootstrap, timeout)

    # -- state --------------------------------------------------------------------------------

    def metadata_from(self, broker_id: int, topics: list[str] | None = None) -> Any:
        """A Metadata v12 response from that one broker (``topics=None``: all topics)."""
        with self.raw(broker_id, timeout=5.0) as client:
            return client.metadata(topics)

    def partition_state(
        self, topic: str, partition: int, timeout: float = 5.0
    ) -> PartitionState | None:
        """(leader, replicas, isr) as the AdminClient sees it (Metadata from some broker);
        None when the topic or partition is not known or reports an error."""
        md = self.admin().list_topics(timeout=timeout)
        meta = md.topics.get(topic)
        if meta is None or meta.error is not None or partition not in meta.partitions:
            return None
        p = meta.partitions[partition]
        if p.error is not None:
            return PartitionState(p.leader, tuple(p.replicas), tuple(p.isrs), error=p.error.code())
        return PartitionState(p.leader, tuple(p.replicas), tuple(p.isrs))

    def partition_state_from(
        self, broker_id: int, topic: str, partition: int
    ) -> PartitionState | None:
        md = self.metadata_from(broker_id, [topic])
        for t in md.topics:
            if t.name != topic:
                continue
            for p in t.partitions:
                if p.partition_index == partition:
                    return PartitionState(
                        int(p.leader_id),
                        tuple(int(r) for r in p.replica_nodes),
                        tuple(int(r) for r in p.isr_nodes),
                        int(p.leader_epoch),
                        int(p.error_code),
                    )
        return None

    def agreed_state(self, topic: str, partition: int) -> PartitionState | None:
        """The partition's state when every live broker reports the same one (no error, a live
        leader); otherwise None."""
        states = {self.partition_state_from(b, topic, partition) for b in self.live_ids()}
        if len(states) != 1:
            return None
        state = states.pop()
        if state is None or state.error != 0 or state.leader not in self.live_ids():
            return None
        return state

    def leader(self, topic: str, partition: int, timeout: float = 30.0) -> int:
        """The partition's leader, once every live broker agrees on it."""
        state = wait_until(
            lambda: self.agreed_state(topic, partition),
            timeout,
            f"no agreed leader for {topic}-{partition}: {self._states(topic, partition)}",
            context=self.logs,
        )
        return state.leader

    def _states(self, topic: str, partition: int) -> dict[int, Any]:
        states: dict[int, Any] = {}
        for broker_id in self.live_ids():
            try:
                states[broker_id] = self.partition_state_from(broker_id, topic, partition)
            except Exception as exc:  # only for a failure message
                states[broker_id] = repr(exc)
        return states

    def wait_full_isr(
        self,
        topic: str,
        partitions: Iterable[int],
        timeout: float = 60.0,
        size: int | None = None,
        excluding: Iterable[int] = (),
    ) -> dict[int, PartitionState]:
        """Until every live broker reports each partition with a live leader and an ISR equal
        to its replica set (of ``size`` replicas when given) less the brokers ``excluding``."""
        result: dict[int, PartitionState] = {}
        partitions = list(partitions)
        excluded = set(excluding)

        def full() -> bool:
            for p in partitions:
                state = self.agreed_state(topic, p)
                if state is None or sorted(state.isr) != sorted(set(state.replicas) - excluded):
                    return False
                if size is not None and len(state.replicas) != size:
                    return False
                result[p] = state
            return True

        wait_until(
            full,
            timeout,
            lambda: (
                f"{topic}: ISR not full on every broker: "
                + str({p: self._states(topic, p) for p in partitions})
            ),
            interval=0.2,
            context=self.logs,
        )
        return result

    def wait_all_isr_full(self, timeout: float = 60.0) -> None:
        """Every partition of every topic (internal ones too) has its full ISR."""
        md = self.metadata_from(self.live_ids()[0])
        for t in md.topics:
            self.wait_full_isr(t.name, [int(p.partition_index) for p in t.partitions], timeout)

    def wait_registered(self, broker_ids: Iterable[int], timeout: float = 30.0) -> None:
        """Until every live broker lists exactly ``broker_ids`` as the live brokers."""
        wanted = sorted(broker_ids)
        wait_until(
            lambda: all(
                sorted(b.node_id for b in self.metadata_from(i, []).brokers) == wanted
                for i in self.live_ids()
            ),
            timeout,
            lambda: f"brokers {wanted} not (only) registered: {self._views()}",
            interval=0.2,
            context=self.logs,
        )

    def controller_id(self, timeout: float = 5.0) -> int | None:
        """The controller as DescribeCluster reports it (None: no controller)."""
        admin = self.admin()  # referenced until the future is done: collected, it is destroyed
        result = admin.describe_cluster(request_timeout=timeout).result(timeout + 1)
        return None if result.controller is None else int(result.controller.id)

    # -- topics -------------------------------------------------------------------------------

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        replication_factor: int = 3,
        config: Mapping[str, str] | None = None,
        assignment: list[list[int]] | None = None,
        timeout: float = 60.0,
    ) -> None:
        """CreateTopics through the AdminClient, then wait until every partition has a leader
        and its full ISR on every live broker."""
        if assignment is not None:
            topic = NewTopic(
                name, len(assignment), replica_assignment=assignment, config=dict(config or {})
            )
            partitions = len(assignment)
        else:
            topic = NewTopic(name, partitions, replication_factor, config=dict(config or {}))
        admin = self.admin()
        future = admin.create_topics([topic], request_timeout=30)[name]
        try:
            future.result(40)
        except KafkaException as exc:
            raise AssertionError(f"creating {name} failed: {exc}\n{self.logs()}") from None
        self.wait_full_isr(name, range(partitions), timeout)

    # -- replicas on disk ---------------------------------------------------------------------

    def partition_dir(self, broker_id: int, topic: str, partition: int) -> Path:
        return self.brokers[broker_id].data_dir / f"{topic}-{partition}"

    def replica_log(self, broker_id: int, topic: str, partition: int) -> ReplicaLog:
        """The replica's segments as ``odradek dump-log --print-data-log`` prints them (the
        broker may be running: a batch being written at the tail shows as a problem)."""
        directory = self.partition_dir(broker_id, topic, partition)
        segments = sorted(p for p in directory.glob("*.log") if re.fullmatch(r"\d{20}", p.stem))
        if not segments:
            return ReplicaLog(broker_id, problems=[f"no segments in {directory}"])
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "odradek",
                "dump-log",
                "--print-data-log",
                "--skip-index-check",
                *map(str, segments),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=odradek_env(),
        )
        log = parse_dump(broker_id, result.stdout)
        if result.returncode not in (0, 1) or (result.returncode == 1 and not log.problems):
            log.problems.append(f"dump-log exited {result.returncode}: {result.stderr[-2000:]}")
        return log

    def wait_replicas_identical(
        self, topic: str, partition: int, broker_ids: Iterable[int], timeout: float = 60.0
    ) -> ReplicaLog:
        """Until every replica's log (batches and records) is the same; returns it."""
        ids = list(broker_ids)
        last: dict[int, ReplicaLog] = {}

        def identical() -> ReplicaLog | None:
            for broker_id in ids:
                last[broker_id] = self.replica_log(broker_id, topic, partition)
            first = last[ids[0]]
            for log in last.values():
                if log.problems or log.batches != first.batches or log.records != first.records:
                    return None
            return first

        return wait_until(
            identical,
            timeout,
            lambda: (
                f"replicas of {topic}-{partition} differ:\n"
                + describe_difference(list(last.values()))
            ),
            interval=0.5,
            context=self.logs,
        )

    # -- diagnostics --------------------------------------------------------------------------

    def logs(self, tail: int = LOG_TAIL_CHARS) -> str:
        parts = []
        for broker_id, broker in self.brokers.items():
            state = (
                "never started"
                if broker.proc is None
                else (
                    "running" if broker.proc.poll() is None else f"exited {broker.proc.returncode}"
                )
            )
            text = broker.log()[-tail:]
            parts.append(
                f"---- broker {broker_id} ({broker.bootstrap}, {state}) log tail ----\n{text}"
            )
        return "\n".join(parts)


def describe_difference(logs: list[ReplicaLog]) -> str:
    lines = [
        f"broker {log.broker_id}: {len(log.batches)} batches, {len(log.records)} records, "
        f"end offset {log.end_offset}, problems {log.problems[:3]}"
        for log in logs
    ]
    if len(logs) >= 2:
        first = logs[0]
        for other in logs[1:]:
            for i, (a, b) in enumerate(zip(first.records, other.records, strict=False)):
                if a != b:
                    lines.append(
                        f"first difference broker {first.broker_id} vs "
                        f"{other.broker_id} at record #{i}: {a} vs {b}"
                    )
                    break
            for i, (batch_a, batch_b) in enumerate(zip(first.batches, other.batches, strict=False)):
                if batch_a != batch_b:
                    lines.append(
                        f"first batch difference broker {first.broker_id} vs "
                        f"{other.broker_id} at batch #{i}:\n  {batch_a}\n  {batch_b}"
                    )
                    break
    return "\n".join(lines)


# -- clients ------------------------------------------------------------------------------------


@dataclass
class Ack:
    partition: int
    offset: int
    value: bytes
    sent: float  # time.monotonic() when it was handed to the producer
    at: float  # time.monotonic() when its delivery report arrived


class AckedProducer(threading.Thread):
    """An idempotent confluent-kafka producer (acks=all) writing continuously in a thread.

    Values are ``b"<partition>:<seq>"`` with ``seq`` increasing by one per partition; every
    acknowledged delivery report is recorded as an :class:`Ack`, every failed one in
    ``failures`` and every fatal client error in ``fatal``."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        partitions: Iterable[int],
        interval: float = 0.01,
        config: Mapping[str, Any] | None = None,
        max_in_flight_messages: int = 2000,
    ) -> None:
        super().__init__(daemon=True, name=f"producer-{topic}")
        self.topic = topic
        self.partitions = list(partitions)
        self.interval = interval
        self.max_pending = max_in_flight_messages
        self.config = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": 180_000,
            "error_cb": self._on_error,
            **CLIENT_LOG,
            **(config or {}),
        }
        self.acks: list[Ack] = []
        self.failures: list[tuple[int, bytes, str]] = []
        self.fatal: list[str] = []
        self.errors: list[str] = []
        self.produced = 0
        self.unflushed = -1
        self.flush_timeout = 120.0
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def _on_error(self, error: KafkaError) -> None:
        with self._lock:
            (self.fatal if error.fatal() else self.errors).append(str(error))

    def _on_delivery(self, sent: float, error: KafkaError | None, message: Any) -> None:
        with self._lock:
            if error is not None:
                self.failures.append((message.partition(), message.value(), str(error)))
            else:
                self.acks.append(
                    Ack(
                        message.partition(),
                        message.offset(),
                        message.value(),
                        sent,
                        time.monotonic(),
                    )
                )

    def run(self) -> None:
        producer = Producer(self.config)
        seq = dict.fromkeys(self.partitions, 0)
        try:
            while not self._stop_event.is_set() and not self.fatal:
                for p in self.partitions:
                    producer.produce(
                        self.topic,
                        value=b"%d:%09d" % (p, seq[p]),
                        partition=p,
                        on_delivery=functools.partial(self._on_delivery, time.monotonic()),
                    )
                    seq[p] += 1
                    self.produced += 1
                producer.poll(0)
                while len(producer) > self.max_pending and not self._stop_event.is_set():
                    producer.poll(0.05)
                time.sleep(self.interval)
        finally:
            self.unflushed = producer.flush(self.flush_timeout)

    def stop(self, flush_timeout: float = 120.0) -> None:
        """Stop producing and wait (up to ``flush_timeout``) for the outstanding deliveries.
        In a test's failure path pass a short timeout."""
        self.flush_timeout = flush_timeout
        self._stop_event.set()
        self.join(flush_timeout + 30)

    def snapshot(self) -> list[Ack]:
        with self._lock:
            return list(self.acks)

    def acks_after(self, moment: float) -> dict[int, float]:
        """Per partition, when the first record sent after ``moment`` was acknowledged (a
        record sent before may have been acknowledged by a broker that is gone since)."""
        first: dict[int, float] = {}
        for ack in self.snapshot():
            if ack.sent > moment and (ack.partition not in first or ack.at < first[ack.partition]):
                first[ack.partition] = ack.at
        return first


def read_partitions(
    bootstrap: str,
    topic: str,
    partitions: Iterable[int],
    isolation: str = "read_uncommitted",
    timeout: float = 60.0,
) -> dict[int, list[tuple[int, bytes | None, bytes | None]]]:
    """Every record of those partitions from offset 0 to the end: (offset, key, value)."""
    wanted = list(partitions)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{time.time_ns()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": isolation,
            "fetch.wait.max.ms": 100,
            **QUIET_CLIENT,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in wanted])
    got: dict[int, list[tuple[int, bytes | None, bytes | None]]] = {p: [] for p in wanted}
    at_end: set[int] = set()
    errors: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(at_end) < len(wanted) and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    eof_partition = message.partition()
                    assert eof_partition is not None  # an EOF event names its partition
                    at_end.add(eof_partition)
                else:
                    errors.append(str(error))
                continue
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None  # a record names both
            at_end.discard(partition)
            got[partition].append((offset, message.key(), message.value()))
    finally:
        consumer.close()
    missing = sorted(set(wanted) - at_end)
    assert not missing, (
        f"{topic}: partitions {missing} not read to their end within "
        f"{timeout} s; errors {errors[-5:]}"
    )
    return got


def check_acknowledged(acks: list[Ack], read: Mapping[int, list[tuple[int, Any, Any]]]) -> None:
    """Every acknowledged record is in the log exactly once, at the offset its delivery report
    gave, and each partition's log holds the producer's values in order, without duplicates."""
    problems: list[str] = []
    for p, records in read.items():
        values = [value for _, _, value in records]
        seqs = [int(v.split(b":")[1]) for v in values]
        if len(set(values)) != len(values):
            dupes = sorted({v for v in values if values.count(v) > 1})[:5]
            problems.append(f"partition {p}: duplicated values {dupes}")
        out_of_order = [(a, b) for a, b in itertools.pairwise(seqs) if b <= a]
        if out_of_order:
            problems.append(f"partition {p}: out of order {out_of_order[:5]}")
        at = {offset: value for offset, _, value in records}
        for ack in (a for a in acks if a.partition == p):
            if at.get(ack.offset) != ack.value:
                problems.append(
                    f"partition {p}: acknowledged {ack.value!r} at offset "
                    f"{ack.offset}, log has {at.get(ack.offset)!r}"
                )
                if len(problems) > 20:
                    break
    lost = {(a.partition, a.value) for a in acks} - {
        (p, value) for p, records in read.items() for _, _, value in records
    }
    if lost:
        problems.append(f"{len(lost)} acknowledged records lost, e.g. {sorted(lost)[:5]}")
    assert not problems, "\n".join(problems[:25])


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
