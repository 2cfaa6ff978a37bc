"""Overview: cluster id, controller, brokers with their racks and versions, partition health,
throughput."""

from __future__ import annotations

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from odradek.console.app import console_of
from odradek.console.metrics import AppInfo
from odradek.console.models import ClusterView
from odradek.console.svg import sparkline

THROUGHPUT = (
    ("bytes_in", "Bytes in", "B"),
    ("bytes_out", "Bytes out", "B"),
    ("messages_in", "Messages in", "msg"),
)


UNKNOWN = "unknown"


def cluster_versions(view: ClusterView, app_info: dict[int, AppInfo]) -> list[str]:
    """The versions the brokers run, each once, and "unknown" if some broker's app-info was
    not read (no metrics endpoint given for it, or it did not answer the last scrape)."""
    known = {app_info[b.id].version for b in view.brokers if b.id in app_info}
    unknown = [UNKNOWN] if any(b.id not in app_info for b in view.brokers) else []
    return sorted(known) + unknown


async def overview(request: Request) -> Response:
    console = console_of(request)
    view = await console.cluster()
    health = await console.call(console.gateway.health, view)
    samples = console.samples
    throughput = [
        (
            label,
            samples.rate_of(counter),
            unit,
            Markup(sparkline(samples.throughput_points(counter))),
        )
        for counter, label, unit in THROUGHPUT
    ]
    racks = sorted({b.rack for b in view.brokers if b.rack})
    return console.render(
        request,
        "overview.html",
        view=view,
        health=health,
        racks=racks,
        app_info=samples.app_info,
        versions=cluster_versions(view, samples.app_info),
        topics=len([t for t in view.topics.values() if not t.internal]),
        internal_topics=len([t for t in view.topics.values() if t.internal]),
        throughput=throughput if console.settings.metrics_urls else [],
        metrics_errors=samples.metrics_errors,
        groups=len(samples.last_lag.lag) if samples.last_lag else None,
    )


ROUTES = [Route("/", overview, name="overview")]
