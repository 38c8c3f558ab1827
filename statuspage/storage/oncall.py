"""On-call storage: responders and schedules made in the admin, overrides, contact verifications,
used action links, pages in the outbox.

Everything goes through the `statuspage.storage.sql` seam. The responders and
schedules of upwatch.toml are configuration (`[[responders]]`, `[[schedules]]`);
what changes at run time lives here: operators made responders in the admin UI/API,
schedules made there (their definition as JSON, in the fields of `[[schedules]]`),
overrides, personal settings.
Write functions expect the caller's transaction (`sql.write`) when several writes belong together.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.timeutil import from_iso, to_iso
from statuspage.oncall.rotation import Override
from statuspage.storage import sql
from statuspage.storage.sql import Store

LINK_KEY = "action_links"
PAGE_KEY_PREFIX = "incident:{incident_id}:escalation:"


@dataclass(frozen=True)
class StoredOverride:
    id: int
    schedule_id: str
    responder: str
    replaces: str | None
    starts_at: datetime
    ends_at: datetime
    note: str
    created_by: str
    created_at: datetime

    def to_override(self) -> Override:
        return Override(self.id, self.starts_at, self.ends_at, self.responder, self.replaces)


def address_hash(address: str) -> str:
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def signing_key(db: Store) -> str:
    """The random key that signs action links and feed URLs; made on first use, kept in the database."""
    found = sql.scalar(db, "SELECT value FROM oncall_keys WHERE name = :name", {"name": LINK_KEY})
    if found is not None:
        return str(found)
    with sql.write(db):
        sql.run(
            db,
            "INSERT INTO oncall_keys (name, value) VALUES (:name, :value) ON CONFLICT (name) DO NOTHING",
            {"name": LINK_KEY, "value": secrets.token_urlsafe(32)},
        )
    return str(sql.scalar(db, "SELECT value FROM oncall_keys WHERE name = :name", {"name": LINK_KEY}))


def _override(row: dict[str, Any]) -> StoredOverride:
    return StoredOverride(
        id=int(row["id"]),
        schedule_id=row["schedule_id"],
        responder=row["responder"],
        replaces=row["replaces"],
        starts_at=from_iso(row["starts_at"]),
        ends_at=from_iso(row["ends_at"]),
        note=row["note"],
        created_by=row["created_by"],
        created_at=from_iso(row["created_at"]),
    )


def overrides_of(db: Store, schedule_id: str, since: datetime | None = None) -> list[StoredOverride]:
    """A schedule's overrides that end after `since` (all when None), earliest first."""
    rows = sql.rows(
        db,
        "SELECT * FROM oncall_overrides WHERE schedule_id = :schedule AND ends_at > :since"
        " ORDER BY starts_at, id",
        {"schedule": schedule_id, "since": to_iso(since) if since else ""},
    )
    return [_override(row) for row in rows]


def get_override(db: Store, override_id: int) -> StoredOverride | None:
    row = sql.one(db, "SELECT * FROM oncall_overrides WHERE id = :id", {"id": override_id})
    return _override(row) if row else None


def insert_override(
    db: Store,
    *,
    schedule_id: str,
    responder: str,
    replaces: str | None,
    starts_at: datetime,
    ends_at: datetime,
    note: str,
    created_by: str,
    now: datetime,
) -> int:
    return sql.insert_returning_id(
        db,
        "INSERT INTO oncall_overrides (schedule_id, responder, replaces, starts_at, ends_at, note,"
        " created_by, created_at) VALUES (:schedule, :responder, :replaces, :starts, :ends, :note, :by, :now)"
        " RETURNING id",
        {
            "schedule": schedule_id,
            "responder": responder,
            "replaces": replaces,
            "starts": to_iso(starts_at),
            "ends": to_iso(ends_at),
            "note": note,
            "by": created_by,
            "now": to_iso(now),
        },
    )


def delete_override(db: Store, override_id: int) -> bool:
    return sql.run(db, "DELETE FROM oncall_overrides WHERE id = :id", {"id": override_id}) == 1


def claim_link(
    db: Store, nonce: str, incident_id: int, responder: str, action: str, now: datetime, client: str
) -> bool:
    """Record that a link acted; False when its nonce was used before (a replay)."""
    return (
        sql.run(
            db,
            "INSERT INTO oncall_link_uses (nonce, incident_id, responder, action, used_at, client_address)"
            " VALUES (:nonce, :incident, :responder, :action, :now, :client) ON CONFLICT (nonce) DO NOTHING",
            {
                "nonce": nonce,
                "incident": incident_id,
                "responder": responder,
                "action": action,
                "now": to_iso(now),
                "client": client[:100],
            },
        )
        == 1
    )


def link_used_at(db: Store, nonce: str) -> datetime | None:
    found = sql.scalar(db, "SELECT used_at FROM oncall_link_uses WHERE nonce = :nonce", {"nonce": nonce})
    return from_iso(found) if found else None


def request_verification(db: Store, responder: str, contact_id: str, address: str, now: datetime) -> None:
    sql.run(
        db,
        "INSERT INTO oncall_verifications (responder, contact_id, address_hash, requested_at)"
        " VALUES (:responder, :contact, :hash, :now)"
        " ON CONFLICT (responder, contact_id, address_hash)"
        " DO UPDATE SET requested_at = excluded.requested_at",
        {"responder": responder, "contact": contact_id, "hash": address_hash(address), "now": to_iso(now)},
    )


def mark_verified(db: Store, responder: str, contact_id: str, hashed: str, now: datetime) -> bool:
    """Stamp the verification; False when it was already verified (nothing changes then)."""
    sql.run(
        db,
        "INSERT INTO oncall_verifications (responder, contact_id, address_hash, requested_at)"
        " VALUES (:responder, :contact, :hash, :now)"
        " ON CONFLICT (responder, contact_id, address_hash) DO NOTHING",
        {"responder": responder, "contact": contact_id, "hash": hashed, "now": to_iso(now)},
    )
    changed = sql.run(
        db,
        "UPDATE oncall_verifications SET verified_at = :now WHERE responder = :responder"
        " AND contact_id = :contact AND address_hash = :hash AND verified_at IS NULL",
        {"responder": responder, "contact": contact_id, "hash": hashed, "now": to_iso(now)},
    )
    return changed == 1


def verified_contacts(db: Store) -> set[tuple[str, str, str]]:
    """(responder, contact id, address hash) of every verified contact method."""
    rows = sql.rows(
        db,
        "SELECT responder, contact_id, address_hash FROM oncall_verifications WHERE verified_at IS NOT NULL",
    )
    return {(r["responder"], r["contact_id"], r["address_hash"]) for r in rows}


def enqueue_page(
    db: Store,
    *,
    event: str,
    destination_kind: str,
    destination: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
    due_at: datetime,
) -> bool:
    """Queue one page (or notice) for a responder's contact, due at `due_at`; False if queued before."""
    return (
        sql.run(
            db,
            "INSERT INTO outbox (event, destination_kind, destination, payload, idempotency_key, created_at,"
            " next_attempt_at) VALUES (:event, :kind, :destination, :payload, :key, :now, :due)"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            {
                "event": event,
                "kind": destination_kind,
                "destination": destination,
                "payload": json.dumps(payload, default=str),
                "key": idempotency_key,
                "now": to_iso(now),
                "due": to_iso(due_at),
            },
        )
        == 1
    )


def cancel_pending_pages(db: Store, incident_id: int, reason: str, now: datetime) -> int:
    """Stop the personal pages of an incident not yet sent (acknowledged or resolved); return how many."""
    return sql.run(
        db,
        "UPDATE outbox SET failed_at = :now, last_error = :reason, claimed_until = NULL"
        " WHERE idempotency_key LIKE :prefix"
        " AND destination_kind IN ('responder_email', 'responder_apprise', 'responder_webhook')"
        " AND delivered_at IS NULL AND failed_at IS NULL"
        " AND (claimed_until IS NULL OR claimed_until <= :now)",
        {
            "now": to_iso(now),
            "reason": reason,
            "prefix": PAGE_KEY_PREFIX.format(incident_id=incident_id) + "%",
        },
    )


def personal_settings(db: Store) -> dict[str, dict[str, Any]]:
    """Responder -> {"contacts": [...], "rules": [...]} for responders who edited theirs."""
    rows = sql.rows(db, "SELECT responder, contacts, rules FROM oncall_personal")
    return {
        r["responder"]: {"contacts": json.loads(r["contacts"]), "rules": json.loads(r["rules"])} for r in rows
    }


def set_personal(
    db: Store,
    responder: str,
    contacts: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    by: str,
    now: datetime,
) -> None:
    sql.run(
        db,
        "INSERT INTO oncall_personal (responder, contacts, rules, updated_by, updated_at)"
        " VALUES (:responder, :contacts, :rules, :by, :now) ON CONFLICT (responder) DO UPDATE SET"
        " contacts = excluded.contacts, rules = excluded.rules, updated_by = excluded.updated_by,"
        " updated_at = excluded.updated_at",
        {
            "responder": responder,
            "contacts": json.dumps(contacts),
            "rules": json.dumps(rules),
            "by": by,
            "now": to_iso(now),
        },
    )


def clear_personal(db: Store, responder: str) -> bool:
    return sql.run(db, "DELETE FROM oncall_personal WHERE responder = :r", {"r": responder}) == 1


@dataclass(frozen=True)
class StoredSchedule:
    """A schedule made in the admin UI/API: `definition` holds the fields of `[[schedules]]`."""

    schedule_id: str
    definition: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime


def _schedule(row: dict[str, Any]) -> StoredSchedule:
    return StoredSchedule(
        schedule_id=row["schedule_id"],
        definition=json.loads(row["definition"]),
        created_by=row["created_by"],
        created_at=from_iso(row["created_at"]),
        updated_by=row["updated_by"],
        updated_at=from_iso(row["updated_at"]),
    )


def stored_schedules(db: Store) -> list[StoredSchedule]:
    """Every schedule made in the admin, by id."""
    return [_schedule(r) for r in sql.rows(db, "SELECT * FROM oncall_schedules ORDER BY schedule_id")]


def stored_schedule(db: Store, schedule_id: str) -> StoredSchedule | None:
    row = sql.one(db, "SELECT * FROM oncall_schedules WHERE schedule_id = :id", {"id": schedule_id})
    return _schedule(row) if row else None


def insert_schedule(db: Store, schedule_id: str, definition: dict[str, Any], by: str, now: datetime) -> bool:
    """Store a new schedule; False (nothing stored) when one with that id exists already."""
    return (
        sql.run(
            db,
            "INSERT INTO oncall_schedules (schedule_id, definition, created_by, created_at, updated_by,"
            " updated_at) VALUES (:id, :definition, :by, :now, :by, :now)"
            " ON CONFLICT (schedule_id) DO NOTHING",
            {"id": schedule_id, "definition": json.dumps(definition), "by": by, "now": to_iso(now)},
        )
        == 1
    )


def update_schedule(db: Store, schedule_id: str, definition: dict[str, Any], by: str, now: datetime) -> bool:
    """Replace a stored schedule's definition; False when there is none with that id."""
    return (
        sql.run(
            db,
            "UPDATE oncall_schedules SET definition = :definition, updated_by = :by, updated_at = :now"
            " WHERE schedule_id = :id",
            {"id": schedule_id, "definition": json.dumps(definition), "by": by, "now": to_iso(now)},
        )
        == 1
    )


def delete_schedule(db: Store, schedule_id: str) -> bool:
    """Remove a stored schedule and its overrides; False when there was none with that id."""
    gone = sql.run(db, "DELETE FROM oncall_schedules WHERE schedule_id = :id", {"id": schedule_id}) == 1
    if gone:
        sql.run(db, "DELETE FROM oncall_overrides WHERE schedule_id = :id", {"id": schedule_id})
    return gone


@dataclass(frozen=True)
class StoredResponder:
    """An operator account made a responder in the admin UI/API (not in `[[responders]]`)."""

    name: str
    display_name: str | None
    created_by: str
    created_at: datetime


def _responder(row: dict[str, Any]) -> StoredResponder:
    return StoredResponder(
        name=row["name"],
        display_name=row["display_name"],
        created_by=row["created_by"],
        created_at=from_iso(row["created_at"]),
    )


def stored_responders(db: Store) -> list[StoredResponder]:
    """Every responder made in the admin, by name."""
    return [_responder(r) for r in sql.rows(db, "SELECT * FROM oncall_responders ORDER BY name")]


def stored_responder(db: Store, name: str) -> StoredResponder | None:
    row = sql.one(db, "SELECT * FROM oncall_responders WHERE name = :name", {"name": name})
    return _responder(row) if row else None


def insert_responder(db: Store, name: str, display_name: str | None, by: str, now: datetime) -> bool:
    """Make `name` a responder; False (nothing stored) when it is one already."""
    return (
        sql.run(
            db,
            "INSERT INTO oncall_responders (name, display_name, created_by, created_at)"
            " VALUES (:name, :display_name, :by, :now) ON CONFLICT (name) DO NOTHING",
            {"name": name, "display_name": display_name, "by": by, "now": to_iso(now)},
        )
        == 1
    )


def delete_responder(db: Store, name: str) -> bool:
    """Stop `name` being a responder made in the admin, forgetting their contact methods, rules and
    verifications (made one again, they start afresh); False when there was none."""
    gone = sql.run(db, "DELETE FROM oncall_responders WHERE name = :name", {"name": name}) == 1
    if gone:
        sql.run(db, "DELETE FROM oncall_personal WHERE responder = :name", {"name": name})
        sql.run(db, "DELETE FROM oncall_verifications WHERE responder = :name", {"name": name})
    return gone


def overrides_naming(db: Store, name: str, since: datetime) -> list[StoredOverride]:
    """Overrides not over by `since` that put `name` on call or take a shift from them."""
    rows = sql.rows(
        db,
        "SELECT * FROM oncall_overrides WHERE (responder = :name OR replaces = :name) AND ends_at > :since"
        " ORDER BY starts_at, id",
        {"name": name, "since": to_iso(since)},
    )
    return [_override(r) for r in rows]
