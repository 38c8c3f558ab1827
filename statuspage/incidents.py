"""What operators do to incidents: plain functions the admin UI and API call.

Each function validates its input (raising `IncidentInputError` naming the
field, or `IncidentNotFound`), runs in one write transaction, and records:
- an `incident_events` row for every change (actor, time, what changed);
- an `incident_updates` row for every public change (status, body,
  affected components), which is what the page and subscribers see.
Bodies, root cause and postmortem are markdown stored as written; they are
sanitized when rendered (public page / admin), never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from shared.timeutil import to_iso
from statuspage.settings import Settings
from statuspage.storage import incidents as store
from statuspage.storage import oncall as oncall_store
from statuspage.storage import problems as problem_store
from statuspage.storage import sql
from statuspage.storage.outbox import enqueue
from statuspage.storage.sql import Store  # noqa: I001

MAX_BODY_CHARS = 20_000
MAX_TITLE_CHARS = 200
MAX_ACTOR_CHARS = 100
MAX_MARKDOWN_CHARS = 100_000
UPDATE_STATUSES = ("investigating", "identified", "monitoring", "resolved", "postmortem")


class IncidentInputError(ValueError):
    """Bad input from an operator; `field` names what is wrong (maps to HTTP 400/422)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class IncidentNotFound(LookupError):
    """No incident (or problem) with that id (maps to HTTP 404)."""


def create_incident(
    db: Store,
    settings: Settings,
    *,
    title: str,
    body: str,
    actor: str,
    now: datetime,
    status: str = "investigating",
    impact: str = "minor",
    components: Mapping[str, str] | None = None,
    public: bool = True,
) -> int:
    """Open a manual incident (not managed by the engine); return its id."""
    _text("title", title, MAX_TITLE_CHARS)
    _text("body", body, MAX_BODY_CHARS)
    _actor(actor)
    _choice("status", status, ("investigating", "identified", "monitoring"))
    _choice("impact", impact, store.IMPACTS)
    affected = _components(settings, components or {})
    with sql.write(db):
        return store.insert_incident(
            db,
            title=title.strip(),
            impact=impact,
            components=affected,
            body=body.strip(),
            actor=actor,
            now=now,
            status=status,
            kind="manual",
            public=public,
            auto=False,
        )


def acknowledge(db: Store, incident_id: int, actor: str, now: datetime) -> bool:
    """Acknowledge: stops escalation. Returns False (and changes nothing) if already acknowledged."""
    _actor(actor)
    with sql.write(db):
        _get(db, incident_id)
        if not store.acknowledge(db, incident_id, actor, now):
            return False
        store.record_event(db, incident_id, "acknowledged", actor, now)
        oncall_store.cancel_pending_pages(db, incident_id, "cancelled: acknowledged", now)
        return True


def post_update(
    db: Store,
    incident_id: int,
    status: str,
    body: str,
    actor: str,
    now: datetime,
    components: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> int:
    """Post a public update with a new (or the same) status; return the update's id.

    `resolved` stamps the resolution time, stops escalation and tells the channels
    already paged; `investigating`/`identified`/`monitoring` on a resolved incident
    reopens it; `postmortem` only follows `resolved`. Optional `components`
    (needs `settings`) replaces the affected components in the same step.
    """
    _choice("status", status, UPDATE_STATUSES)
    _text("body", body, MAX_BODY_CHARS)
    _actor(actor)
    if components is not None and settings is None:
        raise IncidentInputError("components", "settings are needed to validate component ids")
    with sql.write(db):
        incident = _get(db, incident_id)
        if status == "postmortem" and incident.status not in store.CLOSED_STATUSES:
            raise IncidentInputError("status", "postmortem follows resolved")
        new_components = incident.components
        if components is not None and settings is not None:
            new_components = _components(settings, components)
            store.set_components(db, incident_id, new_components, now)
        return _post(db, incident, status, body.strip(), actor, now, new_components)


def resolve(db: Store, incident_id: int, actor: str, now: datetime, body: str | None = None) -> int:
    """Resolve with a closing update (default text when `body` is None); return the update's id."""
    text = body if body is not None else "This incident has been resolved."
    return post_update(db, incident_id, "resolved", text, actor, now)


def change_impact(
    db: Store, incident_id: int, impact: str, actor: str, now: datetime, body: str | None = None
) -> int:
    """Set the impact by hand (the engine no longer changes it); return the public update's id."""
    _choice("impact", impact, store.IMPACTS)
    _actor(actor)
    if body is not None:
        _text("body", body, MAX_BODY_CHARS)
    with sql.write(db):
        incident = _get(db, incident_id)
        store.set_fields(db, incident_id, now, impact=impact, impact_manual=1)
        store.record_event(
            db, incident_id, "impact_changed", actor, now, {"old": incident.impact, "new": impact}
        )
        text = body.strip() if body else f"Impact changed to {impact}."
        return store.insert_update(
            db, incident_id, incident.status, text, actor, now, store.affected_components(incident.components)
        )


def set_components(
    db: Store,
    settings: Settings,
    incident_id: int,
    components: Mapping[str, str],
    actor: str,
    now: datetime,
    body: str | None = None,
) -> int:
    """Replace the affected components ({component id: status}); return the public update's id."""
    _actor(actor)
    if body is not None:
        _text("body", body, MAX_BODY_CHARS)
    affected = _components(settings, components)
    with sql.write(db):
        incident = _get(db, incident_id)
        store.set_components(db, incident_id, affected, now)
        store.record_event(
            db, incident_id, "components_changed", actor, now, {"old": incident.components, "new": affected}
        )
        names = ", ".join(sorted(affected)) or "none"
        text = body.strip() if body else f"Affected components: {names}."
        return store.insert_update(
            db,
            incident_id,
            incident.status,
            text,
            actor,
            now,
            store.affected_components(affected, incident.components),
        )


def publish(db: Store, incident_id: int, actor: str, now: datetime) -> bool:
    """Make a waiting incident public; its current state becomes a fresh public update.

    Returns False when it was already public. Drills can never be published.
    """
    _actor(actor)
    with sql.write(db):
        incident = _get(db, incident_id)
        if incident.drill:
            raise IncidentInputError("public", "a drill is never public")
        if incident.public:
            return False
        store.set_fields(db, incident_id, now, public=1, published_at=now)
        store.record_event(db, incident_id, "published", actor, now)
        latest = store.updates_of(db, incident_id)
        body = latest[-1].body if latest else incident.title
        store.insert_update(
            db, incident_id, incident.status, body, actor, now, store.affected_components(incident.components)
        )
        return True


def set_root_cause(db: Store, incident_id: int, markdown: str, actor: str, now: datetime) -> None:
    """Record the root cause (markdown; empty clears it)."""
    _text("root_cause", markdown, MAX_MARKDOWN_CHARS, allow_empty=True)
    _actor(actor)
    with sql.write(db):
        _get(db, incident_id)
        store.set_fields(db, incident_id, now, root_cause=markdown or None)
        store.record_event(db, incident_id, "root_cause_set", actor, now, {"chars": len(markdown)})


def set_postmortem(
    db: Store, incident_id: int, markdown: str, actor: str, now: datetime, publish: bool = False
) -> None:
    """Save the postmortem (markdown). `publish=True` (only once resolved) moves the incident to
    `postmortem` and posts a public update saying so."""
    _text("postmortem", markdown, MAX_MARKDOWN_CHARS, allow_empty=not publish)
    _actor(actor)
    with sql.write(db):
        incident = _get(db, incident_id)
        if publish and incident.status not in store.CLOSED_STATUSES:
            raise IncidentInputError("publish", "resolve the incident before publishing its postmortem")
        store.set_fields(db, incident_id, now, postmortem=markdown or None)
        store.record_event(db, incident_id, "postmortem_saved", actor, now, {"published": publish})
        if publish:
            store.set_fields(db, incident_id, now, postmortem_published_at=now)
            _post(
                db,
                incident,
                "postmortem",
                "A postmortem has been published.",
                actor,
                now,
                incident.components,
            )


def create_problem(db: Store, title: str, description: str, actor: str, now: datetime) -> int:
    """Open a problem record that incidents can be linked to; return its id."""
    _text("title", title, MAX_TITLE_CHARS)
    _text("description", description, MAX_MARKDOWN_CHARS, allow_empty=True)
    _actor(actor)
    with sql.write(db):
        return problem_store.insert_problem(db, title.strip(), description, actor, now)


def link_problem(db: Store, incident_id: int, problem_id: int | None, actor: str, now: datetime) -> None:
    """Link the incident to a problem record (None unlinks)."""
    _actor(actor)
    with sql.write(db):
        incident = _get(db, incident_id)
        if problem_id is not None and problem_store.get_problem(db, problem_id) is None:
            raise IncidentNotFound(f"problem {problem_id}")
        store.set_fields(db, incident_id, now, problem_id=problem_id)
        store.record_event(
            db, incident_id, "problem_linked", actor, now, {"old": incident.problem_id, "new": problem_id}
        )


def _post(
    db: Store,
    incident: store.Incident,
    status: str,
    body: str,
    actor: str,
    now: datetime,
    components: dict[str, str],
) -> int:
    """Write the status change, its update and its event; tell paged channels on resolve."""
    old = incident.status
    store.set_status(db, incident.id, status, now)
    update_id = store.insert_update(
        db, incident.id, status, body, actor, now, store.affected_components(components, incident.components)
    )
    kind = "status_changed" if old != status else "updated"
    store.record_event(db, incident.id, kind, actor, now, {"old": old, "new": status, "update_id": update_id})
    if status == "resolved" and old not in store.CLOSED_STATUSES:
        tell_paged(db, incident, "incident.resolved", f"Resolved: {incident.title}", now)
    return update_id


def tell_paged(db: Store, incident: store.Incident, event: str, message: str, now: datetime) -> int:
    """Enqueue `event` for every channel this incident has paged; return how many rows were new.

    Personal pages still waiting for their rule's delay are cancelled first: nobody is paged
    for a resolved incident, and nobody hears "resolved" about a page they never got."""
    oncall_store.cancel_pending_pages(db, incident.id, f"cancelled: {event}", now)
    count = 0
    for destination_kind, destination in store.paged_destinations(db, incident.id):
        count += enqueue(
            db,
            event=event,
            destination_kind=destination_kind,
            destination=destination,
            payload={"event": event, "message": message, "incident_id": incident.id, "title": incident.title},
            idempotency_key=f"incident:{incident.id}:{event}:{destination}:{to_iso(now)}",
            now=now,
        )
    return count


def _get(db: Store, incident_id: int) -> store.Incident:
    incident = store.get_incident(db, incident_id)
    if incident is None:
        raise IncidentNotFound(f"incident {incident_id}")
    return incident


def _components(settings: Settings, components: Mapping[str, str]) -> dict[str, str]:
    known = {c.id for c in settings.components}
    for component_id, status in components.items():
        if component_id not in known:
            raise IncidentInputError("components", f"unknown component {component_id!r}")
        _choice(f"components.{component_id}", status, store.COMPONENT_STATUSES)
    return dict(components)


def _choice(field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise IncidentInputError(field, f"must be one of {', '.join(allowed)}")


def _text(field: str, value: str, limit: int, allow_empty: bool = False) -> None:
    if not isinstance(value, str):
        raise IncidentInputError(field, "must be text")
    if not allow_empty and not value.strip():
        raise IncidentInputError(field, "must not be empty")
    if len(value) > limit:
        raise IncidentInputError(field, f"at most {limit} characters")
    if "\x00" in value:
        raise IncidentInputError(field, "must not contain NUL characters")


def _actor(actor: str) -> None:
    _text("actor", actor, MAX_ACTOR_CHARS)
