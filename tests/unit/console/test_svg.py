"""Server-side SVG charts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from odradek.console.svg import Series, clock, line_chart, nice_ceiling, sparkline

NS = "{http://www.w3.org/2000/svg}"


def polylines(svg: str) -> list[list[tuple[float, float]]]:
    root = ET.fromstring(svg)
    return [
        [tuple(map(float, pair.split(","))) for pair in line.attrib["points"].split()]  # type: ignore[misc]
        for line in root.iter(f"{NS}polyline")
    ]


def test_points_span_the_plot_and_zero_is_the_bottom() -> None:
    svg = line_chart([Series("lag", [(100.0, 0.0), (110.0, 50.0), (120.0, 100.0)])])
    (line,) = polylines(svg)
    # plot: x 56..628, y 24..172 (640x200 minus padding); the y axis tops at 100
    assert line == [(56.0, 172.0), (342.0, 98.0), (628.0, 24.0)]
    texts = [t.text for t in ET.fromstring(svg).iter(f"{NS}text")]
    assert "100" in texts and "0" in texts
    assert clock(100.0) in texts and clock(120.0) in texts


def test_series_share_axes_and_labels_are_escaped() -> None:
    svg = line_chart(
        [Series("p50 <ms>", [(0.0, 1.0), (1.0, 2.0)]), Series("p99", [(0.0, 4.0), (1.0, 8.0)])],
        unit=" ms",
        title="a & b",
    )
    ET.fromstring(svg)  # well-formed
    assert "p50 &lt;ms&gt;" in svg and "a &amp; b" in svg
    low, high = polylines(svg)
    # both on one 0..10 axis (10 is the nice ceiling of 8): 148 px tall from y=24
    assert (low[-1][1], high[-1][1]) == (142.4, 53.6)
    assert "10 ms" in svg


def test_empty_chart_says_so() -> None:
    svg = line_chart([Series("lag", [])], title="lag")
    ET.fromstring(svg)
    assert "no samples yet" in svg
    assert "polyline" not in svg


def test_nice_ceiling() -> None:
    assert [nice_ceiling(v) for v in (0, 0.4, 1, 1.5, 3, 7, 15, 26, 99, 101, 4000)] == [
        1.0,
        1.0,
        1.0,
        2.0,
        5.0,
        10.0,
        20.0,
        50.0,
        100.0,
        200.0,
        5000.0,
    ]


def test_sparkline() -> None:
    assert "polyline" not in sparkline([(0.0, 1.0)])
    svg = sparkline([(0.0, 0.0), (1.0, 4.0), (2.0, 2.0)], width=100, height=22)
    assert re.search(r'points="0\.0,21\.0 50\.0,1\.0 100\.0,11\.0"', svg)
