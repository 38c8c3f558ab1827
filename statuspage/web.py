"""Request plumbing shared by every blueprint: the per-request database, settings, clock,
JSON errors for the APIs (never an HTML error page or a traceback), and the
security headers every response carries."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from shared.logging_setup import REQUEST_ID_HEADER, accept_request_id, request_id_var
from statuspage import auto_heartbeats, proxies
from statuspage.db import open_store_and_migrate
from statuspage.log_redaction import redact_url
from statuspage.markdown import install_filter
from statuspage.settings import Settings
from statuspage.storage import sql
from statuspage.storage.sql import Store  # noqa: I001

log = logging.getLogger(__name__)


# How long a process may serve auto-created heartbeat checks from memory before reading them
# again: another web process may have created one (this process sees its own at once).
AUTO_CHECKS_REFRESH_S = 5.0


def declared_settings() -> Settings:
    """The configuration as loaded (and reloaded): without auto-created heartbeat checks."""
    value: Settings = current_app.config["UPWATCH_SETTINGS"]
    return value


def settings() -> Settings:
    """The settings a request runs with: the configuration plus the auto-created heartbeat checks.

    Read once per request; kept per process for AUTO_CHECKS_REFRESH_S, and at once anew after
    a reload (new declared settings) or `forget_merged_settings`.
    """
    if "settings" not in g:
        g.settings = _merged_settings()
    value: Settings = g.settings
    return value


def forget_merged_settings() -> None:
    """Drop the cached merge: this request created or removed an auto-created check."""
    current_app.config.pop("UPWATCH_MERGED_SETTINGS", None)
    g.pop("settings", None)


def _merged_settings() -> Settings:
    declared = declared_settings()
    cached = current_app.config.get("UPWATCH_MERGED_SETTINGS")
    if cached is not None and cached[0] is declared and time.monotonic() - cached[1] < AUTO_CHECKS_REFRESH_S:
        merged: Settings = cached[2]
        return merged
    try:
        merged = auto_heartbeats.merged(get_db(), declared)
    except sql.Error as error:
        # Before `migrate` made the table, or the database is briefly unreachable: serve what we had.
        log.warning("auto-created heartbeat checks not read: %s", error)
        merged = cached[2] if cached is not None and cached[0] is declared else declared
    current_app.config["UPWATCH_MERGED_SETTINGS"] = (declared, time.monotonic(), merged)
    return merged


def now() -> datetime:
    """The request's clock reading (read once per request; tests inject the clock)."""
    if "now" not in g:
        g.now = current_app.config["UPWATCH_CLOCK"]()
    value: datetime = g.now
    return value


def get_db() -> Store:
    if "db" not in g:
        g.db = sql.open_store(declared_settings().database)
    db: Store = g.db
    return db


def json_error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> Response:
    response = jsonify({"error": message, "details": details or []})
    response.status_code = status
    return response


def client_address() -> str:
    """The client's address for rate limits and the audit log (proxies believed only if trusted)."""
    if "client_address" not in g:
        g.client_address = proxies.client_address(request, _trusted_proxies())
    value: str = g.client_address
    return value


def arrived_over_tls() -> bool:
    return proxies.arrived_over_tls(request, _trusted_proxies())


def _trusted_proxies() -> tuple[proxies.IPNetwork, ...]:
    cached = current_app.config.get("UPWATCH_TRUSTED_PROXIES")
    if cached is None or cached[0] is not settings():
        cached = (settings(), proxies.parse_networks(settings().security.trusted_proxies))
        current_app.config["UPWATCH_TRUSTED_PROXIES"] = cached
    networks: tuple[proxies.IPNetwork, ...] = cached[1]
    return networks


# No inline script or style anywhere: pages load /static files only. Images may
# come from https (page.logo is an operator-chosen URL). frame-ancestors stops
# clickjacking of the admin forms; form-action stops a injected form posting away.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


_SECURITY_ITEMS = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS.items())


def _security_headers(response: Response) -> Response:
    """Install the headers on every response; a view may set a stricter value first.

    One pass over the response's few headers, not a `setdefault` per header: each
    lookup of an absent name raises and catches a KeyError inside Werkzeug, and the
    agent API answers hundreds of reports a second (bench/ingest.py).
    """
    headers = response.headers
    present = {name.lower() for name, _value in headers.items()}
    headers.extend([(name, value) for lower, name, value in _SECURITY_ITEMS if lower not in present])
    max_age = settings().security.hsts_max_age
    if max_age and "strict-transport-security" not in present and arrived_over_tls():
        headers["Strict-Transport-Security"] = f"max-age={max_age}; includeSubDomains"
    return response


def _close_db(_error: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        sql.close(db)


def _is_api() -> bool:
    return request.path.startswith(("/api/", "/healthz"))


def _start_request_id() -> None:
    # Every log record written while serving this request carries the id
    # (shared.logging_setup.RequestIdFilter reads the context variable).
    g.request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
    request_id_var.set(g.request_id)


def _echo_request_id(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _end_request_id(_error: BaseException | None = None) -> None:
    # gunicorn reuses threads: clear the id so it cannot leak into unrelated records.
    request_id_var.set(None)


def init_app(app: Flask) -> None:
    """Migrate the database once at start-up and install request ids, teardown and error handlers."""
    sql.close(open_store_and_migrate(app.config["UPWATCH_SETTINGS"].database))
    app.before_request(_start_request_id)
    app.after_request(_echo_request_id)
    app.teardown_request(_end_request_id)
    app.teardown_appcontext(_close_db)
    app.after_request(_security_headers)
    install_filter(app)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if error.code == 413 and _is_api():
            limit = app.config["MAX_CONTENT_LENGTH"]
            return json_error(413, f"request body too large: the limit is {limit} bytes")
        if _is_api():
            return json_error(error.code or 500, error.description or error.name)
        return error

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        # Logged with the traceback for operators; the client gets a plain message.
        log.exception("unhandled error path=%s", redact_url(request.path))
        if _is_api():
            return json_error(500, "internal error; the collector logged the details")
        return Response("Internal error", status=500, mimetype="text/plain")
