"""Admin UI beyond incidents: checks per location, agents, maintenance, components, tokens, audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import abort, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from statuspage.admin import models, operations
from statuspage.admin.api import channel_views
from statuspage.admin.incident_views import STATUSES as INCIDENT_STATUSES
from statuspage.admin.ui import actor, admin_ui, done, parse_form, render
from statuspage.bounded import query_int
from statuspage.engine.check_state import CheckState
from statuspage.notify import subscriptions
from statuspage.storage import agents as agent_store
from statuspage.storage import api_tokens, audit, demo_mail, overrides, problems, results, sql
from statuspage.storage import incidents as incident_store
from statuspage.storage import maintenance as maintenance_store
from statuspage.storage.responses import offered_actions
from statuspage.storage.status import load_computed_status
from statuspage.web import client_address, get_db, now, settings

STATE_WORDS = {"up": "Up", "down": "Down", "degraded": "Degraded", "unknown": "No data"}


@dataclass(frozen=True)
class CheckRow:
    check_id: str
    name: str
    component: str | None
    states: list[CheckState]


@admin_ui.get("/")
def dashboard() -> tuple[str, int]:
    """Incident-first: open incidents with their actions, then location problems, failing
    checks, and every other check per location."""
    db = get_db()
    states = results.load_states(db)
    rows = [
        CheckRow(check.id, check.display_name, check.component, [s for s in states if s.check_id == check.id])
        for check in settings().checks
    ]
    defined = {check.id for check in settings().checks}
    local = sorted({s.check_id for s in states if s.check_id not in defined})
    rows += [CheckRow(cid, f"{cid} (local)", None, [s for s in states if s.check_id == cid]) for cid in local]
    failing = [(row, s) for row in rows for s in row.states if s.status in ("down", "degraded")]
    healthy: list[tuple[CheckRow, CheckState | None]] = [
        (row, s) for row in rows for s in row.states if s.status not in ("down", "degraded")
    ]
    healthy += [(row, None) for row in rows if not row.states]
    return render(
        "dashboard.html",
        failing=failing,
        healthy=healthy,
        location_problems=problems.open_location_problems(db),
        open_incidents=incident_store.list_incidents(db, open_only=True, limit=50),
        statuses=INCIDENT_STATUSES,
        state_words=STATE_WORDS,
        check_ids=defined,
    )


@admin_ui.get("/agents")
def agents() -> tuple[str, int]:
    db = get_db()
    return render("agents.html", agents=agent_store.list_agents(db), offered=offered_actions(db))


@admin_ui.post("/agents/<name>/revoke")
def revoke_agent(name: str) -> WerkzeugResponse:
    try:
        operations.revoke_agent(get_db(), actor(), now(), name)
    except operations.NotFound:
        abort(404)
    return done("admin.agents", "revoked")


@admin_ui.post("/agents/<name>/approve-labels")
def approve_agent_labels(name: str) -> WerkzeugResponse:
    labels = [label for label in request.form.getlist("labels") if label]
    try:
        operations.approve_agent_labels(get_db(), actor(), now(), name, labels or None)
    except operations.NotFound:
        abort(404)
    except operations.OperationError:
        return done("admin.agents", "already")
    return done("admin.agents", "labels_approved")


# -- maintenance -----------------------------------------------------------------------------------


def _form_time(field: str) -> datetime | str:
    """`datetime-local` inputs carry no zone: the form says they are UTC."""
    text = request.form.get(field, "")
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else ""
    except ValueError:
        return text  # the model names the field in its error


@admin_ui.get("/maintenance")
def maintenance() -> tuple[str, int]:
    return render(
        "maintenance.html",
        windows=maintenance_store.list_maintenances(get_db()),
        components=settings().components,
        error=None,
    )


@admin_ui.post("/maintenance")
def schedule_maintenance() -> WerkzeugResponse | tuple[str, int]:
    try:
        data = parse_form(
            models.MaintenanceCreate,
            {
                "title": request.form.get("title", ""),
                "body": request.form.get("body", ""),
                "scheduled_for": _form_time("scheduled_for"),
                "scheduled_until": _form_time("scheduled_until"),
                "components": request.form.getlist("components"),
            },
        )
        operations.schedule_maintenance(get_db(), settings(), actor(), now(), data)
    except operations.OperationError as error:
        return render("error.html", 422, message=str(error), back=url_for("admin.maintenance"))
    return done("admin.maintenance", "scheduled")


@admin_ui.post("/maintenance/<int:maintenance_id>/complete")
def complete_maintenance(maintenance_id: int) -> WerkzeugResponse:
    try:
        changed = operations.complete_maintenance(get_db(), actor(), now(), maintenance_id)
    except operations.NotFound:
        abort(404)
    return done("admin.maintenance", "completed" if changed else "already")


@admin_ui.post("/maintenance/<int:maintenance_id>")
def change_maintenance(maintenance_id: int) -> WerkzeugResponse | tuple[str, int]:
    fields: dict[str, Any] = {
        "title": request.form.get("title") or None,
        "body": request.form.get("body"),
        "scheduled_for": _form_time("scheduled_for") or None,
        "scheduled_until": _form_time("scheduled_until") or None,
    }
    try:
        data = parse_form(models.MaintenanceChange, fields)
        operations.change_maintenance(get_db(), settings(), actor(), now(), maintenance_id, data)
    except operations.OperationError as error:
        return render("error.html", 422, message=str(error), back=url_for("admin.maintenance"))
    except operations.NotFound:
        abort(404)
    return done("admin.maintenance", "maintenance")


# -- components ------------------------------------------------------------------------------------


@admin_ui.get("/components")
def components() -> tuple[str, int]:
    db = get_db()
    stored = load_computed_status(db)
    return render(
        "components.html",
        components=settings().components,
        computed={cid: status for cid, (status, _at) in stored.items()},
        overrides=overrides.list_overrides(db),
        statuses=overrides.OVERRIDE_STATUSES,
    )


@admin_ui.post("/components/<component_id>/override")
def set_override(component_id: str) -> WerkzeugResponse | tuple[str, int]:
    db = get_db()
    try:
        if request.form.get("status", "") == "":
            operations.clear_override(db, settings(), actor(), now(), component_id)
            return done("admin.components", "cleared")
        data = parse_form(
            models.OverrideSet,
            {"status": request.form.get("status"), "reason": request.form.get("reason", "")},
        )
        operations.set_override(db, settings(), actor(), now(), component_id, data)
    except operations.OperationError as error:
        return render("error.html", 422, message=str(error), back=url_for("admin.components"))
    except operations.NotFound:
        abort(404)
    return done("admin.components", "override")


# -- API tokens and audit --------------------------------------------------------------------------


@admin_ui.get("/tokens")
def tokens() -> tuple[str, int]:
    return render("tokens.html", tokens=api_tokens.list_tokens(get_db()), created=None, error=None)


@admin_ui.post("/tokens")
def create_token() -> tuple[str, int]:
    db = get_db()
    name = request.form.get("name", "").strip()
    scope = request.form.get("scope", "")
    error = None
    created = None
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        error = "name: 1-64 letters, digits, '_', '.', '-'"
    else:
        try:
            with sql.write(db):
                token, secret = api_tokens.create_token(db, name, scope, actor().label, now())
                audit.record(
                    db,
                    now(),
                    actor().label,
                    "token.create",
                    f"token:{name}",
                    client_address(),
                    {"scope": scope},
                )
            created = (token, secret)
        except api_tokens.TokenExists:
            error = f"name: a live token named {name!r} exists"
        except ValueError as problem:
            error = f"scope: {problem}"
    return render(
        "tokens.html", 422 if error else 200, tokens=api_tokens.list_tokens(db), created=created, error=error
    )


@admin_ui.post("/tokens/<name>/revoke")
def revoke_token(name: str) -> WerkzeugResponse:
    db = get_db()
    with sql.write(db):
        if not api_tokens.revoke_token(db, name, now()):
            abort(404)
        audit.record(db, now(), actor().label, "token.revoke", f"token:{name}", client_address())
    return done("admin.tokens", "token")


@admin_ui.get("/audit")
def audit_log() -> tuple[str, int]:
    before = query_int("before", minimum=1)
    return render("audit.html", entries=audit.recent(get_db(), limit=200, before_id=before))


# -- subscribers and channels ----------------------------------------------------------------------


@admin_ui.get("/subscribers")
def subscribers() -> tuple[str, int]:
    db = get_db()
    return render(
        "subscribers.html",
        emails=subscriptions.list_email_subscribers(db),
        webhooks=subscriptions.list_webhooks(db),
        channels=channel_views(db, settings()),
        components=settings().components,
        created=None,
        error=None,
        caught=demo_mail.recent(db, 20),
    )


LINK_RE = re.compile(r"https?://[^\s<>\"')\]]+")


@admin_ui.get("/mail/<int:mail_id>")
def caught_mail(mail_id: int) -> tuple[str, int]:
    """One message the demo's mail sink caught, with its links clickable."""
    mail = demo_mail.get(get_db(), mail_id)
    if mail is None:
        abort(404)
    return render("mail.html", mail=mail, links=list(dict.fromkeys(LINK_RE.findall(mail.body))))


@admin_ui.post("/subscribers/emails/<int:subscriber_id>/remove")
def remove_email_subscriber(subscriber_id: int) -> WerkzeugResponse:
    try:
        operations.remove_email_subscriber(get_db(), actor(), now(), subscriber_id)
    except operations.NotFound:
        abort(404)
    return done("admin.subscribers", "removed")


@admin_ui.post("/subscribers/webhooks")
def add_webhook() -> tuple[str, int]:
    db = get_db()
    created = None
    error = None
    try:
        data = parse_form(
            models.WebhookCreate,
            {
                "url": request.form.get("url", "").strip(),
                "components": request.form.getlist("components"),
                "description": request.form.get("description", ""),
            },
        )
        created = operations.add_webhook(db, settings(), actor(), now(), data)
    except operations.OperationError as problem:
        error = str(problem)
    return render(
        "subscribers.html",
        422 if error else 200,
        emails=subscriptions.list_email_subscribers(db),
        webhooks=subscriptions.list_webhooks(db),
        channels=channel_views(db, settings()),
        components=settings().components,
        created=created,
        error=error,
    )


@admin_ui.post("/subscribers/webhooks/<int:webhook_id>/remove")
def remove_webhook(webhook_id: int) -> WerkzeugResponse:
    try:
        operations.remove_webhook(get_db(), actor(), now(), webhook_id)
    except operations.NotFound:
        abort(404)
    return done("admin.subscribers", "removed")


@admin_ui.post("/channels/<channel_id>/enable")
def enable_channel(channel_id: str) -> WerkzeugResponse:
    try:
        changed = operations.enable_channel(get_db(), settings(), actor(), now(), channel_id)
    except operations.NotFound:
        abort(404)
    return done("admin.subscribers", "enabled" if changed else "already")


@admin_ui.post("/channels/<channel_id>/test")
def test_channel(channel_id: str) -> WerkzeugResponse:
    try:
        operations.test_channel(get_db(), settings(), actor(), now(), channel_id)
    except operations.NotFound:
        abort(404)
    return done("admin.subscribers", "queued")
