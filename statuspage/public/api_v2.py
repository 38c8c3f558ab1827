"""The Statuspage public API v2 under `/api/v2/`, shaped exactly as Statuspage emits it, so
existing consumers (dashboards, chat bots, status aggregators) work unchanged.

Mapping decisions (where upwatch's model differs from Statuspage's):
- ids are strings: incidents `"12"`, incident updates `"34"`, maintenances `"m5"`
  (and their single update `"m5-u"`), since maintenance lives in its own table.
- A component with no data yet is reported `operational` (Statuspage has no unknown).
- Groups are components with `"group": true` and a `components` list of child ids;
  leaves carry `group_id`. Ungrouped leaves have `group_id: null`.
- A maintenance carries one synthesized update with its current status and body.
- `status.indicator` is the worse of the components' state and the open incidents' impact.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from flask import Blueprint, Response

from shared.timeutil import to_iso
from statuspage.public.http_cache import cached
from statuspage.public.snapshot import ComponentView, GroupView, Snapshot, build_snapshot
from statuspage.settings import Settings
from statuspage.storage import public_reads
from statuspage.storage.public_reads import Incident, Maintenance
from statuspage.web import get_db, now, settings

api_v2 = Blueprint("api_v2", __name__, url_prefix="/api/v2")


@api_v2.after_request
def _cors(response: Response) -> Response:
    # Public, read-only data: any site may read it (Statuspage sends the same header).
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def page_id(settings: Settings) -> str:
    """A stable opaque page id derived from the page's public URL."""
    return hashlib.sha256(settings.page.url.encode()).hexdigest()[:12]


def _iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment else None


def _json(payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), mimetype="application/json")


class Document:
    """Builds the v2 objects for one request from one snapshot."""

    def __init__(self, snapshot: Snapshot, settings: Settings, first_seen: dict[str, datetime]):
        self.snap = snapshot
        self.settings = settings
        self.page_id = page_id(settings)
        self.first_seen = first_seen
        self.names = {c.id: c.name for c in snapshot.components}

    def page(self) -> dict[str, Any]:
        times = [c.since for c in self.snap.components if c.since]
        times += [i.updated_at for i in self.snap.open_incidents]
        updated = max(times, default=self.snap.generated_at)
        return {
            "id": self.page_id,
            "name": self.settings.page.name,
            "url": self.settings.page.url,
            "time_zone": "Etc/UTC",
            "updated_at": _iso(updated),
        }

    def component(self, c: ComponentView) -> dict[str, Any]:
        created = self.first_seen.get(c.id) or c.since or self.snap.generated_at
        return {
            "id": c.id,
            "name": c.name,
            "status": c.api_status,
            "created_at": _iso(created),
            "updated_at": _iso(c.since or created),
            "position": c.position,
            "description": c.description,
            "showcase": False,
            "start_date": created.date().isoformat(),
            "group_id": c.group_id,
            "page_id": self.page_id,
            "group": False,
            "only_show_if_degraded": False,
        }

    def group(self, g: GroupView, position: int) -> dict[str, Any]:
        times = [c.since for c in g.components if c.since] or [self.snap.generated_at]
        created = min([self.first_seen[c.id] for c in g.components if c.id in self.first_seen] or times)
        status = g.status
        return {
            "id": g.id,
            "name": g.name,
            "status": "operational" if status == "unknown" else status,
            "created_at": _iso(created),
            "updated_at": _iso(max(times)),
            "position": position,
            "description": g.description,
            "showcase": False,
            "start_date": None,
            "group_id": None,
            "page_id": self.page_id,
            "group": True,
            "only_show_if_degraded": False,
            "components": [c.id for c in g.components],
        }

    def components(self) -> list[dict[str, Any]]:
        """Groups and leaves in page order (Statuspage lists both in one array)."""
        found: list[dict[str, Any]] = []
        position = 0
        for g in self.snap.groups:
            if g.id is not None:
                position += 1
                found.append(self.group(g, position))
        found.extend(self.component(c) for c in self.snap.components)
        return found

    def status(self) -> dict[str, str]:
        return {"indicator": self.snap.indicator, "description": self.snap.banner}

    def incident(self, i: Incident) -> dict[str, Any]:
        leaves = [self.component(c) for c in self.snap.components if c.id in i.components]
        return {
            "id": str(i.id),
            "name": i.title,
            "status": i.status,
            "created_at": _iso(i.created_at),
            "updated_at": _iso(i.updated_at),
            "monitoring_at": _iso(i.monitoring_at),
            "resolved_at": _iso(i.resolved_at),
            "impact": i.impact,
            "shortlink": f"{self.settings.page.url}/incidents/{i.id}",
            "started_at": _iso(i.created_at),
            "page_id": self.page_id,
            "incident_updates": [
                {
                    "id": str(u.id),
                    "status": u.status,
                    "body": u.body,
                    "incident_id": str(i.id),
                    "created_at": _iso(u.created_at),
                    "updated_at": _iso(u.created_at),
                    "display_at": _iso(u.created_at),
                    "affected_components": [
                        {
                            "code": a.component_id,
                            "name": self.names.get(a.component_id, a.component_id),
                            "old_status": _component_status(a.old_status),
                            "new_status": _component_status(a.new_status),
                        }
                        for a in u.affected
                    ],
                    "deliver_notifications": True,
                    "custom_tweet": None,
                    "tweet_id": None,
                }
                for u in i.updates
            ],
            "components": leaves,
        }

    def maintenance(self, m: Maintenance) -> dict[str, Any]:
        leaves = [self.component(c) for c in self.snap.components if c.id in m.components]
        return {
            "id": f"m{m.id}",
            "name": m.title,
            "status": m.status,
            "created_at": _iso(m.created_at),
            "updated_at": _iso(m.updated_at),
            "monitoring_at": None,
            "resolved_at": _iso(m.completed_at),
            "impact": "maintenance",
            "shortlink": f"{self.settings.page.url}/#maintenance-{m.id}",
            "started_at": _iso(m.started_at or m.scheduled_for),
            "page_id": self.page_id,
            "incident_updates": [
                {
                    "id": f"m{m.id}-u",
                    "status": m.status,
                    "body": m.body or m.title,
                    "incident_id": f"m{m.id}",
                    "created_at": _iso(m.updated_at),
                    "updated_at": _iso(m.updated_at),
                    "display_at": _iso(m.updated_at),
                    "affected_components": [
                        {
                            "code": c["id"],
                            "name": c["name"],
                            "old_status": c["status"],
                            "new_status": c["status"],
                        }
                        for c in leaves
                    ],
                    "deliver_notifications": True,
                    "custom_tweet": None,
                    "tweet_id": None,
                }
            ],
            "components": leaves,
            "scheduled_for": _iso(m.scheduled_for),
            "scheduled_until": _iso(m.scheduled_until),
        }


def _component_status(status: str) -> str:
    return "operational" if status in ("unknown", "None", "") else status


def document() -> Document:
    snap = build_snapshot(get_db(), settings(), now(), with_bars=False)
    return Document(snap, settings(), public_reads.component_first_seen(get_db()))


@api_v2.get("/summary.json")
@cached
def summary() -> Response:
    doc = document()
    maintenances = doc.snap.active_maintenance + doc.snap.upcoming_maintenance
    return _json(
        {
            "page": doc.page(),
            "components": doc.components(),
            "incidents": [doc.incident(i) for i in doc.snap.open_incidents],
            "scheduled_maintenances": [doc.maintenance(m) for m in maintenances],
            "status": doc.status(),
        }
    )


@api_v2.get("/status.json")
@cached
def status() -> Response:
    doc = document()
    return _json({"page": doc.page(), "status": doc.status()})


@api_v2.get("/components.json")
@cached
def components() -> Response:
    doc = document()
    return _json({"page": doc.page(), "components": doc.components()})


@api_v2.get("/incidents.json")
@cached
def incidents() -> Response:
    doc = document()
    found = public_reads.recent_incidents(get_db(), 50)
    return _json({"page": doc.page(), "incidents": [doc.incident(i) for i in found]})


@api_v2.get("/incidents/unresolved.json")
@cached
def unresolved() -> Response:
    doc = document()
    return _json({"page": doc.page(), "incidents": [doc.incident(i) for i in doc.snap.open_incidents]})


@api_v2.get("/scheduled-maintenances.json")
@cached
def scheduled_maintenances() -> Response:
    doc = document()
    found = public_reads.maintenances(get_db(), ("scheduled", "in_progress", "completed"))
    return _json({"page": doc.page(), "scheduled_maintenances": [doc.maintenance(m) for m in found]})


@api_v2.get("/scheduled-maintenances/upcoming.json")
@cached
def upcoming() -> Response:
    doc = document()
    return _json(
        {
            "page": doc.page(),
            "scheduled_maintenances": [doc.maintenance(m) for m in doc.snap.upcoming_maintenance],
        }
    )


@api_v2.get("/scheduled-maintenances/active.json")
@cached
def active() -> Response:
    doc = document()
    return _json(
        {
            "page": doc.page(),
            "scheduled_maintenances": [doc.maintenance(m) for m in doc.snap.active_maintenance],
        }
    )
