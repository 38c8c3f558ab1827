"""Postmortems: a template pre-filled from the incident, action items with owners, publishing.

The draft is markdown an operator edits (admin UI or `postmortem draft`):
summary, impact, a timeline from the incident's events and public updates,
the forensics captured when it opened, root cause, and action items. It is
published with `publish()`, which shows it on the incident page and, only
when asked, tells subscribers.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from shared.timeutil import format_duration
from statuspage import incidents as service
from statuspage.settings import Settings
from statuspage.storage import action_items as items_store
from statuspage.storage import incidents as store
from statuspage.storage import sql
from statuspage.storage.sql import Store  # noqa: I001

MAX_FORENSIC_LINES = 40
MAX_OWNER_CHARS = 100
MAX_ITEM_CHARS = 2000


def draft(db: Store, settings: Settings, incident_id: int, now: datetime) -> str:
    """Return the postmortem template for an incident, pre-filled. Raises IncidentNotFound."""
    incident = store.get_incident(db, incident_id)
    if incident is None:
        raise service.IncidentNotFound(f"incident {incident_id}")
    end = incident.resolved_at or now
    names = {c.id: c.name for c in settings.components}
    affected = ", ".join(
        f"{names.get(cid, cid)} ({status.replace('_', ' ')})" for cid, status in incident.components.items()
    )
    lines = [
        f"# Postmortem: {incident.title}",
        "",
        "## Summary",
        "",
        "_What happened, in two or three sentences a customer would understand._",
        "",
        "## Impact",
        "",
        f"- Duration: {format_duration(end - incident.created_at)}"
        f" ({incident.created_at:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"
        f"{'' if incident.resolved_at else ', still open'})",
        f"- Impact level: {incident.impact}",
        f"- Components: {affected or 'none recorded'}",
    ]
    if incident.acknowledged_at:
        lines.append(
            f"- Time to acknowledge: {format_duration(incident.acknowledged_at - incident.created_at)}"
        )
    lines += ["", "## Timeline (UTC)", "", *_timeline(db, incident_id), "", "## Forensics at opening", ""]
    lines += _forensics(incident.forensics)
    lines += [
        "",
        "## Root cause",
        "",
        incident.root_cause or "_Why it happened; the cause behind the trigger._",
    ]
    lines += ["", "## Action items", "", "| item | owner | due | done |", "|---|---|---|---|"]
    for item in items_store.action_items_of(db, incident_id):
        due = item.due_on.isoformat() if item.due_on else "-"
        lines.append(
            f"| {_cell(item.description)} | {_cell(item.owner)} | {due} | {'yes' if item.done_at else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def publish(
    db: Store, incident_id: int, markdown: str, actor: str, now: datetime, notify_subscribers: bool = False
) -> None:
    """Publish the postmortem on the incident page; subscribers are told only if asked.

    Raises IncidentInputError (e.g. the incident is still open) or IncidentNotFound.
    """
    with sql.write(db):
        service.set_postmortem(db, incident_id, markdown, actor, now, publish=True)
        if not notify_subscribers:
            store.keep_last_update_quiet(db, incident_id)


def add_action_item(
    db: Store,
    incident_id: int,
    description: str,
    owner: str,
    due_on: date | None,
    actor: str,
    now: datetime,
) -> int:
    """Add an action item with an owner; return its id. Raises IncidentInputError / IncidentNotFound."""
    description = description.strip()
    owner = owner.strip()
    if not description or len(description) > MAX_ITEM_CHARS:
        raise service.IncidentInputError("description", f"must be 1-{MAX_ITEM_CHARS} characters")
    if not owner or len(owner) > MAX_OWNER_CHARS:
        raise service.IncidentInputError("owner", f"must be 1-{MAX_OWNER_CHARS} characters")
    with sql.write(db):
        if store.get_incident(db, incident_id) is None:
            raise service.IncidentNotFound(f"incident {incident_id}")
        item_id = items_store.insert_action_item(db, incident_id, description, owner, due_on, actor, now)
        store.record_event(
            db, incident_id, "action_item_added", actor, now, {"item_id": item_id, "owner": owner}
        )
        return item_id


def complete_action_item(
    db: Store, incident_id: int, item_id: int, done: bool, actor: str, now: datetime
) -> None:
    with sql.write(db):
        if not items_store.set_done(db, item_id, done, now):
            raise service.IncidentNotFound(f"action item {item_id}")
        store.record_event(
            db,
            incident_id,
            "action_item_done" if done else "action_item_reopened",
            actor,
            now,
            {"item_id": item_id},
        )


def _timeline(db: Store, incident_id: int) -> list[str]:
    entries: list[tuple[datetime, str]] = []
    for event in store.events_of(db, incident_id):
        detail = ", ".join(f"{k}={v}" for k, v in event.data.items() if not isinstance(v, dict | list))
        entries.append(
            (
                event.at,
                f"{event.kind.replace('_', ' ')} by {event.actor}" + (f" ({detail})" if detail else ""),
            )
        )
    for update in store.updates_of(db, incident_id):
        entries.append((update.created_at, f"public update [{update.status}]: {_one_line(update.body)}"))
    return [f"- {at:%Y-%m-%d %H:%M:%S} — {text}" for at, text in sorted(entries, key=lambda e: e[0])]


def _forensics(snapshot: dict[str, Any]) -> list[str]:
    """Render the snapshot compactly; it is evidence, so keep it verbatim but bounded."""
    if not snapshot:
        return ["_No forensics were captured (a manual incident)._"]
    lines = ["```json"]
    text = json.dumps(snapshot, indent=2, default=str, sort_keys=True).splitlines()
    lines += text[:MAX_FORENSIC_LINES]
    if len(text) > MAX_FORENSIC_LINES:
        lines.append(f"... ({len(text) - MAX_FORENSIC_LINES} more lines in the admin UI)")
    lines.append("```")
    return lines


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")
