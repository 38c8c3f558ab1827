"""Admin REST API for automated response: the switch, an incident's orders, approving an order
and running an agent's action by hand. Same tokens, scopes, audit and errors as the rest of
`/api/v1/admin/` (statuspage.admin.api)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Response
from pydantic import BaseModel, ConfigDict, Field

from shared.checks import ID_PATTERN
from statuspage.admin import models
from statuspage.admin.api import _actor, _body, _get_incident, _ok, _run, endpoint
from statuspage.admin.operations import NotFound, OperationError
from statuspage.responses import service, text
from statuspage.responses.service import MANUAL_EXPIRY
from statuspage.storage import responses as store
from statuspage.storage.responses import Order
from statuspage.web import get_db, now, settings


class OrderOut(BaseModel):
    id: int
    incident_id: int
    agent: str
    action: str
    rule: str | None
    attempt: int
    status: str
    requested_by: str
    created_at: datetime
    expires_at: datetime
    approved_by: str | None
    outcome: str | None
    exit_code: int | None
    timed_out: bool
    duration_s: float | None
    stdout: str
    stderr: str
    reason: str | None
    finished_at: datetime | None
    text: str = Field(description="What happened, in words (as on the incident timeline)")


class OrderList(BaseModel):
    orders: list[OrderOut]


class ManualRun(BaseModel):
    """Ask one agent to run one of the actions it offers."""

    model_config = ConfigDict(extra="forbid")

    agent: str = Field(min_length=1, max_length=64)
    action: str = Field(pattern=ID_PATTERN)
    expires_after_s: int = Field(default=int(MANUAL_EXPIRY.total_seconds()), ge=5, le=3600)


class ResponsesState(BaseModel):
    active: bool = Field(description="Orders may leave the collector now")
    enabled_in_config: bool
    paused_by: str | None
    rules: list[str]


class Paused(BaseModel):
    cancelled: int


def _order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.id,
        incident_id=order.incident_id,
        agent=order.agent_name,
        action=order.action_id,
        rule=order.rule_id,
        attempt=order.attempt,
        status=order.status,
        requested_by=order.requested_by,
        created_at=order.created_at,
        expires_at=order.expires_at,
        approved_by=order.approved_by,
        outcome=order.outcome,
        exit_code=order.exit_code,
        timed_out=order.timed_out,
        duration_s=order.duration_s,
        stdout=order.stdout,
        stderr=order.stderr,
        reason=order.reason,
        finished_at=order.finished_at,
        text=text.state(order),
    )


def _incident(incident_id: int) -> None:
    if incident_id >= 2**62:  # ids from URLs: larger ones do not exist (and overflow SQLite)
        raise NotFound(f"incident {incident_id}")
    _get_incident(incident_id)


def _refusal(error: service.ResponseError) -> Exception:
    if error.status == 404:
        return NotFound(str(error))
    return OperationError("order", str(error))


@endpoint("GET", "/responses", "read", "Whether automated actions are on, and the rules", ResponsesState)
def responses_state() -> Response:
    db = get_db()
    config = settings()
    return _ok(
        ResponsesState(
            active=service.active(db, config),
            enabled_in_config=config.responses.enabled,
            paused_by=store.paused_by(db),
            rules=[rule.id for rule in config.responses.rules],
        )
    )


@endpoint(
    "POST", "/responses/pause", "write", "Stop all automated actions; cancel orders not yet run", Paused
)
def pause_responses() -> Response:
    who = _actor()
    cancelled = service.pause(get_db(), who.label, who.client_address, now())
    return _ok(Paused(cancelled=len(cancelled)))


@endpoint("POST", "/responses/resume", "write", "Switch automated actions on again", models.Changed)
def resume_responses() -> Response:
    who = _actor()
    return _ok(models.Changed(changed=service.resume(get_db(), who.label, who.client_address, now())))


@endpoint("GET", "/incidents/<int:incident_id>/responses", "read", "An incident's action orders", OrderList)
def incident_responses(incident_id: int) -> Response:
    def action() -> OrderList:
        _incident(incident_id)
        return OrderList(orders=[_order_out(o) for o in store.orders_of_incident(get_db(), incident_id)])

    return _run(action)


@endpoint(
    "POST",
    "/incidents/<int:incident_id>/responses",
    "write",
    "Ask an agent to run one of its actions for this incident",
    OrderOut,
    body=ManualRun,
    status=201,
)
def run_action(incident_id: int) -> Response:
    def action() -> OrderOut:
        _incident(incident_id)
        data = _body(ManualRun)
        who = _actor()
        try:
            order = service.run_manually(
                get_db(),
                settings(),
                incident_id=incident_id,
                agent_name=data.agent,
                action_id=data.action,
                actor=who.label,
                client_address=who.client_address,
                now=now(),
                expires_after=timedelta(seconds=data.expires_after_s),
            )
        except service.ResponseError as error:
            raise _refusal(error) from None
        return _order_out(order)

    return _run(action, 201)


@endpoint(
    "POST",
    "/responses/orders/<int:order_id>/approve",
    "write",
    "Approve an order awaiting approval",
    OrderOut,
)
def approve_order(order_id: int) -> Response:
    def action() -> OrderOut:
        who = _actor()
        try:
            order = service.approve(get_db(), settings(), order_id, who.label, who.client_address, now())
        except service.ResponseError as error:
            raise _refusal(error) from None
        return _order_out(order)

    return _run(action)
