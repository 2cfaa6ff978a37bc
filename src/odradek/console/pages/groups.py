"""Consumer groups: the list (with the last sampled lag), a group's members, offsets and lag
with its lag chart, and resetting offsets of an inactive group or deleting it, behind a
confirmation. Group ids may hold any character, so actions take the id as a form field."""

from __future__ import annotations

from urllib.parse import quote

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from odradek.console import forms
from odradek.console.app import console_of, redirect
from odradek.console.formatting import parse_timestamp
from odradek.console.groups import (
    RESET_TARGETS,
    apply_reset,
    delete_group,
    describe_group,
    list_groups,
    plan_reset,
)
from odradek.console.pages.topics import confirm
from odradek.console.svg import Series, line_chart


def group_path(group_id: str) -> str:
    return "/groups/" + quote(group_id, safe="")


async def group_list(request: Request) -> Response:
    console = console_of(request)
    query = request.query_params.get("q", "")
    groups = [
        g
        for g in await console.call(list_groups, console.gateway)
        if query.lower() in g.group_id.lower()
    ]
    sample = console.samples.last_lag
    return console.render(
        request,
        "groups.html",
        groups=groups,
        q=query,
        lag=sample.lag if sample else {},
        sampled_at=sample.at if sample else None,
        group_path=group_path,
    )


async def group_detail(request: Request) -> Response:
    console = console_of(request)
    group_id = request.path_params["group"]
    detail = await console.call(describe_group, console.gateway, group_id)
    chart = line_chart(
        [Series("total lag", console.samples.lag.points(group_id))], title="Total lag (records)"
    )
    topics = sorted({p.topic for p in detail.offsets})
    return console.render(
        request,
        "group.html",
        group=detail,
        chart=Markup(chart),
        topics=topics,
        targets=RESET_TARGETS,
        interval=console.settings.sample_interval,
    )


def reset_value(fields: dict[str, str], target: str) -> int | None:
    if target == "offset":
        return forms.integer(fields, "value", minimum=0)
    if target == "timestamp":
        try:
            return parse_timestamp(forms.text(fields, "value"))
        except ValueError as exc:
            raise forms.FormError(f"timestamp: {exc}") from exc
    return None


async def reset_offsets(request: Request) -> Response:
    console = console_of(request)
    fields = await forms.read_form(request, console.token)
    group_id = forms.text(fields, "group")
    target = fields.get("target", "")
    if target not in RESET_TARGETS:
        raise forms.FormError(f"target must be one of {', '.join(RESET_TARGETS)}")
    value = reset_value(fields, target)
    topic = fields.get("topic", "").strip() or None
    detail = await console.call(describe_group, console.gateway, group_id)
    plan = await console.call(plan_reset, console.gateway, detail, target, value, topic)
    if not forms.confirmed(fields):
        details = [
            f"{t}-{p}: {'none' if before is None else before} \u2192 {after}"
            for (t, p), before, after in plan.moves
        ]
        return confirm(console, request, f"Reset offsets of group {group_id}?", details, fields)
    await console.call(apply_reset, console.gateway, plan)
    return redirect(group_path(group_id), f"Offsets of {len(plan.moves)} partition(s) reset.")


async def remove_group(request: Request) -> Response:
    console = console_of(request)
    fields = await forms.read_form(request, console.token)
    group_id = forms.text(fields, "group")
    if not forms.confirmed(fields):
        details = ["Its committed offsets are deleted; the group must have no members."]
        return confirm(console, request, f"Delete group {group_id}?", details, fields)
    await console.call(delete_group, console.gateway, group_id)
    console.samples.lag.forget(group_id)
    return redirect("/groups", f"Deleted group {group_id}.")


ROUTES = [
    Route("/groups", group_list, name="groups"),
    Route("/groups/reset", reset_offsets, methods=["POST"], name="reset_offsets"),
    Route("/groups/delete", remove_group, methods=["POST"], name="delete_group"),
    Route("/groups/{group:path}", group_detail, name="group"),
]
