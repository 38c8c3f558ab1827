"""The agent API: bearer auth, assignments with ETag, and reports that refuse bad input
without storing anything."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask.testing import FlaskClient

from statuspage.storage import sql
from statuspage.storage.agents import revoke_agent
from statuspage.storage.results import count_results

pytestmark = pytest.mark.engines("sqlite", "postgresql")

REPORTS = "/api/v1/agent/reports"


def result(**overrides: Any) -> dict[str, Any]:
    data = {
        "id": str(uuid.uuid4()),
        "check_id": "api-health",
        "started_at": "2026-11-27T11:59:59+00:00",
        "latency_ms": 12.5,
        "status": "up",
    }
    data.update(overrides)
    return data


def report(**overrides: Any) -> dict[str, Any]:
    data = {
        "agent": "edge-1",
        "agent_version": "0.1.0",
        "sent_at": "2026-11-27T12:00:00+00:00",
        "results": [result()],
    }
    data.update(overrides)
    return data


def post(client: FlaskClient, token: str | None, body: Any, raw: bool = False, **headers: str) -> Any:
    all_headers = {"Content-Type": "application/json", **headers}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    data = body if raw else json.dumps(body)
    return client.post(REPORTS, data=data, headers=all_headers)


def test_report_is_stored_and_acknowledged(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    token = agent_token()
    body = report(results=[result(), result(status="down", error="connection refused")])
    response = post(client, token, body)
    assert response.status_code == 200, response.json
    assert response.json["accepted"] == 2 and response.json["duplicates"] == 0
    assert sorted(response.json["acknowledged"]) == sorted(r["id"] for r in body["results"])
    assert count_results(db) == 2


def test_replayed_report_counts_once(client: FlaskClient, agent_token: Callable[..., str], db: Any) -> None:
    token = agent_token()
    body = report()
    assert post(client, token, body).json["accepted"] == 1
    again = post(client, token, body).json
    assert again["accepted"] == 0 and again["duplicates"] == 1
    assert len(again["acknowledged"]) == 1
    assert count_results(db) == 1


def test_empty_report_is_a_heartbeat(client: FlaskClient, agent_token: Callable[..., str], db: Any) -> None:
    token = agent_token()
    response = post(client, token, report(results=[]))
    assert response.status_code == 200
    seen = sql.tuples(db, "SELECT last_seen_at, agent_version FROM agents WHERE name = 'edge-1'")[0]
    assert seen[0] is not None and seen[1] == "0.1.0"


@pytest.mark.parametrize(
    ("layout", "encode"),
    [
        ("compact", lambda body: json.dumps(body, separators=(",", ":"))),
        ("indented", lambda body: json.dumps(body, indent=2)),
        ("spaces before colons", lambda body: json.dumps(body, indent="\t", separators=(" ,", " \r\n: "))),
    ],
)
def test_any_json_layout_of_a_valid_report_is_accepted(
    client: FlaskClient, agent_token: Callable[..., str], db: Any, layout: str, encode: Callable[[Any], str]
) -> None:
    # Strings holding a quote and a colon make the body look as if it had more keys than the
    # report: the strict parse then decides, and a valid report still passes.
    body = report(
        results=[
            result(metrics={"a": 1.0, "b": 2.0}, detail={"code": 200, "note": 'said "x": y'}),
            result(error='"quoted": fine', status="down"),
        ]
    )
    response = post(client, agent_token(), encode(body), raw=True)
    assert response.status_code == 200, (layout, response.json)
    assert response.json["accepted"] == 2
    assert count_results(db) == 2


def test_local_check_results_are_accepted(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    token = agent_token()
    response = post(client, token, report(results=[result(check_id="my-local-disk")]))
    assert response.status_code == 200
    assert count_results(db) == 1


BIG = "x" * 3 * 1024 * 1024


def raw_report(**overrides: Any) -> bytes:
    return json.dumps(report(**overrides)).encode()


# (case, body, raw, status, fragment of the error message, whose token sends it)
# Tokens: "own" edge-1 (label eu); "edge-2" a second agent (label us); "revoked" edge-1's
# revoked token; "unknown" a well-formed token nobody was given.
BAD_REPORTS: list[tuple[str, Any, bool, int, str, str]] = [
    # --- not strict JSON: 400
    ("not JSON", b"{not json", True, 400, "not valid JSON", "own"),
    ("empty body", b"", True, 400, "not valid JSON", "own"),
    ("NaN literal", b'{"agent": NaN}', True, 400, "NaN", "own"),
    (
        "Infinity in metrics",
        raw_report(results=[result(metrics={"x": 1})]).replace(b"1}", b"Infinity}"),
        True,
        400,
        "Infinity",
        "own",
    ),
    ("-Infinity latency", raw_report().replace(b"12.5", b"-Infinity"), True, 400, "-Infinity", "own"),
    ("NaN latency", raw_report().replace(b"12.5", b"NaN"), True, 400, "NaN", "own"),
    ("duplicate keys", b'{"agent": "edge-1", "agent": "edge-2"}', True, 400, "duplicate key", "own"),
    (
        "duplicate key inside a result",
        raw_report().replace(b'"status": "up"', b'"status": "up", "status": "down"'),
        True,
        400,
        "duplicate key 'status'",
        "own",
    ),
    # A repeated key in a report that is otherwise valid (pydantic alone would keep the last),
    # with the spacing and string contents the key count must not be fooled by.
    (
        "duplicate metric name",
        raw_report(results=[result(metrics={"x": 1.0})]).replace(b'"x": 1.0', b'"x": 1.0, "x": 9.0'),
        True,
        400,
        "duplicate key 'x'",
        "own",
    ),
    (
        "duplicate detail key",
        raw_report(results=[result(detail={"code": 200})]).replace(
            b'"code": 200', b'"code": 200, "code": 500'
        ),
        True,
        400,
        "duplicate key 'code'",
        "own",
    ),
    (
        "duplicate key with spaces before its colon",
        raw_report().replace(b'"status": "up"', b'"status": "up", "status" \n\t: "down"'),
        True,
        400,
        "duplicate key 'status'",
        "own",
    ),
    (
        "duplicate key, a string holding a quote and a colon",
        raw_report(results=[result(error='said "x": y')]).replace(
            b'"status": "up"', b'"status" : "up", "status" : "down"'
        ),
        True,
        400,
        "duplicate key 'status'",
        "own",
    ),
    (
        "duplicate top-level key, compact",
        json.dumps(report(), separators=(",", ":"))
        .encode()
        .replace(b'"agent":', b'"agent":"edge-2","agent":'),
        True,
        400,
        "duplicate key 'agent'",
        "own",
    ),
    ("nested 100000 deep", b"[" * 100_000 + b"]" * 100_000, True, 400, "nested too deeply", "own"),
    ("invalid UTF-8", b'{"agent": "\xff\xfe"}', True, 400, "not valid JSON", "own"),
    # --- valid JSON, not a report: 422
    ("array body", [report()], False, 422, "JSON object", "own"),
    ("null body", None, False, 422, "JSON object", "own"),
    ("string body", "report", False, 422, "JSON object", "own"),
    ("missing agent", {k: v for k, v in report().items() if k != "agent"}, False, 422, "agent", "own"),
    ("missing sent_at", {k: v for k, v in report().items() if k != "sent_at"}, False, 422, "sent_at", "own"),
    (
        "missing result id",
        report(results=[{k: v for k, v in result().items() if k != "id"}]),
        False,
        422,
        "results.0.id",
        "own",
    ),
    ("result id not a UUID", report(results=[result(id="not-a-uuid")]), False, 422, "results.0.id", "own"),
    ("latency as string", report(results=[result(latency_ms="12")]), False, 422, "latency_ms", "own"),
    ("latency as boolean", report(results=[result(latency_ms=True)]), False, 422, "latency_ms", "own"),
    ("negative latency", report(results=[result(latency_ms=-1)]), False, 422, "latency_ms", "own"),
    ("absurd latency", report(results=[result(latency_ms=1e300)]), False, 422, "latency_ms", "own"),
    ("status wrong type", report(results=[result(status=1)]), False, 422, "status", "own"),
    ("unknown status", report(results=[result(status="sideways")]), False, 422, "status", "own"),
    ("error as a list", report(results=[result(error=["a"])]), False, 422, "error", "own"),
    ("check id path", report(results=[result(check_id="../etc/passwd")]), False, 422, "check_id", "own"),
    ("check id too long", report(results=[result(check_id="c" * 65)]), False, 422, "check_id", "own"),
    ("metric as string", report(results=[result(metrics={"x": "1.0"})]), False, 422, "metrics", "own"),
    ("metric nested", report(results=[result(metrics={"x": {"y": 1}})]), False, 422, "metrics", "own"),
    (
        "too many metrics",
        report(results=[result(metrics={f"m{i}": 1.0 for i in range(65)})]),
        False,
        422,
        "metrics",
        "own",
    ),
    ("detail nested", report(results=[result(detail={"a": {"b": [1]}})]), False, 422, "detail", "own"),
    ("detail key too long", report(results=[result(detail={"k" * 65: 1})]), False, 422, "detail", "own"),
    ("unknown field", report(extra=True), False, 422, "extra", "own"),
    ("unknown result field", report(results=[result(body="hi")]), False, 422, "body", "own"),
    ("protocol 2", report(protocol=2), False, 422, "protocol", "own"),
    ("agent name with slash", report(agent="edge/1"), False, 422, "agent", "own"),
    ("negative dropped", report(dropped=-1), False, 422, "dropped", "own"),
    ("dropped as string", report(dropped="5"), False, 422, "dropped", "own"),
    ("oversized error", report(results=[result(error="e" * 5000)]), False, 422, "error", "own"),
    ("oversized agent version", report(agent_version="v" * 100), False, 422, "agent_version", "own"),
    ("results not a list", report(results={"a": 1}), False, 422, "results", "own"),
    ("1001 results", report(results=[result() for _ in range(1001)]), False, 422, "results", "own"),
    ("naive sent_at", report(sent_at="2026-11-27T12:00:00"), False, 422, "sent_at", "own"),
    ("sent_at not a time", report(sent_at="yesterday"), False, 422, "sent_at", "own"),
    (
        "started_at as a number",
        report(results=[result(started_at=1764244799)]),
        False,
        422,
        "started_at",
        "own",
    ),
    (
        "one bad result among good ones",
        report(results=[result() for _ in range(20)] + [result(status="???")]),
        False,
        422,
        "results.20.status",
        "own",
    ),
    # --- time: the collector's clock is 12:00:00, tolerance 10 s
    (
        "result from the future",
        report(results=[result(), result(started_at="2026-11-27T12:05:00+00:00")]),
        False,
        422,
        "results.1.started_at: 300s in the future",
        "own",
    ),
    (
        "result from the future, offsets mixed in one report",
        report(
            results=[
                result(started_at="2026-11-27T13:59:59+02:00"),
                result(started_at="2026-11-27T12:05:00Z"),
            ]
        ),
        False,
        422,
        "results.1.started_at: 300s in the future",
        "own",
    ),
    # --- size: 413
    ("body over cap", report(results=[result(error=BIG)]), False, 413, "too large", "own"),
    # --- who may report what: 401 / 403
    ("revoked token", report(), False, 401, "revoked", "revoked"),
    ("unknown token", report(), False, 401, "unknown or revoked", "unknown"),
    ("reporting as another agent", report(agent="edge-1"), False, 403, "belongs to agent 'edge-2'", "edge-2"),
    (
        "another agent's check",
        report(agent="edge-2", results=[result(check_id="web-port")]),
        False,
        403,
        "not assigned to agent 'edge-2': web-port",
        "edge-2",
    ),
    (
        "a label the agent lacks",
        report(agent="edge-2", results=[result(check_id="api-health")]),
        False,
        403,
        "results.0.check_id",
        "edge-2",
    ),
]


def token_for(kind: str, agent_token: Callable[..., str], db: Any, clock: Any) -> str:
    if kind == "own":
        return agent_token("edge-1", ["eu"])
    if kind == "edge-2":
        agent_token("edge-1", ["eu"])
        return agent_token("edge-2", ["us"])
    if kind == "revoked":
        token = agent_token("edge-1", ["eu"])
        revoke_agent(db, "edge-1", clock())
        return token
    agent_token("edge-1", ["eu"])
    return "uwa_" + "A" * 43


@pytest.mark.parametrize(
    ("case", "body", "raw", "status", "fragment", "who"), BAD_REPORTS, ids=[c[0] for c in BAD_REPORTS]
)
def test_bad_reports_are_refused_and_store_nothing(
    client: FlaskClient,
    agent_token: Callable[..., str],
    db: Any,
    clock: Any,
    case: str,
    body: Any,
    raw: bool,
    status: int,
    fragment: str,
    who: str,
) -> None:
    token = token_for(who, agent_token, db, clock)
    response = post(client, token, body, raw=raw)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    payload = response.get_json()
    assert isinstance(payload, dict) and fragment in payload["error"] + json.dumps(payload["details"])
    assert count_results(db) == 0
    assert sql.scalar(db, "SELECT count(*) FROM agents WHERE last_seen_at IS NOT NULL") == 0
    assert sql.scalar(db, "SELECT count(*) FROM check_states") == 0


def test_the_hostile_table_is_big_enough() -> None:
    assert len(BAD_REPORTS) >= 30


def test_wrong_content_type(client: FlaskClient, agent_token: Callable[..., str], db: Any) -> None:
    response = client.post(REPORTS, data="{}", headers={"Authorization": f"Bearer {agent_token()}"})
    assert response.status_code == 415
    assert count_results(db) == 0


@pytest.mark.parametrize(
    ("case", "header"),
    [
        ("no header", None),
        ("wrong token", "Bearer uwa_not-a-real-token"),
        ("basic scheme", "Basic dXNlcjpwYXNz"),
        ("empty bearer", "Bearer "),
    ],
)
def test_bad_credentials_get_401(
    client: FlaskClient, agent_token: Callable[..., str], db: Any, case: str, header: str | None
) -> None:
    agent_token()
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Authorization"] = header
    response = client.post(REPORTS, data=json.dumps(report()), headers=headers)
    assert response.status_code == 401
    assert response.json["error"]
    assert count_results(db) == 0


def test_revoked_token_is_refused_at_once(
    client: FlaskClient, agent_token: Callable[..., str], db: Any, clock: Any
) -> None:
    token = agent_token()
    assert post(client, token, report()).status_code == 200
    revoke_agent(db, "edge-1", clock())
    response = post(client, token, report())
    assert response.status_code == 401
    assert count_results(db) == 1


def test_token_cannot_report_as_another_agent(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    token = agent_token("edge-1")
    agent_token("edge-2", ["us"])
    response = post(client, token, report(agent="edge-2"))
    assert response.status_code == 403 and "edge-1" in response.json["error"]
    assert count_results(db) == 0


def test_token_cannot_report_unassigned_central_check(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    # web-port runs on agent:edge-1 only; edge-2 (label us) may not report it, nor api-health (label eu).
    token = agent_token("edge-2", ["us"])
    response = post(client, token, report(agent="edge-2", results=[result(check_id="web-port")]))
    assert response.status_code == 403 and "web-port" in response.json["error"]
    assert count_results(db) == 0


def test_assignments_follow_selectors_and_etag(client: FlaskClient, agent_token: Callable[..., str]) -> None:
    token = agent_token("edge-1", ["eu"])
    auth = {"Authorization": f"Bearer {token}"}
    response = client.get("/api/v1/agent/assignments", headers=auth)
    assert response.status_code == 200
    assert sorted(c["id"] for c in response.json["checks"]) == ["api-health", "web-port"]
    assert response.json["checks"][0]["interval"] == 10.0
    etag = response.headers["ETag"]
    again = client.get("/api/v1/agent/assignments", headers={**auth, "If-None-Match": etag})
    assert again.status_code == 304


def test_declared_labels_narrow_but_never_add(client: FlaskClient, agent_token: Callable[..., str]) -> None:
    token = agent_token("edge-9", ["us"])
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/agent/assignments", headers=auth).json["checks"] == []
    declared = client.get("/api/v1/agent/assignments?labels=eu", headers=auth)
    assert declared.json["checks"] == []  # eu waits for an operator (tests/security/test_agent_labels.py)
    assert declared.headers["Upwatch-Pending-Labels"] == "eu"
    bad = client.get("/api/v1/agent/assignments?labels=a%20b", headers=auth)
    assert bad.status_code == 400


def test_assignments_need_a_token(client: FlaskClient) -> None:
    assert client.get("/api/v1/agent/assignments").status_code == 401


def test_duplicates_inside_a_batch_and_across_batches_count_once(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    token = agent_token()
    first, second = result(), result()
    answer = post(client, token, report(results=[first, first, second])).json
    assert (answer["accepted"], answer["duplicates"]) == (2, 1)
    again = post(client, token, report(results=[second, result()])).json
    assert (again["accepted"], again["duplicates"]) == (1, 1)
    assert count_results(db) == 3
    assert sql.scalar(db, "SELECT duplicate_results FROM agents") == 2


def test_results_are_stored_in_event_time_order(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    token = agent_token()
    times = ["2026-11-27T11:59:50+00:00", "2026-11-27T11:59:10+00:00", "2026-11-27T11:59:30+00:00"]
    assert post(client, token, report(results=[result(started_at=t) for t in times])).status_code == 200
    stored = [
        row[0] for row in sql.tuples(db, f"SELECT started_at FROM results ORDER BY {sql.arrival_column(db)}")
    ]
    assert stored == sorted(stored)


@pytest.mark.parametrize(
    ("case", "sent_at", "started_at", "skew_s", "stored_at"),
    [
        ("in tolerance: kept", "2026-11-27T11:59:55+00:00", "11:59:54", 5.0, "11:59:54"),
        ("agent 1h behind: shifted", "2026-11-27T11:00:00+00:00", "10:59:59", 3600.0, "11:59:59"),
        ("agent 1h ahead: shifted", "2026-11-27T13:00:00+00:00", "12:59:59", -3600.0, "11:59:59"),
    ],
)
def test_clock_skew_is_recorded_and_results_land_on_our_timeline(
    client: FlaskClient,
    agent_token: Callable[..., str],
    db: Any,
    case: str,
    sent_at: str,
    started_at: str,
    skew_s: float,
    stored_at: str,
) -> None:
    token = agent_token()
    body = report(sent_at=sent_at, results=[result(started_at=f"2026-11-27T{started_at}+00:00")])
    assert post(client, token, body).status_code == 200
    assert sql.scalar(db, "SELECT clock_skew_s FROM agents") == skew_s
    assert sql.scalar(db, "SELECT started_at FROM results") == f"2026-11-27T{stored_at}.000+00:00"


def test_dropped_counter_is_idempotent_and_survives_a_new_spool(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    token = agent_token()
    for dropped in (5, 5, 7, 2):  # a replay of 5 adds nothing; 2 after 7 is a fresh spool
        assert post(client, token, report(results=[], dropped=dropped)).status_code == 200
    assert sql.scalar(db, "SELECT dropped_results FROM agents") == 9


@pytest.mark.engines("sqlite")  # SQLite's busy timeout; PostgreSQL writers queue on their locks instead
def test_storage_busy_is_a_503_and_stores_nothing(
    client: FlaskClient, agent_token: Callable[..., str], db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from statuspage.storage import sqlite_file

    # Ingest writes through the process's ingest connection, opened by this database's first
    # report: give it a short busy timeout (the default 10 s would only make the test wait).
    monkeypatch.setattr(sqlite_file, "BUSY_TIMEOUT_MS", 50)
    token = agent_token()
    assert post(client, token, report(results=[])).status_code == 200
    db.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        response = post(client, token, report())
    finally:
        db.execute("ROLLBACK")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "nothing was stored" in response.json["error"]
    assert count_results(db) == 0
    assert post(client, token, report()).status_code == 200


def test_late_replay_never_rewrites_the_present(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    """After an outage a backlog arrives late: stored, but the state and the component
    (and so any incident derived from them) stay where the newer results put them."""
    token = agent_token()

    def at(second: int, status: str) -> dict[str, Any]:
        return result(started_at=f"2026-11-27T11:59:{second:02d}+00:00", status=status)

    live = [at(10, "up"), at(20, "down"), at(30, "down"), at(40, "up"), at(50, "up")]
    for item in live:
        assert post(client, token, report(results=[item])).status_code == 200
    flips = sql.tuples(db, "SELECT new_status FROM flips ORDER BY id")
    assert [f[0] for f in flips] == ["up", "down", "up"]
    assert sql.scalar(db, "SELECT status FROM component_status WHERE component_id = 'api'") == ("operational")
    incidents_before = sql.tuples(db, "SELECT id, status, updated_at FROM incidents ORDER BY id")
    outbox_before = sql.scalar(db, "SELECT count(*) FROM outbox")
    backlog = [at(25, "down"), at(35, "down"), at(45, "down")]
    answer = post(client, token, report(results=backlog)).json
    assert answer["accepted"] == 3
    assert count_results(db) == 8
    assert len(sql.tuples(db, "SELECT id FROM flips")) == 3
    state = sql.tuples(db, "SELECT status, last_result_at FROM check_states")[0]
    assert state == ("up", "2026-11-27T11:59:50.000+00:00")
    assert sql.scalar(db, "SELECT status FROM component_status WHERE component_id = 'api'") == ("operational")
    # Whatever the engine made of the outage, the replay changes none of it.
    assert sql.tuples(db, "SELECT id, status, updated_at FROM incidents ORDER BY id") == incidents_before
    assert sql.scalar(db, "SELECT count(*) FROM outbox") == outbox_before  # nothing re-notified


def test_a_refusal_is_decided_on_fresh_labels_not_a_cached_row(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    from statuspage.storage.agents import grant_labels

    token = agent_token("edge-2", ["us"])
    assert post(client, token, report(agent="edge-2", results=[])).status_code == 200  # row cached
    with sql.write(db):
        grant_labels(db, "edge-2", ["eu"])  # an operator approves eu meanwhile
    response = post(client, token, report(agent="edge-2", results=[result(check_id="api-health")]))
    assert response.status_code == 200, response.json
    assert count_results(db) == 1


def test_assignment_cache_follows_a_reloaded_configuration(
    app: Any, client: FlaskClient, agent_token: Callable[..., str], db: Any, make_settings: Any
) -> None:
    from tests.conftest import BASE_CONFIG

    token = agent_token("edge-2", ["us"])
    body = report(agent="edge-2", results=[result(check_id="web-port")])
    assert post(client, token, body).status_code == 403
    checks = [dict(check) for check in BASE_CONFIG["checks"]]
    checks[1]["run_on"] = ["label:us"]
    app.config["UPWATCH_SETTINGS"] = make_settings(checks=checks)  # what a SIGHUP reload does
    assert post(client, token, body).status_code == 200


def test_a_chunked_body_over_the_cap_is_a_413(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    import io

    big = raw_report(results=[result(error=BIG)])
    response = client.post(
        REPORTS,
        headers={
            "Authorization": f"Bearer {agent_token()}",
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
        environ_overrides={"wsgi.input": io.BytesIO(big), "wsgi.input_terminated": True},
    )
    assert response.status_code == 413 and "too large" in response.json["error"]
    assert count_results(db) == 0


def _state(db: Any) -> tuple[str, int]:
    row = db.execute(
        "SELECT status, consecutive_failures FROM check_states WHERE check_id = 'api-health'"
    ).fetchone()
    return row[0], row[1]


# The test holds SQLite's write lock and watches ingest's process lock queue; on PostgreSQL
# the agent's advisory lock serialises the same re-check (save_plan).
@pytest.mark.engines("sqlite")
def test_a_report_committed_while_another_waits_for_the_lock_is_not_lost(
    client: FlaskClient, agent_token: Callable[..., str], db: Any, settings: Any, clock: Any
) -> None:
    """Ingest plans the state change before it takes the write lock. A report of the same
    check and agent that commits in between (another gunicorn worker or collector) is seen
    under the lock and the plan is made again: two failures are two, and the location is down."""
    from shared.schema import Result

    token = agent_token()
    later = report(results=[result(started_at="2026-11-27T11:59:59+00:00", status="down")])
    earlier = Result.model_validate(result(started_at="2026-11-27T11:59:58+00:00", status="down"))
    answer = _post_while_another_writes(client, token, later, db, settings, clock, earlier)
    assert answer.status_code == 200, answer.json
    assert _state(db) == ("down", 2)


def _post_while_another_writes(
    client: FlaskClient, token: str, body: Any, db: Any, settings: Any, clock: Any, other: Any
) -> Any:
    """Post `body` while another writer holds SQLite's lock; once the report queues for ingest's
    lock (its states planned), that writer stores the result `other` and commits."""
    import threading

    from statuspage.evaluate import apply_results
    from statuspage.storage import transaction
    from statuspage.storage.results import insert_results

    answers: list[Any] = []
    db.execute("BEGIN IMMEDIATE")
    waiting = threading.Thread(target=lambda: answers.append(post(client, token, body)))
    waiting.start()
    try:
        for _ in range(30_000):
            if transaction._write_lock.locked():
                break
            threading.Event().wait(0.001)
        assert transaction._write_lock.locked(), "the report never queued for the write lock"
        insert_results(db, "edge-1", [other], clock())
        apply_results(db, settings, "edge-1", [other])
    finally:
        db.execute("COMMIT")
        waiting.join()
    return answers[0]


def test_a_report_with_replayed_results_counts_only_the_new_ones_in_the_state(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    """The plan made before the lock assumed every result new; the replayed one drops out."""
    token = agent_token()
    first = result(started_at="2026-11-27T11:59:50+00:00", status="down")
    assert post(client, token, report(results=[first])).status_code == 200
    second = result(started_at="2026-11-27T11:59:55+00:00", status="down")
    answer = post(client, token, report(results=[first, second])).json
    assert (answer["accepted"], answer["duplicates"]) == (1, 1)
    assert _state(db) == ("down", 2)
    assert db.execute("SELECT count(*) FROM flips").fetchone()[0] == 1


def _minute_results(first_second: int, count: int, status: str) -> list[dict[str, Any]]:
    return [
        result(
            started_at=f"2026-11-27T11:{(first_second + n) // 60:02d}:{(first_second + n) % 60:02d}+00:00",
            status=status,
        )
        for n in range(count)
    ]


def test_a_large_report_partly_replayed_counts_only_its_new_results(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    """A large report plans its states before the lock and inserts expecting all new; a
    partial replay rolls that back and is stored again reading which ids are stored."""
    token = agent_token()
    stored = _minute_results(0, 20, "down")
    assert post(client, token, report(results=stored)).json["accepted"] == 20
    replay = stored[10:] + _minute_results(20, 10, "down")
    answer = post(client, token, report(results=replay)).json
    assert (answer["accepted"], answer["duplicates"]) == (10, 10)
    assert count_results(db) == 30
    assert _state(db) == ("down", 30)
    assert sql.scalar(db, "SELECT duplicate_results FROM agents") == 10
    assert sorted(answer["acknowledged"]) == sorted(r["id"] for r in replay)


@pytest.mark.parametrize("per_report", [1, 5, 16, 40])
def test_states_are_the_same_whatever_the_report_size(
    client: FlaskClient, agent_token: Callable[..., str], db: Any, per_report: int
) -> None:
    """Small reports plan under the lock, large ones before it: the same results end in the same state."""
    token = agent_token()
    results = _minute_results(0, 20, "down") + _minute_results(20, 20, "up")
    for start in range(0, len(results), per_report):
        assert post(client, token, report(results=results[start : start + per_report])).status_code == 200
    row = db.execute(
        "SELECT status, consecutive_failures, consecutive_successes, since FROM check_states"
    ).fetchone()
    assert tuple(row[:3]) == ("up", 0, 20)
    assert row[3] == "2026-11-27T11:00:21.000+00:00"  # the second success passed success_threshold 2
    flips = [tuple(f) for f in db.execute("SELECT old_status, new_status FROM flips ORDER BY at").fetchall()]
    # One report records the flip from where it found the state to where it left it.
    assert flips == ([("unknown", "up")] if per_report == 40 else [("unknown", "down"), ("down", "up")])


def _down_at(second: int) -> dict[str, Any]:
    return result(started_at=f"2026-11-27T11:59:{second:02d}+00:00", status="down")


def test_states_written_by_others_between_two_reports_are_read_again(
    client: FlaskClient, agent_token: Callable[..., str], db: Any, settings: Any, clock: Any
) -> None:
    """Ingest keeps the states it stored for an agent's report and skips reading them for the
    next one, unless the agent's state serial moved in between by someone else's write:
    another collector's ingest (its record_seen) or any other writer (save_states)."""
    from shared.schema import Result
    from statuspage.evaluate import apply_results
    from statuspage.storage.agents import authenticate, record_seen
    from statuspage.storage.results import insert_results

    token = agent_token()
    assert post(client, token, report(results=[_down_at(50)])).status_code == 200
    agent = authenticate(db, token)
    assert agent is not None
    elsewhere = Result.model_validate(_down_at(51))
    with sql.write(db):  # another collector's ingest: it moved the serial in record_seen
        insert_results(db, "edge-1", [elsewhere], clock())
        assert record_seen(db, agent.id, clock(), "0.1.0", 0.0) is not None
        apply_results(db, settings, "edge-1", [elsewhere], serial_renewed=True)
    assert post(client, token, report(results=[_down_at(52)])).status_code == 200
    assert _state(db) == ("down", 3)
    other_writer = Result.model_validate(_down_at(53))
    with sql.write(db):  # a writer outside ingest: save_states moves the serial itself
        insert_results(db, "edge-1", [other_writer], clock())
        apply_results(db, settings, "edge-1", [other_writer])
    assert post(client, token, report(results=[_down_at(54)])).status_code == 200
    assert _state(db) == ("down", 5)


@contextmanager
def _app_statements() -> Iterator[list[str]]:
    """The SQL the app runs meanwhile on SQLite: its thread's connection (reads before the
    write lock) and the process's ingest connection (the write transaction)."""
    from statuspage.ingest import agent_api
    from statuspage.storage import transaction

    statements: list[str] = []
    connections = [agent_api._local.db[1].conn, transaction._writer[0][1].conn]
    for conn in connections:
        conn.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        for conn in connections:
            conn.set_trace_callback(None)


@pytest.mark.engines("sqlite")  # watches the statements of the app's own SQLite connections
def test_the_next_report_of_an_agent_does_not_read_its_states_back(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    token = agent_token()
    assert post(client, token, report(results=[_down_at(50)])).status_code == 200
    with _app_statements() as statements:
        assert post(client, token, report(results=[_down_at(51)])).status_code == 200
    assert any("INSERT INTO check_states" in s for s in statements)
    # (Evaluation, which a flip starts, reads every state: that is not the agent's read-back.)
    assert not any("FROM check_states WHERE agent" in s for s in statements), statements
    assert _state(db) == ("down", 2)


@pytest.mark.engines("sqlite")  # holds SQLite's write lock while the report waits for it
def test_a_large_report_planned_from_remembered_states_is_planned_again_after_another_write(
    client: FlaskClient, agent_token: Callable[..., str], db: Any, settings: Any, clock: Any
) -> None:
    """A large report plans before the lock from the states this process stored last; a write
    of the same states committed while it waits is seen under the lock (the serial moved)."""
    from shared.schema import Result

    token = agent_token()
    assert post(client, token, report(results=_minute_results(0, 20, "down"))).status_code == 200
    with _app_statements() as statements:
        assert post(client, token, report(results=_minute_results(20, 20, "down"))).status_code == 200
    assert not any("FROM check_states WHERE agent" in s for s in statements), statements
    assert _state(db) == ("down", 40)

    between = Result.model_validate(result(started_at="2026-11-27T11:00:45+00:00", status="down"))
    third = report(results=_minute_results(50, 20, "down"))
    answer = _post_while_another_writes(client, token, third, db, settings, clock, between)
    assert answer.status_code == 200, answer.json
    assert _state(db) == ("down", 61)
