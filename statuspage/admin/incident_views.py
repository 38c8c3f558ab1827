"""Admin UI for incidents: the open list, one incident with its actions, postmortem with preview."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from statuspage.admin import models, operations, timeline
from statuspage.admin.ui import actor, admin_ui, done, parse_form, render
from statuspage.markdown import render_markdown
from statuspage.storage import incidents as incident_store
from statuspage.web import get_db, now, settings

IMPACTS = ("none", "minor", "major", "critical")
STATUSES = ("investigating", "identified", "monitoring", "resolved", "postmortem")
COMPONENT_STATUSES = (
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
    "operational",
)


@admin_ui.context_processor
def _responder_words() -> dict[str, Any]:
    return {
        "describe": timeline.describe,
        "person": timeline.person,
        "resolve_message": timeline.resolve_message,
        "names": {c.id: c.name for c in settings().components},
        "components": settings().components,
        "component_statuses": COMPONENT_STATUSES,
    }


def _incident_or_404(incident_id: int) -> incident_store.Incident:
    incident = incident_store.get_incident(get_db(), incident_id)
    if incident is None:
        abort(404)
    return incident


def _components_from_form() -> dict[str, str]:
    """Form fields `component.<id>` = status ("" means not affected)."""
    return {
        key.removeprefix("component."): value
        for key, value in request.form.items()
        if key.startswith("component.") and value
    }


@admin_ui.get("/incidents")
def incidents() -> tuple[str, int]:
    db = get_db()
    return render(
        "incidents.html",
        open_incidents=incident_store.list_incidents(db, open_only=True, limit=200),
        recent=incident_store.list_incidents(db, limit=50),
        components=settings().components,
        impacts=IMPACTS,
        component_statuses=COMPONENT_STATUSES,
    )


@admin_ui.get("/incidents/<int:incident_id>")
def incident(incident_id: int, error: str | None = None, status: int = 200) -> tuple[str, int]:
    item = _incident_or_404(incident_id)
    db = get_db()
    return render(
        "incident.html",
        status,
        incident=item,
        updates=incident_store.updates_of(db, incident_id),
        events=incident_store.events_of(db, incident_id),
        components=settings().components,
        impacts=IMPACTS,
        statuses=STATUSES,
        component_statuses=COMPONENT_STATUSES,
        error=error,
        preview=None,
        draft=item.postmortem or "",
        forensics=timeline.forensics_view(item.forensics or {}),
    )


def _act(incident_id: int, action: Callable[[], Any], notice: str) -> WerkzeugResponse | tuple[str, int]:
    """Run an incident action; on refusal re-show the incident with the reason (422)."""
    _incident_or_404(incident_id)
    try:
        changed = action()
    except operations.OperationError as error:
        return incident(incident_id, error=str(error), status=422)
    except operations.NotFound:
        abort(404)
    message = "already" if changed is False else notice
    if request.form.get("next") == "dashboard":  # an action taken on the dashboard returns there
        return done("admin.dashboard", message)
    return done("admin.incident", message, incident_id=incident_id)


@admin_ui.post("/incidents")
def create_incident() -> WerkzeugResponse | tuple[str, int]:
    db = get_db()
    try:
        data = parse_form(
            models.IncidentCreate,
            {
                "title": request.form.get("title", ""),
                "body": request.form.get("body", ""),
                "impact": request.form.get("impact", "minor"),
                "components": _components_from_form(),
                "public": request.form.get("public") == "on",
            },
        )
        incident_id = operations.create_incident(db, settings(), actor(), now(), data)
    except operations.OperationError as error:
        return render("error.html", 422, message=str(error), back=url_for("admin.incidents"))
    return done("admin.incident", "created", incident_id=incident_id)


@admin_ui.post("/incidents/<int:incident_id>/acknowledge")
def acknowledge(incident_id: int) -> WerkzeugResponse | tuple[str, int]:
    return _act(
        incident_id, lambda: operations.acknowledge(get_db(), actor(), now(), incident_id), "acknowledged"
    )


@admin_ui.post("/incidents/<int:incident_id>/updates")
def post_update(incident_id: int) -> WerkzeugResponse | tuple[str, int]:
    def action() -> int:
        components = _components_from_form() if request.form.get("set_components") == "on" else None
        data = parse_form(
            models.UpdateCreate,
            {
                "status": request.form.get("status", ""),
                "body": request.form.get("body", ""),
                "components": components,
            },
        )
        return operations.post_update(get_db(), settings(), actor(), now(), incident_id, data)

    return _act(incident_id, action, "updated")


@admin_ui.post("/incidents/<int:incident_id>/resolve")
def resolve(incident_id: int) -> WerkzeugResponse | tuple[str, int]:
    def action() -> int:
        data = parse_form(models.ResolveRequest, {"body": request.form.get("body") or None})
        return operations.resolve(get_db(), actor(), now(), incident_id, data)

    return _act(incident_id, action, "resolved")


@admin_ui.post("/incidents/<int:incident_id>/impact")
def change_impact(incident_id: int) -> WerkzeugResponse | tuple[str, int]:
    def action() -> int:
        data = parse_form(
            models.ImpactChange,
            {"impact": request.form.get("impact", ""), "body": request.form.get("body") or None},
        )
        return operations.change_impact(get_db(), actor(), now(), incident_id, data)

    return _act(incident_id, action, "impact")


@admin_ui.post("/incidents/<int:incident_id>/components")
def set_components(incident_id: int) -> WerkzeugResponse | tuple[str, int]:
    def action() -> int:
        data = parse_form(
            models.ComponentsChange,
            {"components": _components_from_form(), "body": request.form.get("body") or None},
        )
        return operations.set_components(get_db(), settings(), actor(), now(), incident_id, data)

    return _act(incident_id, action, "components")


@admin_ui.post("/incidents/<int:incident_id>/publish")
def publish(incident_id: int) -> WerkzeugResponse | tuple[str, int]:
    return _act(incident_id, lambda: operations.publish(get_db(), actor(), now(), incident_id), "published")


@admin_ui.post("/incidents/<int:incident_id>/root-cause")
def root_cause(incident_id: int) -> WerkzeugResponse | tuple[str, int]:
    def action() -> None:
        data = parse_form(models.RootCauseSave, {"markdown": request.form.get("markdown", "")})
        operations.save_root_cause(get_db(), actor(), now(), incident_id, data)

    return _act(incident_id, action, "root_cause")


@admin_ui.post("/incidents/<int:incident_id>/postmortem")
def postmortem(incident_id: int) -> WerkzeugResponse | tuple[str, int]:
    """Save (or publish) the postmortem; the "preview" button renders it without saving."""
    text = request.form.get("markdown", "")
    if request.form.get("action") == "preview":
        item = _incident_or_404(incident_id)
        db = get_db()
        return render(
            "incident.html",
            incident=item,
            updates=incident_store.updates_of(db, incident_id),
            events=incident_store.events_of(db, incident_id),
            components=settings().components,
            impacts=IMPACTS,
            statuses=STATUSES,
            component_statuses=COMPONENT_STATUSES,
            error=None,
            preview=render_markdown(text),
            draft=text,
            forensics=timeline.forensics_view(item.forensics or {}),
        )

    def action() -> None:
        data = parse_form(
            models.PostmortemSave, {"markdown": text, "publish": request.form.get("action") == "publish"}
        )
        operations.save_postmortem(get_db(), actor(), now(), incident_id, data)

    return _act(incident_id, action, "postmortem")
