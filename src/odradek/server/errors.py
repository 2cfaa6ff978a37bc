"""Errors of the network layer."""


class CloseConnectionError(Exception):
    """A handler decided that this connection must be closed (deliberately)."""
