"""Response-time charts as server-rendered SVG: no script, no CDN, nothing inline but SVG
geometry (colours come from classes in admin.css, so the CSP needs no exception).

One line per location over a fixed window; a gap where a location sent nothing; the
y axis from 0 to the window's highest average, rounded up to a readable step.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

WIDTH, HEIGHT = 600, 160
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 10, 22
MAX_SERIES_CLASSES = 6


@dataclass(frozen=True)
class Point:
    at: datetime
    value_ms: float


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^n at or above `value` (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def latency_chart(
    title: str, series: Mapping[str, Sequence[Point]], start: datetime, end: datetime, gap_s: float
) -> Markup:
    """An SVG line chart of `series` (location -> points) between `start` and `end`.

    Points further apart than `gap_s` are not joined. Returns a <figure> with the SVG and
    a caption naming each location's colour and average (the words carry what the lines do).
    """
    span_s = max((end - start).total_seconds(), 1.0)
    values = [p.value_ms for points in series.values() for p in points]
    top = nice_ceiling(max(values, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + plot_w * min(max((at - start).total_seconds() / span_s, 0.0), 1.0)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - min(value / top, 1.0))

    parts = [
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>',
        f'<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{top:g} ms</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + plot_h + 4}" text-anchor="end">0</text>',
        f'<text class="tick" x="{LEFT}" y="{HEIGHT - 4}">{_label(start, span_s)}</text>',
        f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" text-anchor="end">'
        f"{_label(end, span_s)}</text>",
    ]
    legend = []
    for index, (location, points) in enumerate(sorted(series.items())):
        css = f"s{index % MAX_SERIES_CLASSES}"
        for run in _runs(points, gap_s):
            coords = " ".join(f"{x(p.at):.1f},{y(p.value_ms):.1f}" for p in run)
            if len(run) == 1:
                parts.append(
                    f'<circle class="{css}" cx="{x(run[0].at):.1f}" cy="{y(run[0].value_ms):.1f}" r="2"/>'
                )
            else:
                parts.append(f'<polyline class="{css}" points="{coords}"/>')
        average = sum(p.value_ms for p in points) / len(points) if points else None
        words = f"{average:.0f} ms average" if average is not None else "no data"
        legend.append(
            f'<li><span class="key {css}" aria-hidden="true"></span>{html.escape(location)}: {words}</li>'
        )
    label = html.escape(f"{title}: " + ("; ".join(_plain(li) for li in legend) if legend else "no data yet"))
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">'
        + "".join(parts)
        + "</svg>"
    )
    caption = (
        f"<figcaption><strong>{html.escape(title)}</strong>"
        f'<ul class="legend">{"".join(legend)}</ul></figcaption>'
    )
    return Markup(f'<figure class="chart-box">{svg}{caption}</figure>')  # noqa: S704 - every value escaped above


def _runs(points: Sequence[Point], gap_s: float) -> list[list[Point]]:
    runs: list[list[Point]] = []
    for point in sorted(points, key=lambda p: p.at):
        if runs and (point.at - runs[-1][-1].at).total_seconds() <= gap_s:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


def _label(at: datetime, span_s: float) -> str:
    return at.strftime("%H:%M" if span_s <= 86_400 else "%d %b")


def _plain(item: str) -> str:
    text = item.replace('<span class="key ', "").split("</span>", 1)[-1]
    return html.unescape(text.removesuffix("</li>"))
