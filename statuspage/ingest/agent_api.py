"""`GET /api/v1/agent/assignments` and `POST /api/v1/agent/reports` (bearer token per agent)."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import jiter
from flask import Blueprint, Request, Response, current_app, g, request
from pydantic import ValidationError

from shared.checks import ID_PATTERN
from shared.schema import ActionResult, Report, Result
from statuspage.assignments import assignments_json, build_assignments, checks_for
from statuspage.engine.check_state import CheckState
from statuspage.evaluate import (
    StatePlan,
    apply_results,
    evaluate_components,
    plan_from_states,
    plan_states,
    save_plan,
    save_planned,
)
from statuspage.ingest.state_cache import STATES
from statuspage.responses import service as responses
from statuspage.settings import Settings
from statuspage.storage import sql
from statuspage.storage.agents import (
    Agent,
    Seen,
    authenticate,
    hash_token,
    record_declared_labels,
    record_seen,
)
from statuspage.storage.drills import running_drills
from statuspage.storage.responses import record_offered_actions
from statuspage.storage.results import (
    PreparedResults,
    SomeStoredAlready,
    insert_all_new,
    insert_prepared,
    prepare_results,
)
from statuspage.storage.sql import Store  # noqa: I001
from statuspage.storage.transaction import evaluates_inside_ingest_write, ingest_write
from statuspage.web import json_error, now, settings

log = logging.getLogger(__name__)
_local = threading.local()


agent_api = Blueprint("agent_api", __name__, url_prefix="/api/v1/agent")

LABEL_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
ACTION_RE = re.compile(ID_PATTERN)


def get_db(config: Settings | None = None) -> Store:
    """This thread's connection to the database, kept open across requests (`config`: the
    request's settings when the caller has them at hand).

    Agents call often; opening a connection and setting its pragmas costs about
    half a millisecond, more than storing a small report. gunicorn's threads are
    long-lived, so each keeps one connection (per database, so tests with many
    apps in one thread stay apart). Transactions never outlive a request. On
    PostgreSQL the thread keeps one pooled connection the same way.
    """
    database = (config or settings()).database
    cached: tuple[object, Store] | None = getattr(_local, "db", None)
    if cached is not None and cached[0] == database:
        return cached[1]
    if cached is not None:
        sql.close(cached[1])
    db = sql.open_store(database)
    _local.db = (database, db)
    return db


# From this many results a report's states are planned before the write lock (and the
# rows re-read under it to check the plan still holds): planning then costs more than
# that second read. Smaller reports (most agents send a few results every few seconds)
# read and plan once, under the lock.
PLAN_BEFORE_LOCK_FROM = 16

# token hash -> (monotonic time read, agent). Reports are the hot path: they use an
# agent row read at most AUTH_CACHE_S ago, and their write transaction re-checks the
# token is live (record_seen's conditional UPDATE), so a revoked token is refused
# at once all the same; a refusal for unassigned checks is re-decided on a fresh row.
AUTH_CACHE_S = 5.0
_auth_cache: dict[str, tuple[float, Agent]] = {}


class _Revoked(Exception):
    """The token was revoked after it was read: the report must not be stored."""


@agent_api.before_request
def _authenticate() -> Response | None:
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup per report
    return authenticate_request(req, report=req.endpoint == "agent_api.reports")


def authenticate_request(req: Request, *, report: bool) -> Response | None:
    """Put the agent the request's bearer token names into `g` (`agent`, `token`), or return
    the 401 to answer. A `report` may use the agent row read up to AUTH_CACHE_S ago."""
    header = req.environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("missing bearer token")
    token = token.strip()
    agent = _cached_agent(token) if report else None
    if agent is None:
        agent = authenticate(get_db(), token)
        if agent is None:
            return _unauthorized("unknown or revoked agent token")
        if len(_auth_cache) > 10_000:
            _auth_cache.clear()
        _auth_cache[hash_token(token)] = (time.monotonic(), agent)
    store = g._get_current_object()
    store.agent = agent
    store.token = token
    return None


def _cached_agent(token: str) -> Agent | None:
    hit = _auth_cache.get(hash_token(token))
    if hit is None or time.monotonic() - hit[0] > AUTH_CACHE_S:
        return None
    return hit[1]


def _fresh_agent(token: str) -> Agent | None:
    """The agent row as stored now (the cache entry replaced), or None when revoked."""
    _auth_cache.pop(hash_token(token), None)
    agent = authenticate(get_db(), token)
    if agent is not None:
        _auth_cache[hash_token(token)] = (time.monotonic(), agent)
    return agent


def _unauthorized(message: str) -> Response:
    response = json_error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="upwatch-agent"'
    return response


@agent_api.get("/assignments")
def assignments() -> Response:
    """The checks assigned under the agent's authorised labels (see `Agent.authorized_labels`).

    `?labels=` is what the agent declares about itself: it may narrow the
    labels the operator gave its token; declared labels outside them authorise
    nothing and wait for an operator's approval (header `Upwatch-Pending-Labels`).
    """
    agent: Agent = g.agent
    declared = request.args.get("labels", "")
    labels = [label for label in declared.split(",") if label]
    bad = [label for label in labels if not LABEL_RE.match(label)]
    if bad or len(labels) > 50:
        return json_error(400, f"invalid labels: {bad[:3] or 'more than 50'}")
    if sorted(set(labels)) != sorted(agent.declared_labels):
        if record_declared_labels(get_db(), agent.id, labels):
            _auth_cache.pop(hash_token(g.token), None)
        agent = Agent(**{**agent.__dict__, "declared_labels": sorted(set(labels))})
        if agent.pending_labels:
            log.warning(
                "agent declares labels no operator gave it agent=%s pending=%s (approve: admin UI, Agents)",
                agent.name,
                ",".join(agent.pending_labels),
            )
    # The ids of the actions the host allows (none: it runs nothing); shown to operators.
    action_ids = [action for action in request.args.get("actions", "").split(",") if action]
    bad = [action for action in action_ids if not ACTION_RE.match(action)]
    if bad or len(action_ids) > 100:
        return json_error(400, f"invalid actions: {bad[:3] or 'more than 100'}")
    record_offered_actions(get_db(), agent.name, action_ids, now())
    drills = {cid: (d.id, d.ends_at) for cid, d in running_drills(get_db(), now()).items()}
    orders = responses.orders_for_agent(get_db(), settings(), agent.name, now())
    body, etag = build_assignments(list(settings().checks), agent, drills, orders)
    if request.if_none_match.contains(etag.strip('"')):
        response = Response(status=304)
    else:
        response = Response(assignments_json(body), mimetype="application/json")
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    if agent.pending_labels:
        response.headers["Upwatch-Pending-Labels"] = ",".join(agent.pending_labels)
    return response


@agent_api.post("/action-results")
def action_results() -> Response:
    """Store the result of one remediation order (a fact; idempotent per order).

    200 stored (`{"stored": true}`, or false for a repeat); 400 not JSON; 404 an order
    this agent was never given; 415 not JSON; 422 schema violations. Nothing is stored
    unless the answer is 200.
    """
    agent: Agent = g.agent
    if not request.is_json:
        return json_error(415, "Content-Type must be application/json")
    try:
        result = ActionResult.model_validate_json(request.get_data(cache=False), strict=False)
    except ValidationError as error:
        details = [_detail(item) for item in error.errors(include_url=False, include_input=False)]
        first = details[0]
        return json_error(422, f"invalid action result: {first['loc']}: {first['msg']}", details[:20])
    try:
        stored = responses.record_result(get_db(), agent.name, result, now())
    except responses.ResponseError as error:
        return json_error(error.status, str(error))
    except sql.Error as error:
        log.error("action result not stored agent=%s error=%s", agent.name, error)
        response = json_error(503, "storage busy or unavailable; nothing was stored, retry later")
        response.headers["Retry-After"] = "1"
        return response
    return Response(json.dumps({"stored": stored}), mimetype="application/json")


@agent_api.post("/reports")
def reports() -> Response:
    """The Flask route of the endpoint `report_route.ReportRoute` answers first (see there):
    it keeps the endpoint in the URL map (other methods get 405) and serves an app built
    without that middleware."""
    return store_report(request._get_current_object())  # type: ignore[attr-defined]


def store_report(req: Request) -> Response:
    """Validate the whole report, then store it in one short transaction; acknowledge every id.

    Status codes: 200 stored (the body says how many were new and how many
    duplicates); 400 not strict JSON; 413 body too large; 415 not JSON;
    422 schema or time violations (details name `results.N.<field>`); 403 wrong
    agent or checks not assigned to it (details name the results); 503 storage
    busy or unavailable (retry). Nothing is stored unless the answer is 200.
    """
    agent: Agent = g.agent
    config = settings()
    if not req.is_json:
        return json_error(415, "Content-Type must be application/json")
    body = req.get_data(cache=False)
    if req.content_length is None:
        # Chunked uploads carry no length: Werkzeug stops reading at the cap, so a body
        # that fills it was cut short. Say so, rather than "not valid JSON".
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        if len(body) >= limit:
            return json_error(413, f"request body too large: the limit is {limit} bytes")
    report = _parse_report(body)
    if isinstance(report, Response):
        return report
    if report.agent != agent.name:
        return json_error(403, f"this token belongs to agent {agent.name!r}, not {report.agent!r}")
    refused = _foreign_checks(report, agent, config)
    if refused:
        # Decide a refusal on the stored row, not on a cached one (labels may have changed).
        fresh = _fresh_agent(g.token)
        if fresh is None:
            return _unauthorized("unknown or revoked agent token")
        agent = fresh
        refused = _foreign_checks(report, agent, config)
    if refused:
        names = sorted({detail["msg"].split("'")[1] for detail in refused})
        return json_error(
            403, f"checks not assigned to agent {agent.name!r}: {', '.join(names[:5])}", refused[:50]
        )
    received_at = now()
    placed = place_on_timeline(report, received_at, config.clock_skew_tolerance)
    if isinstance(placed, Response):
        return placed
    results, skew_s = placed
    db = get_db(config)
    # The CPU work happens before the write lock: encoding the rows, and planning where
    # the results take this agent's check states from the rows as they are now.
    prepared = prepare_results(agent.name, results, received_at)
    try:
        try:
            stored = _store_report(db, config, agent, report, prepared, received_at, skew_s, replay=False)
        except SomeStoredAlready:
            # A replay (all or part of the batch is stored): everything was rolled back;
            # store again, reading which ids are stored under the lock.
            stored = _store_report(db, config, agent, report, prepared, received_at, skew_s, replay=True)
    except _Revoked:
        _auth_cache.pop(hash_token(g.token), None)
        return _unauthorized("unknown or revoked agent token")
    except sql.Error as error:
        # Busy beyond the timeout, disk full, I/O error: nothing was committed and
        # the agent keeps the batch; tell it to come back rather than fail it.
        log.error("report not stored agent=%s error=%s", agent.name, error)
        response = json_error(503, "storage busy or unavailable; nothing was stored, retry later")
        response.headers["Retry-After"] = "1"
        return response
    new_results, evaluate_after = stored
    duplicates = len(results) - len(new_results)
    if evaluate_after:
        _evaluate_after_commit(db, config, received_at, agent.name)
    # Every id of the report is now stored (new or not): acknowledge each once.
    # Written by hand: the ids are canonical UUID strings, nothing to escape (one join, not a
    # string per id: a tenth of a millisecond at 500 results).
    acknowledged = '","'.join(prepared.ids)
    listed = f'"{acknowledged}"' if prepared.ids else ""
    ack = f'{{"accepted":{len(new_results)},"duplicates":{duplicates},"acknowledged":[{listed}]}}'
    return Response(ack, content_type="application/json")


def _store_report(
    db: Store,
    config: Settings,
    agent: Agent,
    report: Report,
    batch: PreparedResults,
    received_at: datetime,
    skew_s: float,
    *,
    replay: bool,
) -> tuple[list[Result], bool]:
    """Store one report's results and the agent's liveness in one write transaction.

    With `replay` False every result is expected new (`insert_all_new`: raises
    SomeStoredAlready, after the transaction rolled back, when some are stored);
    with True, which are new is read under the lock. The states of a larger report
    (PLAN_BEFORE_LOCK_FROM) are planned before the lock and re-planned under it if
    another report of this agent committed in between (or some results were replays),
    so nothing is lost or counted twice (`_advance_states`). A small report's are
    planned under the lock. Both start from the states this process stored last when
    the agent's state serial says they still hold (`state_cache`), else from rows read.
    Returns (the results stored, whether to evaluate after the commit: PostgreSQL).
    Raises _Revoked when the token was revoked meanwhile (nothing is stored).
    """
    database = str(config.database)
    early = _plan_before_lock(db, config, agent, batch, database)
    evaluate_after = False
    # SQLite: the process's ingest connection from here on (the thread's `db` read before).
    with ingest_write(db, database, agent.id) as db:
        if replay:
            new_results = insert_prepared(db, batch)
        else:
            insert_all_new(db, batch)
            new_results = batch.results
        expected = STATES.serial(database, agent.id)
        seen = record_seen(
            db,
            agent.id,
            received_at,
            report.agent_version,
            skew_s,
            dropped=report.dropped,
            backlog=report.backlog,
            duplicates=len(report.results) - len(new_results),
            expected_serial=expected,
        )
        if seen is None:
            raise _Revoked
        stored: dict[str, CheckState] = {}
        if new_results:
            plan = _advance_states(db, config, agent, database, early, expected, seen, new_results)
            stored = plan.after
            if components_may_change(config, plan, received_at):
                if evaluates_inside_ingest_write(db):
                    evaluate_components(db, config, received_at)
                else:
                    evaluate_after = True
    # Committed: the next report of this agent to this process may skip reading these back.
    STATES.remember(database, agent.id, expected, seen, stored)
    return new_results, evaluate_after


# A plan made before the lock, and the state serial it was made at when it came from the
# states this process stored last (None: from the rows read).
_EarlyPlan = tuple[StatePlan, int | None]


def _plan_before_lock(
    db: Store, config: Settings, agent: Agent, batch: PreparedResults, database: str
) -> _EarlyPlan | None:
    """A larger report's states, planned before the write lock (pure CPU work, kept off it)."""
    if len(batch.results) < PLAN_BEFORE_LOCK_FROM:
        return None
    serial = STATES.serial(database, agent.id)
    known = STATES.states_at(database, agent.id, serial, {r.check_id for r in batch.results})
    if known is None:
        return plan_states(db, config, agent.name, batch.results), None
    return plan_from_states(config, agent.name, batch.results, known), serial


def _advance_states(
    db: Store,
    config: Settings,
    agent: Agent,
    database: str,
    early: _EarlyPlan | None,
    expected: int | None,
    seen: Seen,
    new_results: list[Result],
) -> StatePlan:
    """Under the lock: store where `new_results` take the agent's states; return the plan stored.

    A plan made early from remembered states holds when nothing wrote since (`seen`) and
    every result is new; one made from rows read is checked against the rows (`save_plan`).
    Otherwise, and for small reports, the states are taken from this process's memory when
    it is sure of them (`state_cache`), else read.
    """
    if early is not None:
        plan, planned_at = early
        if planned_at is None:
            return save_plan(db, config, plan, new_results, serial_renewed=True)
        if seen.as_expected and expected == planned_at and len(new_results) == len(plan.results):
            save_planned(db, plan, serial_renewed=True)
            return plan
    known = STATES.known(database, agent.id, expected, seen, {r.check_id for r in new_results})
    return apply_results(db, config, agent.name, new_results, known=known, serial_renewed=True)


def _evaluate_after_commit(db: Store, config: Settings, at: datetime, agent_name: str) -> None:
    """PostgreSQL: evaluate in its own transaction once the report's facts are committed.

    The results are stored whatever happens here, so a failure is logged and the
    report still acknowledged: the worker's next pass evaluates the same facts.
    """
    try:
        evaluate_components(db, config, at)
    except sql.Error as error:
        # The worker's next pass evaluates the same committed facts.
        log.error("evaluation after report failed agent=%s error=%s", agent_name, error)


def components_may_change(config: Settings, plan: StatePlan, at: datetime) -> bool:
    """Whether the states a report stored can have changed any component's status.

    Only if a (check, agent) state of a centrally defined check changed status,
    is new, or was stale (silent past `stale_after_intervals`) and is live again.
    Otherwise every component's stored status still holds, and the report skips
    evaluation; the passing of time alone is the worker's job.
    """
    for check_id, state in plan.after.items():
        check = config.check(check_id)
        if check is None or check.component is None:
            continue  # local checks drive no component
        previous = plan.before.get(check_id)
        if previous is None or previous.status != state.status:
            return True
        horizon = check.interval * config.stale_after_intervals
        if at - previous.last_result_at > horizon:
            return True
    return False


def place_on_timeline(
    report: Report, received_at: datetime, tolerance: timedelta
) -> tuple[list[Result], float] | Response:
    """Move results onto the collector's clock; refuse results from the future.

    The skew is `received_at - sent_at` (positive: the agent's clock is behind;
    it includes network delay, hence the tolerance). Within the tolerance the
    agent's times are kept as they are; beyond it every result is shifted by
    the skew. A result that is then still later than `received_at + tolerance`
    claims to have happened after it was sent: 422 naming the results.
    Returns (results, skew in seconds) or the error response.
    """
    skew = received_at - report.sent_at
    results = list(report.results)
    if abs(skew) > tolerance:
        results = [r.model_copy(update={"started_at": r.started_at + skew}) for r in results]
    limit = received_at + tolerance
    if results:
        # The same instant in the results' own tzinfo object (pydantic gives a report's times one
        # per offset): datetimes sharing a tzinfo compare without asking it for offsets, about
        # eight times faster, which a report of 500 results notices.
        limit = limit.astimezone(results[0].started_at.tzinfo)
    future = [
        {
            "loc": f"results.{index}.started_at",
            "msg": f"{(r.started_at - received_at).total_seconds():.0f}s in the future of the collector's"
            f" clock (tolerance {tolerance.total_seconds():.0f}s)",
            "type": "future_result",
        }
        for index, r in enumerate(results)
        if r.started_at > limit
    ]
    if future:
        first = future[0]
        return json_error(422, f"invalid report: {first['loc']}: {first['msg']}", future[:50])
    return results, skew.total_seconds()


def _parse_report(body: bytes) -> Report | Response:
    """The report, parsed once on the good path; a 400 or 422 naming the problem otherwise.

    pydantic parses and validates in one pass (strict: "12" is not a number and 1 is not a
    string). The wire models refuse NaN and Infinity themselves (no float field allows them,
    no other field takes a float). What pydantic lets through is a repeated key (the last one
    wins: which one did a proxy in front of us see?), so the keys the report was built from
    are counted against the keys in the body; only when they differ does the strict parse
    decide. At 500 results the count costs 0.25 ms where a second parse cost 0.6 ms.
    """
    try:
        report = Report.model_validate_json(body, strict=True)
    except ValidationError as error:
        return _strict_json_refusal(body) or _schema_refusal(error)
    if _keys_in_body(body) != _keys_in_report(report):
        refused = _strict_json_refusal(body)
        if refused is not None:
            return refused
    return report


def _strict_json_refusal(body: bytes) -> Response | None:
    """400 when the body is not strict JSON (NaN/Infinity literals, repeated keys, broken
    syntax), 422 when it is not an object; None when it is a strict JSON object."""
    try:
        # jiter is the parser pydantic uses, here with both refusals switched on.
        data = jiter.from_json(body, allow_inf_nan=False, catch_duplicate_keys=True)
    except ValueError as error:
        return json_error(400, f"body is not valid JSON: {_json_problem(body, error)}")
    if not isinstance(data, dict):
        return json_error(422, "report must be a JSON object")
    return None


def _schema_refusal(error: ValidationError) -> Response:
    details = [_detail(item) for item in error.errors(include_url=False, include_input=False)]
    first = details[0]
    return json_error(422, f"invalid report: {first['loc']}: {first['msg']}", details[:20])


_WHITESPACE = b" \t\r\n"


def _keys_in_body(body: bytes) -> int:
    """At least the number of keys in the body; exactly that unless a string holds a quote
    followed by a colon.

    Every key ends in `"` then `:`, with only whitespace allowed between them; with the
    whitespace taken out, each key is one `":`. A string's escaped quote before a colon
    counts too, which can only make the number larger (and send the body to the strict
    parse).
    """
    return body.translate(None, _WHITESPACE).count(b'":')


def _keys_in_report(report: Report) -> int:
    """The distinct keys the body's objects gave: the fields each model was given (a repeated
    key is one field) and the keys of each result's metrics and detail. Any other key would
    have failed validation (`extra="forbid"`), so more keys in the body means a repeat."""
    return len(report.model_fields_set) + sum(
        len(r.model_fields_set) + len(r.metrics) + len(r.detail) for r in report.results
    )


def _json_problem(body: bytes, error: ValueError) -> str:
    """A message a person understands: the stdlib names NaN and duplicate keys plainly.

    Only on the error path, so its slower parse costs nothing on good reports.
    """
    try:
        json.loads(body, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except ValueError as plain:
        return str(plain)
    except RecursionError:
        return "nested too deeply"
    return str(error)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _value in pairs]
    if len(keys) != len(set(keys)):
        duplicate = next(key for key in keys if keys.count(key) > 1)
        raise ValueError(f"duplicate key {duplicate!r}")
    return dict(pairs)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed; numbers must be finite")


def _detail(item: Any) -> dict[str, Any]:
    loc = ".".join(str(part) for part in item["loc"]) or "(body)"
    return {"loc": loc, "msg": item["msg"], "type": item["type"]}


def _foreign_checks(report: Report, agent: Agent, config: Settings) -> list[dict[str, str]]:
    """Details naming each result of a check that is defined centrally but not assigned
    to this agent.

    Ids the collector does not define at all are the agent's local checks:
    stored under the agent, shown to operators, never affecting a component.
    """
    mine, defined = _assigned(agent, config)
    return [
        {
            "loc": f"results.{index}.check_id",
            "msg": f"check '{r.check_id}' is not assigned to agent {agent.name!r}",
            "type": "not_assigned",
        }
        for index, r in enumerate(report.results)
        if r.check_id in defined and r.check_id not in mine
    ]


_AgentKey = tuple[str, tuple[str, ...], tuple[str, ...]]
_AssignedCache = tuple[Settings, frozenset[str], dict[_AgentKey, frozenset[str]]]


def _assigned(agent: Agent, config: Settings) -> tuple[frozenset[str], frozenset[str]]:
    """(check ids assigned to this agent, check ids defined centrally), cached per settings.

    The answer depends only on the configuration (fixed until a reload replaces
    the Settings object, which starts a fresh cache) and the agent's name and
    labels; matching every selector on every report would cost O(checks).
    """
    cached: _AssignedCache | None = current_app.extensions.get("upwatch_assigned")
    if cached is None or cached[0] is not config:
        cached = (config, frozenset(check.id for check in config.checks), {})
        current_app.extensions["upwatch_assigned"] = cached
    _config, defined, by_agent = cached
    # The labels as stored (authorized_labels is a function of them): no set built per report.
    key = (agent.name, tuple(agent.labels), tuple(agent.declared_labels))
    mine = by_agent.get(key)
    if mine is None:
        if len(by_agent) > 10_000:
            by_agent.clear()
        mine = frozenset(check.id for check in checks_for(list(config.checks), agent))
        by_agent[key] = mine
    return mine, defined
