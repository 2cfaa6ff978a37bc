"""scripts/run-librdkafka-test.py with a stand-in for librdkafka's tests/test-runner: the
runner gets the test's name, the Kafka version and a test.conf naming a live broker (on the
SASL_PLAINTEXT listener with ``--sasl-plain``), its exit status is the script's, and the
broker is gone afterwards."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run-librdkafka-test.py"

# Records what the script handed over, proves the broker listens, exits with $FAKE_EXIT.
FAKE_RUNNER = """#!/bin/sh
env | grep -E '^(TESTS|TEST_LEVEL|TEST_KAFKA_VERSION)=' > seen-env
cp "$RDKAFKA_TEST_CONF" seen-conf
bootstrap=$(sed -n 's/^bootstrap.servers=\\([^,]*\\).*/\\1/p' "$RDKAFKA_TEST_CONF")
"$PYTHON" -c "import socket,sys; h,p=sys.argv[1].split(':'); socket.create_connection((h,p),5)" \\
    "$bootstrap" || exit 99
exit "$FAKE_EXIT"
"""


def fake_checkout(root: Path) -> Path:
    tests = root / "librdkafka" / "tests"
    tests.mkdir(parents=True)
    runner = tests / "test-runner"
    runner.write_text(FAKE_RUNNER)
    runner.chmod(0o755)
    return root / "librdkafka"


def run_script(checkout: Path, keep: Path, *extra: str, exit_code: int = 0) -> tuple[int, str]:
    env = dict(os.environ, FAKE_EXIT=str(exit_code), PYTHON=sys.executable)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(checkout), "0081", "--keep", str(keep), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def broker_pid(output: str) -> int:
    found = re.search(r"broker pid (\d+)", output)
    assert found, output
    return int(found.group(1))


def assert_gone(pid: int) -> None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    status = Path(f"/proc/{pid}/status").read_text()
    assert "State:\tZ" in status, f"broker {pid} still running"


def test_runner_gets_the_test_and_a_live_broker(tmp_path: Path) -> None:
    checkout = fake_checkout(tmp_path)
    (checkout / "tests" / "test.conf").write_text("bootstrap.servers=elsewhere:9092\n")
    code, output = run_script(checkout, tmp_path / "work", exit_code=3)
    assert code == 3, output
    tests = checkout / "tests"
    env = dict(line.split("=", 1) for line in (tests / "seen-env").read_text().splitlines())
    assert env == {"TESTS": "0081", "TEST_LEVEL": "2", "TEST_KAFKA_VERSION": "3.9.0"}
    conf = (tests / "seen-conf").read_text().splitlines()
    assert len(conf) == 1 and conf[0].startswith("bootstrap.servers=127.0.0.1:")
    assert (tests / "test.conf").read_text() == "bootstrap.servers=elsewhere:9092\n"
    assert_gone(broker_pid(output))


def test_sasl_plain_points_the_test_at_the_sasl_listener(tmp_path: Path) -> None:
    checkout = fake_checkout(tmp_path)
    code, output = run_script(checkout, tmp_path / "work", "--sasl-plain", "alice:alice-secret")
    assert code == 0, output
    conf = (checkout / "tests" / "seen-conf").read_text().splitlines()
    assert conf[1:] == [
        "security.protocol=SASL_PLAINTEXT",
        "sasl.mechanism=PLAIN",
        "sasl.username=alice",
        "sasl.password=alice-secret",
    ]
    sasl_port = int(conf[0].rsplit(":", 1)[1])
    log = next((tmp_path / "work").glob("broker-*.log")).name
    assert log != f"broker-{sasl_port}.log"  # not the PLAINTEXT listener
    assert_gone(broker_pid(output))
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", sasl_port), 0.5).close()
