"""A small SVG chart writer: a line chart over categories and a horizontal bar chart.

Enough for `bench/charts.py` and no more: no plotting library, no script, no external font or
stylesheet, so the files render the same on GitHub, in an editor and offline. Every point and bar
carries its value as visible text, so a chart can be read (and tested) without measuring pixels.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 760, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 210, 74, 64  # the plot's margins: legend right, axis label below
FONT = "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"
INK, GRID, MUTED = "#222222", "#dddddd", "#666666"


@dataclass(frozen=True)
class Frame:
    """What every chart states: a title, the axes with their units, where the numbers come from."""

    title: str
    x_label: str
    y_label: str
    source: str  # the machine, date and load the numbers were measured with
    note: str = ""  # a second line under the source, when the chart needs one


@dataclass(frozen=True)
class Series:
    """One line: values at some of the chart's categories, in the categories' order."""

    name: str
    points: Sequence[tuple[str, float]]
    color: str
    dashed: bool = False


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    caption: str  # the text printed beside the bar, e.g. "3.67 ms · 13 %"


@dataclass
class _Plot:
    """The plot area inside the margins and the value range mapped onto its height."""

    top: float
    maximum: float
    left: float = LEFT
    width: float = WIDTH - LEFT - RIGHT
    height: float = HEIGHT - TOP - BOTTOM
    ticks: list[float] = field(default_factory=list)

    def y(self, value: float) -> float:
        return self.top + self.height * (1 - value / self.maximum)


def number(value: float) -> str:
    """A value as the charts print it: thousands separated, two decimals below 100."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"


def ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `top` (steps of 1, 2 or 5 × a power of ten)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [step * index for index in range(math.ceil(top / step - 1e-9) + 1)]


def _root(frame: Frame) -> ET.Element:
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "width": str(WIDTH),
            "height": str(HEIGHT),
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "role": "img",
            "font-family": FONT,
            "font-size": "12",
            "fill": INK,
        },
    )
    ET.SubElement(svg, "title").text = frame.title
    ET.SubElement(svg, "rect", width=str(WIDTH), height=str(HEIGHT), fill="#ffffff")
    _text(svg, WIDTH / 2, 24, frame.title, size=16, anchor="middle", weight="bold")
    _text(svg, WIDTH / 2, 43, frame.source, size=11, anchor="middle", color=MUTED, cls="source")
    if frame.note:
        _text(svg, WIDTH / 2, 58, frame.note, size=11, anchor="middle", color=MUTED, cls="note")
    return svg


def _text(
    parent: ET.Element,
    x: float,
    y: float,
    content: str,
    *,
    size: int = 12,
    anchor: str = "start",
    color: str = INK,
    weight: str = "normal",
    cls: str = "",
    rotate: bool = False,
) -> ET.Element:
    attributes = {"x": f"{x:.1f}", "y": f"{y:.1f}", "font-size": str(size), "fill": color}
    attributes |= {"text-anchor": anchor, "font-weight": weight}
    if cls:
        attributes["class"] = cls
    if rotate:
        attributes["transform"] = f"rotate(-90 {x:.1f} {y:.1f})"
    element = ET.SubElement(parent, "text", attributes)
    element.text = content
    return element


def _line(parent: ET.Element, x1: float, y1: float, x2: float, y2: float, **style: str) -> None:
    coordinates = {"x1": f"{x1:.1f}", "y1": f"{y1:.1f}", "x2": f"{x2:.1f}", "y2": f"{y2:.1f}"}
    ET.SubElement(parent, "line", coordinates | {"stroke": GRID} | style)


def _y_axis(svg: ET.Element, plot: _Plot, frame: Frame) -> None:
    for tick in plot.ticks:
        y = plot.y(tick)
        _line(svg, plot.left, y, plot.left + plot.width, y)
        _text(svg, plot.left - 8, y + 4, number(tick), size=11, anchor="end", color=MUTED)
    _line(svg, plot.left, plot.top, plot.left, plot.top + plot.height, stroke=INK)
    middle = plot.top + plot.height / 2
    _text(svg, 18, middle, frame.y_label, anchor="middle", rotate=True, cls="y-label")


def _x_label(svg: ET.Element, plot: _Plot, frame: Frame) -> None:
    bottom = plot.top + plot.height
    _line(svg, plot.left, bottom, plot.left + plot.width, bottom, stroke=INK)
    middle = plot.left + plot.width / 2
    _text(svg, middle, HEIGHT - 14, frame.x_label, anchor="middle", cls="x-label")


def _legend(svg: ET.Element, entries: Sequence[tuple[str, str, bool]]) -> None:
    x = WIDTH - RIGHT + 20
    for index, (name, color, dashed) in enumerate(entries):
        y = TOP + 8 + index * 20
        style = {"stroke": color, "stroke-width": "2.5"}
        _line(svg, x, y, x + 24, y, **(style | ({"stroke-dasharray": "6 4"} if dashed else {})))
        _text(svg, x + 30, y + 4, name, size=11, cls="legend")


def _not_measured(svg: ET.Element, reason: str) -> str:
    middle = TOP + (HEIGHT - TOP - BOTTOM) / 2
    _text(svg, WIDTH / 2, middle, "not measured", size=18, anchor="middle", cls="not-measured")
    _text(svg, WIDTH / 2, middle + 24, reason, size=11, anchor="middle", color=MUTED)
    return _serialise(svg)


def _serialise(svg: ET.Element) -> str:
    ET.indent(svg)
    return ET.tostring(svg, encoding="unicode") + "\n"


def line_chart(
    frame: Frame,
    series: Sequence[Series],
    *,
    reference: tuple[str, float] | None = None,
    missing: str = "no results",
) -> str:
    """Lines over categories (the x labels, in order of first appearance), each point labelled."""
    svg = _root(frame)
    series = [one for one in series if one.points]
    if not series:
        return _not_measured(svg, missing)
    categories = list(dict.fromkeys(label for one in series for label, _ in one.points))
    values = [value for one in series for _, value in one.points]
    highest = max(values + ([reference[1]] if reference else []))
    plot = _Plot(top=TOP, maximum=1.0)
    plot.ticks = ticks(highest * 1.08)
    plot.maximum = plot.ticks[-1]
    _y_axis(svg, plot, frame)
    step = plot.width / len(categories)
    xs = {label: plot.left + step * (index + 0.5) for index, label in enumerate(categories)}
    for label, x in xs.items():
        _text(svg, x, plot.top + plot.height + 18, label, anchor="middle", cls="category")
    if reference:
        _reference(svg, plot, *reference)
    labels = _label_heights(plot, xs, series)
    for index, one in enumerate(series):
        _draw_series(svg, plot, xs, one, labels[index])
    _x_label(svg, plot, frame)
    _legend(svg, [(one.name, one.color, one.dashed) for one in series])
    return _serialise(svg)


def _reference(svg: ET.Element, plot: _Plot, label: str, value: float) -> None:
    y = plot.y(value)
    _line(
        svg,
        plot.left,
        y,
        plot.left + plot.width,
        y,
        stroke="#c0392b",
        **{"stroke-dasharray": "2 3"},
    )
    _text(
        svg,
        plot.left + plot.width - 4,
        y - 5,
        label,
        size=11,
        anchor="end",
        color="#c0392b",
        cls="reference",
    )


def _label_heights(
    plot: _Plot, xs: dict[str, float], series: Sequence[Series]
) -> list[list[float]]:
    """The baseline of each point's value label: beside the point, pushed apart where close."""
    heights = [[plot.y(value) + 4 for _, value in one.points] for one in series]
    for category in xs:
        at = [
            (heights[s][p], s, p)
            for s, one in enumerate(series)
            for p, (label, _) in enumerate(one.points)
            if label == category
        ]
        previous = -math.inf
        for wanted, s, p in sorted(at):
            heights[s][p] = previous = max(wanted, previous + 13)
    return heights


def _draw_series(
    svg: ET.Element, plot: _Plot, xs: dict[str, float], one: Series, labels: list[float]
) -> None:
    group = ET.SubElement(svg, "g", {"class": "series", "data-name": one.name})
    coordinates = [(xs[label], plot.y(value)) for label, value in one.points]
    line = {"fill": "none", "stroke": one.color, "stroke-width": "2.5"}
    if one.dashed:
        line["stroke-dasharray"] = "6 4"
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coordinates)
    ET.SubElement(group, "polyline", line | {"points": path})
    for (x, y), (_, value), label in zip(coordinates, one.points, labels, strict=True):
        circle = {"class": "point", "cx": f"{x:.1f}", "cy": f"{y:.1f}", "r": "4"}
        ET.SubElement(group, "circle", circle | {"fill": one.color})
        first = x == min(xs.values()) and len(xs) > 1  # there the line leaves to the right
        value_label = _text(
            group,
            x - 8 if first else x + 8,
            label,
            number(value),
            size=11,
            anchor="end" if first else "start",
            color=one.color,
            cls="value",
        )
        value_label.attrib |= {"stroke": "#ffffff", "stroke-width": "3", "paint-order": "stroke"}


def bar_chart(frame: Frame, bars: Sequence[Bar], *, color: str, missing: str = "no results") -> str:
    """Horizontal bars, one per label, each with its caption printed beside it."""
    svg = _root(frame)
    if not bars:
        return _not_measured(svg, missing)
    left, width = 250.0, WIDTH - 250.0 - 150
    plot = _Plot(top=TOP, maximum=1.0, left=left, width=width)
    plot.ticks = ticks(max(bar.value for bar in bars) * 1.02)
    plot.maximum = plot.ticks[-1]
    band = plot.height / len(bars)
    for tick in plot.ticks:
        x = left + width * tick / plot.maximum
        _line(svg, x, plot.top, x, plot.top + plot.height)
        _text(
            svg, x, plot.top + plot.height + 16, number(tick), size=11, anchor="middle", color=MUTED
        )
    for index, bar in enumerate(bars):
        y = plot.top + band * index + band * 0.2
        length = width * bar.value / plot.maximum
        attributes = {"class": "bar", "x": f"{left:.1f}", "y": f"{y:.1f}", "fill": color}
        attributes |= {"width": f"{length:.1f}", "height": f"{band * 0.6:.1f}"}
        ET.SubElement(svg, "rect", attributes)
        _text(svg, left - 8, y + band * 0.3 + 4, bar.label, anchor="end", cls="category")
        _text(svg, left + length + 6, y + band * 0.3 + 4, bar.caption, size=11, cls="value")
    _line(svg, left, plot.top, left, plot.top + plot.height, stroke=INK)
    _text(svg, left + width / 2, HEIGHT - 14, frame.x_label, anchor="middle", cls="x-label")
    return _serialise(svg)
