"""Heartbeat ping endpoints: the healthchecks.io ping API, so its URLs and shell lines work unchanged.

    /ping/<key>            success          /ping/<key>/start    a run started
    /ping/<key>/           success          /ping/<key>/fail     failure
    /ping/<key>/log        store the body only
    /ping/<key>/<0-255>    exit status: 0 is success, anything else failure
    /ping/<ping-key>/<slug>[/start|/fail|/log|/<0-255>]   the same, by the check's slug

`<key>` is a heartbeat check's own random key; `<ping-key>` is the
installation's random ping key (healthchecks.io's project ping key) and
`<slug>` a heartbeat check's slug. HEAD, GET and POST; a POST body (the job's
output) is stored, truncated to `Ping-Body-Limit` bytes rather than refused, so a
chatty job's ping is never lost; `?rid=<uuid>` pairs a start with its end.

Answers as healthchecks.io gives them (its "Pinging API" docs are the
reference): `OK` (200), `not found` (404) for an unknown key or slug,
`invalid url format` (400) for an exit status above 255 or a slug with upper-case
letters, `invalid uuid format` (400) for a `rid` that is not a UUID, and
`Created` (201) when `?create=1` made the slug's check. Every answer carries
`Access-Control-Allow-Origin: *` (browsers may ping) and `Ping-Body-Limit`.
The handler records facts and evaluates right after, like the agent API; it
sends nothing.

Auto-provisioning: `?create=1` on a slug URL whose slug no check has creates a
heartbeat check (healthchecks.io's defaults, `statuspage.auto_heartbeats`), pings
it and answers `Created`; without it, or when auto-creation is off or full, an
unknown slug is `not found`. Bad input (exit status, rid) is refused before
anything is created.
"""

from __future__ import annotations

import hmac
import re

from flask import Blueprint, Response, request
from werkzeug.wsgi import get_input_stream

from shared.checks import SLUG_PATTERN, HeartbeatCheck
from statuspage.auto_heartbeats import Provisioned, provision
from statuspage.evaluate import evaluate_components
from statuspage.heartbeats import check_by_slug, record_ping
from statuspage.storage import heartbeats as store
from statuspage.web import client_address, forget_merged_settings, get_db, now, settings

heartbeats = Blueprint("heartbeats", __name__)

MAX_BODY_BYTES = 10_000
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SLUG_RE = re.compile(SLUG_PATTERN)
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
METHODS = ["GET", "HEAD", "POST"]
ACTIONS = ("start", "fail", "log")


def _text(message: str, status: int = 200) -> Response:
    response = Response(message, status=status, mimetype="text/plain")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Ping-Body-Limit"] = str(MAX_BODY_BYTES)
    return response


@heartbeats.route("/ping/<key>", methods=METHODS)
@heartbeats.route("/ping/<key>/", methods=METHODS)
def ping_success(key: str) -> Response:
    return _ping(_by_key(key), "success")


@heartbeats.route("/ping/<key>/<action>", methods=METHODS)
def ping_action_or_slug(key: str, action: str) -> Response:
    check = _by_key(key)
    if action in ACTIONS and check is not None:
        return _ping(check, action)
    # Not a check key with an action: the installation's ping key and a slug
    # (a slug may well be "start": the check key is tried first, as hc tells UUIDs from ping keys).
    return _slug_ping(key, action, "success")


@heartbeats.route("/ping/<key>/<int:exit_status>", methods=METHODS)
def ping_exit_status(key: str, exit_status: int) -> Response:
    check = _by_key(key)
    if check is None:
        return _slug_ping(key, str(exit_status), "success")
    return _exit(check, exit_status)


@heartbeats.route("/ping/<key>/<slug>/", methods=METHODS)
def ping_slug_slash(key: str, slug: str) -> Response:
    return _slug_ping(key, slug, "success")


@heartbeats.route("/ping/<key>/<slug>/<action>", methods=METHODS)
def ping_slug_action(key: str, slug: str, action: str) -> Response:
    if action not in ACTIONS:
        return _text("not found", 404)
    return _slug_ping(key, slug, action)


@heartbeats.route("/ping/<key>/<slug>/<int:exit_status>", methods=METHODS)
def ping_slug_exit_status(key: str, slug: str, exit_status: int) -> Response:
    return _slug_ping(key, slug, "success", exit_status)


def _by_key(key: str) -> HeartbeatCheck | None:
    if not KEY_RE.match(key):
        return None
    heartbeat = store.by_key(get_db(), key)
    check = settings().check(heartbeat.check_id) if heartbeat else None
    return check if isinstance(check, HeartbeatCheck) else None


def _ping_key_ok(ping_key: str) -> bool:
    if not KEY_RE.match(ping_key):
        return False
    stored = store.ping_key(get_db())
    # The ping key is a secret like a check key: compare in constant time.
    return stored is not None and hmac.compare_digest(stored, ping_key)


def _slug_ping(ping_key: str, slug: str, kind: str, exit_status: int | None = None) -> Response:
    """A ping by slug; with `?create=1` an unknown slug's check is made first (201 `Created`)."""
    if slug != slug.lower():
        # healthchecks.io: slugs are lower case, and an upper-case one is a malformed URL
        # (whatever the key: the answer tells nothing about it).
        return _text("invalid url format", 400)
    if not _ping_key_ok(ping_key):
        return _text("not found", 404)
    if not SLUG_RE.match(slug):
        return _text("not found", 404)

    def deliver(check: HeartbeatCheck | None) -> Response:
        return _ping(check, kind) if exit_status is None else _exit(check, exit_status)

    check = check_by_slug(settings(), slug)
    if check is not None:
        return deliver(check)
    # Another web process may have made it a moment ago: look again with fresh settings.
    forget_merged_settings()
    check = check_by_slug(settings(), slug)
    if check is not None or request.args.get("create") != "1":
        return deliver(check)
    # healthchecks creates the check, then refuses the malformed ping; we refuse first, storing nothing.
    if exit_status is not None and not 0 <= exit_status <= 255:
        return _text("invalid url format", 400)
    refusal = _refusal()
    if refusal is not None:
        return refusal
    outcome = provision(get_db(), settings(), slug, now(), client_address())
    forget_merged_settings()
    if outcome not in (Provisioned.CREATED, Provisioned.EXISTS):
        return _text("not found", 404)
    response = deliver(check_by_slug(settings(), slug))
    if outcome is Provisioned.CREATED and response.status_code == 200:
        response.status_code = 201
        response.set_data("Created")
    return response


def _exit(check: HeartbeatCheck | None, exit_status: int) -> Response:
    if check is None:
        return _text("not found", 404)
    if not 0 <= exit_status <= 255:
        return _text("invalid url format", 400)
    return _ping(check, "success" if exit_status == 0 else "fail", exit_status)


def _refusal() -> Response | None:
    """The 400 a malformed query gets (checked after the check is found), or None."""
    rid = request.args.get("rid")
    if rid is not None and not _is_uuid(rid):
        return _text("invalid uuid format", 400)
    return None


def _ping(check: HeartbeatCheck | None, kind: str, exit_status: int | None = None) -> Response:
    if check is None:
        return _text("not found", 404)
    refusal = _refusal()
    if refusal is not None:
        return refusal
    rid = request.args.get("rid")
    db = get_db()
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
    config = settings()
    result = record_ping(db, config, check, ping)
    if result is not None:
        evaluate_components(db, config, ping.at)
    return _text("OK")


def _is_uuid(text: str) -> bool:
    """A rid in the canonical 8-4-4-4-12 UUID form (what `uuidgen` prints).

    An empty `?rid=` is refused too: healthchecks.io checks any rid given, empty or not.
    """
    return UUID_RE.match(text) is not None


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
