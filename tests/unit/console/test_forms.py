"""Form fields, topic config lines, message headers and the browser's filters."""

from __future__ import annotations

import pytest

from odradek.console import forms
from odradek.console.messages import BrowseQuery, parse_headers
from odradek.console.models import Record
from odradek.console.pages.topics import parse_configs


def test_typed_fields() -> None:
    fields = {"n": " 3 ", "bad": "x", "empty": " "}
    assert forms.integer(fields, "n", minimum=1) == 3
    assert forms.optional_integer(fields, "empty") is None
    with pytest.raises(forms.FormError, match="bad must be a whole number, not 'x'"):
        forms.integer(fields, "bad")
    with pytest.raises(forms.FormError, match="n must be at least 4"):
        forms.integer(fields, "n", minimum=4)
    with pytest.raises(forms.FormError, match="missing is required"):
        forms.text(fields, "missing")
    assert forms.confirmed({"confirmed": "yes"}) and not forms.confirmed({})


def test_configs_and_headers() -> None:
    assert parse_configs("cleanup.policy=compact\n\n retention.ms = 10 \n") == {
        "cleanup.policy": "compact",
        "retention.ms": "10",
    }
    with pytest.raises(forms.FormError, match="not name=value"):
        parse_configs("cleanup.policy")
    assert parse_headers("a=1\nb\n\nc=x=y") == [("a", b"1"), ("b", b""), ("c", b"x=y")]


def record(key: bytes | None, value: bytes | None) -> Record:
    return Record(0, 0, 0, "CreateTime", key, value, ())


def test_filters_match_substrings_of_key_and_value() -> None:
    query = BrowseQuery("t", 0, key_filter="order-4", value_filter="tea")
    assert query.filtered
    assert query.matches(record(b"order-42", b'{"item": "tea"}'))
    assert not query.matches(record(b"order-42", b"coffee"))
    assert not query.matches(record(None, b"tea"))
    assert BrowseQuery("t", 0).matches(record(None, None))
