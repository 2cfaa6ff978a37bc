"""Process lifecycle: SIGTERM is a clean shutdown (exit 0, in-flight requests answered, the
clean-shutdown marker left, a restart that skips recovery, all data kept), and bad configs
stop startup with a message that names the config."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from odradek.protocol.records.codec import decode_batches, encode_batch
from tests.support.broker_process import BrokerProcess
from tests.support.raw_client import FETCH, PRODUCE, ConnectionClosedError, RawClient, frame
from tests.support.raw_client import request_bytes as encode_request

pytestmark = pytest.mark.integration

CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"
SHUTDOWN_LIMIT_S = 5.0
CONFIG_FAILURE_LIMIT_S = 5.0


def produce_values(
    client: RawClient, topic: str, partition: int, count: int, per_batch: int = 10
) -> list[bytes]:
    values = []
    for start in range(0, count, per_batch):
        chunk = [f"{topic}-{partition}-{i}".encode() for i in range(start, start + per_batch)]
        result = client.produce(topic, partition, encode_batch([(b"k", v) for v in chunk]))
        assert result.error_code == 0
        values += chunk
    return values


def read_values(client: RawClient, topic: str, partition: int) -> list[bytes | None]:
    end = client.latest_offset(topic, partition)
    values: list[bytes | None] = []
    while len(values) < end:
        data = client.fetch(topic, partition, len(values))
        assert data.error_code == 0
        values += [
            r.value
            for b in decode_batches(data.records)
            for r in b.records
            if r.offset >= len(values)
        ]
    return values


def wait_ready(broker: BrokerProcess) -> float:
    """Start the broker; seconds from Popen until a connection answers ApiVersions."""
    started = time.monotonic()
    broker.start()
    with RawClient.to(broker.bootstrap, timeout=5) as client:
        assert client.api_versions().error_code == 0
    return time.monotonic() - started


def log_since(broker: BrokerProcess, mark: int) -> str:
    with open(broker.log_path, "rb") as log_file:
        log_file.seek(mark)
        return log_file.read().decode(errors="replace")


def test_sigterm_is_a_clean_shutdown(broker: BrokerProcess) -> None:
    with RawClient.to(broker.bootstrap) as client:
        client.create_topic("kept", 3)
        client.create_topic("idle", 1)
        expected = {p: produce_values(client, "kept", p, 200) for p in range(3)}

    idle = RawClient.to(broker.bootstrap)
    idle.api_versions()
    waiting = RawClient.to(broker.bootstrap)
    fetch_id = waiting.send(waiting.fetch_request("idle", 0, 0, max_wait_ms=30_000))
    time.sleep(0.1)  # let the long poll park in the broker

    assert broker.proc is not None
    started = time.monotonic()
    broker.proc.send_signal(signal.SIGTERM)
    try:
        code = broker.proc.wait(SHUTDOWN_LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no exit within {SHUTDOWN_LIMIT_S}s of SIGTERM:\n{broker.log()}")
    elapsed = time.monotonic() - started
    assert code == 0, f"exit code {code}:\n{broker.log()}"

    # The parked long poll was answered (early, not after its 30 s), then the connection closed.
    got, body = waiting.receive(FETCH, 12)
    assert got == fetch_id
    assert body.responses[0].partitions[0].error_code == 0
    assert elapsed < SHUTDOWN_LIMIT_S
    assert waiting.closed_by_peer(1.0)
    assert idle.closed_by_peer(1.0)
    waiting.close()
    idle.close()

    left = sorted(p.name for p in broker.data_dir.iterdir())
    assert CLEAN_SHUTDOWN_FILE in left, f"no {CLEAN_SHUTDOWN_FILE} after SIGTERM: {left}"
    assert "shut down cleanly" in broker.log()

    mark = broker.log_path.stat().st_size
    wait_ready(broker)
    # How fast a restart is belongs to benchmarks; what makes it fast is that nothing is
    # recovered (no segment is read back) after a clean shutdown.
    restart_log = log_since(broker, mark)
    assert "recover" not in restart_log.lower(), (
        f"recovery ran after a clean shutdown:\n{restart_log}"
    )
    with RawClient.to(broker.bootstrap) as client:
        for partition, values in expected.items():
            assert read_values(client, "kept", partition) == values
        assert client.latest_offset("idle") == 0
        # And the broker takes writes again.
        assert client.produce("kept", 0, encode_batch([(b"k", b"after")])).base_offset == 200


def test_sigterm_answers_pipelined_produce_requests(broker: BrokerProcess) -> None:
    """Requests already read when SIGTERM arrives are answered; every acknowledged record is
    there after the restart, and exit is clean."""
    with RawClient.to(broker.bootstrap) as client:
        client.create_topic("drain", 1)
    producer = RawClient.to(broker.bootstrap)
    wire = bytearray()
    ids: dict[int, bytes] = {}
    for i in range(300):
        value = f"drain-{i}".encode()
        request = producer.produce_request("drain", 0, encode_batch([(b"k", value)] * 5))
        correlation_id = producer.next_correlation_id()
        ids[correlation_id] = value
        wire += frame(encode_request(request, correlation_id))
    producer.send_bytes(bytes(wire))
    assert broker.proc is not None
    broker.proc.send_signal(signal.SIGTERM)

    acked: dict[int, bytes] = {}
    producer.sock.settimeout(SHUTDOWN_LIMIT_S)
    for correlation_id in ids:
        try:
            got, body = producer.receive(PRODUCE, 9)
        except (ConnectionClosedError, ConnectionResetError):
            break
        assert got == correlation_id, "responses out of order"
        result = body.responses[0].partition_responses[0]
        if result.error_code == 0:
            acked[result.base_offset] = ids[correlation_id]
    producer.close()
    assert broker.proc.wait(SHUTDOWN_LIMIT_S) == 0, broker.log()
    assert (broker.data_dir / CLEAN_SHUTDOWN_FILE).exists()

    broker.start()
    with RawClient.to(broker.bootstrap) as client:
        values = read_values(client, "drain", 0)
    assert len(values) % 5 == 0
    for offset, value in acked.items():
        assert values[offset : offset + 5] == [value] * 5, f"acknowledged batch {offset} lost"


def test_restart_after_clean_shutdown_recovers_nothing_with_many_partitions(
    broker_factory: Callable[..., BrokerProcess],
) -> None:
    broker: BrokerProcess = broker_factory(overrides={"log.segment.bytes": "16384"})
    with RawClient.to(broker.bootstrap) as client:
        for t in range(5):
            client.create_topic(f"many-{t}", 8)
        for t in range(5):
            produce_values(client, f"many-{t}", 0, 500, per_batch=50)
    assert broker.stop() == 0
    mark = broker.log_path.stat().st_size
    wait_ready(broker)
    restart_log = log_since(broker, mark)
    assert "recover" not in restart_log.lower(), (
        f"recovery ran after a clean shutdown of 40 partitions:\n{restart_log}"
    )
    with RawClient.to(broker.bootstrap) as client:
        assert client.latest_offset("many-4", 0) == 500


# -- configuration errors --------------------------------------------------------------------


def run_broker_expecting_failure(tmp_path: Path, override: str) -> tuple[int, str, float]:
    port = BrokerProcess(tmp_path).port
    command = [*BrokerProcess(tmp_path / "data", port=port).command(), "--override", override]
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=CONFIG_FAILURE_LIMIT_S * 3, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"broker with --override {override} kept running")
    elapsed = time.monotonic() - started
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "a failed broker left a listener"
    return result.returncode, result.stdout + result.stderr, elapsed


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("num.partitions=abc", "num.partitions"),
        ("num.partitions=0", "num.partitions"),
        ("num.partitons=3", "num.partitons"),
        ("socket.request.max.bytes=lots", "socket.request.max.bytes"),
        ("auto.create.topics.enable=maybe", "auto.create.topics.enable"),
    ],
)
def test_invalid_config_stops_startup(tmp_path: Path, override: str, named: str) -> None:
    code, output, elapsed = run_broker_expecting_failure(tmp_path, override)
    assert code != 0, output
    assert elapsed < CONFIG_FAILURE_LIMIT_S, f"took {elapsed:.1f}s to fail"
    assert named in output, f"the message does not name {named}:\n{output}"
    assert "Traceback" not in output, f"a traceback instead of a message:\n{output}"


def test_unknown_but_valid_kafka_config_is_accepted_with_a_log_line(
    broker_factory: Callable[..., BrokerProcess],
) -> None:
    broker: BrokerProcess = broker_factory(
        overrides={"fetch.purgatory.purge.interval.requests": "4"}
    )
    with RawClient.to(broker.bootstrap) as client:
        assert client.api_versions().error_code == 0
    deadline = time.monotonic() + 5
    while (
        "fetch.purgatory.purge.interval.requests" not in broker.log()
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    lines = [
        line
        for line in broker.log().splitlines()
        if "fetch.purgatory.purge.interval.requests" in line
    ]
    assert lines, f"no log line mentions fetch.purgatory.purge.interval.requests:\n{broker.log()}"
