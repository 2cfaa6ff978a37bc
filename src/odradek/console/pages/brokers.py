"""Brokers: each broker's address, rack, leadership and log dirs; a broker's version (its
app-info, from its metrics endpoint) and configs with the source of each value."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from odradek.console.app import console_of
from odradek.console.gateway import KafkaError
from odradek.console.models import Broker
from odradek.console.wire import LogDir


async def _log_dirs(request: Request, broker: Broker) -> list[LogDir] | str:
    console = console_of(request)
    try:
        return await console.call(console.gateway.log_dirs, broker)
    except KafkaError as exc:
        return str(exc)


async def broker_list(request: Request) -> Response:
    console = console_of(request)
    view = await console.cluster()
    dirs = await asyncio.gather(*(_log_dirs(request, b) for b in view.brokers))
    partitions = view.partitions()
    leaders = {b.id: sum(p.leader == b.id for p in partitions) for b in view.brokers}
    replicas = {b.id: sum(b.id in p.replicas for p in partitions) for b in view.brokers}
    return console.render(
        request,
        "brokers.html",
        view=view,
        dirs=dict(zip([b.id for b in view.brokers], dirs, strict=True)),
        leaders=leaders,
        replicas=replicas,
    )


async def broker_detail(request: Request) -> Response:
    console = console_of(request)
    broker_id = int(request.path_params["id"])
    view = await console.cluster()
    broker = next((b for b in view.brokers if b.id == broker_id), None)
    if broker is None:
        return console.render(
            request, "error.html", 404, title="Broker", error=f"no broker {broker_id}"
        )
    configs, dirs = await asyncio.gather(
        console.call(console.gateway.broker_configs, broker_id), _log_dirs(request, broker)
    )
    partitions = view.partitions()
    return console.render(
        request,
        "broker.html",
        leaders=sum(p.leader == broker_id for p in partitions),
        replicas=sum(broker_id in p.replicas for p in partitions),
        broker=broker,
        configs=configs.values(),
        dirs=dirs,
        controller=view.controller_id == broker_id,
        app_info=console.samples.app_info.get(broker_id),
    )


ROUTES = [
    Route("/brokers", broker_list, name="brokers"),
    Route("/brokers/{id:int}", broker_detail, name="broker"),
]
