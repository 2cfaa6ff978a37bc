"""The exposition text of the broker's gauges (``BrokerView.gauges()``), made without building
a prometheus_client sample for every gauge at every scrape.

With many partitions the gauges are mostly the per-partition ``kafka.log:type=Log`` ones
(four per partition), and the broker reports the very same ``Gauge`` tuple again for a
partition whose figures did not change (``odradek.server.broker_view.log_gauges``). Building
a ``Sample`` and a labels dict for each of them at each scrape, on the formatting thread,
made enough long-lived garbage to set off full collections of the broker's heap, which hold
the event loop through the GIL for hundreds of milliseconds.

``GaugeText`` keeps, from one scrape to the next, each gauge's sample line as the encoder
wrote it, keyed by the gauge tuple's identity. The previous scrape's gauges are kept alive
with the lines, so an identity found again is the same tuple (same domain, properties and
value), never a new one at a recycled address. Only the gauges not seen at the previous
scrape are given to the encoder (prometheus_client's own ``generate_latest``, text or
OpenMetrics), one family per name as before, and its lines are cut out of what it writes;
the family headers are the encoder's too. The result is byte for byte what the encoder writes
for the families built from every gauge.

A gauge whose value changed (a busy partition's end offset and size) is a new tuple: its line
is the one the encoder wrote for the same domain and properties before, up to the value, and
the value as the encoders write it (``floatToGoString``); only a line found to be that shape is
used so. Gauges never seen (the first scrape, new partitions) go to the encoder, with the
garbage collector held meanwhile when they are many (see ``_collections_held``).

Memory: about 2 KB per partition for the two caches (some 40 MB at 20,000 partitions), bounded
by the partitions there are (the prefixes are dropped, to be learnt again, once there are
twice as many as gauges: most are then deleted partitions')."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.utils import floatToGoString

from odradek.observability.view import Gauge, Props

Encoder = Callable[[CollectorRegistry], bytes]
go_float = cast(Callable[[float], str], floatToGoString)
"""A sample's value as both encoders write it."""


def prometheus_name(domain: str, props: Props) -> tuple[str, dict[str, str]]:
    """The JMX exporter's mapping: ``kafka_<domain>_<type>_<name>``, lower case, the other key
    properties as labels (``kafka.log:type=Log,name=Size,topic=t,partition=0`` is
    ``kafka_log_log_size{topic="t",partition="0"}``)."""
    values = dict(props)
    parts = [domain, values.pop("type", ""), values.pop("name", "")]
    name = "_".join(p for p in parts if p).lower().replace(".", "_").replace("-", "_")
    return name, {key.lower(): value for key, value in values.items()}


def documentation(domain: str, props: Props) -> str:
    """A gauge family's HELP text, from the first gauge of the family."""
    mbean = ",".join(f"{k}={v}" for k, v in props if k in ("type", "name"))
    return f"{domain}:{mbean} (Value)"


class Families(CollectorRegistry):
    """Given families, as a registry an encoder formats."""

    def __init__(self, families: list[Metric]) -> None:
        super().__init__(auto_describe=False)
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def encode(encoder: Encoder, families: list[Metric]) -> bytes:
    """What ``encoder`` writes for ``families``, without what it writes after the last one
    (OpenMetrics' ``# EOF``): the output of several calls can be joined."""
    text = encoder(Families(families))
    closing = encoder(Families([]))
    return text[: len(text) - len(closing)] if closing and text.endswith(closing) else text


def _encode_text(encoder: Encoder, families: list[Metric]) -> str:
    return encode(encoder, families).decode("utf-8")


def _sections(text: str) -> list[tuple[str, list[str]]]:
    """Encoder output cut into families: (header lines, sample lines) each."""
    sections: list[tuple[str, list[str]]] = []
    header: list[str] = []
    samples: list[str] = []
    for line in text.split("\n")[:-1]:  # the text ends with a newline
        line += "\n"
        if line.startswith("# "):
            if line.startswith("# HELP ") and (header or samples):
                sections.append(("".join(header), samples))
                header, samples = [], []
            header.append(line)
        else:
            samples.append(line)
    if header or samples:
        sections.append(("".join(header), samples))
    return sections


class GaugeText:
    """The sample lines of the last scrape's gauges, for the encoder that wrote them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # two scrapes formatting at once take turns
        self._content_type = ""
        self._gauges: list[Gauge] = []  # keeps the ids in _lines those of these tuples
        self._lines: dict[int, tuple[str, str]] = {}  # id(gauge) -> (family name, line)
        self._prefixes: dict[tuple[str, Props], tuple[str, str]] = {}
        """(domain, properties) -> (family name, its lines' text before the value): a gauge
        whose value changed (a new tuple) is written without the encoder."""

    def render(self, gauges: list[Gauge], encoder: Encoder, content_type: str) -> bytes:
        """The gauge families' text, as ``encoder`` (which answers ``content_type``) writes
        them for the families built from ``gauges``: one per name, in the order of their
        first gauge, each gauge a sample of its family."""
        with self._lock:
            if content_type != self._content_type:
                self._lines, self._prefixes = {}, {}
            previous = self._lines
            lines: dict[int, tuple[str, str]] = {}
            missing: list[Gauge] = []
            for gauge in gauges:
                key = id(gauge)
                known = previous.get(key)
                if known is not None:
                    lines[key] = known
                elif key not in lines:
                    missing.append(gauge)
                    lines[key] = ("", "")
            if missing:
                if len(self._prefixes) > 2 * len(gauges):
                    self._prefixes = {}  # most were of partitions long deleted
                self._render_missing(missing, lines, encoder, self._prefixes)
            families: dict[str, list[str]] = {}
            firsts: list[Gauge] = []
            for gauge in gauges:
                name, line = lines[id(gauge)]
                family = families.get(name)
                if family is None:
                    family = families[name] = []
                    firsts.append(gauge)
                family.append(line)
            headers = _sections(
                _encode_text(
                    encoder,
                    [
                        Metric(name, documentation(first[0], first[1]), "gauge")
                        for name, first in zip(families, firsts, strict=True)
                    ],
                )
            )
            if len(headers) != len(families):
                raise ValueError("the encoder wrote other families than asked for")
            self._content_type, self._gauges, self._lines = content_type, gauges, lines
            return "".join(
                header + "".join(family)
                for (header, _), family in zip(headers, families.values(), strict=True)
            ).encode("utf-8")

    @staticmethod
    def _render_missing(
        missing: list[Gauge],
        lines: dict[int, tuple[str, str]],
        encoder: Encoder,
        prefixes: dict[tuple[str, Props], tuple[str, str]],
    ) -> None:
        """The encoder's line for each gauge in ``missing``, into ``lines``: its known
        prefix and value, or else as the encoder writes it (and its prefix kept when the line
        is that prefix, the value as the encoders write it, and a newline)."""
        unknown = []
        for gauge in missing:
            domain, props, value = gauge
            known = prefixes.get((domain, props))
            if known is None:
                unknown.append(gauge)
            else:
                lines[id(gauge)] = (known[0], f"{known[1]}{go_float(value)}\n")
        if not unknown:
            return
        groups: dict[str, list[Gauge]] = {}
        with _collections_held(len(unknown) >= HOLD_COLLECTIONS_FROM):
            families: dict[str, Metric] = {}
            for gauge in unknown:
                name, labels = prometheus_name(gauge[0], gauge[1])
                family = families.get(name)
                if family is None:
                    family = families[name] = Metric(name, "", "gauge")
                    groups[name] = []
                family.add_sample(name, labels, gauge[2])
                groups[name].append(gauge)
            text = _encode_text(encoder, list(families.values()))
            del families, family  # the samples: freed before the collector may run again
        sections = _sections(text)
        if len(sections) != len(groups):
            raise ValueError("the encoder wrote other families than asked for")
        for (name, members), (_, samples) in zip(groups.items(), sections, strict=True):
            if len(samples) != len(members):
                raise ValueError(f"the encoder wrote {len(samples)} lines for {len(members)}")
            for gauge, line in zip(members, samples, strict=True):
                lines[id(gauge)] = (name, line)
                ending = f" {go_float(gauge[2])}\n"
                if line.endswith(ending):
                    prefixes[(gauge[0], gauge[1])] = (name, line[: len(line) - len(ending) + 1])


HOLD_COLLECTIONS_FROM = 10_000
"""Gauges given to the encoder at once from which the garbage collector is held meanwhile."""


@contextmanager
def _collections_held(hold: bool) -> Iterator[None]:
    """No garbage collection while the encoder writes many gauges (at the first scrape, or
    after many partitions were created): its samples would be promoted to the oldest
    generation and set off a full collection of the broker's heap, which holds the event loop
    through the GIL; they hold no cycles, and are freed (by their reference counts) before
    collection resumes. Process-wide, for the encoder's time only (a second or so with
    100,000 partitions); left off if something else had turned it off."""
    enabled = hold and gc.isenabled()
    if enabled:
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
