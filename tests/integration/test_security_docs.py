"""docs/security.md's copy-paste example, run as written: openssl makes the CA and the broker's
PEM key store, the broker serves secure.properties, a SCRAM user gets the --producer ACLs of
one topic, and over SASL_SSL that user can produce to it and not consume from it.

(The generic examples test, test_docs_examples.py, runs blocks against a default broker; this
example needs its own broker, so its blocks are marked not-tested there and run here.)"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_docs_examples import ROOT, extract_blocks
from tests.support.broker_process import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
]

DOC = ROOT / "docs" / "security.md"
TIMEOUT = 60.0


def properties_block(text: str, file_name: str) -> str:
    """The ```properties block that follows the line naming ``file_name``."""
    match = re.search(rf"`{re.escape(file_name)}`[^\n]*:\n\n```properties\n(.*?)```", text, re.S)
    assert match, f"docs/security.md has no {file_name} block"
    return match.group(1)


def run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -eo pipefail\n{command}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the broker exited {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"the broker did not listen on {port}:\n{log.read_text()}")


def test_security_example_runs_as_written(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    blocks = [
        b for b in extract_blocks(DOC) if b.not_tested and "test_security_docs" in b.not_tested
    ]
    assert len(blocks) == 3, [b.where for b in blocks]
    make_certificates, serve_and_grant, produce_and_consume = blocks
    plain, sasl_ssl = free_port(), free_port()

    def ports(command: str) -> str:
        return command.replace("127.0.0.1:9092", f"127.0.0.1:{plain}").replace(
            "127.0.0.1:9093", f"127.0.0.1:{sasl_ssl}"
        )

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    made = run(make_certificates.text, tmp_path, env)
    assert made.returncode == 0, made.stderr
    (tmp_path / "secure.properties").write_text(
        ports(properties_block(text, "secure.properties")) + "metrics.port=-1\n"
    )
    (tmp_path / "alice.properties").write_text(properties_block(text, "alice.properties"))

    serve, *grant = serve_and_grant.commands
    assert serve == "odradek serve secure.properties"
    log = tmp_path / "broker.log"
    with log.open("wb") as out:
        broker = subprocess.Popen(
            [sys.executable, "-m", "odradek", "serve", "secure.properties",
             "--data-dir", str(tmp_path / "data")],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        wait_for_port(sasl_ssl, broker, log)
        for command in grant:
            done = run(ports(command), tmp_path, env)
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        produce, consume = produce_and_consume.commands
        produced = run(ports(produce), tmp_path, env)
        assert produced.returncode == 0, f"{produced.stderr}\n{log.read_text()[-3000:]}"
        consumed = run(ports(consume) + " --timeout-ms 10000", tmp_path, env)
        assert consumed.returncode != 0, consumed.stdout
        # alice has no READ on any group or the topic: the consumer's group is refused first
        assert "authorization failed" in consumed.stderr.lower(), consumed.stderr
    finally:
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(30)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait(10)


def test_tools_acls_examples_run_as_written(broker_factory) -> None:  # type: ignore[no-untyped-def]
    """docs/tools.md's ``odradek acls`` block, against a broker with an authorizer (the
    generic examples' broker has none: ACL APIs answer SECURITY_DISABLED there)."""
    tools = ROOT / "docs" / "tools.md"
    (block,) = [
        b for b in extract_blocks(tools) if b.not_tested and "test_security_docs" in b.not_tested
    ]
    broker = broker_factory(
        {
            "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
            "super.users": "User:ANONYMOUS",
        }
    )
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    script = block.text.replace("localhost:9092", broker.bootstrap)
    done = run(script, ROOT, env)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "User:billing" in done.stdout
