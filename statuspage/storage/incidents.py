"""Incidents, their public updates, affected components and operator timeline: all the SQL.

Contract for readers (public page, admin, notifications):
- `incidents.status` and `impact` use Statuspage's enums exactly.
- Every public state change writes one `incident_updates` row (status, body,
  affected_components JSON). Rows of a non-public incident are drafts: a
  subscriber scan should skip incidents with `public = 0`; publishing writes a
  fresh update, so the moment of publishing is itself a new row.
- Every change writes one `incident_events` row (actor, time, kind, data).
- `episode_key` ("component:<id>", "agent:<name>") allows one open incident
  per key; `IncidentAlreadyOpen` is raised on a second one.

Write functions expect to run inside a transaction (`storage.transaction.immediate`);
they never commit on their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store
from statuspage.storage.status import record_shown_history

IncidentStatus = Literal["investigating", "identified", "monitoring", "resolved", "postmortem"]
Impact = Literal["none", "minor", "major", "critical"]
INCIDENT_STATUSES: tuple[str, ...] = ("investigating", "identified", "monitoring", "resolved", "postmortem")
IMPACTS: tuple[str, ...] = ("none", "minor", "major", "critical")
COMPONENT_STATUSES: tuple[str, ...] = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
)
CLOSED_STATUSES = ("resolved", "postmortem")


class IncidentAlreadyOpen(Exception):
    """An incident with this episode key is already open (its id is `incident_id`)."""

    def __init__(self, episode_key: str, incident_id: int | None):
        super().__init__(f"incident already open for {episode_key}: {incident_id}")
        self.episode_key = episode_key
        self.incident_id = incident_id


@dataclass(frozen=True)
class Incident:
    """One incident row with its affected components (component id -> status it caused)."""

    id: int
    title: str
    status: str
    impact: str
    kind: str
    public: bool
    auto: bool
    drill: bool
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    root_cause: str | None
    postmortem: str | None
    postmortem_published_at: datetime | None
    problem_id: int | None
    forensics: dict[str, Any]
    episode_key: str | None
    impact_manual: bool
    published_at: datetime | None
    escalation_policy: str | None
    escalation_level: int
    escalation_round: int
    next_escalation_at: datetime | None
    components: dict[str, str] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES


@dataclass(frozen=True)
class IncidentUpdate:
    id: int
    incident_id: int
    status: str
    body: str
    created_at: datetime
    actor: str
    affected_components: list[dict[str, str]]


@dataclass(frozen=True)
class IncidentEvent:
    id: int
    incident_id: int
    at: datetime
    actor: str
    kind: str
    data: dict[str, Any]


def _time(value: object) -> datetime | None:
    return from_iso(str(value)) if value else None


def _rows(db: Store, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return sql.rows(db, query, params)


def _incident(row: dict[str, Any], components: dict[str, str]) -> Incident:
    return Incident(
        id=int(row["id"]),
        title=row["title"],
        status=row["status"],
        impact=row["impact"],
        kind=row["kind"],
        public=bool(row["public"]),
        auto=bool(row["auto"]),
        drill=bool(row["drill"]),
        created_at=from_iso(row["created_at"]),
        updated_at=from_iso(row["updated_at"]),
        acknowledged_at=_time(row["acknowledged_at"]),
        acknowledged_by=row["acknowledged_by"],
        resolved_at=_time(row["resolved_at"]),
        root_cause=row["root_cause"],
        postmortem=row["postmortem"],
        postmortem_published_at=_time(row["postmortem_published_at"]),
        problem_id=row["problem_id"],
        forensics=json.loads(row["forensics"] or "{}"),
        episode_key=row["episode_key"],
        impact_manual=bool(row["impact_manual"]),
        published_at=_time(row["published_at"]),
        escalation_policy=row["escalation_policy"],
        escalation_level=int(row["escalation_level"]),
        escalation_round=int(row["escalation_round"]),
        next_escalation_at=_time(row["next_escalation_at"]),
        components=components,
    )


def _select(db: Store, clause: str, params: dict[str, Any]) -> list[Incident]:
    rows = _rows(db, f"SELECT * FROM incidents {clause}", params)  # noqa: S608 - clause is ours
    if not rows:
        return []
    ids = [int(r["id"]) for r in rows]
    marks, id_params = sql.in_list("incident", ids)
    components: dict[int, dict[str, str]] = {i: {} for i in ids}
    for incident_id, component_id, status in sql.tuples(
        db,
        "SELECT incident_id, component_id, status FROM incident_components WHERE incident_id IN"  # noqa: S608
        f" ({marks})"
        " ORDER BY component_id",
        id_params,
    ):
        components[int(incident_id)][component_id] = status
    return [_incident(r, components[int(r["id"])]) for r in rows]


def get_incident(db: Store, incident_id: int) -> Incident | None:
    found = _select(db, "WHERE id = :id", {"id": incident_id})
    return found[0] if found else None


def list_incidents(
    db: Store,
    *,
    open_only: bool = False,
    public_only: bool = False,
    kind: str | None = None,
    limit: int = 100,
) -> list[Incident]:
    """Incidents newest first, optionally only open / only public (drills never public) / one kind."""
    where: list[str] = []
    if open_only:
        where.append("status NOT IN ('resolved', 'postmortem')")
    if public_only:
        where.append("public = 1 AND drill = 0")
    if kind is not None:
        where.append("kind = :kind")
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    return _select(
        db, f"{clause} ORDER BY created_at DESC, id DESC LIMIT :limit", {"kind": kind, "limit": limit}
    )


def open_incident_for_episode(db: Store, episode_key: str) -> Incident | None:
    found = _select(
        db,
        "WHERE episode_key = :episode_key AND status NOT IN ('resolved', 'postmortem')",
        {"episode_key": episode_key},
    )
    return found[0] if found else None


def latest_incident_for_episode(db: Store, episode_key: str) -> Incident | None:
    """The newest incident of an episode key, open or not (for reopening within a cooldown)."""
    found = _select(
        db,
        "WHERE episode_key = :episode_key ORDER BY created_at DESC, id DESC LIMIT 1",
        {"episode_key": episode_key},
    )
    return found[0] if found else None


def affected_components(
    components: dict[str, str], previous: dict[str, str] | None = None
) -> list[dict[str, str]]:
    """The `affected_components` JSON shape: [{component_id, old_status, new_status}]."""
    before = previous or {}
    return [
        {"component_id": cid, "old_status": before.get(cid, "operational"), "new_status": status}
        for cid, status in sorted(components.items())
    ]


def _insert_incident_row(db: Store, values: dict[str, Any]) -> int:
    return sql.insert_returning_id(
        db,
        "INSERT INTO incidents (title, status, impact, kind, public, auto, drill, created_at, updated_at,"
        " forensics, episode_key, published_at, escalation_policy, next_escalation_at)"
        " VALUES (:title, :status, :impact, :kind, :public, :auto, :drill, :created_at, :updated_at,"
        " :forensics, :episode_key, :published_at, :escalation_policy, :next_escalation_at) RETURNING id",
        values,
    )


def insert_incident(
    db: Store,
    *,
    title: str,
    impact: str,
    components: dict[str, str],
    body: str,
    actor: str,
    now: datetime,
    status: str = "investigating",
    kind: str = "service",
    public: bool = True,
    auto: bool = False,
    drill: bool = False,
    episode_key: str | None = None,
    escalation_policy: str | None = None,
    next_escalation_at: datetime | None = None,
    forensics: dict[str, Any] | None = None,
) -> int:
    """Insert an incident with its components, first public update and `opened` event; return its id.

    Raises IncidentAlreadyOpen when `episode_key` already has an open incident.
    """
    at = to_iso(now)
    try:
        # The savepoint keeps the caller's transaction usable on PostgreSQL after the
        # one-open-incident-per-episode index refuses the insert (IncidentAlreadyOpen).
        with sql.savepoint(db):
            new_id = _insert_incident_row(
                db,
                {
                    "title": title,
                    "status": status,
                    "impact": impact,
                    "kind": kind,
                    "public": int(public),
                    "auto": int(auto),
                    "drill": int(drill),
                    "created_at": at,
                    "updated_at": at,
                    "forensics": json.dumps(forensics or {}, default=str),
                    "episode_key": episode_key,
                    "published_at": at if public else None,
                    "escalation_policy": escalation_policy,
                    "next_escalation_at": to_iso(next_escalation_at) if next_escalation_at else None,
                },
            )
    except sql.IntegrityError:
        existing = open_incident_for_episode(db, episode_key or "")
        raise IncidentAlreadyOpen(episode_key or "", existing.id if existing else None) from None
    incident_id = new_id
    for component_id, component_status in components.items():
        sql.run(
            db,
            "INSERT INTO incident_components (incident_id, component_id, status) VALUES (:incident_id,"
            " :component_id, :status)",
            {"incident_id": incident_id, "component_id": component_id, "status": component_status},
        )
    insert_update(db, incident_id, status, body, actor, now, affected_components(components))
    record_event(
        db, incident_id, "opened", actor, now, {"status": status, "impact": impact, "public": public}
    )
    record_shown_history(db, now)
    return incident_id


def insert_update(
    db: Store,
    incident_id: int,
    status: str,
    body: str,
    actor: str,
    now: datetime,
    affected: list[dict[str, str]] | None = None,
) -> int:
    """Append one public update row; return its id. Does not change the incident row."""
    new_id = sql.insert_returning_id(
        db,
        "INSERT INTO incident_updates (incident_id, status, body, created_at, actor, affected_components)"
        " VALUES (:incident_id, :status, :body, :created_at, :actor, :affected_components) RETURNING id",
        {
            "incident_id": incident_id,
            "status": status,
            "body": body,
            "created_at": to_iso(now),
            "actor": actor,
            "affected_components": json.dumps(affected or []),
        },
    )
    return new_id


def keep_last_update_quiet(db: Store, incident_id: int) -> None:
    """Mark the incident's newest public update as not for subscribers (it still shows on the page)."""
    sql.run(
        db,
        "UPDATE incident_updates SET notify_subscribers = 0"
        " WHERE id = (SELECT max(id) FROM incident_updates WHERE incident_id = :incident_id)",
        {"incident_id": incident_id},
    )


def record_event(
    db: Store, incident_id: int, kind: str, actor: str, now: datetime, data: dict[str, Any] | None = None
) -> int:
    """Append one timeline event; return its id."""
    new_id = sql.insert_returning_id(
        db,
        "INSERT INTO incident_events (incident_id, at, actor, kind, data) VALUES (:incident_id, :at,"
        " :actor, :kind, :data) RETURNING id",
        {
            "incident_id": incident_id,
            "at": to_iso(now),
            "actor": actor,
            "kind": kind,
            "data": json.dumps(data or {}, default=str),
        },
    )
    return new_id


def set_status(db: Store, incident_id: int, status: str, now: datetime) -> None:
    """Change the status; `resolved` stamps resolved_at and stops escalation, reopening clears both."""
    at = to_iso(now)
    if status in CLOSED_STATUSES:
        sql.run(
            db,
            "UPDATE incidents SET status = :status, updated_at = :updated_at, resolved_at ="
            " COALESCE(resolved_at, :updated_at),"
            " next_escalation_at = NULL WHERE id = :id",
            {"status": status, "updated_at": at, "id": incident_id},
        )
    else:
        sql.run(
            db,
            "UPDATE incidents SET status = :status, updated_at = :updated_at, resolved_at = NULL WHERE id ="
            " :id",
            {"status": status, "updated_at": at, "id": incident_id},
        )
    record_shown_history(db, now)


def set_fields(db: Store, incident_id: int, now: datetime, **values: Any) -> None:
    """Update plain columns (title, impact, impact_manual, public, published_at, root_cause,
    postmortem, postmortem_published_at, problem_id, forensics, next_escalation_at)."""
    allowed = {
        "title",
        "impact",
        "impact_manual",
        "public",
        "published_at",
        "root_cause",
        "postmortem",
        "postmortem_published_at",
        "problem_id",
        "forensics",
        "next_escalation_at",
    }
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    encoded = {k: (to_iso(v) if isinstance(v, datetime) else v) for k, v in values.items()}
    if "forensics" in encoded:
        encoded["forensics"] = json.dumps(encoded["forensics"], default=str)
    assignments = ", ".join(f"{k} = :{k}" for k in encoded)
    sql.run(
        db,
        f"UPDATE incidents SET {assignments}, updated_at = :now WHERE id = :incident_id",  # noqa: S608 - keys allow-listed
        {**encoded, "now": to_iso(now), "incident_id": incident_id},
    )
    if "public" in encoded:
        record_shown_history(db, now)


def set_components(db: Store, incident_id: int, components: dict[str, str], now: datetime) -> None:
    """Replace the incident's affected components with `components` (what it declares at `now`)."""
    sql.run(
        db, "DELETE FROM incident_components WHERE incident_id = :incident_id", {"incident_id": incident_id}
    )
    for component_id, component_status in components.items():
        sql.run(
            db,
            "INSERT INTO incident_components (incident_id, component_id, status) VALUES (:incident_id,"
            " :component_id, :status)",
            {"incident_id": incident_id, "component_id": component_id, "status": component_status},
        )
    record_shown_history(db, now)


def acknowledge(db: Store, incident_id: int, actor: str, now: datetime) -> bool:
    """Stamp the first acknowledgement and stop escalation; False if already acknowledged."""
    changed = sql.run(
        db,
        "UPDATE incidents SET acknowledged_at = :now, acknowledged_by = :actor, next_escalation_at = NULL,"
        " updated_at = :now WHERE id = :id AND acknowledged_at IS NULL",
        {"now": to_iso(now), "actor": actor, "id": incident_id},
    )
    return changed == 1


def updates_of(db: Store, incident_id: int) -> list[IncidentUpdate]:
    """Public updates of one incident, oldest first."""
    return [
        IncidentUpdate(
            id=int(r["id"]),
            incident_id=int(r["incident_id"]),
            status=r["status"],
            body=r["body"],
            created_at=from_iso(r["created_at"]),
            actor=r["actor"],
            affected_components=json.loads(r["affected_components"]),
        )
        for r in _rows(
            db,
            "SELECT * FROM incident_updates WHERE incident_id = :incident_id ORDER BY id",
            {"incident_id": incident_id},
        )
    ]


def events_of(db: Store, incident_id: int) -> list[IncidentEvent]:
    """The operator timeline of one incident, oldest first."""
    return [
        IncidentEvent(
            id=int(r["id"]),
            incident_id=int(r["incident_id"]),
            at=from_iso(r["at"]),
            actor=r["actor"],
            kind=r["kind"],
            data=json.loads(r["data"]),
        )
        for r in _rows(
            db,
            "SELECT * FROM incident_events WHERE incident_id = :incident_id ORDER BY id",
            {"incident_id": incident_id},
        )
    ]


def due_escalations(db: Store, now: datetime) -> list[Incident]:
    """Open, unacknowledged incidents whose next escalation step is due."""
    return _select(
        db,
        "WHERE next_escalation_at IS NOT NULL AND next_escalation_at <= :now AND acknowledged_at IS NULL"
        " AND status NOT IN ('resolved', 'postmortem') ORDER BY next_escalation_at",
        {"now": to_iso(now)},
    )


def claim_escalation(
    db: Store,
    incident: Incident,
    level: int,
    round_: int,
    next_at: datetime | None,
) -> bool:
    """Move an incident to escalation `level`/`round_` only if nobody else did (conditional UPDATE).

    True means this caller owns the step and must write its outbox rows in the same transaction.
    """
    changed = sql.run(
        db,
        "UPDATE incidents SET escalation_level = :level, escalation_round = :round, next_escalation_at ="
        " :next_at"
        " WHERE id = :id AND escalation_level = :old_level AND escalation_round = :old_round"
        " AND acknowledged_at IS NULL"
        " AND status NOT IN ('resolved', 'postmortem')",
        {
            "level": level,
            "round": round_,
            "next_at": to_iso(next_at) if next_at else None,
            "id": incident.id,
            "old_level": incident.escalation_level,
            "old_round": incident.escalation_round,
        },
    )
    return changed == 1


def paged_destinations(db: Store, incident_id: int) -> list[tuple[str, str]]:
    """(destination_kind, destination) pairs this incident's escalation has paged so far
    (rows stopped before any attempt, such as cancelled personal pages, do not count)."""
    prefix = f"incident:{incident_id}:escalation:"
    rows = sql.tuples(
        db,
        "SELECT DISTINCT destination_kind, destination FROM outbox"
        " WHERE substr(idempotency_key, 1, :length) = :prefix"
        " AND NOT (failed_at IS NOT NULL AND attempts = 0) ORDER BY destination",
        {"length": len(prefix), "prefix": prefix},
    )
    return [(str(kind), str(dest)) for kind, dest in rows]
