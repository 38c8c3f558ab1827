"""The `/admin/` blueprint and its guards: who is signed in, CSRF on every state change, no caching.

Every route on this blueprint requires a live session except the ones in
`OPEN_ENDPOINTS`; the check runs in `before_request`, so a new page is
protected without remembering a decorator. Every POST must carry the
session's CSRF token (the login form, which has no session yet, uses a
double-submit cookie) and, when the browser sends one, an Origin of this site.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from pydantic import BaseModel, ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

from statuspage.admin import sessions
from statuspage.admin.operations import Actor, OperationError
from statuspage.settings import cookie_secure
from statuspage.web import arrived_over_tls, client_address, get_db, now, settings

admin_ui = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

OPEN_ENDPOINTS = {"admin.login", "admin.static"}
LOGIN_CSRF_COOKIE = "upwatch_login_csrf"
# A browser that signed in before (OWASP device cookie): keeps signing in while attackers
# elsewhere are throttled. Path /admin/ only; HttpOnly, SameSite=Strict like the session.
DEVICE_COOKIE = "upwatch_device"
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
M = TypeVar("M", bound=BaseModel)


def secure_cookies() -> bool:
    return cookie_secure(settings()) or arrived_over_tls()


def session_cookie_name() -> str:
    return sessions.cookie_name(secure_cookies())


def current() -> sessions.ActiveSession:
    active: sessions.ActiveSession = g.admin
    return active


def actor() -> Actor:
    return Actor(f"user:{current().user.name}", client_address())


def safe_next(target: str | None) -> str:
    """A redirect target after login: a local /admin path only; anything else gives /admin/."""
    fallback = url_for("admin.dashboard")
    if not target or len(target) > 2000 or any(ord(ch) < 0x20 or ch == "\\" for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin/") or target.startswith("//"):
        return fallback
    return target


def _same_origin() -> bool:
    """Browsers send Origin on POST; a foreign one is a cross-site request whatever the token says."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # older browsers and non-browser clients: the token still decides
    parts = urlsplit(origin)
    # This host as the request names it, or as page.url names it (a proxy on a
    # non-default port may pass Host without the port the browser puts in Origin).
    expected = {request.host, urlsplit(settings().page.url).netloc}
    return parts.netloc in expected and parts.scheme in ("http", "https")


@admin_ui.before_request
def _guard() -> WerkzeugResponse | None:
    g.admin = None
    token = request.cookies.get(session_cookie_name(), "")
    if token:
        g.admin = sessions.resume(get_db(), token, settings().admin, now())
    if request.endpoint in OPEN_ENDPOINTS:
        if request.method in STATE_CHANGING and not (_same_origin() and _login_csrf_valid()):
            abort(403, "missing or invalid CSRF token; reload the form")
        return None
    if g.admin is None:
        if request.method in STATE_CHANGING:
            abort(403, "sign in first")
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")), 303)
    if request.method in STATE_CHANGING and not (
        _same_origin() and sessions.csrf_valid(g.admin.session, request.form.get("csrf_token"))
    ):
        abort(403, "missing or invalid CSRF token; reload the page and try again")
    return None


@admin_ui.after_request
def _no_store(response: Response) -> Response:
    # Admin pages show secrets and private incidents: never cache them anywhere.
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@admin_ui.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"admin_session": g.get("admin")}


def _login_csrf_valid() -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    submitted = request.form.get("csrf_token", "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), submitted.encode())


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def set_cookie(response: WerkzeugResponse, name: str, value: str, max_age: int | None) -> None:
    """Session-grade cookie: HttpOnly, SameSite=Strict, Secure when the site is https."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=secure_cookies(), httponly=True, samesite="Strict"
    )


def parse_form(model: type[M], data: dict[str, Any]) -> M:
    """Validate form fields with the API's model; raises OperationError naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "form"
        raise OperationError(field, first["msg"]) from None


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(f"admin/{template}", page=settings().page, now=now(), **context), status


def done(endpoint: str, message: str, **values: Any) -> WerkzeugResponse:
    """Post/redirect/get: back to a page with a fixed notice (never echoing user input in the URL)."""
    return redirect(url_for(endpoint, notice=message, **values), 303)


NOTICES = {
    "acknowledged": "Acknowledged.",
    "already": "Nothing changed: it was already so.",
    "updated": "Update posted.",
    "resolved": "Incident resolved.",
    "impact": "Impact changed.",
    "components": "Affected components changed.",
    "published": "Incident published.",
    "postmortem": "Postmortem saved.",
    "root_cause": "Root cause saved.",
    "created": "Created.",
    "scheduled": "Maintenance scheduled.",
    "maintenance": "Maintenance changed.",
    "completed": "Maintenance completed.",
    "override": "Status override saved.",
    "cleared": "Status override cleared.",
    "revoked": "Revoked.",
    "labels_approved": "Labels approved: the agent now runs their checks.",
    "password": "Password changed; your other sessions were signed out.",
    "sessions": "Your other sessions were signed out.",
    "token": "API token revoked.",
    "removed": "Removed.",
    "enabled": "Channel enabled again.",
    "queued": "Test message queued; the worker sends it within seconds.",
}


@admin_ui.app_template_global()
def notice_text() -> str | None:
    return NOTICES.get(request.args.get("notice", ""))
