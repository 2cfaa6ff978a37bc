"""A ClickHouse server of its own (Debian's 18.16 ``clickhouse-server``) for the ingest tests:
a config in a temp dir, HTTP, native and interserver ports free on loopback, ZooKeeper at the
address given (for ReplicatedMergeTree), started in the foreground and stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.integration.ingest.support import wait_for
from tests.support.broker_process import free_port

SERVER = Path("/usr/sbin/clickhouse-server")

_CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>{dir}/server.log</log>
        <errorlog>{dir}/error.log</errorlog>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http}</http_port>
    <tcp_port>{tcp}</tcp_port>
    <interserver_http_port>{interserver}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/tmp/</tmp_path>
    <user_files_path>{dir}/user_files/</user_files_path>
    <format_schema_path>{dir}/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>50</max_concurrent_queries>
    <timezone>UTC</timezone>
    <zookeeper>
        <node><host>{zk_host}</host><port>{zk_port}</port></node>
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <macros><shard>1</shard><replica>r1</replica></macros>
</yandex>
"""

_USERS = """<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default></quotas>
</yandex>
"""


def available() -> bool:
    return SERVER.exists()


class ClickHouseServer:
    """``clickhouse-server --config-file ...`` on free loopback ports; ``url`` is ingest's
    target URL (the HTTP interface)."""

    def __init__(self, zookeeper: str) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="odradek-ingest-ch-"))
        self.http_port, self.tcp_port, self.interserver_port = (free_port() for _ in range(3))
        self.zookeeper = zookeeper
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"clickhouse://127.0.0.1:{self.http_port}/default"

    def start(self, timeout: float = 120) -> ClickHouseServer:
        zk_host, _, zk_port = self.zookeeper.rpartition(":")
        config = self.directory / "config.xml"
        config.write_text(
            _CONFIG.format(
                dir=self.directory,
                http=self.http_port,
                tcp=self.tcp_port,
                interserver=self.interserver_port,
                zk_host=zk_host,
                zk_port=zk_port,
            )
        )
        (self.directory / "users.xml").write_text(_USERS)
        with open(self.directory / "stdout.log", "ab") as log:
            self.proc = subprocess.Popen(
                [str(SERVER), f"--config-file={config}"],
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, timeout, "ClickHouse to answer over HTTP")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"clickhouse-server exited:\n{self.log()}")
        try:
            return self.query("SELECT 1") == "1\n"
        except (OSError, urllib.error.URLError):
            return False

    def log(self) -> str:
        parts = []
        for name in ("stdout.log", "error.log"):
            path = self.directory / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def query(self, sql: str) -> str:
        """One statement over HTTP; its output as text (TSV)."""
        url = f"http://127.0.0.1:{self.http_port}/?" + urllib.parse.urlencode({"query": sql})
        request = urllib.request.Request(url, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(response.read().decode())

    def rows(self, sql: str) -> list[list[str]]:
        return [line.split("\t") for line in self.query(sql).splitlines()]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)
