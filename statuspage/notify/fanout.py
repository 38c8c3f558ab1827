"""Fan-out: new public incident updates and maintenance state changes become outbox rows,
one per matching subscriber (email and webhook), exactly once.

Progress is durable: `notify_watermarks['incident_updates']` holds the last
update id turned into rows, and `maintenance_notifications` the (maintenance,
status) pairs already announced. Rows and progress are written in one
transaction, and every row's idempotency key names subscriber and event, so a
crash between passes neither loses nor repeats a notification.

Which updates go out: those of incidents with public = 1 and drill = 0 (or of a drill whose
operator asked to tell subscribers) at the
time the pass sees them, unless the update says notify_subscribers = 0 (a
postmortem published quietly). An update written while its incident was private is
not sent later when the incident is published; the operator's next public
update is. A subscriber who chose components hears only about incidents and
maintenance touching one of them; one who chose none hears about everything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.timeutil import to_iso
from statuspage.notify import outbox
from statuspage.notify.outbox import NewNotification
from statuspage.settings import Settings
from statuspage.storage import fanout as stored
from statuspage.storage import sql, subscriptions
from statuspage.storage.drills import drill_of_incident
from statuspage.storage.sql import Store

log = logging.getLogger(__name__)

MAINTENANCE_EVENTS = {
    "scheduled": "maintenance.scheduled",
    "in_progress": "maintenance.started",
    "completed": "maintenance.completed",
}


@dataclass(frozen=True)
class Recipient:
    kind: str  # outbox.SUBSCRIBER_EMAIL | outbox.SUBSCRIBER_WEBHOOK
    destination: str
    subscription_id: int
    components: frozenset[str]
    unsubscribe_token: str


def fan_out(db: Store, settings: Settings, now: datetime, max_items: int = 50) -> int:
    """Turn up to `max_items` new updates / maintenance changes into outbox rows; return rows created."""
    created = 0
    for _ in range(max_items):
        queued = _fan_out_next_update(db, settings, now)
        if queued is None:
            break
        created += queued
    for maintenance_id, status in _unannounced_maintenance(db, max_items):
        created += _fan_out_maintenance(db, settings, maintenance_id, status, now)
    if created:
        log.info("fan-out queued notifications=%d", created)
    return created


def recipients(db: Store) -> list[Recipient]:
    """Confirmed email subscribers and active webhook subscriptions."""
    found = [
        Recipient(outbox.SUBSCRIBER_EMAIL, email, sid, frozenset(json.loads(components)), token)
        for sid, email, components, token in subscriptions.confirmed_subscribers(db)
    ]
    found += [
        Recipient(outbox.SUBSCRIBER_WEBHOOK, str(wid), wid, frozenset(json.loads(components)), token)
        for wid, components, token in subscriptions.active_webhooks(db)
    ]
    return found


def unsubscribe_url(settings: Settings, token: str) -> str:
    return f"{settings.page.url}/unsubscribe/{token}"


def _matching(all_recipients: Iterable[Recipient], components: set[str]) -> list[Recipient]:
    return [r for r in all_recipients if not r.components or r.components & components]


def _tells_subscribers(db: Store, incident: dict[str, Any], update: dict[str, Any]) -> bool:
    """Public incidents' updates go out; a drill's only when the operator asked for it."""
    if not update.get("notify_subscribers", 1):
        return False
    if incident["drill"]:
        drill = drill_of_incident(db, int(incident["id"]))
        return drill is not None and drill.notify_subscribers
    return bool(incident["public"])


def _fan_out_next_update(db: Store, settings: Settings, now: datetime) -> int | None:
    """Fan out the first update past the watermark and move the watermark to it, in one write;
    return the outbox rows created, or None when no update is new.

    The watermark is read inside the write transaction that moves it: read before it, two
    workers could both take update N, and the later one move the watermark back to N after
    the first had gone on to N+1 (the same race as rollups' in 1b9af35).
    """
    with sql.write(db):
        update_id = stored.next_update_id(db)
        if update_id is None:
            return None
        created = 0
        incident, update, first = _incident_and_update(db, update_id)
        if _tells_subscribers(db, incident, update):
            components = _incident_components(db, incident["id"], update)
            event = _incident_event(update["status"], first)
            base = _incident_payload(settings, incident, update, components, event, first, now)
            notifications = [
                NewNotification(
                    event,
                    r.kind,
                    r.destination,
                    {**base, "meta": {"unsubscribe": unsubscribe_url(settings, r.unsubscribe_token)}},
                    f"{r.kind}:{r.subscription_id}:incident_update:{update_id}",
                )
                for r in _matching(recipients(db), {c["id"] for c in components})
            ]
            created = outbox.enqueue(db, notifications, now)
        stored.set_update_watermark(db, update_id)
    return created


def _incident_and_update(db: Store, update_id: int) -> tuple[dict[str, Any], dict[str, Any], bool]:
    update = stored.update_row(db, update_id)
    incident = stored.incident_row(db, int(update["incident_id"]))
    first_id = stored.first_update_id(db, int(incident["id"]))
    return incident, update, first_id == update_id


def _incident_event(status: str, first: bool) -> str:
    if first:
        return "incident.created"
    if status in ("resolved", "postmortem"):
        return "incident.resolved"
    return "incident.updated"


def _incident_components(db: Store, incident_id: int, update: dict[str, Any]) -> list[dict[str, str]]:
    statuses = stored.incident_component_statuses(db, incident_id)
    try:
        affected = json.loads(update.get("affected_components") or "[]")
    except ValueError:
        affected = []
    for item in affected if isinstance(affected, list) else []:
        if isinstance(item, dict) and isinstance(item.get("component_id"), str):
            statuses[item["component_id"]] = str(
                item.get("new_status") or statuses.get(item["component_id"], "")
            )
    return [{"id": cid, "status": status} for cid, status in sorted(statuses.items())]


def _incident_payload(
    settings: Settings,
    incident: dict[str, Any],
    update: dict[str, Any],
    components: list[dict[str, str]],
    event: str,
    first: bool,
    now: datetime,
) -> dict[str, Any]:
    """The Statuspage-like webhook shape (incident with its new update), plus our envelope."""
    return {
        "type": event,
        "timestamp": to_iso(now),
        "page": {"name": settings.page.name, "url": settings.page.url},
        "incident": {
            "id": str(incident["id"]),
            "name": incident["title"],
            "status": incident["status"],
            "impact": incident["impact"],
            "created_at": incident["created_at"],
            "updated_at": incident["updated_at"],
            "resolved_at": incident["resolved_at"],
            "shortlink": f"{settings.page.url}/incidents/{incident['id']}",
            "components": [_component(settings, c["id"], c["status"]) for c in components],
            "incident_updates": [
                {
                    "id": str(update["id"]),
                    "incident_id": str(incident["id"]),
                    "status": update["status"],
                    "body": update["body"],
                    "created_at": update["created_at"],
                    "updated_at": update["created_at"],
                }
            ],
        },
        "thread": {"kind": "incident", "id": str(incident["id"]), "first": first, "part": str(update["id"])},
    }


def _component(settings: Settings, component_id: str, status: str) -> dict[str, str]:
    config = settings.component(component_id)
    return {"id": component_id, "name": config.name if config else component_id, "status": status}


def _unannounced_maintenance(db: Store, limit: int) -> list[tuple[int, str]]:
    return stored.unannounced_maintenance(db, limit)


def _fan_out_maintenance(
    db: Store, settings: Settings, maintenance_id: int, status: str, now: datetime
) -> int:
    with sql.write(db):
        maintenance = stored.maintenance_row(db, maintenance_id)
        component_ids = stored.maintenance_component_ids(db, maintenance_id)
        event = MAINTENANCE_EVENTS[status]
        base = {
            "type": event,
            "timestamp": to_iso(now),
            "page": {"name": settings.page.name, "url": settings.page.url},
            "scheduled_maintenance": {
                "id": str(maintenance_id),
                "name": maintenance["title"],
                "status": status,
                "body": maintenance["body"],
                "scheduled_for": maintenance["scheduled_for"],
                "scheduled_until": maintenance["scheduled_until"],
                "started_at": maintenance["started_at"],
                "completed_at": maintenance["completed_at"],
                "shortlink": f"{settings.page.url}/maintenance/{maintenance_id}",
                "components": [_component(settings, cid, "under_maintenance") for cid in component_ids],
            },
            "thread": {
                "kind": "maintenance",
                "id": str(maintenance_id),
                "first": status == "scheduled",
                "part": status,
            },
        }
        notifications = [
            NewNotification(
                event,
                r.kind,
                r.destination,
                {**base, "meta": {"unsubscribe": unsubscribe_url(settings, r.unsubscribe_token)}},
                f"{r.kind}:{r.subscription_id}:maintenance:{maintenance_id}:{status}",
            )
            for r in _matching(recipients(db), set(component_ids))
        ]
        created = outbox.enqueue(db, notifications, now)
        stored.mark_maintenance_announced(db, maintenance_id, status, now)
    return created
