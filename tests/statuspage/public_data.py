"""A realistic public-page data set written straight into the schema (migration 0002's contract):
status history, incidents with updates, maintenance, results. Used by the page, API, feed,
badge, export and browser tests."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from shared.timeutil import to_iso
from statuspage.storage.rollups import refresh_component_days, roll_up_results

PUBLIC_CONFIG: dict[str, Any] = {
    "page": {"name": "Acme Status", "url": "https://status.acme.test", "description": "Live status of Acme."},
    "groups": [
        {"id": "core", "name": "Core services"},
        {"id": "data", "name": "Data", "description": "Storage and backups"},
    ],
    "components": [
        {"id": "api", "name": "Public API", "group": "core", "description": "REST API"},
        {"id": "web", "name": "Website", "group": "core"},
        {"id": "db", "name": "Database", "group": "data"},
        {"id": "backups", "name": "Nightly backups", "group": "data"},
        {"id": "cdn", "name": "CDN"},
    ],
    "checks": [
        {
            "id": "api-health",
            "component": "api",
            "kind": "http",
            "url": "http://10.1.2.3:8443/internal/health",
            "interval": "30s",
            "run_on": ["*"],
        },
        {
            "id": "web-port",
            "component": "web",
            "kind": "tcp",
            "host": "10.9.8.7",
            "port": 443,
            "interval": "30s",
        },
        {"id": "db-host", "component": "db", "kind": "host", "interval": "1m", "mounts": ["/"]},
    ],
}

SECRET_ERROR = "connect ECONNREFUSED 10.1.2.3:8443"


def _incident(
    db: Database,
    title: str,
    status: str,
    impact: str,
    created: datetime,
    resolved: datetime | None,
    components: dict[str, str],
    updates: list[tuple[str, str, datetime]],
    public: int = 1,
    drill: int = 0,
    postmortem: str | None = None,
) -> int:
    cursor = db.execute(
        "INSERT INTO incidents (title, status, impact, public, drill, created_at, updated_at, resolved_at,"
        " postmortem, postmortem_published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            title,
            status,
            impact,
            public,
            drill,
            to_iso(created),
            to_iso(updates[-1][2] if updates else created),
            to_iso(resolved) if resolved else None,
            postmortem,
            to_iso(resolved) if postmortem and resolved else None,
        ],
    )
    incident_id = int(cursor.lastrowid or 0)
    for component_id, component_status in components.items():
        db.execute(
            "INSERT INTO incident_components (incident_id, component_id, status) VALUES (?, ?, ?)",
            [incident_id, component_id, component_status],
        )
    for update_status, body, at in updates:
        affected = [
            {"component_id": cid, "old_status": "operational", "new_status": cs}
            for cid, cs in components.items()
        ]
        db.execute(
            "INSERT INTO incident_updates (incident_id, status, body, created_at, actor, affected_components)"
            " VALUES (?, ?, ?, ?, 'engine', ?)",
            [incident_id, update_status, body, to_iso(at), json.dumps(affected)],
        )
    return incident_id


def _history(db: Database, component_id: str, spans: list[tuple[str, datetime, datetime | None]]) -> None:
    for status, start, end in spans:
        db.execute(
            "INSERT INTO component_status_history (component_id, status, started_at, ended_at) VALUES (?, ?, ?, ?)",
            [component_id, status, to_iso(start), to_iso(end) if end else None],
        )
    status, start, _end = spans[-1]
    db.execute(
        "INSERT OR REPLACE INTO component_status (component_id, status, updated_at) VALUES (?, ?, ?)",
        [component_id, status, to_iso(start)],
    )


def seed(db: Database, now: datetime) -> dict[str, int]:
    """Write the data set; return the ids of the interesting incidents."""
    day = timedelta(days=1)
    with db.atomic():
        _history(
            db,
            "api",
            [
                ("operational", now - 120 * day, now - 20 * day),
                ("major_outage", now - 20 * day, now - 20 * day + timedelta(hours=2)),
                ("operational", now - 20 * day + timedelta(hours=2), now - timedelta(minutes=25)),
                ("partial_outage", now - timedelta(minutes=25), None),
            ],
        )
        _history(db, "web", [("operational", now - 60 * day, None)])
        _history(
            db,
            "db",
            [
                ("operational", now - 100 * day, now - 3 * day),
                ("major_outage", now - 3 * day, now - 3 * day + timedelta(hours=1)),
                ("operational", now - 3 * day + timedelta(hours=1), now - timedelta(minutes=10)),
                ("under_maintenance", now - timedelta(minutes=10), None),
            ],
        )
        _history(db, "backups", [("operational", now - 40 * day, None)])
        ids = {
            "resolved": _incident(
                db,
                "Elevated API error rates",
                "resolved",
                "major",
                now - 20 * day,
                now - 20 * day + timedelta(hours=2),
                {"api": "major_outage"},
                [
                    ("investigating", "We are investigating errors on the API.", now - 20 * day),
                    ("identified", "A bad deploy was identified and is being rolled back.", now - 20 * day + timedelta(minutes=40)),
                    ("resolved", "Error rates are back to normal.", now - 20 * day + timedelta(hours=2)),
                ],
                postmortem="## Root cause\n\nA config push. <script>alert(1)</script>\n\n* fixed the pipeline",
            ),
            "open": _incident(
                db,
                "API responses slow in some regions",
                "identified",
                "minor",
                now - timedelta(minutes=25),
                None,
                {"api": "partial_outage"},
                [
                    ("investigating", "We are looking into slow responses.", now - timedelta(minutes=25)),
                    ("identified", "A saturated upstream link is the cause; traffic is being moved.", now - timedelta(minutes=5)),
                ],
            ),
            "old": _incident(
                db,
                "Website certificate renewal failed",
                "resolved",
                "minor",
                now - 130 * day,
                now - 130 * day + timedelta(minutes=30),
                {"web": "degraded_performance"},
                [("resolved", "The certificate was renewed.", now - 130 * day + timedelta(minutes=30))],
            ),
            "drill": _incident(
                db, "DRILL do not show", "investigating", "critical", now - timedelta(hours=1), None,
                {"api": "major_outage"}, [("investigating", "drill", now - timedelta(hours=1))], drill=1,
            ),
            "private": _incident(
                db, "PRIVATE draft", "investigating", "major", now - timedelta(hours=2), None,
                {"web": "major_outage"}, [("investigating", "draft", now - timedelta(hours=2))], public=0,
            ),
        }  # fmt: skip
        for title, status, start, end, components, started, completed in [
            ("Database upgrade", "in_progress", now - timedelta(minutes=10), now + timedelta(hours=1), ["db"],
             now - timedelta(minutes=10), None),
            ("CDN provider switch", "scheduled", now + 2 * day, now + 2 * day + timedelta(hours=2), ["cdn", "web"],
             None, None),
        ]:  # fmt: skip
            cursor = db.execute(
                "INSERT INTO maintenances (title, body, status, scheduled_for, scheduled_until, started_at,"
                " completed_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    title,
                    f"{title}: short interruptions are possible.",
                    status,
                    to_iso(start),
                    to_iso(end),
                    to_iso(started) if started else None,
                    to_iso(completed) if completed else None,
                    to_iso(now - day),
                    to_iso(now - day),
                ],
            )
            for component_id in components:
                db.execute(
                    "INSERT INTO maintenance_components (maintenance_id, component_id) VALUES (?, ?)",
                    [cursor.lastrowid, component_id],
                )
        for agent in ("edge-eu", "edge-us"):
            db.execute(
                "INSERT INTO check_states (check_id, agent, status, since, consecutive_failures,"
                " consecutive_successes, last_result_at, last_latency_ms, last_error)"
                " VALUES ('api-health', ?, 'down', ?, 3, 0, ?, 812.5, ?)",
                [
                    agent,
                    to_iso(now - timedelta(minutes=25)),
                    to_iso(now - timedelta(seconds=20)),
                    SECRET_ERROR,
                ],
            )
            db.execute(
                "INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status, error,"
                " metrics) VALUES (?, 'api-health', ?, ?, ?, 812.5, 'down', ?, '{}')",
                [str(uuid.uuid4()), agent, to_iso(now - timedelta(seconds=20)), to_iso(now - timedelta(seconds=19)),
                 SECRET_ERROR],
            )  # fmt: skip
        db.execute(
            "INSERT INTO check_states (check_id, agent, status, since, consecutive_failures,"
            " consecutive_successes, last_result_at, last_latency_ms) VALUES ('db-host', 'db-1', 'up', ?, 0, 5, ?, 3)",
            [to_iso(now - day), to_iso(now - timedelta(seconds=30))],
        )
        db.execute(
            "INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status, metrics)"
            " VALUES (?, 'db-host', 'db-1', ?, ?, 3, 'up', ?)",
            [
                str(uuid.uuid4()),
                to_iso(now - timedelta(seconds=30)),
                to_iso(now - timedelta(seconds=29)),
                json.dumps({"cpu_percent": 12.5, "memory_used_percent": 40.0, "disk_used_percent:/": 71.0}),
            ],
        )
    roll_up_results(db)
    refresh_component_days(db, now)
    return ids
