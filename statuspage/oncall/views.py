"""Pages that work without signing in: signed action links, contact verification, ICS feeds.

GET shows a confirmation form and changes nothing (mail scanners prefetch
links); POST acts. The token in the path is the capability: it is signed,
bound to one incident and responder, expires and works once. A POST from a
foreign Origin is refused as cross-site.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, render_template, request

from statuspage.oncall import actions, links, service
from statuspage.oncall.ics import render_feed
from statuspage.oncall.rotation import Span, shifts
from statuspage.storage import oncall as store
from statuspage.web import client_address, get_db, now, settings

oncall_blueprint = Blueprint("oncall", __name__, template_folder="templates")
FEED_WEEKS = 8


def _message(title: str, text: str, status: int = 200, **context: Any) -> tuple[str, int]:
    page = render_template(
        "oncall_message.html", page=settings().page, generated_at=now(), title=title, text=text, **context
    )
    return page, status


def _refused(error: links.LinkError) -> tuple[str, int]:
    return _message("This link cannot be used", str(error), error.status)


def _same_origin() -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
        expected = {request.host, urlsplit(settings().page.url).netloc}
        if urlsplit(origin).netloc not in expected:
            abort(403, "cross-site request refused")


@oncall_blueprint.get("/oncall/act/<token>")
def action_page(token: str) -> tuple[str, int]:
    try:
        view = actions.preview(get_db(), settings(), token, now())
    except links.LinkError as error:
        return _refused(error)
    incident = view.incident
    details = [
        ("Incident", f"#{incident.id} {incident.title}"),
        ("Status", incident.status.capitalize()),
        ("As", view.responder_label),
    ]
    verb = actions.VERBS[view.claim.action]
    if view.already:
        return _message(f"{verb} incident #{incident.id}", view.already, details=details)
    return _message(
        f"{verb} incident #{incident.id}?",
        f"Press {verb} to {view.claim.action} this incident as {view.responder_label}.",
        details=details,
        action=request.path,
        button=verb,
    )


@oncall_blueprint.post("/oncall/act/<token>")
def action(token: str) -> tuple[str, int]:
    _same_origin()
    try:
        view = actions.act(get_db(), settings(), token, client_address(), now())
    except links.LinkError as error:
        return _refused(error)
    if view.already:
        return _message("Nothing changed", view.already)
    done = {"acknowledge": "Acknowledged: escalation stopped.", "resolve": "Resolved."}[view.claim.action]
    return _message(done, f"Incident #{view.incident.id} {view.incident.title}, as {view.responder_label}.")


@oncall_blueprint.get("/oncall/verify/<token>")
def verify_page(token: str) -> tuple[str, int]:
    try:
        links.read_verification(store.signing_key(get_db()), token, now())
    except links.LinkError as error:
        return _refused(error)
    return _message(
        "Confirm this contact method",
        "Press Confirm to receive on-call pages here.",
        action=request.path,
        button="Confirm",
    )


@oncall_blueprint.post("/oncall/verify/<token>")
def verify(token: str) -> tuple[str, int]:
    _same_origin()
    try:
        label = service.confirm_verification(get_db(), settings(), token, client_address(), now())
    except links.LinkError as error:
        return _refused(error)
    return _message("Contact method confirmed", f"{label} receives pages from now on.")


@oncall_blueprint.get("/oncall/feeds/<kind>/<name>/<secret>.ics")
def feed(kind: str, name: str, secret: str) -> Response:
    """A schedule's (kind `schedule`) or a responder's (kind `responder`) shifts for 8 weeks."""
    config = settings()
    db = get_db()
    if kind not in ("schedule", "responder") or not links.feed_secret_valid(
        store.signing_key(db), kind, name, secret
    ):
        abort(404)
    start = now().replace(minute=0, second=0, microsecond=0) - timedelta(days=7)
    end = start + timedelta(weeks=FEED_WEEKS)
    labels = service.responder_labels(db, config)
    spans: list[tuple[Span, str]] = []
    if kind == "schedule":
        entry = service.find_schedule(db, config, name)
        if entry is None:
            abort(404)
        schedule = entry.config
        found = shifts(service.schedule_timeline(db, config, name, start, end))
        spans = [(s, schedule.label) for s in found]
        title = schedule.label
    else:
        if name not in labels:
            abort(404)
        for entry in service.all_schedules(db, config):
            own = shifts(service.schedule_timeline(db, config, entry.id, start, end))
            spans += [(s, entry.label) for s in own if s.responder == name]
        title = f"{labels[name]} on call"
    host = urlsplit(config.page.url).hostname or "localhost"
    body = render_feed(f"{kind}:{name}", title, spans, labels, host, now())
    response = Response(body, mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
