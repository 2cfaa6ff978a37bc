"""Test helpers: scrape a metrics endpoint and read Jolokia (used by the unit and the
integration tests of observability)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

LabelKey = tuple[tuple[str, str], ...]


class Samples:
    """One scrape: sample name and labels -> value."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.values: dict[tuple[str, LabelKey], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                self.values[key] = float(sample.value)

    def get(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels (0 when absent)."""
        return self.values.get((name, tuple(sorted(labels.items()))), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """Sum of the samples whose labels include these."""
        wanted = set(labels.items())
        return sum(
            value
            for (sample, key), value in self.values.items()
            if sample == name and wanted <= set(key)
        )

    def names(self) -> set[str]:
        return {name for name, _ in self.values}


def http_get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def scrape(port: int) -> Samples:
    status, _, body = http_get(port, "/metrics")
    assert status == 200, body
    return Samples(body.decode())


def wait_for_endpoint(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            http_get(port, "/", timeout=1.0)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def jolokia(port: int, path: str) -> Any:
    status, _, body = http_get(port, "/jolokia/" + path.lstrip("/"))
    assert status == 200, body
    return json.loads(body)


def jolokia_post(port: int, request: Any) -> Any:
    data = json.dumps(request).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/jolokia", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as response:
        return json.loads(response.read())


# -- metric names referenced by PromQL --------------------------------------------------------

_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "inf",
        "nan",
        "atan2",
        "le",
    }
)


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (strings, label matchers, ranges, grouping
    clauses, Grafana variables and function names taken out)."""
    text = re.sub(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)[^)]*\)", r" \1 ", expr)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        word = match.group(0)
        if text[match.end() :].lstrip().startswith("(") or word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names
