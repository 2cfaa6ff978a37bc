"""Topics: the searchable list, a topic's partitions, configs and readers, and the topic
lifecycle (create, add partitions, edit a config, delete records, delete), each write behind
a confirmation page."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from odradek.console import forms
from odradek.console.app import Console, console_of, redirect
from odradek.console.gateway import KafkaError
from odradek.console.models import ClusterView, OffsetRange, Topic

Sizes = dict[tuple[str, int], dict[int, int]] | None
PAGE_SIZE = 100  # topics a list page reads offsets and sizes for


@dataclass(frozen=True)
class TopicRow:
    """A line of the topics list."""

    topic: Topic
    size: int | None
    messages: int | None
    under_replicated: int
    offline: int
    rate_in: float | None
    rate_out: float | None


def topic_size(topic: Topic, sizes: Sizes) -> int | None:
    """Bytes on disk of all the topic's replicas (None when sizes are unknown)."""
    if sizes is None:
        return None
    return sum(sum(sizes.get((topic.name, p.partition), {}).values()) for p in topic.partitions)


def topic_messages(topic: Topic, offsets: dict[tuple[str, int], OffsetRange]) -> int | None:
    ranges = [offsets.get((topic.name, p.partition)) for p in topic.partitions]
    if not ranges or any(r is None for r in ranges):
        return None
    return sum(r.messages for r in ranges if r is not None)


def matching(view: ClusterView, query: str, internal: bool) -> list[Topic]:
    needle = query.lower()
    return [
        t for t in view.topics.values() if needle in t.name.lower() and (internal or not t.internal)
    ]


async def _offsets_and_sizes(
    console: Console, view: ClusterView, topics: list[Topic]
) -> tuple[dict[tuple[str, int], OffsetRange], Sizes]:
    partitions = [(t.name, p.partition) for t in topics for p in t.partitions]
    return await asyncio.gather(
        console.call(console.gateway.offsets, partitions),
        console.call(console.gateway.replica_sizes, view, topics),
    )


async def topic_list(request: Request) -> Response:
    console = console_of(request)
    query = request.query_params.get("q", "")
    internal = request.query_params.get("internal") == "1"
    view = await console.cluster()
    found = matching(view, query, internal)
    pages = max(1, -(-len(found) // PAGE_SIZE))
    page = min(max(_page_number(request), 1), pages)
    topics = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    offsets, sizes = await _offsets_and_sizes(console, view, topics)
    rows = [
        TopicRow(
            t,
            topic_size(t, sizes),
            topic_messages(t, offsets),
            sum(p.under_replicated for p in t.partitions),
            sum(p.offline for p in t.partitions),
            console.samples.rate_of("bytes_in", t.name),
            console.samples.rate_of("bytes_out", t.name),
        )
        for t in topics
    ]
    return console.render(
        request,
        "topics.html",
        rows=rows,
        q=query,
        internal=internal,
        sizes_known=sizes is not None,
        page=page,
        pages=pages,
        found=len(found),
        first=(page - 1) * PAGE_SIZE + 1,
        page_url=lambda n: (
            "/topics?" + urlencode({"q": query, "internal": int(internal), "page": n})
        ),
    )


def _page_number(request: Request) -> int:
    try:
        return int(request.query_params.get("page", "1"))
    except ValueError:
        return 1


async def topic_detail(request: Request) -> Response:
    console = console_of(request)
    name = request.path_params["name"]
    view = await console.cluster()
    topic = await console.topic(name)
    if topic is None:
        return console.render(
            request, "error.html", 404, title="Topic", error=f"no topic named {name}"
        )
    (offsets, sizes), configs = await asyncio.gather(
        _offsets_and_sizes(console, view, [topic]),
        console.call(console.gateway.topic_configs, name),
    )
    return console.render(
        request,
        "topic.html",
        topic=topic,
        offsets=offsets,
        sizes=sizes,
        configs=configs.values(),
        readers=console.samples.groups_reading(name),
        size=topic_size(topic, sizes),
        messages=topic_messages(topic, offsets),
    )


async def new_topic(request: Request) -> Response:
    return console_of(request).render(request, "topic_new.html")


def parse_configs(text: str) -> dict[str, str]:
    """Topic configs from ``name=value`` lines."""
    configs = {}
    for line in text.splitlines():
        if line.strip():
            name, sep, value = line.partition("=")
            if not sep or not name.strip():
                raise forms.FormError(f"config line {line.strip()!r} is not name=value")
            configs[name.strip()] = value.strip()
    return configs


def confirm(
    console: Console, request: Request, title: str, details: list[str], fields: dict[str, str]
) -> Response:
    """The confirmation page re-posting ``fields`` to this URL with ``confirmed=yes``."""
    kept = {k: v for k, v in fields.items() if k not in (forms.TOKEN_FIELD, forms.CONFIRM_FIELD)}
    return console.render(
        request,
        "confirm.html",
        title=title,
        details=details,
        fields=kept,
        action=request.url.path,
        cancel=request.headers.get("referer", "/"),
    )


async def create_topic(request: Request) -> Response:
    console = console_of(request)
    fields = await forms.read_form(request, console.token)
    name = forms.text(fields, "name")
    partitions = forms.integer(fields, "partitions", minimum=1)
    replication = forms.integer(fields, "replication", minimum=1)
    configs = parse_configs(fields.get("configs", ""))
    if not forms.confirmed(fields):
        details = [f"{partitions} partition(s), replication factor {replication}"]
        details += [f"{k} = {v}" for k, v in configs.items()]
        return confirm(console, request, f"Create topic {name}?", details, fields)
    await console.call(console.gateway.create_topic, name, partitions, replication, configs)
    console.snapshot.invalidate()
    return redirect(f"/topics/{name}", f"Created topic {name}.")


async def alter_config(request: Request) -> Response:
    console = console_of(request)
    topic = request.path_params["name"]
    fields = await forms.read_form(request, console.token)
    config = forms.text(fields, "config")
    reset = fields.get("operation") == "delete"
    value = None if reset else fields.get("value", "")
    if not forms.confirmed(fields):
        change = "back to its default" if reset else f"to {value!r}"
        return confirm(console, request, f"Set {config} of {topic} {change}?", [], fields)
    await console.call(console.gateway.set_topic_config, topic, config, value)
    done = f"{config} reset to its default." if reset else f"{config} set to {value}."
    return redirect(f"/topics/{topic}", done)


async def add_partitions(request: Request) -> Response:
    console = console_of(request)
    topic = request.path_params["name"]
    fields = await forms.read_form(request, console.token)
    total = forms.integer(fields, "total", minimum=1)
    if not forms.confirmed(fields):
        details = [
            "Keys are hashed over the new partition count: records of one key may now "
            "land on another partition than before."
        ]
        return confirm(console, request, f"Grow {topic} to {total} partitions?", details, fields)
    await console.call(console.gateway.add_partitions, topic, total)
    console.snapshot.invalidate()
    return redirect(f"/topics/{topic}", f"{topic} now has {total} partitions.")


async def delete_records(request: Request) -> Response:
    console = console_of(request)
    topic = request.path_params["name"]
    fields = await forms.read_form(request, console.token)
    found = await console.call(console.gateway.topic, topic)  # fresh: records are deleted
    if found is None:
        raise KafkaError(f"no topic named {topic}")
    which = fields.get("partition", "all").strip() or "all"
    partitions = (
        [p.partition for p in found.partitions]
        if which == "all"
        else [forms.integer(fields, "partition", minimum=0)]
    )
    before = forms.optional_integer(fields, "offset")
    ends = await console.call(console.gateway.end_offsets, [(topic, p) for p in partitions])
    targets = {p: ends.get((topic, p), 0) if before is None else before for p in partitions}
    if not forms.confirmed(fields):
        details = [
            f"partition {p}: records before offset {o} are deleted" for p, o in targets.items()
        ]
        return confirm(console, request, f"Delete records of {topic}?", details, fields)
    starts = await console.call(console.gateway.delete_records, topic, targets)
    summary = ", ".join(f"partition {p} starts at {o}" for p, o in sorted(starts.items()))
    return redirect(f"/topics/{topic}", f"Records deleted: {summary}.")


async def delete_topic(request: Request) -> Response:
    console = console_of(request)
    topic = request.path_params["name"]
    fields = await forms.read_form(request, console.token)
    if not forms.confirmed(fields):
        details = ["Every partition and record of the topic is deleted. This cannot be undone."]
        return confirm(console, request, f"Delete topic {topic}?", details, fields)
    await console.call(console.gateway.delete_topic, topic)
    console.snapshot.invalidate()
    return redirect("/topics", f"Deleted topic {topic}.")


ROUTES = [
    Route("/topics", topic_list, name="topics"),
    Route("/topics", create_topic, methods=["POST"], name="create_topic"),
    Route("/topics-new", new_topic, name="new_topic"),
    Route("/topics/{name}", topic_detail, name="topic"),
    Route("/topics/{name}/config", alter_config, methods=["POST"]),
    Route("/topics/{name}/partitions", add_partitions, methods=["POST"]),
    Route("/topics/{name}/delete-records", delete_records, methods=["POST"]),
    Route("/topics/{name}/delete", delete_topic, methods=["POST"]),
]
