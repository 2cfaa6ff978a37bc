"""Latency: the end-to-end probe's p50 and p99 over time, and a button running it."""

from __future__ import annotations

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from odradek.console import forms
from odradek.console.app import console_of, redirect
from odradek.console.svg import Series, line_chart


async def latency(request: Request) -> Response:
    console = console_of(request)
    window = console.samples.latency
    chart = line_chart(
        [Series("p50", window.points("p50")), Series("p99", window.points("p99"))],
        unit=" ms",
        title="End-to-end latency (produce acks=all \u2192 consume)",
    )
    return console.render(
        request,
        "latency.html",
        chart=Markup(chart),
        p50=window.latest("p50"),
        p99=window.latest("p99"),
        topic=console.settings.probe_topic,
        interval=console.settings.probe_interval,
    )


async def probe(request: Request) -> Response:
    console = console_of(request)
    await forms.read_form(request, console.token)
    run = await console.run_probe()
    done = (
        f"Probe done: {len(run.latencies_ms)} records, p50 {run.p50:.1f} ms, p99 {run.p99:.1f} ms."
    )
    return redirect("/latency", done)


ROUTES = [
    Route("/latency", latency, name="latency"),
    Route("/latency/probe", probe, methods=["POST"], name="probe"),
]
