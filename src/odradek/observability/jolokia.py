"""A Jolokia-style JSON view of Kafka's MBeans (``/jolokia/read/<mbean>[/<attribute>]``).

Meters (``...PerSec``) answer like Yammer meters: Count, EventType, RateUnit, MeanRate and
One/Five/FifteenMinuteRate, exponentially weighted moving averages ticked every 5 seconds
(Yammer's EWMA: ``rate += alpha * (count_in_tick / 5 s - rate)``, the first tick sets the
rate). Request-time histograms give Count, Mean and percentiles over the last 5 minutes
(interpolated from the histogram buckets; over everything when the last 5 minutes saw
nothing; Yammer samples a decaying reservoir instead).
Gauges give ``Value``. odradek's own event-loop lag is ``odradek:type=EventLoop,name=MaxLagMs``
(a gauge) and ``...,name=LagMs`` (a histogram, percentiles over everything since start).

MBean names are Kafka's, e.g. ``kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec``
(all topics) or ``...,topic=t``; key order does not matter, ``*``/``?`` and a trailing ``,*``
make a pattern. The form ``kafka.server:name=BrokerTopicMetrics/TotalFetchRequestsPerSec``
(type given as ``name=``, the metric as the attribute) reads that MBean too."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from typing import Any

from odradek.common.version import __version__
from odradek.observability.histogram import histogram_count, histogram_sum, quantile
from odradek.observability.loop_lag import LoopLag
from odradek.observability.mbeans import histogram_sources, meter_sources
from odradek.observability.view import BrokerView

TICK_SECONDS = 5.0
HISTOGRAM_WINDOW_TICKS = 60  # 5 minutes of snapshots
PERCENTILES = (
    ("50thPercentile", 0.5),
    ("75thPercentile", 0.75),
    ("95thPercentile", 0.95),
    ("98thPercentile", 0.98),
    ("99thPercentile", 0.99),
    ("999thPercentile", 0.999),
)
PROTOCOL_VERSION = "7.2"

Props = tuple[tuple[str, str], ...]
MBeanKey = tuple[str, Props]
Attributes = dict[str, Any]


class Ewma:
    """Yammer's EWMA over ``minutes``, ticked every TICK_SECONDS."""

    __slots__ = ("alpha", "initialized", "rate")

    def __init__(self, minutes: float) -> None:
        self.alpha = 1.0 - math.exp(-TICK_SECONDS / 60.0 / minutes)
        self.rate = 0.0  # events per second
        self.initialized = False

    def tick(self, count: float) -> None:
        instant = count / TICK_SECONDS
        if self.initialized:
            self.rate += self.alpha * (instant - self.rate)
        else:
            self.rate = instant
            self.initialized = True


class MeterState:
    __slots__ = ("created", "event_type", "last_count", "m1", "m5", "m15")

    def __init__(self, created: float, event_type: str) -> None:
        self.created = created
        self.event_type = event_type
        self.last_count = 0
        self.m1, self.m5, self.m15 = Ewma(1), Ewma(5), Ewma(15)

    def tick(self, count: int) -> None:
        delta = count - self.last_count if count >= self.last_count else count
        self.last_count = count
        for ewma in (self.m1, self.m5, self.m15):
            ewma.tick(delta)

    def attributes(self, count: int, now: float) -> Attributes:
        elapsed = now - self.created
        return {
            "Count": count,
            "EventType": self.event_type,
            "RateUnit": "SECONDS",
            "MeanRate": count / elapsed if elapsed > 0 else 0.0,
            "OneMinuteRate": self.m1.rate,
            "FiveMinuteRate": self.m5.rate,
            "FifteenMinuteRate": self.m15.rate,
        }


class Meters:
    """Rates for every meter MBean, from the hot-path counts (read once per tick, so the
    hot path never touches them), and the histogram snapshots behind windowed percentiles."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.meters: dict[MBeanKey, MeterState] = {}
        self.history: deque[dict[MBeanKey, list[float]]] = deque(maxlen=HISTOGRAM_WINDOW_TICKS)
        self.last_tick = clock()

    def tick_if_necessary(self) -> None:
        """Catch up on missed ticks (as Yammer's meters do on every read); the counts since
        the last tick all go to the first of them."""
        now = self.clock()
        while now - self.last_tick >= TICK_SECONDS:
            self.last_tick += TICK_SECONDS
            self.tick()

    def tick(self) -> None:
        seen = set()
        for key, count, created, event_type in meter_sources():
            meter = self.meters.get(key)
            if meter is None:
                meter = self.meters[key] = MeterState(created, event_type)
            meter.tick(count)
            seen.add(key)
        for key in [k for k in self.meters if k not in seen]:
            del self.meters[key]  # a deleted topic's MBeans go away
        self.history.append({key: list(read()) for key, read in histogram_sources()})

    def meter(self, key: MBeanKey, created: float, event_type: str) -> MeterState:
        meter = self.meters.get(key)
        if meter is None:  # appeared since the last tick: no rate yet
            meter = MeterState(created, event_type)
        return meter

    def window_start(self, key: MBeanKey) -> list[float] | None:
        """The buckets of 5 minutes ago (None until 5 minutes have been seen)."""
        if len(self.history) < HISTOGRAM_WINDOW_TICKS:
            return None
        return self.history[0].get(key)


# -- the MBeans ------------------------------------------------------------------------------------


def mbeans(
    broker: BrokerView, meters: Meters, loop_lag: LoopLag
) -> dict[MBeanKey, Callable[[], Attributes]]:
    """Every MBean now, with a reader of its attributes."""
    meters.tick_if_necessary()
    now = time.monotonic()
    result: dict[MBeanKey, Callable[[], Attributes]] = {}
    for key, count, created, event_type in meter_sources():
        meter = meters.meter(key, created, event_type)
        result[key] = _bind(meter.attributes, count, now)
    for key, read in histogram_sources():
        result[key] = _histogram_reader(read, meters.window_start(key))
    for domain, props, value in broker.gauges():
        result[(domain, props)] = _value(value)
    for listener, count in broker.connections_by_listener().items():
        props = (
            ("type", "socket-server-metrics"),
            ("listener", listener),
            ("networkProcessor", "0"),
        )
        result[("kafka.server", props)] = _constant({"connection-count": count})
    result[("kafka.server", (("type", "app-info"),))] = _constant(
        {"version": __version__, "commit-id": "odradek"}
    )
    result[("odradek", (("type", "EventLoop"), ("name", "MaxLagMs")))] = _value(
        loop_lag.max_lag_ms(now)
    )
    result[("odradek", (("type", "EventLoop"), ("name", "LagMs")))] = _histogram_reader(
        loop_lag.histogram_ms, None
    )
    return result


def _bind(
    method: Callable[[int, float], Attributes], count: int, now: float
) -> Callable[[], Attributes]:
    return lambda: method(count, now)


def _value(value: float) -> Callable[[], Attributes]:
    return lambda: {"Value": value}


def _constant(attributes: Attributes) -> Callable[[], Attributes]:
    return lambda: attributes


def _histogram_reader(
    read: Callable[[], list[float]], start: list[float] | None
) -> Callable[[], Attributes]:
    def attributes() -> Attributes:
        current = read()
        count = histogram_count(current)
        window = current if start is None else [a - b for a, b in zip(current, start, strict=True)]
        if histogram_count(window) == 0:
            window = current  # nothing recent: keep the old values, as a reservoir would
        values: Attributes = {
            "Count": count,
            "Mean": histogram_sum(current) / count if count else 0.0,
        }
        for name, q in PERCENTILES:
            values[name] = quantile(window, q)
        return values

    return attributes


# -- names ---------------------------------------------------------------------------------------


def canonical(key: MBeanKey) -> str:
    domain, props = key
    return f"{domain}:" + ",".join(f"{k}={v}" for k, v in props)


class ObjectName:
    """A JMX object name or pattern: ``domain:key=value,...`` (``*``/``?`` wildcards in the
    domain and values, a trailing ``,*`` for more keys)."""

    def __init__(self, text: str) -> None:
        domain, sep, rest = text.partition(":")
        if not sep or not domain:
            raise ValueError(f"Invalid object name {text!r}: no domain")
        self.text = text
        self.domain = domain
        self.props: dict[str, str] = {}
        self.open = False  # a property list pattern (",*")
        for item in _split_props(rest):
            if item == "*":
                self.open = True
                continue
            key, eq, value = item.partition("=")
            if not eq or not key:
                raise ValueError(f"Invalid object name {text!r}: bad key property {item!r}")
            self.props[key.strip()] = value.strip().strip('"')
        if not self.props and not self.open:
            raise ValueError(f"Invalid object name {text!r}: no key properties")

    @property
    def is_pattern(self) -> bool:
        return (
            self.open
            or any(c in self.domain for c in "*?")
            or any(c in v for v in self.props.values() for c in "*?")
        )

    def matches(self, key: MBeanKey) -> bool:
        domain, props = key
        if not fnmatchcase(domain, self.domain):
            return False
        values = dict(props)
        if not self.open and set(values) != set(self.props):
            return False
        return all(k in values and fnmatchcase(values[k], v) for k, v in self.props.items())


def _split_props(text: str) -> Iterator[str]:
    """Split key properties on commas outside quotes."""
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            yield "".join(current)
            current = []
        else:
            current.append(char)
    if current:
        yield "".join(current)


def split_path(path: str) -> list[str]:
    """Jolokia's GET path escaping: ``!/`` is a slash inside an element, ``!!`` a ``!``."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(path)
    for char in chars:
        if char == "!":
            current.append(next(chars, "!"))
        elif char == "/":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


# -- requests -------------------------------------------------------------------------------------


class JolokiaError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


class Jolokia:
    """Answers Jolokia requests (dicts as in a POST body) with Jolokia's response shape."""

    def __init__(self, broker: BrokerView, meters: Meters, loop_lag: LoopLag) -> None:
        self.broker = broker
        self.meters = meters
        self.loop_lag = loop_lag

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            kind = request.get("type")
            if kind == "read":
                value = self._read(request)
            elif kind == "search":
                value = self._search(request)
            elif kind == "list":
                value = self._list()
            elif kind == "version":
                value = version()
            else:
                raise JolokiaError(
                    400,
                    "java.lang.IllegalArgumentException",
                    f"Unknown or unsupported request type {kind!r}",
                )
        except JolokiaError as exc:
            return {
                "request": request,
                "error_type": exc.error_type,
                "error": f"{exc.error_type} : {exc}",
                "status": exc.status,
            }
        return {"request": request, "value": value, "timestamp": int(time.time()), "status": 200}

    def _name(self, request: dict[str, Any]) -> ObjectName:
        text = request.get("mbean")
        if not isinstance(text, str):
            raise JolokiaError(400, "java.lang.IllegalArgumentException", "No mbean given")
        try:
            return ObjectName(text)
        except ValueError as exc:
            raise JolokiaError(
                400, "javax.management.MalformedObjectNameException", str(exc)
            ) from exc

    def _read(self, request: dict[str, Any]) -> Any:
        name = self._name(request)
        attribute = request.get("attribute")
        path = request.get("path")
        beans = mbeans(self.broker, self.meters, self.loop_lag)
        if name.is_pattern:
            found = {key: read for key, read in beans.items() if name.matches(key)}
            if not found:
                raise JolokiaError(
                    404,
                    "javax.management.InstanceNotFoundException",
                    f"No MBean found for pattern {name.text}",
                )
            return {
                canonical(key): _select(read(), attribute, None)
                for key, read in sorted(found.items())
            }
        key = _exact(name, beans)
        if key is None and "type" not in name.props and isinstance(attribute, str):
            # kafka.server:name=BrokerTopicMetrics/TotalFetchRequestsPerSec[/Count]
            alias = dict(name.props, type=name.props.get("name", ""), name=attribute)
            alias_name = ObjectName(
                f"{name.domain}:" + ",".join(f"{k}={v}" for k, v in alias.items())
            )
            key = _exact(alias_name, beans)
            if key is not None:
                attribute, path = _shift(path)
        if key is None:
            raise JolokiaError(404, "javax.management.InstanceNotFoundException", name.text)
        return _select(beans[key](), attribute, path)

    def _search(self, request: dict[str, Any]) -> list[str]:
        name = self._name(request)
        return sorted(
            canonical(key)
            for key in mbeans(self.broker, self.meters, self.loop_lag)
            if name.matches(key)
        )

    def _list(self) -> dict[str, Any]:
        listing: dict[str, Any] = {}
        for key, read in sorted(mbeans(self.broker, self.meters, self.loop_lag).items()):
            domain, props = key
            attrs = {
                name: {"type": _java_type(value), "rw": False, "desc": name}
                for name, value in read().items()
            }
            listing.setdefault(domain, {})[",".join(f"{k}={v}" for k, v in props)] = {
                "desc": "odradek metric",
                "attr": attrs,
                "op": {},
            }
        return listing


def _exact(name: ObjectName, beans: dict[MBeanKey, Callable[[], Attributes]]) -> MBeanKey | None:
    wanted = set(name.props.items())
    for key in beans:
        if key[0] == name.domain and set(key[1]) == wanted:
            return key
    return None


def _shift(path: Any) -> tuple[str | None, str | None]:
    """The next path element becomes the attribute."""
    if not isinstance(path, str) or not path:
        return None, None
    head, _, rest = path.partition("/")
    return head, rest or None


def _select(attributes: Attributes, attribute: Any, path: Any) -> Any:
    if attribute is None or attribute == "" or (isinstance(attribute, list) and not attribute):
        value: Any = attributes
    elif isinstance(attribute, list):
        missing = [a for a in attribute if a not in attributes]
        if missing:
            raise JolokiaError(
                404,
                "javax.management.AttributeNotFoundException",
                f"No such attribute: {missing[0]}",
            )
        value = {a: attributes[a] for a in attribute}
    elif attribute in attributes:
        value = attributes[attribute]
    else:
        raise JolokiaError(
            404, "javax.management.AttributeNotFoundException", f"No such attribute: {attribute}"
        )
    for element in path.split("/") if isinstance(path, str) and path else []:
        if not isinstance(value, dict) or element not in value:
            raise JolokiaError(
                400, "java.lang.IllegalArgumentException", f"Invalid path element {element!r}"
            )
        value = value[element]
    return value


def _java_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    return "java.lang.String"


def version() -> dict[str, Any]:
    return {
        "agent": __version__,
        "protocol": PROTOCOL_VERSION,
        "info": {"product": "odradek", "vendor": "odradek", "version": __version__},
    }


def read_request_from_path(path: str) -> dict[str, Any]:
    """``read/<mbean>[/<attribute>[/<path>]]`` (after ``/jolokia/``) as a request dict;
    a comma-separated attribute asks for several."""
    parts = split_path(path)
    kind = parts[0]
    request: dict[str, Any] = {"type": kind}
    if kind in ("read", "search") and len(parts) > 1:
        request["mbean"] = parts[1]
    if kind == "read" and len(parts) > 2 and parts[2]:
        attribute = parts[2]
        request["attribute"] = attribute.split(",") if "," in attribute else attribute
    if kind == "read" and len(parts) > 3:
        request["path"] = "/".join(parts[3:])
    return request
