"""A real ZooKeeper (Debian's package) on a free loopback port, for cluster tests.
Started with zkServer.sh and a temporary zoo.cfg; stopped, and killed by PID if need be."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support.broker_process import free_port

ZK_SERVER = Path("/usr/share/zookeeper/bin/zkServer.sh")


def available() -> bool:
    return ZK_SERVER.exists() and shutil.which("java") is not None


class ZooKeeperProcess:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.config = directory / "zoo.cfg"

    @property
    def connect(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ZooKeeperProcess:
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            "tickTime=200\ninitLimit=10\nsyncLimit=5\n"
            f"dataDir={self.directory / 'data'}\nclientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
            "minSessionTimeout=400\nmaxSessionTimeout=60000\n4lw.commands.whitelist=ruok,srvr\n"
        )
        env = dict(os.environ, ZOO_LOG_DIR=str(self.directory), ZOOPIDFILE=str(self.pid_file))
        subprocess.run(
            [str(ZK_SERVER), "start", str(self.config)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"ruok")
                    if sock.recv(4) == b"imok":
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"ZooKeeper did not start on {self.connect}")

    @property
    def pid_file(self) -> Path:
        return self.directory / "zookeeper.pid"

    def stop(self) -> None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.pid_file.unlink(missing_ok=True)
