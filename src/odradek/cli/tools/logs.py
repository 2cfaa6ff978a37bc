"""librdkafka's log stream: silent unless ``--verbose`` (or ``odradek --verbose``).

librdkafka logs every failed connection attempt (hundreds of lines a minute against a dead
address); the tools report one line per failure themselves, so its logs are turned off
(``log_level`` 0) and, with ``--verbose``, routed through a logger to stderr with a
``[librdkafka]`` prefix. A ``debug`` setting in the client config also turns them on.

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
    """Settings to merge into a librdkafka client config: the logger, and ``log_level``
    (0: nothing, unless verbose or the config asks for ``debug`` contexts)."""
    loud = _verbose or bool(config.get("debug"))
    if loud and not _verbose:
        set_verbose(True)
    settings: dict[str, Any] = {"logger": librdkafka_logger()}
    if "log_level" not in config:
        settings["log_level"] = 7 if loud else 0
    return settings
