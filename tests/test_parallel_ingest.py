"""Two collector processes ingesting at once on PostgreSQL, with per-agent write locks.

Two processes (each the real Flask app and ingest handler) post the reports of
six agents of one check at the same moments, round by round: process A the
agents 0-2, process B the agents 3-5, and each also re-sends the very report
(same result ids) the other one sends for one agent, agent 3 at the same moment.
The check's quorum is a majority (4 of 6): neither process's own agents can
open the incident, only an evaluation that sees the other's committed states.
Asserted, with no worker running (ingest's own evaluation only):

- every post answered 200 (a same-agent race never surfaces as an error);
- every result stored exactly once, the re-sent ones counted as duplicates;
- each outage opens exactly one incident, and the next healthy phase resolves it.

Run once (a multi-process case), on a throwaway PostgreSQL server (tests/pg.py).
"""

from __future__ import annotations

import json
import multiprocessing
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from statuspage.db import open_store_and_migrate
from statuspage.storage import sql
from statuspage.storage.agents import create_agent
from tests.pg import PostgresServer

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
AGENTS = [f"edge-{n}" for n in range(6)]
PHASES = ["up", "down", "up", "down", "up"]
ROUNDS = 3
REPORTS = "/api/v1/agent/reports"
NAMESPACE = uuid.UUID("6b1c7a52-0000-4000-8000-000000000013")


def config(database: str) -> dict[str, Any]:
    return {
        "database": database,
        "page": {"name": "Parallel ingest"},
        "components": [{"id": "api", "name": "API"}],
        "checks": [
            {
                "id": "api-health",
                "component": "api",
                "kind": "http",
                "url": "http://127.0.0.1:9/",
                "interval": "10s",
                "run_on": ["label:fleet"],
                "failure_threshold": 1,
                "success_threshold": 1,
            }
        ],
    }


def moment(phase: int, round_: int) -> datetime:
    # Phases an hour apart: past the reopen cooldown, so each outage is an incident of its own.
    return T0 + timedelta(hours=phase, seconds=10 * round_)


def body(agent: str, phase: int, round_: int) -> str:
    at = moment(phase, round_)
    result_id = uuid.uuid5(NAMESPACE, f"{agent}/{phase}/{round_}")
    return json.dumps(
        {
            "agent": agent,
            "agent_version": "0.1.0",
            "sent_at": at.isoformat(),
            "results": [
                {
                    "id": str(result_id),
                    "check_id": "api-health",
                    "started_at": at.isoformat(),
                    "latency_ms": 5.0,
                    "status": PHASES[phase],
                    **({"error": "connection refused"} if PHASES[phase] == "down" else {}),
                }
            ],
        }
    )


class StepClock:
    """The app's injected clock, moved by the process between rounds (never sleeps)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def collector(
    database: str, tokens: dict[str, str], mine: list[str], echo: str, step: Any, answers: Any
) -> None:
    """One collector process: post `mine` and a re-send of `echo` each round, in step with the other."""
    from statuspage import create_app
    from statuspage.settings import load_settings

    app = create_app(load_settings(environ={}, **config(database)))
    clock = StepClock()
    app.config["UPWATCH_CLOCK"] = clock
    client = app.test_client()
    codes: list[int] = []
    for phase in range(len(PHASES)):
        for round_ in range(ROUNDS):
            clock.now = moment(phase, round_) + timedelta(seconds=1)
            step.wait()
            # A sends its echo first and B its own agent first: both post agent 3 at one moment.
            for agent in [echo, *mine] if echo == AGENTS[3] else [*mine, echo]:
                response = client.post(
                    REPORTS,
                    data=body(agent, phase, round_),
                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {tokens[agent]}"},
                )
                codes.append(response.status_code)
            step.wait()  # the round is over: the test reads the database
    answers.put(codes)


def test_two_collectors_ingest_in_parallel_with_every_effect_once(postgres: PostgresServer) -> None:
    database = postgres.new_database()
    db = open_store_and_migrate(database)
    try:
        tokens = {name: create_agent(db, name, ["fleet"], T0)[1] for name in AGENTS}
        context = multiprocessing.get_context("spawn")
        step = context.Barrier(3)
        answers = context.Queue()
        processes = [
            context.Process(target=collector, args=(database, tokens, AGENTS[:3], AGENTS[3], step, answers)),
            context.Process(target=collector, args=(database, tokens, AGENTS[3:], AGENTS[0], step, answers)),
        ]
        for process in processes:
            process.start()
        open_after: list[int] = []
        try:
            for _phase in PHASES:
                for _round in range(ROUNDS):
                    step.wait(timeout=120)  # both processes post now
                    step.wait(timeout=120)  # both are done with this round
                open_after.append(
                    int(
                        sql.scalar(
                            db,
                            "SELECT count(*) FROM incidents WHERE status NOT IN ('resolved', 'postmortem')",
                        )
                    )
                )
            codes = [answers.get(timeout=120) for _ in processes]
        finally:
            for process in processes:
                process.join(timeout=60)
                if process.is_alive():
                    process.kill()
        assert [code for part in codes for code in part if code != 200] == []
        sent = len(AGENTS) * len(PHASES) * ROUNDS
        assert sql.scalar(db, "SELECT count(*) FROM results") == sent
        assert sql.scalar(db, "SELECT count(DISTINCT id) FROM results") == sent
        assert sql.scalar(db, "SELECT sum(duplicate_results) FROM agents") == 2 * len(PHASES) * ROUNDS
        # Opened by the outage phases, resolved by the healthy ones; one incident per outage.
        assert open_after == [0, 1, 0, 1, 0]
        incidents = sql.tuples(db, "SELECT status, created_at FROM incidents ORDER BY id")
        assert [status for status, _at in incidents] == ["resolved", "resolved"]
        assert [at[:13] for _status, at in incidents] == ["2026-11-27T13", "2026-11-27T15"]
    finally:
        sql.close(db)
        postgres.drop_database(database)
