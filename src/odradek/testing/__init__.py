"""An in-process broker for tests — ours and our users'.

``Broker`` is imported on first use (PEP 562): the pytest plugin lives in this package, and
pytest loads it in every run where odradek is installed, so importing the package must not
import the broker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Broker"]

if TYPE_CHECKING:
    from odradek.testing.broker import Broker


def __getattr__(name: str) -> Any:
    if name == "Broker":
        from odradek.testing.broker import Broker

        return Broker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
