"""Automated response: orders for agents' remediation actions, their results, the actions each
agent offers, and the stored half of the kill switch. All SQL goes through `storage.sql`.

Order statuses: `awaiting_approval` (a person must approve), `pending` (the
agent receives it with its assignments until it expires), `done` (the agent's
result arrived; `outcome` says what happened), `expired` (nobody ran it in
time), `cancelled` (the kill switch), `skipped` (a rule chose not to ask:
maintenance, drill, an agent that does not offer the action; kept so the
decision is made, and told, once).
Write functions expect to run inside `sql.write(db)`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.schema import ActionResult
from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store

PAUSED_KEY = "responses_paused_by"
OPEN_STATUSES = ("awaiting_approval", "pending")


@dataclass(frozen=True)
class Order:
    id: int
    order_uid: str
    incident_id: int
    rule_id: str | None
    attempt: int
    agent_name: str
    action_id: str
    status: str
    requested_by: str
    created_at: datetime
    expires_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    outcome: str | None
    exit_code: int | None
    timed_out: bool
    duration_s: float | None
    stdout: str
    stderr: str
    reason: str | None
    finished_at: datetime | None
    rechecked: bool


def _time(value: Any) -> datetime | None:
    return from_iso(str(value)) if value else None


def _order(row: dict[str, Any]) -> Order:
    return Order(
        id=int(row["id"]),
        order_uid=str(row["order_uid"]),
        incident_id=int(row["incident_id"]),
        rule_id=row["rule_id"],
        attempt=int(row["attempt"]),
        agent_name=str(row["agent_name"]),
        action_id=str(row["action_id"]),
        status=str(row["status"]),
        requested_by=str(row["requested_by"]),
        created_at=from_iso(str(row["created_at"])),
        expires_at=from_iso(str(row["expires_at"])),
        approved_by=row["approved_by"],
        approved_at=_time(row["approved_at"]),
        outcome=row["outcome"],
        exit_code=row["exit_code"],
        timed_out=bool(row["timed_out"]),
        duration_s=row["duration_s"],
        stdout=row["stdout"] or "",
        stderr=row["stderr"] or "",
        reason=row["reason"],
        finished_at=_time(row["finished_at"]),
        rechecked=bool(row["rechecked"]),
    )


def insert_order(
    db: Store,
    *,
    incident_id: int,
    agent_name: str,
    action_id: str,
    status: str,
    requested_by: str,
    now: datetime,
    expires_at: datetime,
    rule_id: str | None = None,
    attempt: int = 1,
    dedupe_key: str | None = None,
    reason: str | None = None,
) -> int | None:
    """Store a new order; return its id, or None when `dedupe_key` exists already (decided before)."""
    value = sql.scalar(
        db,
        "INSERT INTO response_orders (order_uid, dedupe_key, incident_id, rule_id, attempt, agent_name,"
        " action_id, status, requested_by, created_at, expires_at, reason)"
        " VALUES (:uid, :key, :incident, :rule, :attempt, :agent, :action, :status, :by, :now, :expires,"
        " :reason) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        {
            "uid": str(uuid.uuid4()),
            "key": dedupe_key,
            "incident": incident_id,
            "rule": rule_id,
            "attempt": attempt,
            "agent": agent_name,
            "action": action_id,
            "status": status,
            "by": requested_by,
            "now": to_iso(now),
            "expires": to_iso(expires_at),
            "reason": reason,
        },
    )
    return int(value) if value is not None else None


def get_order(db: Store, order_id: int) -> Order | None:
    if not 0 < order_id < 2**63:  # ids from URLs: larger ones do not exist (and overflow SQLite)
        return None
    row = sql.one(db, "SELECT * FROM response_orders WHERE id = :id", {"id": order_id})
    return _order(row) if row else None


def order_by_uid(db: Store, order_uid: str) -> Order | None:
    row = sql.one(db, "SELECT * FROM response_orders WHERE order_uid = :uid", {"uid": order_uid})
    return _order(row) if row else None


def orders_of_incident(db: Store, incident_id: int) -> list[Order]:
    rows = sql.rows(
        db, "SELECT * FROM response_orders WHERE incident_id = :id ORDER BY id", {"id": incident_id}
    )
    return [_order(row) for row in rows]


def recent_orders(db: Store, limit: int = 100) -> list[Order]:
    rows = sql.rows(db, "SELECT * FROM response_orders ORDER BY id DESC LIMIT :limit", {"limit": limit})
    return [_order(row) for row in rows]


def pending_for_agent(db: Store, agent_name: str, now: datetime) -> list[Order]:
    """Orders the agent must receive now: pending and not expired, oldest first."""
    rows = sql.rows(
        db,
        "SELECT * FROM response_orders WHERE status = 'pending' AND agent_name = :agent"
        " AND expires_at > :now ORDER BY id",
        {"agent": agent_name, "now": to_iso(now)},
    )
    return [_order(row) for row in rows]


def rule_orders(db: Store, rule_id: str, incident_id: int) -> list[Order]:
    """Every order (skips included) a rule made for an incident, oldest first."""
    rows = sql.rows(
        db,
        "SELECT * FROM response_orders WHERE rule_id = :rule AND incident_id = :incident ORDER BY id",
        {"rule": rule_id, "incident": incident_id},
    )
    return [_order(row) for row in rows]


def approve(db: Store, order_id: int, actor: str, now: datetime, expires_at: datetime) -> bool:
    """awaiting_approval -> pending (the conditional UPDATE is the claim); False if not waiting."""
    return (
        sql.run(
            db,
            "UPDATE response_orders SET status = 'pending', approved_by = :actor, approved_at = :now,"
            " expires_at = :expires WHERE id = :id AND status = 'awaiting_approval' AND expires_at > :now",
            {"actor": actor, "now": to_iso(now), "expires": to_iso(expires_at), "id": order_id},
        )
        == 1
    )


def has_open_orders(db: Store) -> bool:
    """Whether any order still waits (for approval or for its agent)."""
    found = sql.scalar(
        db, "SELECT 1 FROM response_orders WHERE status IN ('awaiting_approval', 'pending') LIMIT 1"
    )
    return found is not None


def expire_due(db: Store, now: datetime) -> list[Order]:
    """Move open orders past their expiry to `expired`; return them (each claimed once)."""
    due = sql.rows(
        db,
        "SELECT * FROM response_orders WHERE status IN ('awaiting_approval', 'pending')"
        " AND expires_at <= :now",
        {"now": to_iso(now)},
    )
    expired = []
    for row in due:
        claimed = sql.run(
            db,
            "UPDATE response_orders SET status = 'expired', finished_at = :now"
            " WHERE id = :id AND status IN ('awaiting_approval', 'pending')",
            {"now": to_iso(now), "id": row["id"]},
        )
        if claimed:
            expired.append(_order(row))
    return expired


def cancel_open(db: Store, now: datetime, reason: str) -> list[Order]:
    """Cancel every order not yet run (the kill switch); return them."""
    rows = sql.rows(db, "SELECT * FROM response_orders WHERE status IN ('awaiting_approval', 'pending')")
    cancelled = []
    for row in rows:
        if sql.run(
            db,
            "UPDATE response_orders SET status = 'cancelled', finished_at = :now, reason = :reason"
            " WHERE id = :id AND status IN ('awaiting_approval', 'pending')",
            {"now": to_iso(now), "reason": reason, "id": row["id"]},
        ):
            cancelled.append(_order(row))
    return cancelled


def record_result(db: Store, order_id: int, result: ActionResult, now: datetime) -> bool:
    """Store the agent's result once (a repeat delivery changes nothing); True when stored now.

    A result wins over expiry or cancellation recorded meanwhile: the agent did act.
    """
    return (
        sql.run(
            db,
            "UPDATE response_orders SET status = 'done', outcome = :outcome, exit_code = :exit_code,"
            " timed_out = :timed_out, duration_s = :duration, stdout = :stdout, stderr = :stderr,"
            " reason = :reason, finished_at = :now WHERE id = :id AND outcome IS NULL",
            {
                "outcome": result.outcome,
                "exit_code": result.exit_code,
                "timed_out": int(result.timed_out),
                "duration": result.duration_s,
                "stdout": result.stdout,
                "stderr": result.stderr,
                "reason": result.reason,
                "now": to_iso(now),
                "id": order_id,
            },
        )
        == 1
    )


def mark_rechecked(db: Store, order_id: int) -> bool:
    return (
        sql.run(
            db, "UPDATE response_orders SET rechecked = 1 WHERE id = :id AND rechecked = 0", {"id": order_id}
        )
        == 1
    )


def record_offered_actions(db: Store, agent_name: str, actions: list[str], now: datetime) -> None:
    """Remember the action ids an agent offers (written only when they change)."""
    encoded = json.dumps(sorted(set(actions)))
    current = sql.scalar(
        db, "SELECT actions FROM agent_actions WHERE agent_name = :name", {"name": agent_name}
    )
    if current == encoded:
        return
    with sql.write(db):
        sql.run(
            db,
            "INSERT INTO agent_actions (agent_name, actions, reported_at) VALUES (:name, :actions, :now)"
            " ON CONFLICT (agent_name) DO UPDATE SET actions = excluded.actions,"
            " reported_at = excluded.reported_at",
            {"name": agent_name, "actions": encoded, "now": to_iso(now)},
        )


def offered_actions(db: Store) -> dict[str, list[str]]:
    """Agent name -> the action ids it reported (agents that never reported are absent)."""
    rows = sql.rows(db, "SELECT agent_name, actions FROM agent_actions")
    return {str(row["agent_name"]): list(json.loads(row["actions"])) for row in rows}


def paused_by(db: Store) -> str | None:
    """Who switched automated responses off in the admin UI (None: not paused there)."""
    value = sql.scalar(db, "SELECT value FROM engine_state WHERE key = :key", {"key": PAUSED_KEY})
    return str(value) if value else None


def set_paused(db: Store, actor: str | None) -> None:
    if actor is None:
        sql.run(db, "DELETE FROM engine_state WHERE key = :key", {"key": PAUSED_KEY})
        return
    sql.run(
        db,
        "INSERT INTO engine_state (key, value) VALUES (:key, :value)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        {"key": PAUSED_KEY, "value": actor},
    )


def approval_page_key(order: Order) -> str:
    """The idempotency-key prefix of the pages asking a person to approve `order`."""
    return f"incident:{order.incident_id}:approval:{order.id}"


def withdraw_approval_pages(db: Store, order: Order, reason: str, now: datetime) -> int:
    """Stop the approval pages of a decided order not yet sent (a personal rule's delay); return how many."""
    return sql.run(
        db,
        "UPDATE outbox SET failed_at = :now, last_error = :reason, claimed_until = NULL"
        " WHERE idempotency_key LIKE :prefix AND delivered_at IS NULL AND failed_at IS NULL"
        " AND (claimed_until IS NULL OR claimed_until <= :now)",
        {"now": to_iso(now), "reason": reason, "prefix": approval_page_key(order) + ":%"},
    )


def cancel_awaiting_of_closed(db: Store, now: datetime) -> list[Order]:
    """Cancel the orders still awaiting approval of incidents already resolved; return them."""
    rows = sql.rows(
        db,
        "SELECT * FROM response_orders WHERE status = 'awaiting_approval' AND incident_id IN"
        " (SELECT id FROM incidents WHERE status IN ('resolved', 'postmortem'))",
    )
    cancelled = []
    for row in rows:
        if sql.run(
            db,
            "UPDATE response_orders SET status = 'cancelled', finished_at = :now, reason = :reason"
            " WHERE id = :id AND status = 'awaiting_approval'",
            {
                "now": to_iso(now),
                "reason": "the incident was resolved before anyone approved it",
                "id": row["id"],
            },
        ):
            cancelled.append(_order(row))
    return cancelled
