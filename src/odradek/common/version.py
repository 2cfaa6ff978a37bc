"""odradek's version: the one place it is set (pyproject.toml and ``odradek.__version__`` read
it here, so a module that needs it imports nothing above the bottom layer)."""

from __future__ import annotations

__version__ = "0.1.0"
