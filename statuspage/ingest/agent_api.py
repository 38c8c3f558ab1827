"""`GET /api/v1/agent/assignments` and `POST /api/v1/agent/reports` (bearer token per agent)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from flask import Blueprint, Response, g, request
from pydantic import ValidationError

from shared.schema import Report, ReportAck
from statuspage.assignments import build_assignments, checks_for
from statuspage.evaluate import apply_results, evaluate_components
from statuspage.storage.agents import Agent, authenticate, record_declared_labels, record_seen
from statuspage.storage.results import insert_results
from statuspage.web import get_db, json_error, now, settings

log = logging.getLogger(__name__)
agent_api = Blueprint("agent_api", __name__, url_prefix="/api/v1/agent")

LABEL_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@agent_api.before_request
def _authenticate() -> Response | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("missing bearer token")
    agent = authenticate(get_db(), token.strip())
    if agent is None:
        return _unauthorized("unknown or revoked agent token")
    g.agent = agent
    return None


def _unauthorized(message: str) -> Response:
    response = json_error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="upwatch-agent"'
    return response


@agent_api.get("/assignments")
def assignments() -> Response:
    agent: Agent = g.agent
    declared = request.args.get("labels", "")
    if declared:
        labels = [label for label in declared.split(",") if label]
        bad = [label for label in labels if not LABEL_RE.match(label)]
        if bad or len(labels) > 50:
            return json_error(400, f"invalid labels: {bad[:3] or 'more than 50'}")
        record_declared_labels(get_db(), agent.id, labels)
        agent = Agent(**{**agent.__dict__, "declared_labels": sorted(set(labels))})
    body, etag = build_assignments(list(settings().checks), agent)
    if request.if_none_match.contains(etag.strip('"')):
        response = Response(status=304)
    else:
        response = Response(body.model_dump_json(), mimetype="application/json")
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return response


@agent_api.post("/reports")
def reports() -> Response:
    agent: Agent = g.agent
    if not request.is_json:
        return json_error(415, "Content-Type must be application/json")
    report = _parse_report(request.get_data(cache=False))
    if isinstance(report, Response):
        return report
    if report.agent != agent.name:
        return json_error(403, f"this token belongs to agent {agent.name!r}, not {report.agent!r}")
    refused = _foreign_checks(report, agent)
    if refused:
        return json_error(403, f"checks not assigned to agent {agent.name!r}: {', '.join(refused[:5])}")
    received_at = now()
    skew_s = (received_at - report.sent_at).total_seconds()
    db = get_db()
    with db.atomic():
        new_ids = insert_results(db, agent.name, report.results, received_at)
        new_results = [r for r in report.results if str(r.id) in new_ids]
        apply_results(db, settings(), agent.name, new_results)
        record_seen(db, agent.id, received_at, report.agent_version, skew_s)
    if new_results:
        evaluate_components(db, settings(), received_at)
    ack = ReportAck(
        accepted=len(new_ids),
        duplicates=len(report.results) - len(new_ids),
        acknowledged=[r.id for r in report.results],
    )
    return Response(ack.model_dump_json(), mimetype="application/json")


def _parse_report(body: bytes) -> Report | Response:
    try:
        # The stdlib pass refuses what JSON parsers usually let through:
        # NaN/Infinity literals and duplicate keys (which one would win?).
        data = json.loads(body, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except ValueError as error:
        return json_error(400, f"body is not valid JSON: {error}")
    if not isinstance(data, dict):
        return json_error(422, "report must be a JSON object")
    try:
        # strict: "12" is not a number and 1 is not a string; types must match the schema.
        return Report.model_validate_json(body, strict=True)
    except ValidationError as error:
        details = [_detail(item) for item in error.errors(include_url=False, include_input=False)]
        first = details[0]
        return json_error(422, f"invalid report: {first['loc']}: {first['msg']}", details[:20])


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


def _foreign_checks(report: Report, agent: Agent) -> list[str]:
    """Check ids that are defined centrally but not assigned to this agent.

    Ids the collector does not define at all are the agent's local checks:
    stored under the agent, shown to operators, never affecting a component.
    """
    config = settings()
    mine = {check.id for check in checks_for(list(config.checks), agent)}
    defined = {check.id for check in config.checks}
    return sorted({r.check_id for r in report.results if r.check_id in defined and r.check_id not in mine})
