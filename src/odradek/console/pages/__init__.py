"""The console's pages, one module per section; ``routes()`` is all of them."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    from odradek.console.pages import brokers, groups, latency, messages, overview, security, topics

    return [
        *overview.ROUTES,
        *topics.ROUTES,
        *messages.ROUTES,
        *groups.ROUTES,
        *brokers.ROUTES,
        *latency.ROUTES,
        *security.ROUTES,
    ]
