"""SVG badges for READMEs and dashboards: `/badge/<component>.svg` (current status) and
`/badge/<component>/uptime.svg?days=30` (uptime over the last N days, 1-400).

Drawn in the familiar two-part "shields" layout; text widths are estimated from
average glyph widths of 11px Verdana, the font such badges use.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, render_template_string, request

from statuspage.public.http_cache import cached
from statuspage.public.snapshot import STATUS_LABELS, format_percent
from statuspage.storage.rollups import component_uptime
from statuspage.storage.status import load_component_status
from statuspage.web import get_db, now, settings

badges = Blueprint("badges", __name__, url_prefix="/badge")

MAX_DAYS = 400
COLOURS = {
    "operational": "#2da44e",
    "degraded_performance": "#bf8700",
    "partial_outage": "#d1570f",
    "major_outage": "#cf222e",
    "under_maintenance": "#0969da",
    "unknown": "#6e7781",
}
# Narrow and wide glyphs differ a lot in Verdana; a per-class estimate keeps text inside.
_NARROW = set("ijlI.,:;!|' ()[]tf")
_WIDE = set("mwMW%@")

_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="{{ total }}" height="20" role="img"'
    ' aria-label="{{ label }}: {{ value }}"><title>{{ label }}: {{ value }}</title>'
    '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
    '<stop offset="1" stop-opacity=".1"/></linearGradient>'
    '<clipPath id="r"><rect width="{{ total }}" height="20" rx="3" fill="#fff"/></clipPath>'
    '<g clip-path="url(#r)"><rect width="{{ left }}" height="20" fill="#555"/>'
    '<rect x="{{ left }}" width="{{ right }}" height="20" fill="{{ colour }}"/>'
    '<rect width="{{ total }}" height="20" fill="url(#s)"/></g>'
    '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
    '<text x="{{ left / 2 }}" y="15" fill="#010101" fill-opacity=".3">{{ label }}</text>'
    '<text x="{{ left / 2 }}" y="14">{{ label }}</text>'
    '<text x="{{ left + right / 2 }}" y="15" fill="#010101" fill-opacity=".3">{{ value }}</text>'
    '<text x="{{ left + right / 2 }}" y="14">{{ value }}</text></g></svg>\n'
)


def text_width(text: str) -> float:
    return sum(4.0 if ch in _NARROW else 10.0 if ch in _WIDE else 7.0 for ch in text)


def render_badge(label: str, value: str, colour: str) -> str:
    left = round(text_width(label) + 12)
    right = round(text_width(value) + 12)
    return render_template_string(
        _SVG, label=label, value=value, colour=colour, left=left, right=right, total=left + right
    )


def _svg(body: str) -> Response:
    return Response(body, mimetype="image/svg+xml")


def _component(component_id: str) -> str:
    component = settings().component(component_id)
    if component is None:
        abort(404, description=f"no component {component_id!r}")
    return component.name


@badges.get("/<component_id>.svg")
@cached
def status_badge(component_id: str) -> Response:
    name = _component(component_id)
    status = load_component_status(get_db()).get(component_id, ("unknown", None))[0]
    return _svg(render_badge(name, STATUS_LABELS.get(status, status).lower(), COLOURS.get(status, "#6e7781")))


@badges.get("/<component_id>/uptime.svg")
@cached
def uptime_badge(component_id: str) -> Response:
    name = _component(component_id)
    days_text = request.args.get("days", "30")
    if not days_text.isdigit() or not 1 <= int(days_text) <= MAX_DAYS:
        abort(400, description=f"days must be a whole number from 1 to {MAX_DAYS}")
    days = int(days_text)
    today = now().date()
    uptime = component_uptime(get_db(), component_id, today - timedelta(days=days - 1), today)
    if uptime is None:
        value, colour = "no data", COLOURS["unknown"]
    else:
        value = format_percent(uptime)
        colour = COLOURS["operational"] if uptime >= 0.999 else COLOURS["degraded_performance"]
        if uptime < 0.99:
            colour = COLOURS["major_outage"]
    return _svg(render_badge(f"{name} uptime {days}d", value, colour))
