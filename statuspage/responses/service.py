"""Automated response, the operations: order, approve, record a result, the kill switch, manual runs.

Each operation writes the order, one plain-words incident timeline event
(kind `response`, `data.text`) and one audit-log entry in the same
transaction. Orders leave the collector only through the assignments agents
pull (`orders_for_agent`), only while responses are switched on.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from shared.schema import ActionOrder, ActionResult
from statuspage.responses import text
from statuspage.settings import Settings
from statuspage.storage import audit, sql
from statuspage.storage import incidents as incident_store
from statuspage.storage import responses as store
from statuspage.storage.responses import Order
from statuspage.storage.sql import Store

ENGINE = "engine"
MANUAL_EXPIRY = timedelta(minutes=5)
MAX_MANUAL_EXPIRY = timedelta(hours=1)


class ResponseError(ValueError):
    """The operation is refused; the message says why (shown to the operator, 4xx to an agent)."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def enabled_in_config(settings: Settings) -> bool:
    return settings.responses.enabled


def active(db: Store, settings: Settings) -> bool:
    """True when orders may leave the collector: switched on in the config and not paused in the UI."""
    return settings.responses.enabled and store.paused_by(db) is None


def note(
    db: Store,
    incident_id: int,
    actor: str,
    now: datetime,
    words: str,
    order: Order | None = None,
    **data: object,
) -> None:
    """One timeline event in plain words (and the order it concerns)."""
    details: dict[str, object] = {"text": words, **data}
    if order is not None:
        details.update(order_id=order.id, agent=order.agent_name, action=order.action_id)
    incident_store.record_event(db, incident_id, "response", actor, now, details)


def place_order(
    db: Store,
    *,
    incident_id: int,
    agent_name: str,
    action_id: str,
    requested_by: str,
    now: datetime,
    expires_after: timedelta,
    client_address: str = "",
    rule_id: str | None = None,
    attempt: int = 1,
    dedupe_key: str | None = None,
    require_approval: bool = False,
    approve_within: timedelta = timedelta(minutes=30),
) -> Order | None:
    """Store an order (pending, or awaiting approval), tell the timeline and the audit log.

    Returns None when `dedupe_key` was decided before. Call inside `sql.write(db)`.
    """
    order_id = store.insert_order(
        db,
        incident_id=incident_id,
        agent_name=agent_name,
        action_id=action_id,
        status="awaiting_approval" if require_approval else "pending",
        requested_by=requested_by,
        now=now,
        expires_at=now + (approve_within if require_approval else expires_after),
        rule_id=rule_id,
        attempt=attempt,
        dedupe_key=dedupe_key,
    )
    if order_id is None:
        return None
    order = store.get_order(db, order_id)
    assert order is not None
    note(
        db,
        incident_id,
        requested_by,
        now,
        text.awaiting(order) if require_approval else text.asked(order),
        order,
    )
    audit.record(
        db,
        now,
        requested_by,
        "response.order",
        f"incident:{incident_id}",
        client_address,
        {
            "order": order.id,
            "agent": agent_name,
            "action": action_id,
            "rule": rule_id,
            "attempt": attempt,
            "status": order.status,
        },
    )
    return order


def record_skip(
    db: Store,
    *,
    incident_id: int,
    rule_id: str,
    agent_name: str,
    action_id: str,
    why: str,
    key: str,
    now: datetime,
) -> bool:
    """Remember (once per key) that a rule chose not to ask an agent, and say why on the timeline."""
    order_id = store.insert_order(
        db,
        incident_id=incident_id,
        agent_name=agent_name,
        action_id=action_id,
        status="skipped",
        requested_by=ENGINE,
        now=now,
        expires_at=now,
        rule_id=rule_id,
        attempt=0,
        dedupe_key=key,
        reason=why,
    )
    if order_id is None:
        return False
    note(db, incident_id, ENGINE, now, text.skipped(action_id, agent_name, why), rule=rule_id)
    return True


def orders_for_agent(db: Store, settings: Settings, agent_name: str, now: datetime) -> list[ActionOrder]:
    """The orders an agent receives with its assignments (none while responses are switched off)."""
    if not active(db, settings):
        return []
    return [
        ActionOrder(
            order_id=uuid.UUID(order.order_uid), action_id=order.action_id, expires_at=order.expires_at
        )
        for order in store.pending_for_agent(db, agent_name, now)
    ]


def record_result(db: Store, agent_name: str, result: ActionResult, now: datetime) -> bool:
    """Store an agent's result once; True when new, False for a repeat delivery.

    Raises ResponseError (404) for an order this agent was never given.
    """
    with sql.write(db):
        order = store.order_by_uid(db, str(result.order_id))
        if order is None or order.agent_name != agent_name or order.status == "skipped":
            raise ResponseError(f"no order {result.order_id} for agent {agent_name!r}", status=404)
        if result.action_id != order.action_id:
            raise ResponseError(
                f"order {result.order_id} is for {order.action_id!r}, not {result.action_id!r}"
            )
        if not store.record_result(db, order.id, result, now):
            return False
        done = store.get_order(db, order.id)
        assert done is not None
        note(
            db, order.incident_id, f"agent:{agent_name}", now, text.result(done), done, outcome=result.outcome
        )
        audit.record(
            db,
            now,
            f"agent:{agent_name}",
            "response.result",
            f"incident:{order.incident_id}",
            "",
            {
                "order": order.id,
                "action": order.action_id,
                "outcome": result.outcome,
                "exit_code": result.exit_code,
                "duration_s": result.duration_s,
            },
        )
    return True


def approve(
    db: Store,
    settings: Settings,
    order_id: int,
    actor: str,
    client_address: str,
    now: datetime,
    via: str | None = None,
) -> Order:
    """A person approves an order awaiting approval: it becomes pending. Raises ResponseError.

    `via` says where ("the page": a signed link), for the timeline and the audit log.
    """
    with sql.write(db):
        order = store.get_order(db, order_id)
        if order is None:
            raise ResponseError(f"no order {order_id}", status=404)
        if not active(db, settings):
            raise ResponseError("automated responses are switched off; switch them on first")
        incident = incident_store.get_incident(db, order.incident_id)
        if incident is not None and incident.status in incident_store.CLOSED_STATUSES:
            raise ResponseError("the incident is already resolved; the action will not run")
        rule = next((r for r in settings.responses.rules if r.id == order.rule_id), None)
        expires_after = rule.expires_after if rule else MANUAL_EXPIRY
        if not store.approve(db, order.id, actor, now, now + expires_after):
            raise ResponseError("this order no longer waits for approval (approved, expired or cancelled)")
        store.withdraw_approval_pages(db, order, f"approved by {text.person(actor)}", now)
        note(db, order.incident_id, actor, now, text.approved(order, actor, via), order)
        details: dict[str, object] = {"order": order.id, "agent": order.agent_name, "action": order.action_id}
        if via is not None:
            details["via"] = via
        audit.record(
            db,
            now,
            actor,
            "response.approve",
            f"incident:{order.incident_id}",
            client_address,
            details,
        )
    approved = store.get_order(db, order_id)
    assert approved is not None
    return approved


def run_manually(
    db: Store,
    settings: Settings,
    *,
    incident_id: int,
    agent_name: str,
    action_id: str,
    actor: str,
    client_address: str,
    now: datetime,
    expires_after: timedelta = MANUAL_EXPIRY,
) -> Order:
    """An operator asks one agent to run one of its actions for an incident. Raises ResponseError."""
    with sql.write(db):
        if incident_store.get_incident(db, incident_id) is None:
            raise ResponseError(f"no incident {incident_id}", status=404)
        if not active(db, settings):
            raise ResponseError("automated responses are switched off; switch them on first")
        offered = store.offered_actions(db).get(agent_name)
        if offered is None:
            raise ResponseError(f"agent {agent_name!r} has not reported any actions")
        if action_id not in offered:
            raise ResponseError(
                f"agent {agent_name!r} does not offer {action_id!r}"
                f" (it offers: {', '.join(offered) or 'nothing'})"
            )
        if not timedelta(seconds=5) <= expires_after <= MAX_MANUAL_EXPIRY:
            raise ResponseError("expires_after must be between 5s and 1h")
        order = place_order(
            db,
            incident_id=incident_id,
            agent_name=agent_name,
            action_id=action_id,
            requested_by=actor,
            now=now,
            expires_after=expires_after,
            client_address=client_address,
        )
        assert order is not None  # no dedupe key: always new
    return order


def pause(db: Store, actor: str, client_address: str, now: datetime) -> list[Order]:
    """The kill switch: no order leaves the collector until `resume`; every open order is cancelled."""
    with sql.write(db):
        store.set_paused(db, actor)
        cancelled = store.cancel_open(db, now, f"automated responses switched off by {actor}")
        for order in cancelled:
            store.withdraw_approval_pages(db, order, "automated responses switched off", now)
            note(db, order.incident_id, actor, now, text.cancelled(order, actor), order)
        audit.record(
            db, now, actor, "response.pause", "responses", client_address, {"cancelled": len(cancelled)}
        )
    return cancelled


def resume(db: Store, actor: str, client_address: str, now: datetime) -> bool:
    """Switch automated responses back on (the config's `responses.enabled` still rules); False if on."""
    with sql.write(db):
        if store.paused_by(db) is None:
            return False
        store.set_paused(db, None)
        audit.record(db, now, actor, "response.resume", "responses", client_address, {})
    return True
