"""Admin page of one check: response time per location over the last hour, day and 30 days
(SVG from the rollups), the timing breakdown, recent results with errors, state flips, and for
heartbeats the recent pings with their bodies and durations."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import abort
from markupsafe import Markup

from shared.timeutil import from_iso
from statuspage.admin.charts import Point, latency_chart
from statuspage.admin.ops_views import STATE_WORDS
from statuspage.admin.timeline import PHASES
from statuspage.admin.ui import admin_ui, render
from statuspage.storage import check_history
from statuspage.storage.heartbeats import recent_pings
from statuspage.web import get_db, now, settings

# (title, rollup granularity, window, longest silence still drawn as one line)
WINDOWS = [
    ("Last hour", "minute", timedelta(hours=1), timedelta(minutes=3)),
    ("Last day", "hour", timedelta(days=1), timedelta(hours=2)),
    ("Last 30 days", "day", timedelta(days=30), timedelta(days=2)),
]


@dataclass(frozen=True)
class Breakdown:
    """A location's average time per request phase over its recent results."""

    agent: str
    phases: list[tuple[str, float]]
    total_ms: float
    results: int


def bucket_start(bucket: str) -> datetime:
    """The start of a rollup bucket from its ISO prefix (minute, hour or day)."""
    if len(bucket) == 13:  # 2026-11-27T12
        bucket += ":00"
    return from_iso(bucket)


def charts(check_id: str, at: datetime) -> list[Markup]:
    drawn = []
    for title, granularity, window, gap in WINDOWS:
        start = at - window
        series: dict[str, list[Point]] = defaultdict(list)
        for row in check_history.latency_buckets(get_db(), check_id, granularity, start):
            series[row.agent].append(Point(bucket_start(row.bucket), row.avg_ms))
        drawn.append(latency_chart(f"Response time, {title.lower()}", series, start, at, gap.total_seconds()))
    return drawn


def breakdowns(results: list[check_history.RecentResult]) -> list[Breakdown]:
    by_agent: dict[str, list[check_history.RecentResult]] = defaultdict(list)
    for result in results:
        by_agent[result.agent].append(result)
    found = []
    for agent, mine in sorted(by_agent.items()):
        phases = []
        for key, label in PHASES:
            values = [r.metrics[key] for r in mine if key in r.metrics]
            if values:
                phases.append((label, sum(values) / len(values)))
        total = sum(r.latency_ms for r in mine) / len(mine)
        found.append(Breakdown(agent, phases, total, len(mine)))
    return found


@admin_ui.get("/checks/<check_id>")
def check_page(check_id: str) -> tuple[str, int]:
    check = next((c for c in settings().checks if c.id == check_id), None)
    if check is None:
        abort(404)
    db = get_db()
    results = check_history.recent_results(db, check_id)
    return render(
        "check.html",
        check=check,
        component=settings().component(check.component) if check.component else None,
        charts=charts(check_id, now()),
        breakdowns=breakdowns(results),
        results=results,
        failures=[r for r in results if r.status != "up"],
        flips=check_history.recent_flips(db, check_id),
        pings=recent_pings(db, check_id, 30) if check.kind == "heartbeat" else [],
        state_words=STATE_WORDS,
    )
