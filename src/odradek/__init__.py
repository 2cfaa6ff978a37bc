"""odradek: a Kafka-compatible event streaming platform written in Python."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from odradek.common.version import __version__  # the one place the version is set

__all__ = ["Broker", "__version__"]

if TYPE_CHECKING:
    from odradek.testing.broker import Broker


def __getattr__(name: str) -> Any:
    if name == "Broker":
        from odradek.testing.broker import Broker

        return Broker
    raise AttributeError(name)
