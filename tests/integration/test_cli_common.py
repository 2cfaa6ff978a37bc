"""Helpers for the ``odradek <tool>`` tests (imported by the other test_cli_* modules), and
tests of the pieces every tool shares: properties files, --command-config, exit codes."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from odradek.cli.main import build_parser, main
from odradek.cli.tools.common import parse_properties
from odradek.cli.tools.wire import Connection, split_address
from tests.support.broker_process import BrokerProcess
from tests.support.child_env import odradek_env

pytestmark = pytest.mark.integration

GROUP_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}

# Kafka api keys of the admin APIs that are being added to the broker.
DESCRIBE_CONFIGS = 32
INCREMENTAL_ALTER_CONFIGS = 44
CREATE_PARTITIONS = 37
DELETE_RECORDS = 21


def odradek(
    *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m odradek ARGS`` and capture its output."""
    env = odradek_env()
    return subprocess.run(
        [sys.executable, "-m", "odradek", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def ok(*args: str, stdin: str | None = None) -> str:
    """Run a tool that must succeed; returns its stdout."""
    result = odradek(*args, stdin=stdin)
    assert result.returncode == 0, (
        f"odradek {' '.join(args)} exited {result.returncode}\n"
        f"stdout: {result.stdout}\nstderr: {result.stderr}"
    )
    return result.stdout


def fails(*args: str, code: int = 1, stdin: str | None = None) -> str:
    """Run a tool that must fail with ``code``; returns its stderr."""
    result = odradek(*args, stdin=stdin)
    assert result.returncode == code, (
        f"odradek {' '.join(args)} exited {result.returncode}, "
        f"expected {code}\nstdout: {result.stdout}\n"
        f"stderr: {result.stderr}"
    )
    assert result.stderr.strip(), "a failure must explain itself on stderr"
    return result.stderr


def usage_error(*args: str) -> str:
    """Run a tool in-process (no interpreter start-up: flag checks come before any
    connection) and expect exit code 1, as Kafka's tools exit on bad flags; returns its
    stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own checks
            code = int(exc.code or 0)
    assert code == 1, f"odradek {' '.join(args)} exited {code}, expected 1\n{err.getvalue()}"
    return err.getvalue()


def ok_json(*args: str) -> Any:
    return json.loads(ok(*args, "--output", "json"))


def table(text: str) -> list[dict[str, str]]:
    """Rows of a whitespace-separated table printed by a tool, keyed by its header."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    header = lines[0].split()
    return [dict(zip(header, ln.split(), strict=True)) for ln in lines[1:]]


def advertises(bootstrap: str, api_key: int) -> bool:
    host, port = split_address(bootstrap)
    conn = Connection(host, port, 5)
    try:
        return api_key in conn.versions()
    finally:
        conn.close()


# -- tests of the shared pieces ----------------------------------------------------------------


def test_java_properties_syntax() -> None:
    text = (
        "# comment\n! also a comment\n  security.protocol = PLAINTEXT\n"
        "client.id:tool\nlinger.ms 5\nlong.value=a\\\n    b\nescaped\\=key=x\\ty\n"
    )
    assert parse_properties(text) == {
        "security.protocol": "PLAINTEXT",
        "client.id": "tool",
        "linger.ms": "5",
        "long.value": "ab",
        "escaped=key": "x\ty",
    }


@pytest.mark.parametrize(
    "tool",
    [
        "topics",
        "console-producer",
        "console-consumer",
        "configs",
        "delete-records",
        "cluster",
        "consumer-groups",
        "reassign-partitions",
        "leader-election",
    ],
)
def test_every_tool_has_help(tool: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([tool, "--help"])
    assert exit_info.value.code == 0
    assert "--bootstrap-server" in capsys.readouterr().out


def test_unreachable_cluster_fails_fast_with_a_hint(tmp_path: Path) -> None:
    config = tmp_path / "admin.properties"
    config.write_text("default.api.timeout.ms=1500\n")
    for tool in (["topics", "--list"], ["cluster"]):
        stderr = fails(*tool, "--bootstrap-server", "127.0.0.1:1", "--command-config", str(config))
        assert "no broker answers at the bootstrap address 127.0.0.1:1" in stderr


def test_bad_client_property_is_reported(shared_broker: BrokerProcess, tmp_path: Path) -> None:
    config = tmp_path / "bad.properties"
    config.write_text("no.such.property=1\n")
    stderr = fails(
        "topics",
        "--list",
        "--bootstrap-server",
        shared_broker.bootstrap,
        "--command-config",
        str(config),
    )
    assert "no.such.property" in stderr
    stderr = fails(
        "topics",
        "--list",
        "--bootstrap-server",
        shared_broker.bootstrap,
        "--command-config",
        str(tmp_path / "missing.properties"),
    )
    assert "cannot read" in stderr


def test_missing_bootstrap_is_a_usage_error() -> None:
    assert "--bootstrap-server is required" in usage_error("topics", "--list")
