"""Store what the incident rules decided, and page through escalation policies.

Runs inside the evaluation's write transaction. Actor is always "engine".
Every action writes its timeline event; every public change its update row;
paging writes outbox rows (idempotency key per incident, round, level and
channel), claimed with a conditional UPDATE so two processes never page twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from shared.timeutil import to_iso
from statuspage.engine.escalation import first_due, next_step
from statuspage.engine.incidents import Action
from statuspage.forensics import snapshot
from statuspage.incidents import tell_paged
from statuspage.oncall.paging import page_target
from statuspage.settings import Settings
from statuspage.storage import incidents as store
from statuspage.storage.drills import attach_incident, running_drill_for
from statuspage.storage.maintenance import components_in_maintenance
from statuspage.storage.outbox import enqueue
from statuspage.storage.sql import Store  # noqa: I001
from statuspage.storage.status import set_episode

log = logging.getLogger(__name__)
ENGINE = "engine"


def apply_actions(db: Store, settings: Settings, actions: list[Action], now: datetime) -> list[int]:
    """Store the planned actions; return the ids of incidents opened. Call inside a transaction."""
    new_ids: dict[int, int] = {}
    opened: list[int] = []
    for action in actions:
        incident_id = new_ids.get(action.incident_id, action.incident_id)
        if action.kind == "open":
            real_id = _open(db, settings, action, now)
            new_ids[action.incident_id] = real_id
            opened.append(real_id)
        elif action.kind == "episode":
            set_episode(db, action.component_id or "", None)
        elif action.kind in ("join", "reopen", "component"):
            _component_change(db, action, incident_id, now)
        elif action.kind == "status":
            _status(db, action, incident_id, now)
        elif action.kind == "impact":
            incident = store.get_incident(db, incident_id)
            store.set_fields(db, incident_id, now, impact=action.impact)
            old = incident.impact if incident else None
            store.record_event(
                db, incident_id, "impact_changed", ENGINE, now, {"old": old, "new": action.impact}
            )
    return opened


def _open(db: Store, settings: Settings, action: Action, now: datetime) -> int:
    component_id = action.component_id or ""
    policy = settings.escalation_policy(action.escalation_policy or settings.default_escalation_policy)
    # During a drill the component's incident is the drill's: never public, marked in its title.
    drill = running_drill_for(db, component_id, now)
    try:
        incident_id = store.insert_incident(
            db,
            title=f"[DRILL] {action.title}" if drill else action.title,
            impact=action.impact,
            components={component_id: action.status or "major_outage"},
            body=action.body,
            actor=ENGINE,
            now=now,
            public=action.public and drill is None,
            drill=drill is not None,
            auto=True,
            episode_key=f"component:{component_id}",
            escalation_policy=policy.id if policy else None,
            next_escalation_at=first_due(policy, now) if policy else None,
            forensics=snapshot(db, settings, [component_id], now),
        )
    except store.IncidentAlreadyOpen as error:
        # Another evaluator got there first (the unique index is the arbiter).
        incident_id = error.incident_id or 0
    set_episode(db, component_id, incident_id)
    if drill is not None:
        attach_incident(db, drill.id, incident_id)
    return incident_id


def _component_change(db: Store, action: Action, incident_id: int, now: datetime) -> None:
    incident = store.get_incident(db, incident_id)
    if incident is None:
        return
    component_id = action.component_id or ""
    new_status = action.status or "major_outage"
    components = {**incident.components, component_id: new_status}
    store.set_components(db, incident_id, components, now)
    status = incident.status
    if action.kind == "reopen":
        status = "investigating"
        store.set_status(db, incident_id, status, now)
        if incident.escalation_policy and incident.acknowledged_at is None:
            store.set_fields(db, incident_id, now, next_escalation_at=now)  # carry on up the ladder
    old = action.affected.get(component_id, incident.components.get(component_id, "operational"))
    affected = [{"component_id": component_id, "old_status": old, "new_status": new_status}]
    update_id = store.insert_update(db, incident_id, status, action.body, ENGINE, now, affected)
    kind = {"join": "component_joined", "reopen": "reopened", "component": "component_changed"}[action.kind]
    store.record_event(
        db,
        incident_id,
        kind,
        ENGINE,
        now,
        {"component": component_id, "old": old, "new": new_status, "update_id": update_id},
    )
    if action.kind != "component":
        set_episode(db, component_id, incident_id)


def _status(db: Store, action: Action, incident_id: int, now: datetime) -> None:
    incident = store.get_incident(db, incident_id)
    if incident is None or action.status is None:
        return
    components = incident.components
    if action.status in ("resolved", "monitoring"):
        # Recovered: every affected component is operational again.
        components = {cid: "operational" for cid in incident.components}
        store.set_components(db, incident_id, components, now)
    store.set_status(db, incident_id, action.status, now)
    affected = store.affected_components(components, incident.components)
    update_id = store.insert_update(db, incident_id, action.status, action.body, ENGINE, now, affected)
    store.record_event(
        db,
        incident_id,
        "status_changed",
        ENGINE,
        now,
        {"old": incident.status, "new": action.status, "update_id": update_id},
    )
    if action.status == "resolved":
        tell_paged(db, incident, "incident.resolved", f"Resolved: {incident.title}", now)


def escalate_due(db: Store, settings: Settings, now: datetime) -> int:
    """Page the next level of every unacknowledged incident whose step is due; return rows enqueued.

    Incidents whose components are all under maintenance wait (nobody is paged
    for planned work). Call inside a write transaction.
    """
    enqueued = 0
    in_maintenance: set[str] | None = None
    for incident in store.due_escalations(db, now):
        policy = settings.escalation_policy(incident.escalation_policy)
        if policy is None:  # the policy left the config: stop rather than guess
            store.set_fields(db, incident.id, now, next_escalation_at=None)
            continue
        if in_maintenance is None:
            in_maintenance = components_in_maintenance(db, now)
        if incident.components and set(incident.components) <= in_maintenance:
            continue
        step = next_step(policy, incident.escalation_level, incident.escalation_round, now)
        if step is None:
            store.set_fields(db, incident.id, now, next_escalation_at=None)
            continue
        if not store.claim_escalation(db, incident, step.level, step.round, step.next_at):
            continue  # another worker took this step
        event = "incident.opened" if (step.level, step.round) == (0, 0) else "incident.escalated"
        payload = _payload(settings, incident, event, step.level, step.round)
        key_prefix = f"incident:{incident.id}:escalation:{step.round}:{step.level}"
        paged = []
        for target in step.targets or tuple(f"channel:{c}" for c in step.channels):
            kind, _, name = target.partition(":")
            if kind != "channel":
                page, queued = page_target(db, settings, target, incident.id, payload, key_prefix, now)
                enqueued += queued
                data = {"level": step.level, "target": target, "responder": page.responder}
                data.update({"reason": page.reason, "contacts": page.contacts, "text": page.text})
                store.record_event(
                    db, incident.id, "paged" if page.contacts else "not_paged", ENGINE, now, data
                )
                continue
            channel = settings.channel(name)
            if channel is None:
                log.warning("escalation channel missing channel=%s incident=%s", name, incident.id)
                continue
            enqueued += enqueue(
                db,
                event=event,
                destination_kind=channel.kind,
                destination=channel.id,
                payload=payload,
                idempotency_key=f"{key_prefix}:{channel.id}",
                now=now,
            )
            paged.append(channel.id)
        store.record_event(
            db,
            incident.id,
            "escalated",
            ENGINE,
            now,
            {"level": step.level, "round": step.round, "channels": paged},
        )
    return enqueued


def _payload(
    settings: Settings, incident: store.Incident, event: str, level: int, round_: int
) -> dict[str, Any]:
    return {
        "event": event,
        "level": level,
        "round": round_,
        "message": f"[{incident.impact}] {incident.title}",
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "status": incident.status,
            "impact": incident.impact,
            "public": incident.public,
            "components": incident.components,
            "created_at": to_iso(incident.created_at),
            "url": f"{settings.page.url}/incidents/{incident.id}",
        },
    }
