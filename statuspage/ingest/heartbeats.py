"""Heartbeat ping endpoints, compatible with the healthchecks.io ping API.

    /ping/<key>            success          /ping/<key>/start    a run started
    /ping/<key>/fail       failure          /ping/<key>/log      store the body only
    /ping/<key>/<0-255>    exit status: 0 is success, anything else failure

HEAD, GET and POST; a POST body (the job's output) is stored, truncated to
10 kB rather than refused, so a chatty job's ping is never lost; `?rid=`
pairs a start with its end. Answers are plain text: `OK`, `not found` (404),
or a 400 saying what is wrong. The handler records facts and evaluates right
after, like the agent API; it sends nothing.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, request
from werkzeug.wsgi import get_input_stream

from shared.checks import HeartbeatCheck
from statuspage.evaluate import evaluate_components
from statuspage.heartbeats import record_ping
from statuspage.storage import heartbeats as store
from statuspage.web import get_db, now, settings

heartbeats = Blueprint("heartbeats", __name__)

MAX_BODY_BYTES = 10_000
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
METHODS = ["GET", "HEAD", "POST"]


def _text(message: str, status: int = 200) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")


@heartbeats.route("/ping/<key>", methods=METHODS)
def ping_success(key: str) -> Response:
    return _ping(key, "success")


@heartbeats.route("/ping/<key>/start", methods=METHODS)
def ping_start(key: str) -> Response:
    return _ping(key, "start")


@heartbeats.route("/ping/<key>/fail", methods=METHODS)
def ping_fail(key: str) -> Response:
    return _ping(key, "fail")


@heartbeats.route("/ping/<key>/log", methods=METHODS)
def ping_log(key: str) -> Response:
    return _ping(key, "log")


@heartbeats.route("/ping/<key>/<int:exit_status>", methods=METHODS)
def ping_exit_status(key: str, exit_status: int) -> Response:
    if not 0 <= exit_status <= 255:
        return _text("exit status must be 0-255", 400)
    return _ping(key, "success" if exit_status == 0 else "fail", exit_status)


def _ping(key: str, kind: str, exit_status: int | None = None) -> Response:
    if not KEY_RE.match(key):
        return _text("not found", 404)
    rid = request.args.get("rid") or None
    if rid is not None and not RID_RE.match(rid):
        return _text("rid: use 1-64 letters, digits, '_', '.', ':', '-' (a UUID fits)", 400)
    db = get_db()
    heartbeat = store.by_key(db, key)
    config = settings()
    check = config.check(heartbeat.check_id) if heartbeat else None
    if heartbeat is None or not isinstance(check, HeartbeatCheck):
        return _text("not found", 404)
    body, truncated = _read_body()
    ping = store.Ping(
        kind=kind,
        at=now(),
        method=request.method,
        exit_status=exit_status,
        rid=rid,
        remote_addr=request.remote_addr,
        user_agent=(request.user_agent.string or None) and request.user_agent.string[:200],
        body=body,
        body_truncated=truncated,
    )
    result = record_ping(db, config, check, ping)
    if result is not None:
        evaluate_components(db, config, ping.at)
    return _text("OK")


def _read_body() -> tuple[str | None, bool]:
    """The first MAX_BODY_BYTES of a POST body, and whether more was sent (and dropped)."""
    if request.method != "POST":
        return None, False
    # Read the raw stream ourselves: Flask's request.stream refuses bodies above
    # MAX_CONTENT_LENGTH with 413, and a long job log must not lose its ping.
    stream = get_input_stream(request.environ, safe_fallback=True, max_content_length=None)
    data = stream.read(MAX_BODY_BYTES + 1)
    if not data:
        return None, False
    return data[:MAX_BODY_BYTES].decode("utf-8", "replace"), len(data) > MAX_BODY_BYTES
