"""FileLock: the exclusive ``.lock`` of a log dir, against holders in this process, in another
odradek process, in a process holding a traditional fcntl lock (as Kafka's JVM does), and
after its holder dies."""

from __future__ import annotations

import fcntl
import gc
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from odradek.storage.file_lock import LOCK_FILE, FileLock, LogDirLockedError

# A child process that takes the lock (odradek's own, or a plain lockf, the record lock
# Kafka's FileChannel.tryLock takes), says so, and holds it until killed.
HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys, time
    from pathlib import Path
    from odradek.storage.file_lock import LOCK_FILE, FileLock
    directory = Path(sys.argv[1])
    if sys.argv[2] == "odradek":
        held = FileLock.acquire(directory)
    else:
        held = open(directory / LOCK_FILE, "a+b")
        fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("locked", flush=True)
    time.sleep(600)
    """
)


def expected_refusal(directory: Path) -> str:
    return (
        f"Failed to acquire lock on file .lock in {directory}: another broker (in this or "
        "another process) is using this log directory."
    )


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait(10)


def hold_in_child(
    directory: Path, kind: str, holders: list[subprocess.Popen[str]]
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory), kind], stdout=subprocess.PIPE, text=True
    )
    holders.append(proc)
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    return proc


def test_a_second_lock_in_the_same_process_is_refused(tmp_path: Path) -> None:
    first = FileLock.acquire(tmp_path)
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    with pytest.raises(LogDirLockedError) as refused:
        FileLock.acquire(tmp_path)
    assert str(refused.value) == (
        expected_refusal(tmp_path) + f" The lock file names pid {os.getpid()}."
    )
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"  # the refusal wrote nothing
    first.release()
    assert (tmp_path / LOCK_FILE).read_text() == ""
    first.release()  # a no-op
    FileLock.acquire(tmp_path).release()


def test_an_unreferenced_lock_is_released(tmp_path: Path) -> None:
    FileLock.acquire(tmp_path)  # dropped at once, as a crashed broker object would be
    gc.collect()
    FileLock.acquire(tmp_path).release()


def test_another_odradek_process_holds_it_until_it_dies(
    tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    child = hold_in_child(tmp_path, "odradek", holders)
    with pytest.raises(LogDirLockedError) as refused:
        FileLock.acquire(tmp_path)
    assert (
        str(refused.value) == expected_refusal(tmp_path) + f" The lock file names pid {child.pid}."
    )
    os.kill(child.pid, signal.SIGKILL)  # a crash releases the lock, leaving the stale pid
    child.wait(10)
    assert (tmp_path / LOCK_FILE).read_text() == f"{child.pid}\n"
    lock = FileLock.acquire(tmp_path)
    assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    lock.release()


@pytest.mark.skipif(
    not hasattr(fcntl, "F_OFD_SETLK"), reason="fcntl record locks are per process here"
)
def test_a_traditional_fcntl_lock_as_kafka_takes_it_refuses(
    tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    hold_in_child(tmp_path, "lockf", holders)
    with pytest.raises(LogDirLockedError) as refused:
        FileLock.acquire(tmp_path)
    assert str(refused.value) == expected_refusal(tmp_path)  # an empty lock file names no pid
