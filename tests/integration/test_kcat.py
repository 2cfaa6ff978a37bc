"""kcat (Debian's build, with an older librdkafka) against a real broker process."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
from confluent_kafka import Producer

from tests.integration.clients import (
    CODECS,
    LARGE_OK_BYTES,
    OVERSIZED_BYTES,
    unique_topic,
)
from tests.support.broker_process import BrokerProcess

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed"),
]

KCAT_TIMEOUT = 30.0


def run_kcat(
    broker: BrokerProcess, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run kcat; fail with its stderr and the broker log if it hangs."""
    cmd = ["kcat", "-b", broker.bootstrap, *args]
    try:
        return subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=KCAT_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"{cmd[:8]} hung for {KCAT_TIMEOUT}s; stderr: {exc.stderr!r}\n"
            f"--- broker log ---\n{broker.log()}"
        ) from exc


def kcat(broker: BrokerProcess, *args: str, stdin: str | None = None) -> str:
    """Run kcat; fail with its stderr and the broker log on a non-zero exit or a hang."""
    proc = run_kcat(broker, *args, stdin=stdin)
    assert proc.returncode == 0, (
        f"kcat {args} exited {proc.returncode}; stderr: {proc.stderr}"
        f"\n--- broker log ---\n{broker.log()}"
    )
    return proc.stdout


def test_list_metadata(shared_broker: BrokerProcess) -> None:
    topic = unique_topic("kcat-meta")
    kcat(shared_broker, "-P", "-t", topic, stdin="x\n")
    out = kcat(shared_broker, "-L")
    assert re.search(r"^ 1 brokers:$", out, re.M), out
    assert f"broker 0 at 127.0.0.1:{shared_broker.port}" in out, out
    assert re.search(rf'topic "{re.escape(topic)}" with 1 partitions:', out), out
    assert re.search(r"partition 0, leader 0, replicas: 0, isrs: 0", out), out


@pytest.mark.parametrize("codec", CODECS)
def test_produce_keys_and_consume_back(shared_broker: BrokerProcess, codec: str) -> None:
    topic = unique_topic(f"kcat-{codec}")
    lines = [f"key{i}:value-{i}-{'x' * (i % 50)}" for i in range(200)]
    kcat(shared_broker, "-P", "-t", topic, "-K:", "-z", codec, stdin="\n".join(lines) + "\n")
    out = kcat(shared_broker, "-C", "-t", topic, "-e", "-q", "-o", "beginning", "-f", r"%k %s %o\n")
    expected = [f"{line.replace(':', ' ', 1)} {i}" for i, line in enumerate(lines)]
    assert out.splitlines() == expected


def test_ten_thousand_records_in_order(shared_broker: BrokerProcess) -> None:
    topic = unique_topic("kcat-10k")
    n = 10_000
    kcat(shared_broker, "-P", "-t", topic, "-K:", stdin="".join(f"k:{i}\n" for i in range(n)))
    out = kcat(shared_broker, "-C", "-t", topic, "-e", "-q", "-o", "beginning", "-f", r"%o %s\n")
    lines = out.splitlines()
    assert len(lines) == n, f"consumed {len(lines)} of {n}"
    assert lines == [f"{i} {i}" for i in range(n)]


def test_large_record_ok_and_oversized_rejected(shared_broker: BrokerProcess) -> None:
    """One kcat producer: a 900 KB record, a 2 MB one (client limit raised, so the broker has
    to refuse it), then a small one that must still go through."""
    topic = unique_topic("kcat-large")
    big, oversized = "a" * LARGE_OK_BYTES, "b" * OVERSIZED_BYTES
    proc = run_kcat(
        shared_broker,
        "-P",
        "-t",
        topic,
        "-K:",
        "-z",
        "none",
        "-X",
        "message.max.bytes=8388608",
        stdin=f"big:{big}\noversized:{oversized}\nafter:small\n",
    )
    assert proc.returncode == 1, f"kcat exited {proc.returncode}: {proc.stderr}"
    failures = [line for line in proc.stderr.splitlines() if "Delivery failed" in line]
    assert failures == ["% Delivery failed for message: Broker: Message size too large"], (
        proc.stderr
    )
    out = kcat(shared_broker, "-C", "-t", topic, "-e", "-q", "-o", "beginning", "-f", r"%k %S %o\n")
    assert out.splitlines() == [f"big {LARGE_OK_BYTES} 0", "after 5 1"]


def test_headers_and_timestamps(shared_broker: BrokerProcess) -> None:
    topic = unique_topic("kcat-headers")
    kcat(shared_broker, "-P", "-t", topic, "-K:", "-H", "h1=v1", "-H", "h2=v2", stdin="k:v\n")
    out = kcat(
        shared_broker,
        "-C",
        "-t",
        topic,
        "-e",
        "-q",
        "-o",
        "beginning",
        "-f",
        r"%k|%s|%h|%T|%p|%o\n",
    )
    [line] = out.splitlines()
    key, value, headers, ts, partition, offset = line.split("|")
    assert (key, value, headers, partition, offset) == ("k", "v", "h1=v1,h2=v2", "0", "0")
    assert int(ts) > 1_600_000_000_000, f"no CreateTime timestamp: {line}"


def test_query_offsets_for_times(shared_broker: BrokerProcess) -> None:
    """Records with timestamps 1000/2000/3000 produced by librdkafka; looked up with `kcat -Q`."""
    topic = unique_topic("kcat-times")
    producer = Producer({"bootstrap.servers": shared_broker.bootstrap})
    errors: list[Any] = []
    for ts in (1000, 2000, 3000):
        producer.produce(
            topic,
            value=str(ts).encode(),
            timestamp=ts,
            on_delivery=lambda err, _m: errors.append(err) if err else None,
        )
    assert producer.flush(20) == 0
    assert not errors, errors

    def query(ts: int) -> int:
        out = kcat(shared_broker, "-Q", "-t", f"{topic}:0:{ts}")
        match = re.search(r"\[0\]\s+offset\s+(-?\d+)", out)
        assert match, out
        return int(match.group(1))

    assert query(1500) == 1
    assert query(1000) == 0
    assert query(3001) == -1
    # Earliest/latest through the logical timestamps -2/-1.
    assert query(-2) == 0
    assert query(-1) == 3
