"""`/` (the status page) and `/healthz`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, jsonify, render_template

from statuspage.settings import ComponentConfig, GroupConfig
from statuspage.storage.status import load_component_status
from statuspage.web import get_db, now, settings

public = Blueprint("public", __name__)

STATUS_LABELS = {
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "under_maintenance": "Under maintenance",
    "unknown": "No data yet",
}
# Worst first: the banner reflects the worst component.
SEVERITY = ["major_outage", "partial_outage", "degraded_performance", "under_maintenance", "operational"]
BANNERS = {
    "major_outage": "Major System Outage",
    "partial_outage": "Partial System Outage",
    "degraded_performance": "Degraded System Performance",
    "under_maintenance": "Service Under Maintenance",
    "operational": "All Systems Operational",
    "unknown": "Waiting for the first results",
}


@dataclass(frozen=True)
class ComponentView:
    component: ComponentConfig
    status: str

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class GroupView:
    group: GroupConfig | None
    components: list[ComponentView]


def overall_status(statuses: list[str]) -> str:
    for status in SEVERITY:
        if status in statuses:
            return status
    return "unknown"


@public.get("/")
def index() -> str:
    config = settings()
    stored = load_component_status(get_db())
    views = [ComponentView(c, stored.get(c.id, ("unknown", None))[0]) for c in config.components]
    groups = [
        GroupView(group, [v for v in views if v.component.group == group.id]) for group in config.groups
    ]
    ungrouped = [v for v in views if v.component.group is None]
    if ungrouped:
        groups.insert(0, GroupView(None, ungrouped))
    overall = overall_status([v.status for v in views])
    return render_template(
        "index.html",
        page=config.page,
        groups=[g for g in groups if g.components],
        overall=overall,
        banner=BANNERS[overall],
        generated_at=now(),
    )


@public.get("/healthz")
def healthz() -> Response:
    get_db().execute("SELECT 1").fetchone()
    return jsonify({"status": "ok", "time": now().isoformat()})
