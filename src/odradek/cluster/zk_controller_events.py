"""The controller's event thread (Kafka's ControllerEventManager): its queue and timer."""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

from odradek.cluster.zk_controller_client import ControllerFencedError

log = logging.getLogger(__name__)

T = TypeVar("T")
IDLE_RECONCILE_S = 5.0
BUSY_RECONCILE_S = 0.25


class ControllerEventManager(ABC):
    """Runs the controller's events one at a time on its own thread; with none queued, a
    reconciliation runs every :data:`IDLE_RECONCILE_S` (:data:`BUSY_RECONCILE_S` while work is
    pending). A fenced controller resigns."""

    active: bool
    epoch: int

    def __init__(self) -> None:
        self._events: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="controller", daemon=True)
        self._stopped = False
        self._busy = False
        self._last_reconcile = time.monotonic()

    @abstractmethod
    def _reconcile_event(self) -> None:
        """One reconciliation pass: the event the timer runs."""

    def _trigger(self, *_: object) -> None:
        self._events.put(self._reconcile_event)

    def submit(self, action: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``action`` on the controller thread (admin requests)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(action())
            except BaseException as exc:
                future.set_exception(exc)

        self._events.put(run)
        return future

    def _run(self) -> None:
        while True:
            period = BUSY_RECONCILE_S if self._busy else IDLE_RECONCILE_S
            wait = max(0.0, self._last_reconcile + period - time.monotonic())
            try:
                event = self._events.get(timeout=wait)
            except queue.Empty:
                event = self._reconcile_event
            if event is None:
                return
            try:
                if (
                    event is not self._reconcile_event
                    and time.monotonic() - self._last_reconcile > period
                ):
                    self._reconcile_event()  # admin requests must not starve the timer
                event()
            except ControllerFencedError:
                log.warning("controller epoch %d was fenced; resigning", self.epoch)
                self.active = False
            except Exception:
                log.exception("controller event failed")
                self._busy = True
