"""`storage/responses.py` on both engines (the `engine` fixture parameter), in the style of
test_storage_engines.py: every function the automated response uses, against a migrated
database (SQLite file / throwaway PostgreSQL), with the claims checked by their row counts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shared.schema import ActionResult
from statuspage.incident_actions import escalate_due
from statuspage.responses import service
from statuspage.responses.rules import run_responses
from statuspage.settings import Settings
from statuspage.storage import audit, outbox, responses, sql
from statuspage.storage import incidents as incident_store
from statuspage.storage import oncall as oncall_store
from statuspage.storage.agents import create_agent

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def incident(db: sql.Store, title: str = "API down") -> int:
    return incident_store.insert_incident(
        db, title=title, impact="major", components={"api": "major_outage"}, body="Looking.",
        actor="engine", now=T0,
    )  # fmt: skip


def order(db: sql.Store, incident_id: int, status: str = "pending", **fields: object) -> int:
    found = responses.insert_order(
        db,
        incident_id=incident_id,
        agent_name=str(fields.pop("agent", "web-1")),
        action_id="restart-api",
        status=status,
        requested_by="engine",
        now=T0,
        expires_at=T0 + 5 * MINUTE,
        **fields,  # type: ignore[arg-type]
    )
    assert found is not None
    return found


def test_orders_are_placed_once_per_key_and_read_back(store: sql.Store) -> None:
    with sql.write(store):
        incident_id = incident(store)
        first = order(store, incident_id, rule_id="r", dedupe_key="rule:r:incident:1:agent:web-1:attempt:1")
        again = responses.insert_order(
            store, incident_id=incident_id, agent_name="web-1", action_id="restart-api", status="pending",
            requested_by="engine", now=T0, expires_at=T0 + MINUTE, dedupe_key="rule:r:incident:1:agent:web-1:attempt:1",
        )  # fmt: skip
        manual = order(store, incident_id)
        other = order(store, incident_id, agent="web-2")
    assert again is None and first < manual < other
    placed = responses.get_order(store, first)
    assert placed is not None and placed.rule_id == "r" and placed.attempt == 1
    assert placed.created_at == T0 and placed.expires_at == T0 + 5 * MINUTE
    assert responses.order_by_uid(store, placed.order_uid) == placed
    assert responses.get_order(store, 2**63) is None and responses.get_order(store, 0) is None
    assert [o.id for o in responses.orders_of_incident(store, incident_id)] == [first, manual, other]
    assert [o.id for o in responses.recent_orders(store, limit=2)] == [other, manual]
    assert [o.id for o in responses.pending_for_agent(store, "web-1", T0)] == [first, manual]
    assert responses.pending_for_agent(store, "web-1", T0 + 5 * MINUTE) == []  # expired: not sent
    assert [o.id for o in responses.rule_orders(store, "r", incident_id)] == [first]
    assert responses.has_open_orders(store)


def test_approval_expiry_and_the_kill_switch_claim_each_order_once(store: sql.Store) -> None:
    with sql.write(store):
        incident_id = incident(store)
        waiting = order(store, incident_id, status="awaiting_approval")
        late = order(store, incident_id, status="awaiting_approval")
        pending = order(store, incident_id)
    with sql.write(store):
        assert responses.approve(store, waiting, "user:alice", T0 + MINUTE, T0 + 6 * MINUTE)
        assert not responses.approve(store, waiting, "user:bob", T0 + MINUTE, T0 + 6 * MINUTE)  # decided
        assert not responses.approve(store, late, "user:bob", T0 + 5 * MINUTE, T0 + 9 * MINUTE)  # too late
    approved = responses.get_order(store, waiting)
    assert approved is not None and approved.status == "pending" and approved.approved_by == "user:alice"
    assert approved.approved_at == T0 + MINUTE and approved.expires_at == T0 + 6 * MINUTE
    with sql.write(store):
        expired = responses.expire_due(store, T0 + 5 * MINUTE)
        assert responses.expire_due(store, T0 + 5 * MINUTE) == []
    assert sorted(o.id for o in expired) == [late, pending]
    with sql.write(store):
        cancelled = responses.cancel_open(store, T0 + 5 * MINUTE, "switched off by alice")
        assert responses.cancel_open(store, T0 + 5 * MINUTE, "again") == []
    assert [o.id for o in cancelled] == [waiting]
    assert responses.get_order(store, waiting).reason == "switched off by alice"  # type: ignore[union-attr]
    assert not responses.has_open_orders(store)


def test_a_result_is_stored_once_and_wins_over_expiry(store: sql.Store) -> None:
    with sql.write(store):
        incident_id = incident(store)
        order_id = order(store, incident_id)
        responses.expire_due(store, T0 + 10 * MINUTE)
    placed = responses.get_order(store, order_id)
    assert placed is not None and placed.status == "expired"
    result = ActionResult(
        order_id=uuid.UUID(placed.order_uid), action_id="restart-api", outcome="ran", exit_code=0,
        duration_s=2.3, stdout="restarted\n", stderr="", timed_out=False,
    )  # fmt: skip
    with sql.write(store):
        assert responses.record_result(store, order_id, result, T0 + 11 * MINUTE)
        assert not responses.record_result(store, order_id, result, T0 + 12 * MINUTE)
        assert responses.mark_rechecked(store, order_id)
        assert not responses.mark_rechecked(store, order_id)
    done = responses.get_order(store, order_id)
    assert done is not None and done.status == "done" and done.outcome == "ran"
    assert done.exit_code == 0 and done.duration_s == 2.3 and done.timed_out is False
    assert done.stdout == "restarted\n" and done.finished_at == T0 + 11 * MINUTE and done.rechecked


def test_offered_actions_and_the_stored_switch(store: sql.Store) -> None:
    responses.record_offered_actions(store, "web-1", ["restart-api", "clear-tmp", "restart-api"], T0)
    responses.record_offered_actions(store, "web-1", ["clear-tmp", "restart-api"], T0 + MINUTE)  # unchanged
    responses.record_offered_actions(store, "web-2", [], T0)
    assert responses.offered_actions(store) == {"web-1": ["clear-tmp", "restart-api"], "web-2": []}
    assert sql.scalar(store, "SELECT reported_at FROM agent_actions WHERE agent_name = 'web-1'").startswith(
        "2026-11-27T12:00"
    )
    responses.record_offered_actions(store, "web-1", ["restart-api"], T0 + MINUTE)
    assert responses.offered_actions(store)["web-1"] == ["restart-api"]
    assert responses.paused_by(store) is None
    with sql.write(store):
        responses.set_paused(store, "user:alice")
        responses.set_paused(store, "user:bob")
    assert responses.paused_by(store) == "user:bob"
    with sql.write(store):
        responses.set_paused(store, None)
    assert responses.paused_by(store) is None


def test_approval_pages_are_withdrawn_and_resolved_incidents_cancel_waiting_orders(store: sql.Store) -> None:
    with sql.write(store):
        open_id, closed_id = incident(store), incident(store, "DB down")
        waiting = order(store, open_id, status="awaiting_approval")
        stale = order(store, closed_id, status="awaiting_approval")
        placed = responses.get_order(store, waiting)
        assert placed is not None
        key = responses.approval_page_key(placed)
        for suffix in ("user:alice:0:mail", "user:alice:1:chat"):
            assert outbox.enqueue(
                store, event="response.approval", destination_kind="responder_email",
                destination="alice/mail", payload={"title": "Approve"}, idempotency_key=f"{key}:{suffix}", now=T0,
            )  # fmt: skip
        assert outbox.enqueue(
            store, event="incident.opened", destination_kind="webhook", destination="ops", payload={},
            idempotency_key=f"incident:{open_id}:escalation:0:0:ops", now=T0,
        )  # fmt: skip
        incident_store.set_status(store, closed_id, "resolved", T0 + MINUTE)
    with sql.write(store):
        assert responses.withdraw_approval_pages(store, placed, "approved by alice", T0 + MINUTE) == 2
        assert responses.withdraw_approval_pages(store, placed, "again", T0 + MINUTE) == 0
        [cancelled] = responses.cancel_awaiting_of_closed(store, T0 + MINUTE)
        assert responses.cancel_awaiting_of_closed(store, T0 + MINUTE) == []
    assert cancelled.id == stale
    assert responses.get_order(store, stale).status == "cancelled"  # type: ignore[union-attr]
    assert responses.get_order(store, waiting).status == "awaiting_approval"  # type: ignore[union-attr]
    assert outbox.state_counts(store)["failed"] == 2  # the incident's own page is untouched


def test_the_response_pass_approval_result_and_kill_switch_on_each_engine(
    store: sql.Store, make_settings: Callable[..., Settings]
) -> None:
    """The worker's pass and the service operations above the storage functions, on each engine:
    the page paged alice, the order waiting for approval pages her its approve link."""
    rule = {"id": "r", "action": "restart-api", "component": "api", "require_approval": True}
    settings = make_settings(
        responses={"rules": [rule]},
        responders=[
            {"name": "alice", "contacts": [{"id": "mail", "kind": "email", "to": "alice@example.test"}]}
        ],
        escalation_policies=[{"id": "p", "levels": [{"targets": ["user:alice"]}]}],
    )
    with sql.write(store):
        create_agent(store, "edge-1", ["eu"], T0)
        incident_id = incident_store.insert_incident(
            store, title="API down", impact="major", components={"api": "major_outage"}, body="Looking.",
            actor="engine", now=T0, escalation_policy="p", next_escalation_at=T0,
        )  # fmt: skip
        oncall_store.mark_verified(
            store, "alice", "mail", oncall_store.address_hash("alice@example.test"), T0
        )
        assert escalate_due(store, settings, T0) == 1
    responses.record_offered_actions(store, "edge-1", ["restart-api"], T0)
    assert run_responses(store, settings, T0) == 1
    assert run_responses(store, settings, T0) == 0
    [waiting] = responses.orders_of_incident(store, incident_id)
    assert waiting.status == "awaiting_approval"
    assert service.orders_for_agent(store, settings, "edge-1", T0) == []
    [request] = outbox.list_outbox(store, f"incident:{incident_id}:approval:")
    assert request.event == "response.approval" and request.destination == "alice/mail"
    [link] = request.payload["approvals"]
    assert link["label"] == "Approve restart-api on edge-1" and "/oncall/approve/" in link["url"]

    approved = service.approve(store, settings, waiting.id, "user:alice", "", T0 + MINUTE, via="the page")
    assert approved.status == "pending"
    [sent] = service.orders_for_agent(store, settings, "edge-1", T0 + MINUTE)
    result = ActionResult(order_id=sent.order_id, action_id="restart-api", outcome="ran", exit_code=0)
    assert service.record_result(store, "edge-1", result, T0 + 2 * MINUTE)
    assert not service.record_result(store, "edge-1", result, T0 + 2 * MINUTE)
    events = [e.data["text"] for e in incident_store.events_of(store, incident_id) if e.kind == "response"]
    assert "sent alice a link to approve restart-api on edge-1" in events
    assert "alice approved restart-api on edge-1 from the page" in events
    assert events[-1] == "restart-api on edge-1: exit 0"
    service.pause(store, "user:alice", "", T0 + 3 * MINUTE)
    assert not service.active(store, settings)
    assert service.resume(store, "user:alice", "", T0 + 4 * MINUTE)
    actions = [entry.action for entry in audit.recent(store)]
    assert actions.count("response.approve") == 1 and actions.count("response.result") == 1
