"""Where an I/O error in a log dir is reported (Kafka's LogDirFailureChannel, KIP-112).

An ``OSError`` while reading or writing a log dir's files (a full disk, a failing device)
takes the whole dir offline (too many open files does not: that is the process's limit): the
error is logged once, as one ERROR line naming the dir, and the listeners (the log manager,
which closes the dir's logs; the broker, which shuts down when no log dir is left) are told.
The caller gets a ``KafkaStorageError`` to raise, which clients see as KAFKA_STORAGE_ERROR. A
dir stays offline until the broker restarts, as in Kafka."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from odradek.common.errors import KafkaStorageError
from odradek.storage.file_cache import FILE_LIMIT_ERRORS

log = logging.getLogger(__name__)

LIMIT_LOG_INTERVAL_S = 60.0

OfflineListener = Callable[[Path], None]


class LogDirFailureChannel:
    """The log dirs taken offline, with why."""

    def __init__(self) -> None:
        self._offline: dict[Path, str] = {}
        self.listeners: list[OfflineListener] = []
        self._limit_logged = -LIMIT_LOG_INTERVAL_S

    def maybe_add_offline_log_dir(self, log_dir: Path, message: str, error: OSError) -> None:
        """``message`` (what failed) raised ``error`` in ``log_dir``: take the dir offline,
        once. Later failures in a dir already offline (its closed files) are not logged.
        Too many open files is the process's limit, not the disk's failure: logged (at most
        once a minute), the dir stays online."""
        if log_dir in self._offline:
            return
        if error.errno in FILE_LIMIT_ERRORS:
            now = time.monotonic()
            if now - self._limit_logged >= LIMIT_LOG_INTERVAL_S:
                self._limit_logged = now
                log.warning("%s: %s (the open file limit)", message, error.strerror or error)
            return
        reason = f"{message}: {error.strerror or error}"
        self._offline[log_dir] = reason
        log.error("%s; log dir %s is now offline", reason, log_dir)
        for listener in self.listeners:
            listener(log_dir)

    def storage_error(self, log_dir: Path, message: str, error: OSError) -> KafkaStorageError:
        """Report ``error`` and return the error a request answers with."""
        self.maybe_add_offline_log_dir(log_dir, message, error)
        if not self.is_offline(log_dir):
            return KafkaStorageError(f"{message}: {error.strerror or error}")
        return KafkaStorageError(f"{message}: log dir {log_dir} is offline")

    def is_offline(self, log_dir: Path) -> bool:
        return log_dir in self._offline

    @property
    def offline_dirs(self) -> dict[Path, str]:
        """Each offline dir and the failure that took it offline."""
        return dict(self._offline)
