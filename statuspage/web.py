"""Request plumbing shared by every blueprint: the per-request database, settings, clock,
JSON errors for the APIs (never an HTML error page or a traceback), and the request id
and security headers every response carries (`ResponseHeaders`)."""

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
    store = g._get_current_object()  # one proxy lookup: this runs on every agent report
    value: Settings | None = getattr(store, "settings", None)
    if value is None:
        value = store.settings = _merged_settings()
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
    store = g._get_current_object()
    value: datetime | None = getattr(store, "now", None)
    if value is None:
        value = store.now = current_app.config["UPWATCH_CLOCK"]()
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
    return _trusted_networks(current_app, declared_settings())


def _trusted_networks(app: Flask, declared: Settings) -> tuple[proxies.IPNetwork, ...]:
    """The configured trusted proxies, parsed once per configuration (a reload parses anew)."""
    cached = app.config.get("UPWATCH_TRUSTED_PROXIES")
    if cached is None or cached[0] is not declared:
        cached = (declared, proxies.parse_networks(declared.security.trusted_proxies))
        app.config["UPWATCH_TRUSTED_PROXIES"] = cached
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


# The agent API answers agents, not browsers: JSON that no browser renders as a document,
# so the headers that govern a rendered page (Referrer-Policy, Permissions-Policy,
# Cross-Origin-Opener-Policy, a CSP for its scripts and styles) have nothing to act on.
# What could still matter is kept: no MIME sniffing, and a CSP that lets nothing load or
# frame it (X-Frame-Options' job in CSP 2). Four header lines fewer and a CSP a fifth as
# long on every report: gunicorn checks and writes each line, and the agent parses it.
AGENT_API_PREFIX = "/api/v1/agent/"
AGENT_API_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def _items(headers: dict[str, str]) -> tuple[tuple[str, tuple[str, str]], ...]:
    # (lower-case name, header) pairs, so a response's own value is found without re-casing ours.
    return tuple((name.lower(), (name, value)) for name, value in headers.items())


_SECURITY_ITEMS = _items(SECURITY_HEADERS)
_AGENT_API_ITEMS = _items(AGENT_API_SECURITY_HEADERS)


class ResponseHeaders:
    """WSGI middleware around the Flask app: the request id, and the headers every response carries.

    The request id is the client's X-Request-ID when well formed, else a new one;
    every log record written while serving the request carries it
    (shared.logging_setup.RequestIdFilter reads the context variable) and the
    response echoes it. The security headers are added unless the response set
    the same header itself (a view may set a stricter value first): the page set
    (SECURITY_HEADERS), or the agent API's own short one; HSTS on either when
    the request arrived over TLS. At the WSGI edge rather than in Flask's
    request hooks because it is one call per request on plain lists: the agent
    API answers hundreds of reports a second (bench/ingest.py), and three hooks
    with Werkzeug's header validation cost more than storing a small report.
    """

    def __init__(self, wsgi_app: Any, app: Flask):
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request_id = accept_request_id(environ.get("HTTP_X_REQUEST_ID"))
        token = request_id_var.set(request_id)

        agent_api = environ.get("PATH_INFO", "").startswith(AGENT_API_PREFIX)
        ours = _AGENT_API_ITEMS if agent_api else _SECURITY_ITEMS

        def start_with_headers(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _value in headers}
            added = [item for lower, item in ours if lower not in present]
            added.append((REQUEST_ID_HEADER, request_id))
            hsts = self._hsts(environ)
            if hsts and "strict-transport-security" not in present:
                added.append(("Strict-Transport-Security", hsts))
            return start_response(status, headers + added, exc_info)

        try:
            return self.wsgi_app(environ, start_with_headers)
        finally:
            # gunicorn reuses threads: the id must not leak into unrelated records.
            request_id_var.reset(token)

    def _hsts(self, environ: dict[str, Any]) -> str | None:
        declared: Settings = self.app.config["UPWATCH_SETTINGS"]
        max_age = declared.security.hsts_max_age
        if not max_age or not proxies.environ_over_tls(environ, _trusted_networks(self.app, declared)):
            return None
        return f"max-age={max_age}; includeSubDomains"


def _close_db(_error: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        sql.close(db)


def _is_api() -> bool:
    return request.path.startswith(("/api/", "/healthz"))


def init_app(app: Flask) -> None:
    """Migrate the database once at start-up; install request ids, security headers, teardown and
    error handlers."""
    sql.close(open_store_and_migrate(app.config["UPWATCH_SETTINGS"].database))
    app.wsgi_app = ResponseHeaders(app.wsgi_app, app)  # type: ignore[method-assign]
    app.teardown_appcontext(_close_db)
    install_filter(app)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        return api_http_error(error) if _is_api() else error

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Any:
        if _is_api():
            return api_internal_error(request.path)
        log.exception("unhandled error path=%s", redact_url(request.path))
        return Response("Internal error", status=500, mimetype="text/plain")


def api_http_error(error: HTTPException) -> Response:
    """The JSON answer to an HTTP error on an API path (a 413 names the limit)."""
    if error.code == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return json_error(413, f"request body too large: the limit is {limit} bytes")
    return json_error(error.code or 500, error.description or error.name)


def api_internal_error(path: str) -> Response:
    """Call while handling an unexpected exception on an API path: it is logged with its
    traceback for operators; the client gets a plain JSON 500."""
    log.exception("unhandled error path=%s", redact_url(path))
    return json_error(500, "internal error; the collector logged the details")
