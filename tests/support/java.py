"""Run the Apache Kafka Java client test programs in ``tests/integration/java/``.

The client jars are installed by ``scripts/install-java-client.sh`` into
``$ODRADEK_JAVA_LIBS`` (default ``~/.cache/odradek/java-libs``). When the jars or a JDK are
missing, tests are skipped with the reason, unless ``ODRADEK_REQUIRE_JAVA`` is set (CI sets
it), in which case they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

JAVA_SOURCES = Path(__file__).resolve().parent.parent / "integration" / "java"
REQUIRED_JARS = ("kafka-clients", "slf4j-api", "lz4-java", "snappy-java", "zstd-jni")
INSTALL_HINT = "run scripts/install-java-client.sh"
DEFAULT_TIMEOUT = 120.0
# Quick start-up and a bounded heap; the programs are short-lived.
JVM_OPTIONS = ("-Xmx512m", "-XX:+UseSerialGC", "-Djava.awt.headless=true")


class JavaResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        """All output, for assertion messages."""
        return (
            f"exit status {self.returncode}\n--- stdout ---\n{self.stdout}"
            f"\n--- stderr (last 4000 chars) ---\n{self.stderr[-4000:]}"
        )


def java_required() -> bool:
    """True when missing Java tooling must fail tests instead of skipping them."""
    return os.environ.get("ODRADEK_REQUIRE_JAVA", "") not in ("", "0")


def java_libs_dir() -> Path:
    configured = os.environ.get("ODRADEK_JAVA_LIBS")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "odradek" / "java-libs"


def find_jars(libs: Path | None = None) -> tuple[list[Path], list[str]]:
    """The required jars found in ``libs``, and the names of those missing."""
    libs = java_libs_dir() if libs is None else libs
    found: list[Path] = []
    missing: list[str] = []
    for name in REQUIRED_JARS:
        matches = sorted(libs.glob(f"{name}*.jar")) if libs.is_dir() else []
        if matches:
            found.append(matches[-1])
        else:
            missing.append(name)
    return found, missing


def _jdk_tool(name: str) -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def _unavailable(reason: str) -> None:
    """Skip, or fail when ``ODRADEK_REQUIRE_JAVA`` is set."""
    if java_required():
        pytest.fail(f"ODRADEK_REQUIRE_JAVA is set but {reason}", pytrace=False)
    pytest.skip(reason)


class JavaPrograms:
    """The compiled programs plus the classpath and JDK needed to run them."""

    def __init__(self, java: str, classes: Path, jars: list[Path]) -> None:
        self.java = java
        self.classes = classes
        self.jars = jars

    @property
    def classpath(self) -> str:
        return os.pathsep.join([str(self.classes), *map(str, self.jars)])

    def run(self, main_class: str, *args: str, timeout: float = DEFAULT_TIMEOUT) -> JavaResult:
        """Run ``main_class`` with ``args``; a timeout kills it and reports returncode -9."""
        cmd = [self.java, *JVM_OPTIONS, "-cp", self.classpath, main_class, *args]
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            out = _text(exc.stdout)
            err = _text(exc.stderr)
            err += f"\n[odradek java harness] {main_class} killed after {timeout:.0f}s timeout"
            return JavaResult(-9, out, err)
        return JavaResult(proc.returncode, proc.stdout, proc.stderr)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data


def compile_programs(out_dir: Path) -> JavaPrograms:
    """Locate the JDK and jars (skip or fail if absent) and compile every program once.

    Call from a session-scoped fixture; ``out_dir`` receives the class files.
    """
    javac = _jdk_tool("javac")
    java = _jdk_tool("java")
    if javac is None or java is None:
        _unavailable("no JDK found (javac/java not on PATH or in $JAVA_HOME/bin)")
    assert javac is not None and java is not None
    libs = java_libs_dir()
    jars, missing = find_jars(libs)
    if missing:
        _unavailable(
            f"Kafka Java client jars missing from {libs}: {', '.join(missing)} ({INSTALL_HINT})"
        )
    sources = sorted(JAVA_SOURCES.glob("*.java"))
    if not sources:
        pytest.fail(f"no Java sources under {JAVA_SOURCES}", pytrace=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        javac,
        "-encoding",
        "UTF-8",
        "-d",
        str(out_dir),
        "-cp",
        os.pathsep.join(map(str, jars)),
        *map(str, sources),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        pytest.fail(
            f"javac failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}", pytrace=False
        )
    return JavaPrograms(java, out_dir, jars)
