"""An in-process broker for tests — ours and our users'."""

from odradek.testing.broker import Broker

__all__ = ["Broker"]
