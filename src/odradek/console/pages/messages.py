"""The message browser (read a partition from an offset, a timestamp, the beginning or the
end, with key/value filters and a display format), its live tail (polled by
``static/console.js``) and the test producer."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from odradek.console import forms
from odradek.console.app import console_of, redirect
from odradek.console.formatting import FORMATS, parse_timestamp
from odradek.console.messages import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    START_MODES,
    BrowseQuery,
    browse,
    parse_headers,
)

TAIL_LIMIT = 200


def browse_query(request: Request, topic: str) -> BrowseQuery:
    """The query of the browser's form (its GET parameters)."""
    params = request.query_params
    mode = params.get("mode", "end")
    if mode not in START_MODES:
        raise forms.FormError(f"mode must be one of {', '.join(START_MODES)}")
    fields = dict(params)
    timestamp = None
    if mode == "timestamp":
        try:
            timestamp = parse_timestamp(forms.text(fields, "timestamp"))
        except ValueError as exc:
            raise forms.FormError(f"timestamp: {exc}") from exc
    limit = forms.integer(fields, "limit", minimum=1) if params.get("limit") else DEFAULT_LIMIT
    return BrowseQuery(
        topic=topic,
        partition=forms.integer(fields, "partition", minimum=0) if params.get("partition") else 0,
        mode=mode,
        offset=forms.optional_integer(fields, "offset") if mode == "offset" else None,
        timestamp=timestamp,
        key_filter=params.get("key", ""),
        value_filter=params.get("value", ""),
        limit=min(limit, MAX_LIMIT),
    )


def display_format(request: Request) -> str:
    wanted = request.query_params.get("format", "auto")
    return wanted if wanted in FORMATS else "auto"


async def message_browser(request: Request) -> Response:
    console = console_of(request)
    topic = request.path_params["name"]
    found = await console.topic(topic)
    if found is None:
        return console.render(
            request, "error.html", 404, title="Topic", error=f"no topic named {topic}"
        )
    query = browse_query(request, topic)
    result = await console.call(browse, console.gateway, console.pool, query)
    next_url = ""
    if result.next < result.log_end:
        params = {k: v for k, v in request.query_params.items() if k not in ("mode", "offset")}
        params.update(mode="offset", offset=str(result.next))
        next_url = f"{request.url.path}?{urlencode(params)}"
    return console.render(
        request,
        "messages.html",
        next_url=next_url,
        topic=found,
        query=query,
        result=result,
        fmt=display_format(request),
        formats=FORMATS,
        modes=START_MODES,
        params=request.query_params,
    )


async def message_tail(request: Request) -> Response:
    """Rows of the records after ``after`` (an HTML fragment; ``X-Next-Offset`` says where
    the next poll starts)."""
    console = console_of(request)
    topic = request.path_params["name"]
    params = dict(request.query_params)
    after = forms.integer(params, "after", minimum=-1)
    query = BrowseQuery(
        topic=topic,
        partition=forms.integer(params, "partition", minimum=0),
        mode="offset",
        offset=after + 1,
        key_filter=params.get("key", ""),
        value_filter=params.get("value", ""),
        limit=TAIL_LIMIT,
    )
    result = await console.call(browse, console.gateway, console.pool, query)
    response = console.render(
        request, "message_rows.html", records=result.records, fmt=display_format(request)
    )
    response.headers["X-Next-Offset"] = str(max(result.next, after + 1) - 1)
    return response


async def produce(request: Request) -> Response:
    console = console_of(request)
    topic = request.path_params["name"]
    fields = await forms.read_form(request, console.token)
    partition = forms.optional_integer(fields, "partition")
    key = fields.get("key", "")
    value = fields.get("value", "")
    headers = parse_headers(fields.get("headers", ""))
    written = await console.call(
        console.producer.produce,
        topic,
        partition,
        key.encode() if key else None,
        value.encode(),
        headers,
    )
    target, offset = written
    return redirect(
        f"/topics/{topic}/messages?partition={target}&mode=offset&offset={offset}",
        f"Produced to partition {target} at offset {offset}.",
    )


ROUTES = [
    Route("/topics/{name}/messages", message_browser, name="messages"),
    Route("/topics/{name}/messages/tail", message_tail, name="message_tail"),
    Route("/topics/{name}/produce", produce, methods=["POST"], name="produce"),
]
