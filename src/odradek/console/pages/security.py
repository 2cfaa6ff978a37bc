"""ACLs and client quotas, read-only."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from odradek.console.app import console_of
from odradek.console.gateway import KafkaError


async def acls(request: Request) -> Response:
    console = console_of(request)
    return console.render(request, "acls.html", acls=await console.call(console.gateway.acls))


async def quotas(request: Request) -> Response:
    console = console_of(request)
    view = await console.cluster()
    try:
        entries = await console.call(console.gateway.quotas, view)
        error = ""
    except KafkaError as exc:
        entries, error = [], str(exc)
    return console.render(request, "quotas.html", quotas=entries, error=error)


ROUTES = [Route("/acls", acls, name="acls"), Route("/quotas", quotas, name="quotas")]
