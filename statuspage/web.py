"""Request plumbing shared by every blueprint: the per-request database, settings, clock,
and JSON errors for the APIs (never an HTML error page or a traceback)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from sqlite_utils import Database
from werkzeug.exceptions import HTTPException

from statuspage.db import connect, migrate
from statuspage.settings import Settings

log = logging.getLogger(__name__)


def settings() -> Settings:
    value: Settings = current_app.config["UPWATCH_SETTINGS"]
    return value


def now() -> datetime:
    """The request's clock reading (read once per request; tests inject the clock)."""
    if "now" not in g:
        g.now = current_app.config["UPWATCH_CLOCK"]()
    value: datetime = g.now
    return value


def get_db() -> Database:
    if "db" not in g:
        g.db = connect(settings().database)
    db: Database = g.db
    return db


def json_error(status: int, message: str, details: list[dict[str, Any]] | None = None) -> Response:
    response = jsonify({"error": message, "details": details or []})
    response.status_code = status
    return response


def _close_db(_error: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


def _is_api() -> bool:
    return request.path.startswith(("/api/", "/healthz"))


def init_app(app: Flask) -> None:
    """Migrate the database once at start-up and install teardown and error handlers."""
    db = connect(app.config["UPWATCH_SETTINGS"].database)
    try:
        migrate(db)
    finally:
        db.conn.close()
    app.teardown_appcontext(_close_db)

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
        log.exception("unhandled error path=%s", request.path)
        if _is_api():
            return json_error(500, "internal error; the collector logged the details")
        return Response("Internal error", status=500, mimetype="text/plain")
