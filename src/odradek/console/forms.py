"""Form posts: URL-encoded bodies (parsed here; the console needs no multipart parser), the
per-process token every form carries against cross-site posts, and typed field reads that
fail as ``FormError`` (a 400 page naming the field)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl

from starlette.requests import Request

MAX_FORM_BYTES = 1 << 20
TOKEN_FIELD = "csrf"
CONFIRM_FIELD = "confirmed"


class FormError(ValueError):
    """A form field that is missing or malformed; ``str()`` names it."""


async def read_form(request: Request, token: str) -> dict[str, str]:
    """The posted fields, once the form's token matches ``token``."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormError("form too large")
    fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if not hmac.compare_digest(fields.get(TOKEN_FIELD, ""), token):
        raise FormError("the form is stale or not from this console: reload the page")
    return fields


def confirmed(fields: Mapping[str, str]) -> bool:
    return fields.get(CONFIRM_FIELD) == "yes"


def text(fields: Mapping[str, str], name: str, required: bool = True) -> str:
    value = fields.get(name, "").strip()
    if required and not value:
        raise FormError(f"{name} is required")
    return value


def integer(fields: Mapping[str, str], name: str, minimum: int | None = None) -> int:
    raw = text(fields, name)
    try:
        value = int(raw)
    except ValueError as exc:
        raise FormError(f"{name} must be a whole number, not {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise FormError(f"{name} must be at least {minimum}")
    return value


def optional_integer(fields: Mapping[str, str], name: str) -> int | None:
    return integer(fields, name) if fields.get(name, "").strip() else None
