"""The signed approve link of a page: `/oncall/approve/<token>`, without signing in.

Like the acknowledge / resolve links (`oncall.views`): GET shows a
confirmation form and changes nothing (mail scanners prefetch links); POST
approves. The signed token in the path is the capability (and so the CSRF
defence: a foreign site cannot know it); a POST from a foreign Origin is
refused as cross-site all the same.
"""

from __future__ import annotations

from flask import Blueprint, request

from statuspage.oncall.links import LinkError
from statuspage.oncall.views import _message, _refused, _same_origin
from statuspage.responses import approval, links
from statuspage.web import client_address, get_db, now, settings

approval_blueprint = Blueprint("response_approval", __name__)


def _details(view: approval.ApprovalView) -> list[tuple[str, str]]:
    order, incident = view.order, view.incident
    return [
        ("Incident", f"#{incident.id} {incident.title}"),
        ("Action", order.action_id),
        ("Agent", order.agent_name),
        ("Why", f"rule {order.rule_id}" if order.rule_id else f"asked by {order.requested_by}"),
        ("Approve by", f"{order.expires_at:%Y-%m-%d %H:%M} UTC"),
        ("As", view.responder_label),
    ]


@approval_blueprint.get(f"{links.PATH}<token>")
def approve_page(token: str) -> tuple[str, int]:
    try:
        view = approval.preview(get_db(), settings(), token, now())
    except LinkError as error:
        return _refused(error)
    order = view.order
    return _message(
        f"{links.label(order)}?",
        f"Press Approve to let {order.agent_name} run {order.action_id} as {view.responder_label}."
        f" It runs once, when {order.agent_name} next asks for its work.",
        details=_details(view),
        action=request.path,
        button="Approve",
    )


@approval_blueprint.post(f"{links.PATH}<token>")
def approve(token: str) -> tuple[str, int]:
    _same_origin()
    try:
        view = approval.act(get_db(), settings(), token, client_address(), now())
    except LinkError as error:
        return _refused(error)
    order = view.order
    return _message(
        f"Approved: {order.action_id} on {order.agent_name}",
        f"{order.agent_name} runs it when it next asks for its work; the result appears on incident"
        f" #{view.incident.id}'s timeline.",
    )
