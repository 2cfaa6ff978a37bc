"""Running ``odradek console`` as a child process and a headless Chromium driven by
Selenium, for the console's end-to-end tests and its screenshots. Processes are stopped by
PID; Chromium gets a fresh profile directory each time."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from selenium.common.exceptions import WebDriverException

from tests.support.broker_process import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)
T = TypeVar("T")


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str | Callable[[], str]) -> T:
    """Poll ``predicate`` until it returns something truthy; AssertionError naming ``what``
    (or what ``what()`` says then)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            result = predicate()
        except (WebDriverException, httpx.HTTPError, ValueError) as exc:  # not there yet
            result, last = None, exc
        if result:
            return result
        if time.monotonic() > deadline:
            name = what() if callable(what) else what
            raise AssertionError(f"{name}: not within {timeout:.0f} s (last error: {last!r})")
        time.sleep(0.2)


class ConsoleProcess:
    """``odradek console`` (``python -m odradek console``) on a free loopback port."""

    def __init__(self, bootstrap: str, log_path: Path, extra: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.command = [
            sys.executable,
            "-m",
            "odradek",
            "console",
            "--bootstrap-server",
            bootstrap,
            "--listen",
            f"127.0.0.1:{self.port}",
            *extra,
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, auth: tuple[str, str] | None = None, timeout: float = 60.0) -> ConsoleProcess:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"console exited {self.proc.returncode}:\n{self.log()}")
            return httpx.get(self.url + "/latency", auth=auth, timeout=5).status_code in (200, 401)

        try:
            wait_for(up, timeout, "console answering")
        except AssertionError:
            self.stop()
            raise
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        """SIGTERM (SIGKILL after 20 s); the exit code (None if it never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


class Browser:
    """A headless Chromium with its own profile directory, quit and removed on ``close``."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="odradek-console-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        self.driver: Any = webdriver.Chrome(
            options=options, service=Service(executable_path=CHROMEDRIVER)
        )
        self.driver.set_page_load_timeout(60)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


def browser_or_skip() -> Iterator[Browser]:
    """A module's browser fixture: one Chromium, closed after; skipped without Debian's."""
    if not chromium_available():
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    browser = Browser()
    yield browser
    browser.close()
