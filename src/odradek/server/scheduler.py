"""The coordinators' scheduler, on the running asyncio loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class LoopScheduler:
    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> asyncio.TimerHandle:
        def run() -> None:
            try:
                callback()
            except Exception:
                log.exception("coordinator timer failed")

        return asyncio.get_running_loop().call_later(max(delay_ms, 0) / 1000, run)
