"""Every example in README.md and docs/*.md runs as written.

The ```sh and ```python blocks of each document are extracted and run, in document order, in a
scratch directory holding a copy of ``config/``:

- a block of ``odradek serve`` lines: each line must start a broker that accepts connections
  and shuts down with exit code 0 on SIGTERM;
- a block that starts ZooKeeper, or talks to the three-broker cluster of README's cluster
  example (``127.0.0.1:9091``): run in one shell session, in document order, from the block
  that starts the cluster to the one that stops it (needs Debian's ZooKeeper);
- any other block: against a broker this test starts with ``odradek serve``'s defaults, one
  broker per document (so a document's examples may build on each other); ```python blocks
  with ``python``, or with pytest when they define ``test_*`` functions.

A block fails when its shell (``set -eo pipefail``) or program exits non-zero. The documented
addresses (``localhost:9092``, ``127.0.0.1:9092``, the metrics port 9404, ZooKeeper's 2181 and
the cluster's 9091-9093) are replaced by free ports. A block preceded by
``<!-- not-tested: reason -->`` is skipped; use it only for what cannot run here.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import processes
from tests.support.broker_process import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ZK_SERVER = Path("/usr/share/zookeeper/bin/zkServer.sh")
# Programs some examples use that odradek does not install: their blocks are skipped when absent
# (scripts/install-test-deps.sh installs kcat).
OPTIONAL_PROGRAMS = ("kcat", "curl", "promtool")
BLOCK_TIMEOUT = 90.0

FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
NOT_TESTED = re.compile(r"^<!--\s*not-tested:\s*(.+?)\s*-->$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    not_tested: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def commands(self) -> list[str]:
        """The block's lines without comments, blank lines and line continuations."""
        joined = re.sub(r"\\\n\s*", " ", self.text)
        return [
            line.strip()
            for line in joined.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]

    @property
    def missing_programs(self) -> list[str]:
        words = {word for command in self.commands for word in re.split(r"[\s|&;()]+", command)}
        return [p for p in OPTIONAL_PROGRAMS if p in words and shutil.which(p) is None]

    @property
    def kind(self) -> str:
        if self.lang == "python":
            return "python"
        if "zkServer.sh" in self.text or "127.0.0.1:909" in self.text.replace("127.0.0.1:9092", ""):
            return "cluster"
        commands = self.commands
        if commands and all(c.startswith("odradek serve") for c in commands):
            return "serve"
        return "sh"


def extract_blocks(path: Path, text: str | None = None) -> list[Block]:
    """The ```sh and ```python blocks of a Markdown document (other languages are output
    samples or file contents)."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    index = 0
    previous = ""  # the last non-blank line before the current one
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match is None:
            if lines[index].strip():
                previous = lines[index].strip()
            index += 1
            continue
        start, lang = index, match.group(1)
        index += 1
        body: list[str] = []
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        index += 1  # the closing fence
        if lang in ("sh", "python"):
            skip = NOT_TESTED.match(previous)
            blocks.append(
                Block(
                    path, start + 1, lang, "\n".join(body) + "\n", skip.group(1) if skip else None
                )
            )
        previous = ""
    return blocks


# ---------------------------------------------------------------------------------------------
# Running


@dataclass
class Ports:
    broker: int
    metrics: int
    zookeeper: int = 0
    cluster_base: int = 0  # broker N of the cluster listens on cluster_base + N

    def substitute(self, text: str) -> str:
        for host in ("localhost", "127.0.0.1"):
            text = text.replace(f"{host}:9404", f"127.0.0.1:{self.metrics}")
        if self.cluster_base:
            text = text.replace("127.0.0.1:909$id", f"127.0.0.1:$(({self.cluster_base} + id))")
            for n in (1, 2, 3):
                text = text.replace(f"127.0.0.1:909{n}", f"127.0.0.1:{self.cluster_base + n}")
            text = text.replace("127.0.0.1:2181", f"127.0.0.1:{self.zookeeper}")
        else:
            text = text.replace("localhost:9092", f"127.0.0.1:{self.broker}")
            text = text.replace("127.0.0.1:9092", f"127.0.0.1:{self.broker}")
        return text


@dataclass
class Outcome:
    block: Block
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def report(self) -> str:
        return (
            f"{self.block.where}: exit code {self.returncode}\n--- block ---\n"
            f"{self.block.text}--- output (tail) ---\n{self.output[-6000:]}"
        )


def environment() -> dict[str, str]:
    # Broker configs in the environment (KAFKA_*, ODRADEK_*) would change what is tested.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ODRADEK_", "KAFKA_"))}
    bin_dir = str(Path(sys.executable).parent)  # `odradek` next to this interpreter
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_script(
    args: list[str],
    workdir: Path,
    name: str,
    *,
    new_session: bool = False,
    timeout: float = BLOCK_TIMEOUT,
) -> tuple[int, str]:
    """Run a process with its output in a file (background jobs of a shell keep the file,
    not a pipe, open), its stdin empty."""
    log_path = workdir / f"{name}.out"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            args,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=environment(),
            start_new_session=new_session,
        )
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL) if new_session else proc.kill()
            proc.wait()
            code = -9
    return code, log_path.read_text(errors="replace")


def run_shell(block: Block, ports: Ports, workdir: Path, name: str) -> Outcome:
    script = "set -eo pipefail\n" + ports.substitute(block.text)
    code, output = run_script(["bash", "-c", script], workdir, name)
    return Outcome(block, code, output)


def run_python(block: Block, ports: Ports, workdir: Path, name: str) -> Outcome:
    source = ports.substitute(block.text)
    script = workdir / f"{name}.py"
    if re.search(r"^def test_", source, re.MULTILINE):
        script = workdir / f"test_{name}.py"
        script.write_text(source)
        args = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(workdir),
            str(script),
        ]
    else:
        script.write_text(source)
        args = [sys.executable, str(script)]
    code, output = run_script(args, workdir, name)
    return Outcome(block, code, output)


def wait_for_port(port: int, alive: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def run_serve_line(block: Block, command: str, workdir: Path, name: str) -> Outcome:
    """One `odradek serve ...` line: it must listen, then stop cleanly on SIGTERM. It runs in
    a fresh checkout-like directory of its own: the document's broker holds the lock on
    ./odradek-data, and a second broker on one data dir is refused, as in Kafka."""
    workdir.joinpath("serve").mkdir(exist_ok=True)
    workdir = scratch_dir(workdir / "serve" / name)
    port, metrics = free_port(), free_port()
    command = re.sub(r"metrics\.port=([1-9]\d*)", lambda _: f"metrics.port={free_port()}", command)
    command = command.replace(
        "odradek serve",
        f"odradek serve --override listeners=PLAINTEXT://127.0.0.1:{port} "
        f"--override metrics.port={metrics}",
        1,
    )
    log_path = workdir / f"{name}.out"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=environment(),
        )
    try:
        listening = wait_for_port(port, lambda: proc.poll() is None)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log_path.read_text(errors="replace")
    if not listening:
        code = code or 1
        output += f"\n(not listening on the substituted port {port})"
    return Outcome(Block(block.path, block.line, block.lang, command + "\n"), code, output)


class DocBroker:
    """`odradek serve config/server.properties` (Kafka's quick start runs its broker with its
    sample file; data in ./odradek-data), on free ports."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.ports = Ports(broker=free_port(), metrics=free_port())
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DocBroker:
        log_path = self.workdir / "broker.log"
        with open(log_path, "wb") as log_file:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "odradek",
                    "serve",
                    "config/server.properties",
                    "--override",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.ports.broker}",
                    "--override",
                    f"metrics.port={self.ports.metrics}",
                ],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=environment(),
            )
        proc = self.proc
        if not wait_for_port(self.ports.broker, lambda: proc.poll() is None):
            self.stop()
            raise RuntimeError(f"broker did not start:\n{log_path.read_text()[-3000:]}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def scratch_dir(tmp_path: Path) -> Path:
    """A directory like a checkout, for examples that use its files."""
    for name in ("config", "deploy"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def run_blocks(blocks: list[Block], ports: Ports, workdir: Path) -> list[Outcome]:
    outcomes = []
    for block in blocks:
        name = f"{block.path.stem}-{block.line}"
        if block.kind == "serve":
            outcomes += [
                run_serve_line(block, command, workdir, f"{name}-{i}")
                for i, command in enumerate(block.commands)
            ]
        elif block.kind == "python":
            outcomes.append(run_python(block, ports, workdir, name))
        else:
            outcomes.append(run_shell(block, ports, workdir, name))
    return outcomes


def failures(outcomes: list[Outcome]) -> str:
    return "\n\n".join(o.report() for o in outcomes if not o.ok)


def runnable(blocks: list[Block]) -> list[Block]:
    return [b for b in blocks if b.not_tested is None and not b.missing_programs]


# ---------------------------------------------------------------------------------------------
# The tests


def test_extraction_and_markers() -> None:
    text = (
        "# t\n\n```sh\necho one\n```\n\n<!-- not-tested: needs a GPU -->\n```sh\ngpu\n```\n"
        "```text\nout\n```\n```python\nprint(1)\n```\n"
        "```sh\nodradek serve\nodradek serve --override metrics.port=-1  # off\n```\n"
    )
    blocks = extract_blocks(Path("t.md"), text)
    assert [(b.line, b.lang, b.not_tested, b.kind) for b in blocks] == [
        (3, "sh", None, "sh"),
        (8, "sh", "needs a GPU", "sh"),
        (14, "python", None, "python"),
        (17, "sh", None, "serve"),
    ]


def test_a_failing_example_fails(tmp_path: Path) -> None:
    """The runner is not a rubber stamp: a failing command anywhere in a block, even in a
    pipeline, fails it."""
    ports = Ports(broker=1, metrics=2)
    blocks = [
        Block(Path("t.md"), 1, "sh", "false | cat\necho reached\n"),
        Block(Path("t.md"), 5, "sh", "odradek no-such-tool\n"),
        Block(Path("t.md"), 9, "python", "raise SystemExit(3)\n"),
    ]
    outcomes = run_blocks(blocks, ports, tmp_path)
    assert [o.returncode != 0 for o in outcomes] == [True, True, True]
    assert "reached" not in outcomes[0].output


def test_no_seed_names_in_docs() -> None:
    """The docs speak of Kafka's concepts, not of the project's internal history."""
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bseeds?\b", text, re.IGNORECASE), path.name
        assert "odradek[tools]" not in text, path.name


@pytest.fixture(scope="module")
def doc_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocBroker]:
    """One broker for every document: their examples use distinct topics and groups."""
    broker = DocBroker(scratch_dir(tmp_path_factory.mktemp("docs"))).start()
    yield broker
    broker.stop()


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_single_node_examples(document: Path, doc_broker: DocBroker) -> None:
    blocks = [b for b in runnable(extract_blocks(document)) if b.kind != "cluster"]
    if not blocks:
        pytest.skip(f"{document.name} has no single-node examples")
    outcomes = run_blocks(blocks, doc_broker.ports, doc_broker.workdir)
    assert not failures(outcomes), failures(outcomes)


@pytest.fixture
def cluster_ports() -> Iterator[Ports]:
    yield Ports(
        broker=0,
        metrics=free_port(),
        zookeeper=free_port(),
        cluster_base=consecutive_free_ports(3) - 1,
    )


def consecutive_free_ports(count: int) -> int:
    """The first of ``count`` consecutive ports that are free now."""
    for _ in range(100):
        first = free_port()
        if first + count > 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError("no consecutive free ports")


@pytest.mark.zk
def test_cluster_examples(tmp_path: Path, cluster_ports: Ports) -> None:
    """README's cluster example (ZooKeeper and three brokers) and the examples that use that
    cluster (127.0.0.1:9091), as one shell session from the start block to the stop block."""
    if not ZK_SERVER.exists() or shutil.which("java") is None:
        pytest.skip("needs Debian's zookeeper package and a JDK")
    blocks = [
        b for path in DOCUMENTS for b in runnable(extract_blocks(path)) if b.kind == "cluster"
    ]
    starts = [b for b in blocks if "zkServer.sh start" in b.text]
    stops = [b for b in blocks if "zkServer.sh stop" in b.text]
    assert len(starts) == 1 and len(stops) == 1, [b.where for b in starts + stops]
    middle = [b for b in blocks if b not in starts and b not in stops]
    session = [starts[0], *middle, stops[0]]

    workdir = scratch_dir(tmp_path)
    zoo_cfg = workdir / "config" / "zoo.cfg"
    zoo_cfg.write_text(
        zoo_cfg.read_text().replace("clientPort=2181", f"clientPort={cluster_ports.zookeeper}")
    )
    script = ["set -eo pipefail"]
    for number, block in enumerate(session):
        script += [
            f'echo "### {number} {block.where} $(date +%T)"',
            cluster_ports.substitute(block.text),
        ]
    script.append('echo "### done $(date +%T)"')
    log_path = workdir / "cluster.out"
    with open(log_path, "wb") as log_file:
        session_proc = subprocess.Popen(
            ["bash", "-c", "\n".join(script)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=environment(),
            start_new_session=True,
        )
    try:
        try:
            code = session_proc.wait(150)
        except subprocess.TimeoutExpired:
            code = -9
    finally:
        leftovers = stop_process_group(session_proc)
    output = log_path.read_text(errors="replace")
    reached = re.findall(r"^### (\d+|done)", output, re.MULTILINE)
    failed_at = session[int(reached[-1])].where if reached and reached[-1] != "done" else "-"
    assert code == 0, f"cluster session failed in {failed_at} (exit {code}):\n{output[-8000:]}"
    assert not leftovers, f"the documented stop left processes running: {leftovers}"


def stop_process_group(proc: subprocess.Popen[bytes]) -> list[str]:
    """SIGKILL whatever the session left running (its background brokers and ZooKeeper stay
    in its process group); the command lines of what was found."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    processes.reap_zombies()
    left = [
        info
        for info in processes.all_processes()
        if info.state != "Z" and process_group(info.pid) == proc.pid
    ]
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    processes.wait_gone([info.pid for info in left], timeout=10)
    processes.reap_zombies()
    return [info.cmdline[:150] for info in left]


def process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
