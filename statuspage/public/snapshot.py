"""What the public outputs show, built once per data change: components in groups with their
status and 90-day bars, the overall status, open incidents and maintenance.

The HTML page, the Statuspage v2 JSON, feeds and the static export all read
this model, and badges and metrics the same `load_component_status`, so they can
never disagree: a component shows the worse of its measured status and what its
open incidents declare (an operator override wins), and the banner and the v2
indicator both come from one overall status (`engine.component_status.page_status`).
"""

from __future__ import annotations

import html
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

from markupsafe import Markup

from statuspage.engine.component_status import page_status
from statuspage.settings import Settings
from statuspage.storage import public_reads
from statuspage.storage.public_reads import Incident, Maintenance
from statuspage.storage.rollups import DayFigures, get_watermark, load_component_days
from statuspage.storage.sql import Store  # noqa: I001
from statuspage.storage.status import load_component_status

BAR_DAYS = 90
# A status must last this long in a day to colour its bar (a 20 s blip is not an outage day).
BAR_MIN_S = 60.0
DAY_FORMAT = "%d %b %Y"
# One day's slot in the bar's 450-unit viewBox, and the painted part of it (the rest is the gap).
DAY_W = 5  # status.css draws the 3.6-unit tick and 1.4-unit gap (stroke-dasharray)

STATUS_LABELS = {
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "under_maintenance": "Under maintenance",
    "unknown": "No data yet",
}
# Worst first: a group and the page show their worst component.
SEVERITY = ["major_outage", "partial_outage", "degraded_performance", "under_maintenance", "operational"]
BANNERS = {
    "major_outage": "Major System Outage",
    "partial_outage": "Partial System Outage",
    "degraded_performance": "Degraded System Performance",
    "under_maintenance": "Service Under Maintenance",
    "operational": "All Systems Operational",
    "unknown": "Waiting for the first results",
}
# Statuspage's status indicator: none < minor < major < critical (plus maintenance).
INDICATORS = {
    "major_outage": "critical",
    "partial_outage": "major",
    "degraded_performance": "minor",
    "under_maintenance": "maintenance",
    "operational": "none",
    "unknown": "none",
}
IMPACT_LABELS = {"none": "No impact", "minor": "Minor", "major": "Major", "critical": "Critical"}
INCIDENT_STATUS_LABELS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
    "postmortem": "Postmortem",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "verifying": "Verifying",
    "completed": "Completed",
}


@dataclass(frozen=True)
class DayBar:
    """One day of a component's uptime bar."""

    day: date
    figures: DayFigures | None
    incidents: list[tuple[int, str]]

    @property
    def uptime(self) -> float | None:
        return self.figures.uptime if self.figures else None

    # Cached: a page render reads level and detail for its row key and again to draw the day.
    @cached_property
    def level(self) -> str:
        """CSS level: the worst status that lasted at least BAR_MIN_S, or nodata."""
        f = self.figures
        if f is None or (f.counted_s <= 0 and f.maintenance_s <= 0):
            return "nodata"
        for name, seconds in (
            ("major", f.major_s),
            ("partial", f.partial_s),
            ("degraded", f.degraded_s),
        ):
            if seconds >= BAR_MIN_S:
                return name
        if f.counted_s <= 0:
            return "maintenance"
        return "operational"

    @cached_property
    def detail(self) -> str:
        """The day in words without its date: uptime and incidents (equal details merge)."""
        parts = []
        uptime = self.uptime
        if uptime is None:
            parts.append("maintenance only" if self.level == "maintenance" else "no data")
        else:
            parts.append(f"{format_percent(uptime)} uptime")
        if self.figures and self.figures.maintenance_s >= BAR_MIN_S and self.level != "maintenance":
            parts.append("maintenance (not counted)")
        if self.incidents:
            names = "; ".join(title for _id, title in self.incidents[:3])
            more = f" and {len(self.incidents) - 3} more" if len(self.incidents) > 3 else ""
            count = len(self.incidents)
            parts.append(f"{count} incident{'s' if count > 1 else ''}: {names}{more}")
        else:
            parts.append("no incidents")
        return " · ".join(parts)

    @property
    def title(self) -> str:
        """The tooltip: date, uptime and the day's incidents, in words."""
        return f"{self.day.strftime(DAY_FORMAT)} · {self.detail}"


@dataclass(frozen=True)
class ComponentView:
    id: str
    name: str
    description: str | None
    group_id: str | None
    position: int
    status: str
    since: datetime | None
    uptime: float | None = None
    past: Strip | None = None  # the days before today (None: bars were not asked for)
    today: DayBar | None = None

    @property
    def label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def uptime_text(self) -> str:
        """The 90-day uptime as shown ("99.95%"), or "" without data."""
        return format_percent(self.uptime) if self.uptime is not None else ""

    @property
    def bars(self) -> Markup:
        """The uptime bar's <path> elements (see render_days), oldest first; today's drawn now."""
        if self.past is None or self.today is None:
            return Markup("")
        return Markup(self.past.rects + render_days(BAR_DAYS - 1, [self.today]))  # noqa: S704 - escaped there

    @property
    def api_status(self) -> str:
        # Statuspage has no "unknown": a component without data is reported operational.
        return "operational" if self.status == "unknown" else self.status


@dataclass(frozen=True)
class GroupView:
    id: str | None
    name: str
    description: str | None
    position: int
    components: list[ComponentView]

    @property
    def status(self) -> str:
        return overall_status([c.status for c in self.components])

    @property
    def label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    def fold(self, collapse_over: int) -> str | None:
        """How `/` folds this group's rows: None (not folded: `collapse_over` or fewer),
        "closed", or "open" (folded but open, because a component is not operational)."""
        if len(self.components) <= collapse_over:
            return None
        return "closed" if self.status in ("operational", "unknown") else "open"


@dataclass(frozen=True)
class Snapshot:
    groups: list[GroupView]
    components: list[ComponentView]
    overall: str
    open_incidents: list[Incident]
    active_maintenance: list[Maintenance]
    upcoming_maintenance: list[Maintenance]
    last_received: datetime | None
    stale: bool
    generated_at: datetime
    # What the past days' strips were drawn from (StripCache's key): a row showing the same
    # status, today's bar and uptime under the same version looks the same (public/rows.py).
    bars_version: tuple[str, ...] = ()

    @property
    def banner(self) -> str:
        return BANNERS[self.overall]

    @property
    def indicator(self) -> str:
        """Statuspage's indicator, read from the same overall status as the banner (they agree)."""
        return INDICATORS[self.overall]

    def component(self, component_id: str) -> ComponentView | None:
        return next((c for c in self.components if c.id == component_id), None)


def overall_status(statuses: list[str]) -> str:
    for status in SEVERITY:
        if status in statuses:
            return status
    return "unknown"


def format_percent(ratio: float) -> str:
    """99.95% style, never rounding a bad day up to 100%."""
    value = ratio * 100
    if value >= 100:
        return "100%"
    text = f"{value:.2f}"
    if float(text) >= 100:
        text = "99.99"
    return f"{text}%"


@dataclass(frozen=True)
class Strip:
    """One component's bar for the days before today: its paths and their summed figures."""

    rects: str
    total: DayFigures | None


NO_STRIP = Strip("", None)


class StripCache:
    """Past days only change when the day rolls over, a maintenance window is recorded
    retroactively or an incident changes, so their rects are rendered once per such change
    and kept in memory; a page render then only adds today's bar. (The version key holds
    the watermark that rollups bump when they rewrite a past day, e.g. for a late result or
    a maintenance recorded afterwards, and the incidents' fingerprint.)"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[tuple[str, ...], dict[str, Strip]] | None = None

    def get(self, version: tuple[str, ...]) -> dict[str, Strip] | None:
        with self._lock:
            return self._entry[1] if self._entry and self._entry[0] == version else None

    def put(self, version: tuple[str, ...], strips: dict[str, Strip]) -> None:
        with self._lock:
            self._entry = (version, strips)


def _day_span(first: date, last: date) -> str:
    """'07 Nov 2026', '04–12 Sep 2026', '14 Sep – 12 Oct 2026' or '20 Dec 2025 – 03 Jan 2026'."""
    if first == last:
        return first.strftime(DAY_FORMAT)
    if first.year != last.year:
        return f"{first.strftime(DAY_FORMAT)} – {last.strftime(DAY_FORMAT)}"
    # The year (and month) once per range: 200 bars' titles are a third of the page's bytes.
    if first.month == last.month:
        return f"{first:%d}–{last.strftime(DAY_FORMAT)}"
    return f"{first:%d %b} – {last.strftime(DAY_FORMAT)}"


def _day_ranges(days: list[date]) -> str:
    """'04–12 Sep 2026, 14 Sep – 06 Nov 2026, 08 Nov 2026 (85 days)' for ascending days."""
    runs: list[list[date]] = []
    for day in days:
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    text = ", ".join(_day_span(r[0], r[-1]) for r in runs)
    return text + (f" ({len(days)} days)" if len(days) > 1 else "")


def render_days(first_index: int, bars: list[DayBar]) -> str:
    """The bar's days as one <path> per kind of day, with a <title> listing its days.

    Days with the same colour and the same words (uptime, incidents) become one path whose
    subpaths are the runs of consecutive such days; a dashed stroke (3.6 painted, 1.4 gap,
    period DAY_W) still draws each day as its own tick. A 90-day bar is then a handful of
    elements instead of 180, and every day stays reachable: hovering any tick shows the
    title naming all the days of that kind. Runs start and end on multiples of DAY_W, so
    the dash pattern lines up with the days whether a browser restarts it per subpath or not.
    """
    kinds: dict[tuple[str, str], list[tuple[int, DayBar]]] = {}
    for offset, bar in enumerate(bars):
        kinds.setdefault((bar.level, bar.detail), []).append((first_index + offset, bar))
    out = []
    for (level, detail), members in kinds.items():
        indexes = [index for index, _bar in members]
        segments = []
        run_start = indexes[0]
        for index, following in zip(indexes, [*indexes[1:], None], strict=True):
            if following != index + 1:  # the run ends here
                segments.append(f"M{run_start * DAY_W} 16h{(index - run_start + 1) * DAY_W}")
                run_start = following or 0
        title = f"{_day_ranges([b.day for _i, b in members])} · {detail}"
        out.append(
            f'<path d="{"".join(segments)}" class="d-{level}">'
            f"<title>{html.escape(title, quote=False)}</title></path>"
        )
    return "".join(out)


def _past_strips(
    db: Store, settings: Settings, first_day: date, today: date, now: datetime, cache: StripCache | None
) -> tuple[tuple[str, ...], dict[str, Strip]]:
    """(the version the strips were drawn from, component id -> strip of the days before today)."""
    stamp = public_reads.incidents_version(db)
    version = (str(first_day), str(get_watermark(db, "component_days_past_version")), str(stamp))
    found = cache.get(version) if cache else None
    if found is not None:
        return version, found
    yesterday = today - timedelta(days=1)
    days = load_component_days(db, first_day, yesterday)
    incident_days = _incident_days(db, first_day, yesterday, now)
    strips = {}
    for component in settings.components:
        mine = days.get(component.id, {})
        bars = [
            DayBar(d, mine.get(d.isoformat()), incident_days.get(component.id, {}).get(d, []))
            for d in (first_day + timedelta(days=i) for i in range(BAR_DAYS - 1))
        ]
        figures = [b.figures for b in bars if b.figures is not None]
        strips[component.id] = Strip(
            render_days(0, bars),
            sum(figures, DayFigures()) if figures else None,
        )
    if cache is not None:
        cache.put(version, strips)
    return version, strips


def build_snapshot(
    db: Store, settings: Settings, now: datetime, with_bars: bool = True, cache: StripCache | None = None
) -> Snapshot:
    """Read everything the public outputs need, in a handful of queries."""
    stored = load_component_status(db)
    today = now.astimezone(UTC).date()
    first_day = today - timedelta(days=BAR_DAYS - 1)
    version, strips = _past_strips(db, settings, first_day, today, now, cache) if with_bars else ((), {})
    today_days = load_component_days(db, today, today) if with_bars else {}
    today_incidents = _incident_days(db, today, today, now) if with_bars else {}
    components = []
    today_key = today.isoformat()
    for position, config in enumerate(settings.components, start=1):
        status, since = stored.get(config.id, ("unknown", None))
        strip = today_bar = uptime = None
        if with_bars:
            strip = strips.get(config.id, NO_STRIP)
            today_bar = DayBar(
                today,
                today_days.get(config.id, {}).get(today_key),
                today_incidents.get(config.id, {}).get(today, []),
            )
            uptime = _uptime(strip.total, today_bar.figures)
        components.append(
            ComponentView(
                config.id,
                config.name,
                config.description,
                config.group,
                position,
                status,
                since,
                uptime,
                strip,
                today_bar,
            )
        )
    groups = []
    for position, group in enumerate(settings.groups, start=1):
        members = [c for c in components if c.group_id == group.id]
        if members:
            groups.append(GroupView(group.id, group.name, group.description, position, members))
    ungrouped = [c for c in components if c.group_id is None]
    if ungrouped:
        name = "Other components" if groups else "Components"
        groups.append(GroupView(None, name, None, len(settings.groups) + 1, ungrouped))
    last = public_reads.last_result_received(db)
    open_incidents = public_reads.open_incidents(db)
    return Snapshot(
        groups=groups,
        components=components,
        overall=page_status([c.status for c in components], [i.impact for i in open_incidents]),
        open_incidents=open_incidents,
        active_maintenance=public_reads.maintenances(db, ("in_progress",)),
        upcoming_maintenance=public_reads.maintenances(db, ("scheduled",)),
        last_received=last,
        stale=last is not None and now - last > settings.page.stale_after,
        generated_at=now,
        bars_version=version,
    )


def _uptime(past: DayFigures | None, today: DayFigures | None) -> float | None:
    if past is None or today is None:
        figures = past or today
        return figures.uptime if figures else None
    return (past + today).uptime


def _incident_days(
    db: Store, first_day: date, today: date, now: datetime
) -> dict[str, dict[date, list[tuple[int, str]]]]:
    """component -> day -> incidents open that day."""
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    found: dict[str, dict[date, list[tuple[int, str]]]] = defaultdict(lambda: defaultdict(list))
    for incident_id, title, component_id, created_at, resolved_at in public_reads.incidents_overlapping(
        db, start
    ):
        day = max(created_at.date(), first_day)
        last = min((resolved_at or now).date(), today)
        while day <= last:
            found[component_id][day].append((incident_id, title))
            day += timedelta(days=1)
    return found
