"""How the client tools fail (issue #12, "first touch"): fast and in one line when nothing
answers at the bootstrap address, Kafka's exit code 1, the flag that was mistyped, Kafka's
config messages, and a console consumer that leaves its group on SIGTERM.

The tools run as real subprocesses (``python -m odradek ...``) against real broker processes.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from odradek.cli.main import NOT_CLIENT_TOOLS, build_parser
from tests.integration.test_cli_common import fails, odradek, ok
from tests.support.broker_process import BrokerProcess, free_port

pytestmark = pytest.mark.integration

FAIL_FAST_SECONDS = 10.0


def closed_port_commands(address: str, tmp: Path) -> dict[str, list[str]]:
    """One invocation of every client tool (every leaf of ``odradek --help``) that needs the
    cluster, with default settings."""
    offsets = tmp / "offsets.json"
    offsets.write_text('{"partitions": [{"topic": "t", "partition": 0, "offset": 1}]}')
    election = tmp / "election.json"
    election.write_text('{"partitions": [{"topic": "t", "partition": 0}]}')
    plan = tmp / "plan.json"
    plan.write_text(
        '{"version": 1, "partitions": [{"topic": "t", "partition": 0, "replicas": [0]}]}'
    )
    move = tmp / "move.json"
    move.write_text('{"version": 1, "topics": [{"topic": "t"}]}')
    bs = ["--bootstrap-server", address]
    return {
        "topics": ["topics", *bs, "--list"],
        "acls": ["acls", *bs, "--list"],
        "console-producer": ["console-producer", *bs, "--topic", "t"],
        "console-consumer": ["console-consumer", *bs, "--topic", "t"],
        "configs": ["configs", *bs, "--describe", "--topic", "t"],
        "delete-records": ["delete-records", *bs, "--offset-json-file", str(offsets)],
        "cluster": ["cluster", *bs],
        "consumer-groups": ["consumer-groups", *bs, "--list"],
        "reassign-partitions --list": ["reassign-partitions", *bs, "--list"],
        "reassign-partitions --generate": [
            "reassign-partitions",
            *bs,
            "--generate",
            "--topics-to-move-json-file",
            str(move),
            "--broker-list",
            "0",
        ],
        "reassign-partitions --execute": [
            "reassign-partitions",
            *bs,
            "--execute",
            "--reassignment-json-file",
            str(plan),
        ],
        "leader-election": [
            "leader-election",
            *bs,
            "--election-type",
            "preferred",
            "--path-to-json-file",
            str(election),
        ],
        "transactions": ["transactions", *bs, "list"],
        "perf produce": [
            "perf",
            "produce",
            *bs,
            "--topic",
            "t",
            "--num-records",
            "10",
            "--record-size",
            "10",
            "--throughput",
            "-1",
        ],
        "perf consume": ["perf", "consume", *bs, "--topic", "t", "--messages", "10"],
        "perf e2e-latency": ["perf", "e2e-latency", address, "t", "10", "1", "10"],
        "console": ["console", *bs],
        # a target that would work: the closed port must be reported before the table is made
        "ingest": [
            "ingest",
            *bs,
            "--topic",
            "t",
            "--group",
            "g",
            "--format",
            "JSONEachRow",
            "--target",
            f"duckdb:///{tmp / 'ingest.duckdb'}",
            "--table",
            "t",
            "--create-table",
            "id Int64",
            "--state-dir",
            str(tmp / "ingest-state"),
        ],
    }


def leaf_tools() -> set[str]:
    """Every client tool ``odradek --help`` lists (perf's sub-tools one by one)."""
    found = set()
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in commands.choices.items():
        if name in NOT_CLIENT_TOOLS:
            continue
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if name == "perf":
            found |= {f"perf {sub}" for sub in subs[0].choices}
        else:
            found.add(name)
    return found


def run_timed(args: list[str], stdin: str = "") -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    result = odradek(*args, stdin=stdin, timeout=60)
    return result, time.monotonic() - start


CLOSED_PORT_CASES = [
    "topics",
    "acls",
    "console-producer",
    "console-consumer",
    "configs",
    "delete-records",
    "cluster",
    "consumer-groups",
    "reassign-partitions --list",
    "reassign-partitions --generate",
    "reassign-partitions --execute",
    "leader-election",
    "transactions",
    "perf produce",
    "perf consume",
    "perf e2e-latency",
    "console",
    "ingest",
]


def test_the_closed_port_cases_cover_every_tool(tmp_path: Path) -> None:
    assert sorted(closed_port_commands("x:1", tmp_path)) == sorted(CLOSED_PORT_CASES)
    assert {name.split(" --")[0] for name in CLOSED_PORT_CASES} == leaf_tools()


@pytest.mark.parametrize("tool", CLOSED_PORT_CASES)
def test_every_tool_fails_fast_against_a_closed_port(tool: str, tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"  # bound, then released: nothing listens there
    args = closed_port_commands(address, tmp_path)[tool]
    result, elapsed = run_timed(args, stdin="one record\n")
    assert result.returncode == 1, result
    assert elapsed < FAIL_FAST_SECONDS, f"{tool} took {elapsed:.1f}s"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"{tool} printed {len(lines)} lines on stderr:\n{result.stderr}"
    assert address in lines[0] and "refused" in lines[0], lines[0]
    assert result.stdout.strip() == "", result.stdout


def test_an_unresolvable_host_and_a_malformed_address_are_one_line() -> None:
    result = odradek("topics", "--bootstrap-server", "no-such-host.invalid:9092", "--list")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: no broker answers at the bootstrap address no-such-host.invalid:9092 "
        "(cannot resolve host no-such-host.invalid)"
    ]
    result = odradek("topics", "--bootstrap-server", "localhost", "--list")
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["Error: Invalid url in bootstrap.servers: localhost"]


def test_one_answering_address_is_enough(shared_broker: BrokerProcess) -> None:
    dead = f"127.0.0.1:{free_port()}"
    ok("topics", "--bootstrap-server", f"{dead},{shared_broker.bootstrap}", "--list")


# -- the cluster answered, the operation timed out ------------------------------------------


class SilentKafka:
    """Answers the tools' ApiVersions v0 probe, then never answers librdkafka: a cluster
    that is there but does not complete requests (as a broker whose controller is gone)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.open: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.open.append(conn)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            head = conn.recv(4, socket.MSG_WAITALL)
            (size,) = struct.unpack(">i", head)
            frame = conn.recv(size, socket.MSG_WAITALL)
            api_key, version, correlation = struct.unpack(">hhi", frame[:8])
            if (api_key, version) == (18, 0) and b"odradek-tool" in frame:
                body = struct.pack(">ihi", correlation, 0, 0)  # no error, no api keys
                conn.sendall(struct.pack(">i", len(body)) + body)
            # anything else (librdkafka): keep the connection open and say nothing
        except (OSError, struct.error):
            pass

    def close(self) -> None:
        self.server.close()
        for conn in self.open:
            conn.close()


@pytest.fixture
def silent_kafka() -> Iterator[SilentKafka]:
    server = SilentKafka()
    yield server
    server.close()


@pytest.mark.parametrize("args", [["topics", "--list"], ["consumer-groups", "--list"]])
def test_a_timeout_after_the_cluster_answered_does_not_blame_the_address(
    silent_kafka: SilentKafka, tmp_path: Path, args: list[str]
) -> None:
    config = tmp_path / "admin.properties"
    config.write_text("default.api.timeout.ms=2000\n")
    address = f"127.0.0.1:{silent_kafka.port}"
    timeout = ["--timeout", "2000"] if args[0] == "consumer-groups" else []
    result, elapsed = run_timed(
        [*args, "--bootstrap-server", address, *timeout, "--command-config", str(config)]
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert f"the broker at {address} answered" in lines[0], lines[0]
    assert "no broker answers" not in lines[0] and "is a broker reachable" not in lines[0]
    assert elapsed < FAIL_FAST_SECONDS


def test_librdkafka_logs_only_with_verbose(silent_kafka: SilentKafka, tmp_path: Path) -> None:
    config = tmp_path / "admin.properties"
    config.write_text("default.api.timeout.ms=1500\n")
    address = f"127.0.0.1:{silent_kafka.port}"
    quiet = odradek("cluster", "--bootstrap-server", address, "--command-config", str(config))
    loud = odradek(
        "cluster", "--bootstrap-server", address, "--command-config", str(config), "--verbose"
    )
    assert quiet.returncode == loud.returncode == 1
    assert len(quiet.stderr.splitlines()) == 1, quiet.stderr
    assert "|BROKER|" not in quiet.stderr
    assert "|BROKER|" in loud.stderr  # librdkafka's own lines: %7|time|BROKER|...
    # consumer-groups' --verbose is Kafka's (the assignments): the log is `odradek --verbose`
    loud = odradek(
        "--verbose", "consumer-groups", "--bootstrap-server", address, "--list", "--timeout", "1500"
    )
    assert loud.returncode == 1 and "|BROKER|" in loud.stderr


# -- flags ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["topics", "--lst"],
            "odradek topics: error: --lst is not a recognized option (did you mean --list?)",
        ),
        (
            ["topics", "--list", "--bootstrap-sever", "x:1"],
            "odradek topics: error: --bootstrap-sever is not a recognized option "
            "(did you mean --bootstrap-server?)",
        ),
        (
            ["console-consumer", "--topic", "t", "--form-beginning"],
            "odradek console-consumer: error: --form-beginning is not a recognized option "
            "(did you mean --from-beginning?)",
        ),
        (
            ["consumer-groups", "--list", "--zzz"],
            "odradek consumer-groups: error: --zzz is not a recognized option "
            "(see odradek consumer-groups --help)",
        ),
        (
            ["transactions", "--bootstrap-server", "x:1", "list", "--durration-filter", "5"],
            "odradek transactions list: error: --durration-filter is not a recognized option "
            "(did you mean --duration-filter?)",
        ),
        (["topics", "--list", "stray"], "odradek topics: error: unexpected argument 'stray'"),
        (
            ["topics", "--create", "--topic", "t", "--partitions", "abc"],
            "odradek topics: error: argument --partitions: invalid int value: 'abc'",
        ),
    ],
)
def test_bad_flags_name_the_flag_and_exit_1(args: list[str], message: str) -> None:
    result = odradek(*args)
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [message]


# -- messages from a real broker --------------------------------------------------------------


def test_bad_config_values_read_like_kafkas(shared_broker: BrokerProcess) -> None:
    bs = ["--bootstrap-server", shared_broker.bootstrap]
    expected = "Invalid value abc for configuration retention.ms: Not a number of type LONG"
    stderr = fails(
        "topics", *bs, "--create", "--topic", "bad-config", "--config", "retention.ms=abc"
    )
    assert expected in stderr and "invalid literal" not in stderr
    assert len(stderr.splitlines()) == 1
    ok("topics", *bs, "--create", "--topic", "bad-config-alter")
    stderr = fails(
        "configs", *bs, "--alter", "--topic", "bad-config-alter", "--add-config", "retention.ms=abc"
    )
    assert expected in stderr and len(stderr.splitlines()) == 1
    stderr = fails(
        "configs", *bs, "--alter", "--broker", "0", "--add-config", "message.max.bytes=1.5"
    )
    assert (
        "Invalid value 1.5 for configuration message.max.bytes: Not a number of type INT" in stderr
    )


def test_delete_records_on_a_missing_topic_says_so(
    shared_broker: BrokerProcess, tmp_path: Path
) -> None:
    offsets = tmp_path / "offsets.json"
    offsets.write_text(
        '{"partitions": [{"topic": "no-such-topic", "partition": 0, "offset": 1}], "version": 1}'
    )
    result = odradek(
        "delete-records",
        "--bootstrap-server",
        shared_broker.bootstrap,
        "--offset-json-file",
        str(offsets),
    )
    assert result.returncode == 1
    assert (
        "partition: no-such-topic-0\terror: Topic 'no-such-topic' does not exist" in result.stdout
    )
    assert result.stderr.splitlines() == [
        "Error: records of 1 partition(s) could not be deleted: no-such-topic-0: "
        "Topic 'no-such-topic' does not exist"
    ]


def _synonyms(line: str) -> list[str]:
    inner = line.split("synonyms={", 1)[1].rstrip("}")
    return [s.split(":", 1)[0] for s in inner.split(", ")]


def test_broker_configs_show_consistent_ids_and_every_synonym(broker_factory: object) -> None:
    broker = broker_factory(overrides={"message.max.bytes": "1500000"})  # type: ignore[operator]
    bs = ["--bootstrap-server", broker.bootstrap]
    ok("configs", *bs, "--alter", "--broker", "0", "--add-config", "message.max.bytes=2000000")
    lines = {
        ln.split("=", 1)[0].strip(): ln
        for ln in ok("configs", *bs, "--describe", "--broker", "0", "--all").splitlines()
        if "=" in ln
    }
    assert lines["broker.id"].strip().startswith("broker.id=0 ")
    assert lines["node.id"].strip().startswith("node.id=0 ")
    assert lines["message.max.bytes"].strip().startswith("message.max.bytes=2000000 ")
    assert _synonyms(lines["message.max.bytes"]) == [
        "DYNAMIC_BROKER_CONFIG",
        "STATIC_BROKER_CONFIG",
        "DEFAULT_CONFIG",
    ]
    assert "STATIC_BROKER_CONFIG:message.max.bytes=1500000" in lines["message.max.bytes"]
    dynamic = ok("configs", *bs, "--describe", "--broker", "0")
    assert (
        "DYNAMIC_BROKER_CONFIG:message.max.bytes=2000000, STATIC_BROKER_CONFIG:"
        "message.max.bytes=1500000, DEFAULT_CONFIG:message.max.bytes=1048588" in dynamic
    )


# -- console-consumer and SIGTERM -------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_console_consumer_stops_on_a_signal_like_kafkas(
    shared_broker: BrokerProcess, signum: int
) -> None:
    bs = ["--bootstrap-server", shared_broker.bootstrap]
    topic = f"signal-{int(signum)}"
    group = f"signal-group-{int(signum)}"
    ok("topics", *bs, "--create", "--topic", topic)
    ok("console-producer", *bs, "--topic", topic, stdin="a\nb\nc\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "odradek",
            "console-consumer",
            *bs,
            "--topic",
            topic,
            "--group",
            group,
            "--from-beginning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        assert proc.stdout is not None
        printed = [proc.stdout.readline() for _ in range(3)]  # blocks until all 3 arrive
        assert printed == ["a\n", "b\n", "c\n"]
        proc.send_signal(signum)
        _rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum, err
    assert err.splitlines()[-1] == "Processed a total of 3 messages"
    # It left the group when it closed: no member is left waiting for session.timeout.ms.
    admin = AdminClient({"bootstrap.servers": shared_broker.bootstrap})
    described = admin.describe_consumer_groups([group])[group].result(30)
    assert len(described.members) == 0
