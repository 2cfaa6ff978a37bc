"""The processes a test run starts: find them through /proc, and keep orphans in reach.

pytest makes itself a *child subreaper* (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``) so that a
process orphaned by a test -- a broker's worker whose broker was SIGKILLed, ZooKeeper
daemonised by ``zkServer.sh`` -- is re-parented to pytest instead of init. At the end of the
session every child still alive was left behind by some test: the suite reports and kills it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    state: str
    cmdline: str


def become_subreaper() -> bool:
    """Adopt our orphaned descendants (Linux only); False where the kernel cannot."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def read_process(pid: int) -> ProcessInfo | None:
    base = Path(f"/proc/{pid}")
    try:
        stat = (base / "stat").read_text()
        cmdline = (base / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return ProcessInfo(pid, int(fields[1]), fields[0], cmdline.strip())


def all_processes() -> list[ProcessInfo]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = read_process(int(entry.name))
            if info is not None:
                found.append(info)
    return found


def children(pid: int) -> list[ProcessInfo]:
    return [p for p in all_processes() if p.ppid == pid]


def descendants(pid: int) -> list[ProcessInfo]:
    """Every live process below ``pid`` (zombies excluded)."""
    table = all_processes()
    below: list[ProcessInfo] = []
    parents = {pid}
    while True:
        level = [p for p in table if p.ppid in parents and p not in below]
        if not level:
            return [p for p in below if p.state != "Z"]
        below += level
        parents = {p.pid for p in level}


def reap_zombies() -> None:
    """Collect the exit status of adopted orphans that have ended."""
    for info in children(os.getpid()):
        if info.state == "Z":
            try:
                os.waitpid(info.pid, os.WNOHANG)
            except ChildProcessError:
                pass


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` is alive; the ones still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [
            pid for pid in pids if (info := read_process(pid)) is not None and info.state != "Z"
        ]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def kill_all(infos: list[ProcessInfo]) -> None:
    for info in infos:
        try:
            os.kill(info.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
