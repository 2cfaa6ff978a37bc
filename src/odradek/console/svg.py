"""Line charts as SVG text, rendered on the server: no chart library, no JavaScript.

A chart has one or more series of (time in seconds, value) points sharing the axes; the y axis
starts at zero and is labelled with its maximum, the x axis with the first and last time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

Point = tuple[float, float]

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea")


@dataclass(frozen=True)
class Series:
    """One line: a label for the legend and its points in time order."""

    label: str
    points: Sequence[Point]


def line_chart(
    series: Sequence[Series],
    width: int = 640,
    height: int = 200,
    unit: str = "",
    title: str = "",
) -> str:
    """An SVG document plotting ``series``; with no points at all, an empty frame saying so."""
    pad_left, pad_right, pad_top, pad_bottom = 56, 12, 24, 28
    plot_w, plot_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    points = [p for s in series for p in s.points]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f'<rect x="{pad_left}" y="{pad_top}" width="{plot_w}" height="{plot_h}" '
        'fill="#fff" stroke="#cbd5e1"/>',
    ]
    if title:
        parts.append(f'<text x="{pad_left}" y="16" font-size="12">{escape(title)}</text>')
    if not points:
        parts.append(
            f'<text x="{pad_left + plot_w / 2}" y="{pad_top + plot_h / 2}" font-size="12" '
            'text-anchor="middle" fill="#64748b">no samples yet</text></svg>'
        )
        return "".join(parts)
    t_min, t_max = min(p[0] for p in points), max(p[0] for p in points)
    v_max = nice_ceiling(max(p[1] for p in points))
    t_span = (t_max - t_min) or 1.0

    def x(t: float) -> float:
        return pad_left + (t - t_min) / t_span * plot_w

    def y(v: float) -> float:
        return pad_top + plot_h - v / v_max * plot_h

    parts.append(_axis_labels(pad_left, pad_top, plot_w, plot_h, t_min, t_max, v_max, unit))
    for index, one in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        if one.points:
            path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in one.points)
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>'
            )
        legend_x = pad_left + plot_w - 110 * (len(series) - index)
        parts.append(
            f'<text x="{legend_x}" y="16" font-size="12" fill="{color}">'
            f"\u25a0 {escape(one.label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _axis_labels(
    left: int, top: int, w: int, h: int, t_min: float, t_max: float, v_max: float, unit: str
) -> str:
    label = f"{format_number(v_max)}{unit}"
    return (
        f'<text x="{left - 4}" y="{top + 10}" font-size="11" text-anchor="end">'
        f"{escape(label)}</text>"
        f'<text x="{left - 4}" y="{top + h}" font-size="11" text-anchor="end">0</text>'
        f'<text x="{left}" y="{top + h + 16}" font-size="11">{clock(t_min)}</text>'
        f'<text x="{left + w}" y="{top + h + 16}" font-size="11" text-anchor="end">'
        f"{clock(t_max)}</text>"
    )


def nice_ceiling(value: float) -> float:
    """The y axis' top: the smallest of 1, 2, 2.5 or 5 times a power of ten that is at least
    ``value``, and at least 1."""
    if value <= 1:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    raise AssertionError("unreachable")


def format_number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def clock(seconds: float) -> str:
    """A Unix time as ``HH:MM:SS`` UTC."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%H:%M:%S")


def sparkline(points: Sequence[Point], width: int = 120, height: int = 24) -> str:
    """A small unlabelled line, for throughput figures next to a number."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" class="sparkline">'
    ]
    if len(points) >= 2:
        t_min, t_max = points[0][0], points[-1][0]
        v_max = max(v for _, v in points) or 1.0
        span = (t_max - t_min) or 1.0
        path = " ".join(
            f"{(t - t_min) / span * width:.1f},{height - 1 - v / v_max * (height - 2):.1f}"
            for t, v in points
        )
        parts.append(f'<polyline fill="none" stroke="{PALETTE[0]}" points="{path}"/>')
    parts.append("</svg>")
    return "".join(parts)
