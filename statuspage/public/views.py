"""The HTML pages: `/` (the status page), `/incidents/<id>`, `/history`, and `/healthz`.

Every page works without JavaScript (there is none) and keeps all CSS in
static files, so a Content-Security-Policy without inline code fits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from markupsafe import Markup

from statuspage.markdown import render_markdown
from statuspage.public.http_cache import cached
from statuspage.public.rows import RowCache
from statuspage.public.snapshot import ComponentView, StripCache, build_snapshot
from statuspage.storage import public_reads
from statuspage.storage.public_reads import Incident
from statuspage.storage.results import load_states
from statuspage.web import get_db, now, settings

public = Blueprint("public", __name__)

MONTHS_PER_PAGE = 3
# Groups with more components than this are folded into a <details> on `/`.
COLLAPSE_OVER = 6
MAX_HISTORY_PAGE = 1000


@dataclass(frozen=True)
class LocationDetail:
    """One location's view of a check; shown only with `page.show_check_details`."""

    check: str
    location: str
    status: str
    latency_ms: float | None
    error: str | None


@dataclass(frozen=True)
class Month:
    start: datetime
    incidents: list[Incident]

    @property
    def label(self) -> str:
        return self.start.strftime("%B %Y")


def _html(body: str) -> Response:
    return Response(body, mimetype="text/html")


def _check_details() -> dict[str, list[LocationDetail]]:
    """component id -> per-location check details (only when the config allows it)."""
    config = settings()
    if not config.page.show_check_details:
        return {}
    found: dict[str, list[LocationDetail]] = defaultdict(list)
    for state in load_states(get_db()):
        check = config.check(state.check_id)
        if check is None or check.component is None:
            continue
        found[check.component].append(
            LocationDetail(
                check.display_name, state.agent, state.status, state.last_latency_ms, state.last_error
            )
        )
    return found


def _draw_row(component: ComponentView, details: Sequence[Hashable]) -> Markup:
    """One component's row of `/` (templates/_component.html)."""
    row: Callable[..., Markup] = current_app.jinja_env.get_template("_component.html").module.row  # type: ignore[attr-defined]
    return Markup(row(component, details))  # noqa: S704 - an autoescaped template's output


@public.get("/")
@cached
def index() -> Response:
    config = settings()
    strips = current_app.extensions.setdefault("upwatch_strip_cache", StripCache())
    rows = current_app.extensions.setdefault("upwatch_row_cache", RowCache())
    snapshot = build_snapshot(get_db(), config, now(), cache=strips)
    names = {c.id: c.name for c in config.components}
    return _html(
        render_template(
            "index.html",
            page=config.page,
            snap=snapshot,
            rows=rows.rows(snapshot, _check_details(), _draw_row),
            names=names,
            collapse_over=COLLAPSE_OVER,
            generated_at=snapshot.generated_at,
        )
    )


@public.get("/incidents/<int:incident_id>")
@cached
def incident(incident_id: int) -> Response:
    config = settings()
    found = public_reads.get_incident(get_db(), incident_id)
    if found is None:
        abort(404)
    postmortem = render_markdown(found.published_postmortem) if found.published_postmortem else None
    return _html(
        render_template(
            "incident.html",
            page=config.page,
            incident=found,
            names={c.id: c.name for c in config.components},
            postmortem=postmortem,
            generated_at=now(),
        )
    )


def _month_start(moment: datetime, back: int) -> datetime:
    """The first instant of the month `back` months before `moment`'s month."""
    index = moment.year * 12 + moment.month - 1 - back
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


@public.get("/history")
@cached
def history() -> Response:
    config = settings()
    page_text = request.args.get("page", "1")
    if not page_text.isdigit() or not 1 <= int(page_text) <= MAX_HISTORY_PAGE:
        abort(400, description=f"page must be a whole number from 1 to {MAX_HISTORY_PAGE}")
    page_number = int(page_text)
    component = request.args.get("component") or None
    if component is not None and config.component(component) is None:
        abort(404, description=f"no component {component!r}")
    clock = now()
    first_back = (page_number - 1) * MONTHS_PER_PAGE
    end = _month_start(clock, first_back - 1)
    start = _month_start(clock, first_back + MONTHS_PER_PAGE - 1)
    incidents = public_reads.incidents_between(get_db(), start, end, component)
    months = []
    for back in range(first_back, first_back + MONTHS_PER_PAGE):
        month_start = _month_start(clock, back)
        month_end = _month_start(clock, back - 1)
        months.append(Month(month_start, [i for i in incidents if month_start <= i.created_at < month_end]))
    oldest = public_reads.oldest_incident_time(get_db(), component)
    return _html(
        render_template(
            "history.html",
            page=config.page,
            months=months,
            components=config.components,
            names={c.id: c.name for c in config.components},
            component=component,
            page_number=page_number,
            has_older=oldest is not None and oldest < start and page_number < MAX_HISTORY_PAGE,
            generated_at=clock,
        )
    )


@public.get("/healthz")
def healthz() -> Response:
    public_reads.ping(get_db())
    return jsonify({"status": "ok", "time": now().isoformat()})
