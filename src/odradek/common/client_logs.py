"""librdkafka's log stream: silent unless ``--verbose`` (or ``odradek --verbose``).

librdkafka logs every failed connection attempt (hundreds of lines a minute against a dead
address); the tools report one line per failure themselves, so by default its log is off
(``log_level`` 0, and what is left goes to a logger that prints nothing). With ``--verbose``
(or a ``debug`` setting in the client config) librdkafka writes its own lines to stderr
(``%7|<time>|<facility>|...``), with the ``broker`` and ``metadata`` debug contexts unless the
config names others: connection attempts are what a user needs to see there. It writes them
itself, not through a Python logger, because an AdminClient only hands log lines to a logger
from ``poll()``, which the tools never call.

Standard library only: ``main`` sets the flag before any tool is imported.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

_verbose = False
SILENT = logging.CRITICAL + 1


def set_verbose(on: bool) -> None:
    global _verbose
    _verbose = on
    logger = logging.getLogger("odradek.tools.librdkafka")
    if logger.handlers:
        logger.setLevel(logging.DEBUG if on else SILENT)


def verbose() -> bool:
    return _verbose


def librdkafka_logger() -> logging.Logger:
    """The logger librdkafka's lines go to: stderr with ``--verbose``, nowhere otherwise."""
    logger = logging.getLogger("odradek.tools.librdkafka")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[librdkafka] %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(logging.DEBUG if _verbose else SILENT)
    return logger


def log_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Settings to merge into a librdkafka client config (see the module docstring)."""
    if _verbose or config.get("debug"):
        loud: dict[str, Any] = {"debug": config.get("debug") or "broker,metadata"}
        if "log_level" not in config:
            loud["log_level"] = 7
        return loud
    quiet: dict[str, Any] = {"logger": librdkafka_logger()}
    if "log_level" not in config:
        quiet["log_level"] = 0
    return quiet
