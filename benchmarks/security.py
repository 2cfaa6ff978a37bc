"""Security benchmark: throughput over PLAINTEXT, SSL and SASL_SSL, and the cost of authenticating.

One ``python -m odradek serve`` process with four listeners (PLAINTEXT, SSL asking for but not
requiring client certificates, SASL_PLAINTEXT, SASL_SSL) serves the whole run; the CA and the
certificates are made in the work dir at run time with ``tests/support/security.py``'s helpers.

1. **Throughput**, with confluent-kafka (librdkafka) in this process: per listener, produce
   ``--records`` 1 KiB records with acks=1 and with acks=all (one fresh 1-partition topic each),
   then read the acks=1 topic back with a fresh consumer. The ways in: PLAINTEXT; SSL with
   server authentication only; SSL with a client certificate; SASL_SSL SCRAM-SHA-512. The
   listener order rotates from round to round (``--rounds``) so the machine's noise spreads over
   all of them; reported are the medians, the ratio to PLAINTEXT, and the CPU time the broker
   and this process (the clients) spent per MB.
2. **Authentication cost**: ``--connections`` new connections one after the other, each opened,
   authenticated, asked one Metadata request and closed, by a small raw client (Python's ``ssl``
   and odradek's sans-IO SASL clients over SaslHandshake v1 / SaslAuthenticate v2): PLAINTEXT,
   SSL (without and with a client certificate), SASL_PLAINTEXT PLAIN, SASL_PLAINTEXT
   SCRAM-SHA-512 at 4096 and 8192 iterations, SASL_SSL SCRAM-SHA-512. Reported: connections/s
   and the broker's and the client's CPU time per connection.
3. **The SASL exchange alone**, in-process: odradek's SASL server against its client, each
   side's CPU time per exchange (PLAIN, SCRAM-SHA-512 at 4096 and 8192 iterations).

    python benchmarks/security.py [--records 100000] [--rounds 8] [--connections 300] [--note TEXT]

Writes ``benchmarks/results/security.md`` (``--out`` for another directory). The broker is
stopped by PID on exit; its log stays in the work dir the script prints.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import platform
import shutil
import signal
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import confluent_kafka
import foundation as fd
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from kio.schema.sasl_authenticate.v2.request import SaslAuthenticateRequest
from kio.schema.sasl_handshake.v1.request import SaslHandshakeRequest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.broker_process import BrokerProcess, free_port  # noqa: E402
from tests.support.raw_client import RawClient  # noqa: E402
from tests.support.security import (  # noqa: E402
    ALICE_PASSWORD,
    SCRAM_ITERATIONS,
    SecureBroker,
    add_scram_user,
    librdkafka_sasl_ssl,
    librdkafka_ssl,
    make_tls_files,
    plain_jaas,
)

from odradek.security import scram  # noqa: E402
from odradek.security.sasl import PLAIN, create_sasl_server  # noqa: E402
from odradek.security.sasl_client import create_sasl_client  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
RECORD_BYTES = 1024
HOST = "127.0.0.1"
SCRAM = "SCRAM-SHA-512"
BOB, BOB_PASSWORD, BOB_ITERATIONS = "bob", "bob-secret", 4096
AUTH_TOPIC = "security-bench-metadata"
AUTH_WARMUP = 5
EXCHANGES = 300  # in-process SASL exchanges per mechanism
CASE_TIMEOUT = 120.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PRODUCE_CASES = (("produce acks=1", "1"), ("produce acks=all", "all"))
CONSUME_CASE = "consume"
THROUGHPUT_CASES = (*(name for name, _ in PRODUCE_CASES), CONSUME_CASE)
TLS_COST_LIMIT = 0.40  # Kafka's usual guidance: a TLS listener costs 20-40 % of throughput


class BenchError(Exception):
    """A case failed in a way worth reporting verbatim."""


# --------------------------------------------------------------------------- ways in


@dataclass(frozen=True)
class Listener:
    """A way in for the throughput cases: a label and the librdkafka settings that use it."""

    name: str
    slug: str
    config: Mapping[str, str]


@dataclass(frozen=True)
class AuthCase:
    """A way in for the connection cases: the port, the TLS context (None: plain TCP) and the
    SASL mechanism, user and password (None: no SASL)."""

    name: str
    port: int
    tls: ssl.SSLContext | None
    sasl: tuple[str, str, str] | None


def listeners(broker: SecureBroker) -> tuple[Listener, ...]:
    ssl_client_cert = librdkafka_ssl(broker)
    server_auth_only = {
        key: value
        for key, value in ssl_client_cert.items()
        if key not in ("ssl.certificate.location", "ssl.key.location")
    }
    return (
        Listener("PLAINTEXT", "plaintext", {"bootstrap.servers": broker.plaintext}),
        Listener("SSL", "ssl", server_auth_only),
        Listener("SSL + client certificate", "ssl-mtls", ssl_client_cert),
        Listener(
            f"SASL_SSL {SCRAM}", "sasl-ssl", librdkafka_sasl_ssl(broker, SCRAM, ALICE_PASSWORD)
        ),
    )


def tls_context(broker: SecureBroker, client_certificate: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(broker.tls.ca))
    if client_certificate:
        context.load_cert_chain(broker.tls.client_cert, broker.tls.client_key)
    return context


def auth_cases(broker: SecureBroker) -> tuple[AuthCase, ...]:
    server_auth, mutual = tls_context(broker, False), tls_context(broker, True)
    alice, bob = ("alice", ALICE_PASSWORD), (BOB, BOB_PASSWORD)
    return (
        AuthCase("PLAINTEXT", broker.process.port, None, None),
        AuthCase("SSL", broker.ssl_port, server_auth, None),
        AuthCase("SSL + client certificate", broker.ssl_port, mutual, None),
        AuthCase("SASL_PLAINTEXT PLAIN", broker.sasl_plaintext_port, None, ("PLAIN", *alice)),
        AuthCase(
            f"SASL_PLAINTEXT {SCRAM} ({BOB_ITERATIONS} it.)",
            broker.sasl_plaintext_port,
            None,
            (SCRAM, *bob),
        ),
        AuthCase(
            f"SASL_PLAINTEXT {SCRAM} ({SCRAM_ITERATIONS} it.)",
            broker.sasl_plaintext_port,
            None,
            (SCRAM, *alice),
        ),
        AuthCase(
            f"SASL_SSL {SCRAM} ({BOB_ITERATIONS} it.)",
            broker.sasl_ssl_port,
            server_auth,
            (SCRAM, *bob),
        ),
    )


def rotated(items: tuple[Any, ...], round_index: int) -> tuple[Any, ...]:
    """The order for one round: each item leads once every len(items) rounds."""
    shift = round_index % len(items)
    return items[shift:] + items[:shift]


# --------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    """One case of one round: ``count`` records or connections in ``seconds``, and the CPU
    seconds the broker process and this process spent meanwhile."""

    kind: str  # "throughput" or "auth"
    way: str
    case: str
    round: int
    count: int
    seconds: float
    broker_cpu: float
    client_cpu: float

    @property
    def rate(self) -> float:
        return self.count / max(self.seconds, 1e-9)


@dataclass(frozen=True)
class Clocks:
    """The broker's ``pid`` and, at one moment, the wall clock and both processes' CPU time."""

    pid: int
    wall: float
    broker_cpu: float
    client_cpu: float


def broker_cpu_seconds(pid: int) -> float:
    """utime + stime of the broker process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def clocks(pid: int) -> Clocks:
    return Clocks(pid, time.perf_counter(), broker_cpu_seconds(pid), time.process_time())


def sample(kind: str, way: str, case: str, round_index: int, count: int, start: Clocks) -> Sample:
    end = clocks(start.pid)
    return Sample(
        kind,
        way,
        case,
        round_index,
        count,
        end.wall - start.wall,
        end.broker_cpu - start.broker_cpu,
        end.client_cpu - start.client_cpu,
    )


# --------------------------------------------------------------------------- throughput


def topic_name(listener: Listener, acks: str, round_index: int) -> str:
    return f"security-bench-r{round_index}-{listener.slug}-acks{acks}"


def produce(
    pid: int, listener: Listener, case: str, acks: str, round_index: int, records: int
) -> Sample:
    log = fd.ClientLog(f"{listener.slug}-produce")
    failures: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    topic = topic_name(listener, acks, round_index)
    producer = Producer(
        {
            **listener.config,
            "linger.ms": fd.LINGER_MS,
            "acks": acks,
            "delivery.report.only.error": True,
            "on_delivery": on_delivery,
            **log.config(),
        }
    )
    value = os.urandom(RECORD_BYTES)
    try:
        producer.produce(topic, value)  # connected and authenticated to the leader before the clock
        if producer.flush(30) or failures:
            raise BenchError(f"warm-up record not delivered: {failures[:1]}\n{log.tail()}")
        deadline = time.perf_counter() + CASE_TIMEOUT
        start = clocks(pid)
        sent = fd.produce_bounded(producer, topic, value, records, deadline)
        left = producer.flush(max(1.0, deadline - time.perf_counter()))
        result = sample("throughput", listener.name, case, round_index, sent, start)
    finally:
        fd.drop_producer(producer)
    if left or failures or sent < records:
        raise BenchError(
            f"{listener.name} {case}: {sent} of {records} sent, {left} undelivered, "
            f"{len(failures)} failed (first: {failures[:1]})\n{log.tail()}"
        )
    return result


def consume(pid: int, listener: Listener, round_index: int, records: int) -> Sample:
    log = fd.ClientLog(f"{listener.slug}-consume")
    topic = topic_name(listener, "1", round_index)
    consumer = Consumer(
        {
            **listener.config,
            "group.id": "odradek-security-bench",  # required by confluent-kafka; never committed
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "fetch.queue.backoff.ms": 10,  # as foundation.py's consume cases
            **log.config(),
        }
    )
    errors: list[str] = []
    try:
        # ListOffsets goes to the leader: connected and authenticated before the clock.
        consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
        start = clocks(pid)
        consumer.assign([TopicPartition(topic, 0, 0)])
        deadline = time.perf_counter() + CASE_TIMEOUT
        got, last = fd.read_records(consumer, records, RECORD_BYTES, deadline, errors)
        result = sample("throughput", listener.name, CONSUME_CASE, round_index, got, start)
        result.seconds = last - start.wall
    finally:
        fd.close_consumer(consumer)
    if got < records or errors:
        raise BenchError(
            f"{listener.name} consume: {got} of {records} records, errors {errors[:3]}\n"
            f"{log.tail()}"
        )
    return result


def run_throughput(broker: SecureBroker, settings: Settings) -> list[Sample]:
    ways, pid = listeners(broker), broker.process.pid
    topics = [
        (topic_name(way, acks, r), 1)
        for r in range(settings.rounds)
        for way in ways
        for _, acks in PRODUCE_CASES
    ]
    fd.admin_create_topics(broker.plaintext, topics, fd.ClientLog("admin"))
    samples: list[Sample] = []
    for round_index in range(settings.rounds):
        for way in rotated(ways, round_index):
            for case, acks in PRODUCE_CASES:
                samples.append(show(produce(pid, way, case, acks, round_index, settings.records)))
            samples.append(show(consume(pid, way, round_index, settings.records)))
    return samples


def show(result: Sample) -> Sample:
    broker, client = (
        cpu_per_unit(result, result.broker_cpu),
        cpu_per_unit(result, result.client_cpu),
    )
    if result.kind == "throughput":
        rate = f"{result.rate * RECORD_BYTES / 1e6:7.1f} MB/s {result.rate:9,.0f} rec/s"
        unit = "MB"
    else:
        rate, unit = f"{result.rate:7.1f} conn/s", "conn"
    print(
        f"  round {result.round + 1} {result.way:40} {result.case:17} {rate}, "
        f"CPU ms/{unit} broker {broker:6.2f} client {client:6.2f}",
        flush=True,
    )
    return result


# --------------------------------------------------------------------------- authentication


def authenticate(client: RawClient, mechanism: str, username: str, password: str) -> None:
    """SaslHandshake v1, then SaslAuthenticate v2 until the mechanism is complete."""
    handshake = client.call(SaslHandshakeRequest(mechanism=mechanism))
    if handshake.error_code != 0:
        raise BenchError(f"SaslHandshake {mechanism}: error {handshake.error_code}")
    sasl = create_sasl_client(mechanism, username, password)
    token = sasl.initial_response()
    while True:
        response = client.call(SaslAuthenticateRequest(auth_bytes=token))
        if response.error_code != 0:
            raise BenchError(f"SaslAuthenticate {mechanism} as {username}: {response}")
        if sasl.complete:
            return
        token = sasl.evaluate_challenge(bytes(response.auth_bytes))
        if sasl.complete:
            return


def connect_once(case: AuthCase) -> None:
    """Open, (TLS), (SASL), one Metadata request, close."""
    client = RawClient(HOST, case.port)
    try:
        if case.tls is not None:
            client.sock = case.tls.wrap_socket(client.sock, server_hostname=HOST)
        if case.sasl is not None:
            authenticate(client, *case.sasl)
        metadata = client.metadata([AUTH_TOPIC])
        if metadata.topics[0].error_code != 0:
            raise BenchError(f"Metadata over {case.name}: error {metadata.topics[0].error_code}")
    finally:
        client.close()


def connections(pid: int, case: AuthCase, round_index: int, count: int) -> Sample:
    for _ in range(AUTH_WARMUP):
        connect_once(case)
    start = clocks(pid)
    for _ in range(count):
        connect_once(case)
    return sample("auth", case.name, "connections", round_index, count, start)


def tls_session(case: AuthCase) -> str:
    """The protocol and cipher a connection of ``case`` negotiates."""
    assert case.tls is not None
    client = RawClient(HOST, case.port)
    try:
        sock = case.tls.wrap_socket(client.sock, server_hostname=HOST)
        client.sock = sock
        cipher = sock.cipher()
        return f"{sock.version()} {cipher[0] if cipher else '?'}"
    finally:
        client.close()


def run_auth(broker: SecureBroker, settings: Settings) -> list[Sample]:
    fd.admin_create_topics(broker.plaintext, [(AUTH_TOPIC, 1)], fd.ClientLog("admin"))
    cases, pid = auth_cases(broker), broker.process.pid
    return [
        show(connections(pid, case, round_index, settings.connections))
        for round_index in range(settings.rounds)
        for case in rotated(cases, round_index)
    ]


@dataclass(frozen=True)
class ExchangeCost:
    """CPU ms per complete SASL exchange on each side, measured in-process (no sockets)."""

    name: str
    server_ms: float
    client_ms: float


def sasl_exchange_cost(name: str, mechanism: str, iterations: int) -> ExchangeCost:
    """odradek's server (create_sasl_server) against its client, ``EXCHANGES`` times; each
    side's calls timed apart. PLAIN ignores ``iterations``."""
    credential: scram.ScramCredential | None = None
    if mechanism != PLAIN:
        credential = scram.credential_from_password(
            scram.ScramMechanism.from_mechanism_name(mechanism), BOB_PASSWORD, iterations
        )
    server_cpu = client_cpu = 0.0
    for _ in range(EXCHANGES):
        started = time.process_time()
        server = create_sasl_server(
            mechanism,
            plain_users={BOB: BOB_PASSWORD},
            scram_credentials=lambda _mechanism, _user: credential,
        )
        middle = time.process_time()
        client = create_sasl_client(mechanism, BOB, BOB_PASSWORD)
        token = client.initial_response()
        ended = time.process_time()
        server_cpu, client_cpu = server_cpu + middle - started, client_cpu + ended - middle
        while True:
            started = time.process_time()
            challenge = server.evaluate_response(token)
            middle = time.process_time()
            if not client.complete:
                token = client.evaluate_challenge(challenge)
            ended = time.process_time()
            server_cpu, client_cpu = server_cpu + middle - started, client_cpu + ended - middle
            if client.complete:
                break
        if not server.complete:
            raise BenchError(f"in-process {name}: the server did not complete")
    return ExchangeCost(name, 1000 * server_cpu / EXCHANGES, 1000 * client_cpu / EXCHANGES)


def run_exchanges() -> list[ExchangeCost]:
    costs = [
        sasl_exchange_cost("PLAIN", PLAIN, 0),
        sasl_exchange_cost(f"{SCRAM} ({BOB_ITERATIONS} it.)", SCRAM, BOB_ITERATIONS),
        sasl_exchange_cost(f"{SCRAM} ({SCRAM_ITERATIONS} it.)", SCRAM, SCRAM_ITERATIONS),
    ]
    for cost in costs:
        print(
            f"  in-process {cost.name:30} CPU ms per exchange: server {cost.server_ms:6.3f} "
            f"client {cost.client_ms:6.3f}",
            flush=True,
        )
    return costs


def exchange_lines(costs: list[ExchangeCost]) -> list[str]:
    return [
        "| mechanism | broker (server) CPU ms | client CPU ms |",
        "|---|---:|---:|",
        *(f"| {c.name} | {c.server_ms:.3f} | {c.client_ms:.3f} |" for c in costs),
    ]


def add_scram_sha512_user(bootstrap: str, user: str, password: str, iterations: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    upsertion = UserScramCredentialUpsertion(
        user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, iterations), password.encode()
    )
    for future in admin.alter_user_scram_credentials([upsertion]).values():
        future.result(timeout=30)


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Summary:
    way: str
    case: str
    rate: float  # median records/s or connections/s
    ratio: float  # rate / PLAINTEXT's rate for the same case
    broker_cpu: float  # median broker CPU ms per MB (throughput) or per connection (auth)
    client_cpu: float
    rounds: tuple[float, ...]  # each round's rate, in round order


def cpu_per_unit(result: Sample, cpu: float) -> float:
    """CPU ms per MB of values (throughput) or per connection (auth)."""
    units = result.count * RECORD_BYTES / 1e6 if result.kind == "throughput" else result.count
    return 1000 * cpu / units


def summarise(samples: list[Sample], kind: str) -> list[Summary]:
    groups: dict[tuple[str, str], list[Sample]] = {}
    for s in samples:
        if s.kind == kind:
            groups.setdefault((s.way, s.case), []).append(s)
    medians = {key: statistics.median(s.rate for s in group) for key, group in groups.items()}
    out = []
    for (way, case), group in groups.items():
        base = medians.get(("PLAINTEXT", case), 0.0)
        out.append(
            Summary(
                way,
                case,
                medians[(way, case)],
                medians[(way, case)] / base if base else 0.0,
                statistics.median(cpu_per_unit(s, s.broker_cpu) for s in group),
                statistics.median(cpu_per_unit(s, s.client_cpu) for s in group),
                tuple(s.rate for s in sorted(group, key=lambda s: s.round)),
            )
        )
    return out


def throughput_lines(summaries: list[Summary]) -> list[str]:
    lines = [
        "| listener | case | MB/s | records/s | vs PLAINTEXT | broker CPU ms/MB "
        "| client CPU ms/MB | MB/s per round |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for case in THROUGHPUT_CASES:
        for s in (s for s in summaries if s.case == case):
            rounds = ", ".join(f"{r * RECORD_BYTES / 1e6:.0f}" for r in s.rounds)
            lines.append(
                f"| {s.way} | {s.case} | {s.rate * RECORD_BYTES / 1e6:.1f} | {s.rate:,.0f} "
                f"| {s.ratio:.2f} | {s.broker_cpu:.2f} | {s.client_cpu:.2f} | {rounds} |"
            )
    return lines


def auth_lines(summaries: list[Summary]) -> list[str]:
    lines = [
        "| way in | connections/s | vs PLAINTEXT | broker CPU ms/conn | client CPU ms/conn "
        "| connections/s per round |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for s in summaries:
        rounds = ", ".join(f"{r:.0f}" for r in s.rounds)
        lines.append(
            f"| {s.way} | {s.rate:.0f} | {s.ratio:.2f} | {s.broker_cpu:.2f} "
            f"| {s.client_cpu:.2f} | {rounds} |"
        )
    return lines


def verdict_lines(summaries: list[Summary]) -> list[str]:
    """Each TLS way in's throughput cost (1 - ratio to PLAINTEXT) against Kafka's 20-40 %, and
    the broker's CPU per MB relative to PLAINTEXT's."""
    plaintext = {s.case: s for s in summaries if s.way == "PLAINTEXT"}
    out = []
    for s in summaries:
        base = plaintext.get(s.case)
        if s.way == "PLAINTEXT" or base is None or not s.ratio:
            continue
        cost = 1.0 - s.ratio
        if cost <= 0:
            verdict = "no throughput cost"
        else:
            limit = "within" if cost <= TLS_COST_LIMIT else "MORE than"
            verdict = f"costs {cost:.0%} of the throughput ({limit} 40 %)"
        cpu = s.broker_cpu / base.broker_cpu if base.broker_cpu else 0.0
        out.append(
            f"- {s.way}, {s.case}: {s.ratio:.2f} x PLAINTEXT, {verdict}; broker CPU per MB "
            f"{cpu:.2f} x PLAINTEXT's"
        )
    return out


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Settings:
    records: int
    rounds: int
    connections: int
    out: Path
    json_path: Path | None
    note: str


def machine_info() -> dict[str, str]:
    return {
        "nproc": str(os.cpu_count()),
        "cpu": fd.cpu_model(),
        "loadavg (start)": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "OpenSSL (broker, raw client)": ssl.OPENSSL_VERSION,
        "uvloop": metadata.version("uvloop"),
        "confluent-kafka": fd.client_version(),
        "librdkafka": confluent_kafka.libversion()[0],
        "odradek": fd.odradek_version(),
    }


def write_report(
    path: Path,
    info: dict[str, str],
    samples: list[Sample],
    costs: list[ExchangeCost],
    settings: Settings,
    meta: dict[str, str],
) -> None:
    throughput = summarise(samples, "throughput")
    auth = summarise(samples, "auth")
    note = [f"**Note:** {settings.note}", ""] if settings.note else []
    lines = [
        "# odradek security: throughput over TLS and SASL, and the cost of authenticating",
        "",
        f"Generated {meta['date']} by `{meta['command']}` (total runtime {meta['runtime']}).",
        "",
        *note,
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "## Setup",
        "",
        "- One `python -m odradek serve` process (uvloop) with four listeners on 127.0.0.1: "
        "PLAINTEXT, SSL (`ssl.client.auth=requested`), SASL_PLAINTEXT and SASL_SSL "
        f"(PLAIN, {SCRAM}), `metrics.port=-1`. The CA and certificates "
        "(trustme, ECDSA P-256 keys) are made in a temp dir at run time.",
        f"- TLS: {meta['tls']} (as the raw client negotiates it). Every connection of the raw "
        "client is a full handshake (no session resumption).",
        "- Throughput: confluent-kafka (librdkafka) in the benchmark's process. Per listener and "
        f"round: {settings.records:,} x 1 KiB records with acks=1 and with acks=all "
        f"(librdkafka defaults + `linger.ms={fd.LINGER_MS}`, no compression, null keys, a fresh "
        "1-partition topic each), then the acks=1 topic read back by a fresh consumer "
        "(`fetch.queue.backoff.ms=10`). Connecting and authenticating happen before the clock "
        "starts (a warm-up record; ListOffsets for the consumer). MB = 10^6 B of values.",
        f"- {settings.rounds} rounds; the listener order rotates by one each round. Figures are "
        "medians over the rounds; `vs PLAINTEXT` is the ratio of the medians. CPU is the broker "
        "process's and the benchmark process's (the clients') utime+stime over each case, "
        "per MB of values.",
        f"- Authentication: per way in and round, {AUTH_WARMUP} unmeasured then "
        f"{settings.connections} connections one after the other from a raw Python client: "
        "TCP connect, TLS handshake (Python's `ssl`), SaslHandshake v1 + SaslAuthenticate v2 "
        "with odradek's sans-IO PLAIN/SCRAM clients, one Metadata v12 request for one topic, "
        "close. SCRAM users: `alice` at "
        f"{SCRAM_ITERATIONS} iterations, `bob` at {BOB_ITERATIONS} (the broker stores only the "
        "salted keys, so the iteration count is the client's PBKDF2 work).",
        "",
        "## Throughput",
        "",
        *throughput_lines(throughput),
        "",
        "Against Kafka's guidance that a TLS listener costs 20-40 % of throughput:",
        "",
        *verdict_lines(throughput),
        "",
        "The clients run on the broker's machine, so a wall-clock ratio also pays for the "
        "clients' own TLS work (librdkafka's CPU per MB rises too); on a shared machine it "
        "swings from round to round. The broker's CPU per MB varies less and is what bounds a "
        "broker whose clients are elsewhere, but it too rises when the machine is busier (more "
        "wake-ups per MB, colder caches): compare figures from one run only.",
        "",
        "## Authentication cost (new connections per second)",
        "",
        *auth_lines(auth),
        "",
        "connections/s is one client connecting one connection at a time (latency-bound: its "
        "own CPU and the broker's add up); `broker CPU ms/conn` is what each connection costs "
        "the broker, whose inverse bounds what one broker core can accept. The broker's CPU "
        "per connection also grows as the rate falls (it sleeps and wakes for every message "
        "of a slow client), so for SCRAM it overstates the mechanism's own work, measured "
        "apart below.",
        "",
        f"The SASL exchange alone, in-process ({EXCHANGES} exchanges, no sockets): odradek's "
        "server (`create_sasl_server`, a stored SCRAM credential) against its client "
        "(`create_sasl_client`, which derives the salted password with PBKDF2), CPU ms per "
        "complete exchange on each side:",
        "",
        *exchange_lines(costs),
    ]
    path.write_text("\n".join(lines).rstrip() + "\n")


def dump_json(
    path: Path,
    info: dict[str, str],
    samples: list[Sample],
    costs: list[ExchangeCost],
    settings: Settings,
) -> None:
    doc = {
        "machine": info,
        "records": settings.records,
        "rounds": settings.rounds,
        "connections": settings.connections,
        "samples": [asdict(s) | {"rate": s.rate} for s in samples],
        "sasl_exchanges": [asdict(c) for c in costs],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


def print_summary(samples: list[Sample]) -> None:
    print("\n" + "\n".join(throughput_lines(summarise(samples, "throughput"))))
    print("\n" + "\n".join(verdict_lines(summarise(samples, "throughput"))))
    print("\n" + "\n".join(auth_lines(summarise(samples, "auth"))), flush=True)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> Settings:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000, help="1 KiB records per case")
    ap.add_argument("--rounds", type=int, default=8, help="rounds (the listener order rotates)")
    ap.add_argument("--connections", type=int, default=300, help="connections per way in and round")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR, help="report directory")
    ap.add_argument("--json", type=Path, default=None, help="also write every sample to FILE")
    ap.add_argument("--note", default="", help="a line for the report (what else was running)")
    args = ap.parse_args(argv)
    if min(args.records, args.rounds, args.connections) < 1:
        ap.error("--records, --rounds and --connections must be at least 1")
    return Settings(args.records, args.rounds, args.connections, args.out, args.json, args.note)


def start_broker(work: Path) -> SecureBroker:
    """The broker with its four listeners. The SSL listener asks for a client certificate
    without requiring one, so it serves both the server-authenticated and the mutually
    authenticated clients. Registered for stopping before it starts."""
    tls = make_tls_files(work / "tls")
    port, ssl_port, sasl_ssl_port, sasl_port = (free_port() for _ in range(4))
    jaas = plain_jaas({"alice": ALICE_PASSWORD})
    overrides = {
        "listeners": (
            f"PLAINTEXT://{HOST}:{port},SSL://{HOST}:{ssl_port},"
            f"SASL_SSL://{HOST}:{sasl_ssl_port},SASL_PLAINTEXT://{HOST}:{sasl_port}"
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.server),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.ca),
        "listener.name.ssl.ssl.client.auth": "requested",
        "sasl.enabled.mechanisms": f"PLAIN,{SCRAM}",
        "listener.name.sasl_ssl.plain.sasl.jaas.config": jaas,
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
        "metrics.port": "-1",
    }
    process = BrokerProcess(work / "data", port=port, overrides=overrides)
    atexit.register(stop_broker, process)
    process.start(timeout=60)
    print(f"broker pid {process.pid}, log {process.log_path}", flush=True)
    return SecureBroker(process, tls, ssl_port, sasl_ssl_port, sasl_port)


def stop_broker(process: BrokerProcess) -> None:
    with contextlib.suppress(Exception):
        process.stop()
    process.kill()


def run(settings: Settings, work: Path) -> tuple[list[Sample], str]:
    try:
        broker = start_broker(work)
    except RuntimeError as exc:  # the broker exited or never listened: its log is in the message
        raise BenchError(str(exc)) from exc
    try:
        add_scram_user(broker.plaintext, "alice", ALICE_PASSWORD)
        add_scram_sha512_user(broker.plaintext, BOB, BOB_PASSWORD, BOB_ITERATIONS)
        session = tls_session(auth_cases(broker)[1])
        print("== throughput", flush=True)
        samples = run_throughput(broker, settings)
        print("== authentication", flush=True)
        samples += run_auth(broker, settings)
    except Exception as exc:
        raise BenchError(f"{exc!r}\nbroker log tail:\n{broker.process.log()[-3000:]}") from exc
    finally:
        stop_broker(broker.process)
        shutil.rmtree(work / "data", ignore_errors=True)
    return samples, session


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="odradek-security-bench-"))
    info = machine_info()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    began = time.monotonic()
    for key, value in info.items():
        print(f"  {key:<30}{value}")
    try:
        samples, session = run(settings, work)
        print("== SASL exchanges in-process", flush=True)
        costs = run_exchanges()
    except BenchError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    info["loadavg (end)"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print_summary(samples)
    print("\n" + "\n".join(exchange_lines(costs)))
    argv_shown = " ".join(sys.argv[1:] if argv is None else argv)
    meta = {
        "date": date,
        "command": f"python benchmarks/security.py {argv_shown}".strip(),
        "runtime": f"{time.monotonic() - began:.0f} s",
        "tls": session,
    }
    settings.out.mkdir(parents=True, exist_ok=True)
    write_report(settings.out / "security.md", info, samples, costs, settings, meta)
    if settings.json_path is not None:
        dump_json(settings.json_path, info, samples, costs, settings)
    print(
        f"\nreport: {settings.out / 'security.md'}; broker log in {work}; total {meta['runtime']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
