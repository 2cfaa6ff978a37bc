"""The pytest plugin users get with odradek: its fixtures, run in inner pytest sessions
(pytester), and its import cost for test runs that do not use it."""

from __future__ import annotations

import importlib.metadata
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

# Imported here, once: pytester's in-process runs drop the modules they import, and the
# broker's imports would otherwise be paid again by every inner run.
import odradek.testing.broker  # noqa: F401

pytest_plugins = ["pytester"]

CLEAN_SHUTDOWN_MARKER = ".kafka_cleanshutdown"

# The inner tests record what they saw in this file (a placeholder the outer test fills in).
RECORD = """
import socket
from pathlib import Path

RECORD = Path({record!r})


def record(broker):
    with RECORD.open("a") as out:
        out.write(f"{{broker.port}} {{broker.data_dir}}\\n")


def accepts(port):
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    return True
"""


def run_inner(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    record = pytester.path / "record.txt"
    pytester.makepyfile(RECORD.format(record=str(record)) + source)
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args = ("-p", "odradek.testing.pytest_plugin", *args)
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def recorded(pytester: pytest.Pytester) -> list[tuple[int, Path]]:
    lines = (pytester.path / "record.txt").read_text().splitlines()
    return [
        (int(port), Path(data_dir)) for port, data_dir in (line.split(" ", 1) for line in lines)
    ]


def assert_stopped(port: int, data_dir: Path) -> None:
    """Stopped cleanly: the listener is gone and the clean-shutdown marker was written."""
    assert (data_dir / CLEAN_SHUTDOWN_MARKER).exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    points = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert points.get("odradek") == "odradek.testing.pytest_plugin"


def test_importing_the_plugin_does_not_import_the_broker() -> None:
    code = (
        "import sys, odradek.testing.pytest_plugin\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('odradek', 'kio', 'kazoo', 'prometheus_client', 'confluent_kafka', 'uvloop', "
        "'cramjam', 'crc32c', 'asyncio'))))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert output == [
        "odradek",
        "odradek.common",
        "odradek.common.version",
        "odradek.testing",
        "odradek.testing.pytest_plugin",
    ]
    # ... and the package still hands out Broker on first use
    code = "import odradek.testing as t; print(t.Broker.__module__)"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert output == ["odradek.testing.broker"]


def test_odradek_broker_is_fresh_per_test_with_test_defaults(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
def test_one(odradek_broker, tmp_path):
    record(odradek_broker)
    assert accepts(odradek_broker.port)
    assert odradek_broker.bootstrap_servers == f"127.0.0.1:{odradek_broker.port}"
    assert odradek_broker.config.get("group.initial.rebalance.delay.ms") == 0
    assert odradek_broker.config.get("offsets.topic.num.partitions") == 5
    assert odradek_broker.config.get("transaction.state.log.num.partitions") == 5
    assert odradek_broker.config.get("metrics.port") == -1
    assert odradek_broker.data_dir.parent == tmp_path


def test_two(odradek_broker):
    record(odradek_broker)
""",
    )
    result.assert_outcomes(passed=2)
    seen = recorded(pytester)
    assert len(seen) == 2 and seen[0][1] != seen[1][1]
    for port, data_dir in seen:
        assert_stopped(port, data_dir)


def test_factory_takes_a_mapping_keywords_or_both(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
def test_factory(odradek_broker_factory):
    first = odradek_broker_factory({"num.partitions": 3})
    second = odradek_broker_factory(**{"num.partitions": "2",
                                       "auto.create.topics.enable": False})
    both = odradek_broker_factory({"num.partitions": 4, "log.segment.bytes": 100000},
                                  **{"num.partitions": 5})
    slow = odradek_broker_factory({"group.initial.rebalance.delay.ms": 3000})
    for broker in (first, second, both, slow):
        record(broker)
        assert accepts(broker.port)
    assert first.config.get("num.partitions") == 3
    assert second.config.get("num.partitions") == 2
    assert second.config.get("auto.create.topics.enable") is False
    assert both.config.get("num.partitions") == 5
    assert both.config.get("log.segment.bytes") == 100000
    assert first.config.get("group.initial.rebalance.delay.ms") == 0
    assert second.config.get("offsets.topic.num.partitions") == 5
    assert slow.config.get("group.initial.rebalance.delay.ms") == 3000
""",
    )
    result.assert_outcomes(passed=1)
    seen = recorded(pytester)
    assert len({port for port, _ in seen}) == 4
    for port, data_dir in seen:
        assert_stopped(port, data_dir)


def test_factory_rejects_a_misspelt_config(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
def test_typo(odradek_broker_factory):
    odradek_broker_factory({"num.partitons": 3})
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Unknown broker config 'num.partitons'*"])


def test_session_broker_is_shared_and_stopped_at_session_end(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
def test_a(odradek_broker_session):
    record(odradek_broker_session)
    assert odradek_broker_session.config.get("group.initial.rebalance.delay.ms") == 0
    assert odradek_broker_session.config.get("offsets.topic.num.partitions") == 5


def test_b(odradek_broker_session):
    record(odradek_broker_session)
    assert accepts(odradek_broker_session.port)
""",
    )
    result.assert_outcomes(passed=2)
    seen = recorded(pytester)
    assert len(seen) == 2 and seen[0] == seen[1]
    assert_stopped(*seen[0])
