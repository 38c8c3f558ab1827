"""Admin UI for automated response: the kill switch, rules and recent orders, approving an order,
and running an agent's action by hand from an incident's page. Every change is audited."""

from __future__ import annotations

from typing import Any

from flask import abort, request
from werkzeug.wrappers import Response as WerkzeugResponse

from statuspage.admin.ui import NOTICES, actor, admin_ui, done, render
from statuspage.responses import service, text
from statuspage.responses.rules import rule_targets
from statuspage.storage import responses as store
from statuspage.storage.agents import list_agents
from statuspage.storage.incidents import get_incident
from statuspage.web import get_db, now, settings

NOTICES.update(
    {
        "responses_paused": "Automated actions stopped; orders not yet run were cancelled.",
        "responses_resumed": "Automated actions switched on again.",
        "response_asked": "Asked. The agent picks the order up with its next assignments.",
        "response_approved": "Approved. The agent picks the order up with its next assignments.",
    }
)


@admin_ui.app_template_global()
def response_panel(incident_id: int) -> dict[str, Any]:
    """What the incident page shows about automated response (orders, what can be run, the switch)."""
    db = get_db()
    orders = store.orders_of_incident(db, incident_id)
    offered = store.offered_actions(db)
    live = {agent.name for agent in list_agents(db)}
    targets = [(name, action) for name in sorted(offered) if name in live for action in offered[name]]
    return {
        "orders": [(order, text.state(order)) for order in orders],
        "targets": targets,
        "active": service.active(db, settings()),
        "in_config": service.enabled_in_config(settings()),
    }


@admin_ui.get("/responses")
def responses() -> tuple[str, int]:
    db = get_db()
    config = settings()
    agents = list_agents(db)
    rules = [(rule, rule_targets(config, rule, agents)) for rule in config.responses.rules]
    recent = [(order, text.state(order)) for order in store.recent_orders(db, 50)]
    return render(
        "responses.html",
        rules=rules,
        recent=recent,
        active=service.active(db, config),
        in_config=config.responses.enabled,
        paused_by=store.paused_by(db),
    )


@admin_ui.post("/responses/pause")
def pause_responses() -> WerkzeugResponse:
    who = actor()
    service.pause(get_db(), who.label, who.client_address, now())
    return done("admin.responses", "responses_paused")


@admin_ui.post("/responses/resume")
def resume_responses() -> WerkzeugResponse:
    who = actor()
    changed = service.resume(get_db(), who.label, who.client_address, now())
    return done("admin.responses", "responses_resumed" if changed else "already")


@admin_ui.post("/responses/orders/<int:order_id>/approve")
def approve_order(order_id: int) -> WerkzeugResponse | tuple[str, int]:
    db = get_db()
    order = store.get_order(db, order_id) if order_id < 2**62 else None
    if order is None:
        abort(404)
    who = actor()
    try:
        service.approve(db, settings(), order_id, who.label, who.client_address, now())
    except service.ResponseError as error:
        return _refused(order.incident_id, str(error))
    return done("admin.incident", "response_approved", incident_id=order.incident_id)


@admin_ui.post("/incidents/<int:incident_id>/responses")
def run_action(incident_id: int) -> WerkzeugResponse | tuple[str, int]:
    db = get_db()
    if incident_id >= 2**62 or get_incident(db, incident_id) is None:
        abort(404)
    agent_name, _, action_id = request.form.get("target", "").partition("/")
    if not agent_name or not action_id:
        return _refused(incident_id, "target: choose an agent's action")
    who = actor()
    try:
        service.run_manually(
            db,
            settings(),
            incident_id=incident_id,
            agent_name=agent_name,
            action_id=action_id,
            actor=who.label,
            client_address=who.client_address,
            now=now(),
        )
    except service.ResponseError as error:
        return _refused(incident_id, str(error))
    return done("admin.incident", "response_asked", incident_id=incident_id)


def _refused(incident_id: int, message: str) -> tuple[str, int]:
    from statuspage.admin.incident_views import incident

    return incident(incident_id, error=message, status=422)
