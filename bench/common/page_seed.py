"""The status page benchmark's data set, seeded on either engine (bench/page.py).

200 components (one 30 s check each), 3 locations, `history_days` of hourly
and daily rollups and daily component uptime, up to 7 days of per-minute
rollups, `raw_days` of raw results at 30 s intervals (14 days: 24 million
rows), about two incidents per component. The bulk tables are generated inside
the database in one statement each (SQLite: recursive CTEs; PostgreSQL:
generate_series, with the tables' indexes dropped during the load and rebuilt
after, which is several times faster than maintaining them row by row); the
agents, incidents and watermarks go through the storage seam, the same code on
both engines.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shared.timeutil import to_iso
from statuspage.db import open_store_and_migrate
from statuspage.storage import sql
from statuspage.storage.agents import create_agent, revoke_agent

COMPONENTS = 200
GROUPS = 10
AGENTS = ["edge-eu", "edge-us", "edge-ap"]
INTERVAL_S = 30
BULK_TABLES = ("results", "rollups_minute", "rollups_hour", "rollups_day", "result_counters",
               "component_status", "component_status_history", "component_days", "check_states")  # fmt: skip


def seed(location: str, now: datetime, raw_days: int, history_days: int) -> dict[str, str]:
    """Create the schema, the agents and every table the page reads; return the agents' tokens."""
    store = open_store_and_migrate(location)
    try:
        tokens = {name: create_agent(store, name, ["bench"], now)[1] for name in AGENTS}
    finally:
        sql.close(store)
    if location.startswith("postgresql"):
        _bulk_postgres(location, now, raw_days, history_days)
    else:
        _bulk_sqlite(Path(location), now, raw_days, history_days)
    store = sql.open_store(location)
    try:
        started = time.monotonic()
        _seed_incidents(store, now, history_days)
        print(f"  seeded incidents ({COMPONENTS * 2} with updates) in {time.monotonic() - started:.1f} s")
        top = sql.scalar(store, f"SELECT max({sql.arrival_column(store)}) FROM results")  # noqa: S608
        with sql.write(store):
            for name, value in (
                ("results_rowid", str(top or 0)),
                ("component_days_day", now.date().isoformat()),
                ("pruned_at", to_iso(now)),
            ):
                sql.run(
                    store,
                    "INSERT INTO rollup_watermarks (name, value) VALUES (:name, :value)"
                    " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    {"name": name, "value": value},
                )
    finally:
        sql.close(store)
    return tokens


def fresh_tokens(location: str, now: datetime) -> dict[str, str]:
    """New tokens for the agents of an existing bench database (only hashes are stored)."""
    store = open_store_and_migrate(location)
    tokens = {}
    try:
        for name in AGENTS:
            revoke_agent(store, name, now)
            tokens[name] = create_agent(store, name, ["bench"], now)[1]
    finally:
        sql.close(store)
    return tokens


def is_seeded(location: str) -> bool:
    """True when the database exists and holds the bench's components' history."""
    if not location.startswith("postgresql") and not Path(location).exists():
        return False
    store = sql.open_store(location)
    try:
        return bool(sql.scalar(store, "SELECT count(*) FROM component_days"))
    except sql.Error:
        return False
    finally:
        sql.close(store)


def _timer() -> Callable[[str], None]:
    started = [time.monotonic()]

    def done(label: str) -> None:
        print(f"  seeded {label} in {time.monotonic() - started[0]:.1f} s", flush=True)
        started[0] = time.monotonic()

    return done


def _bulk_sqlite(db_path: Path, now: datetime, raw_days: int, history_days: int) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    # A rollback journal for the bulk load: new pages need no journal, whereas WAL would
    # write every page twice (once to the log, once at checkpoint).
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -400000")
    now_ts = int(now.timestamp()) // INTERVAL_S * INTERVAL_S
    conn.execute("BEGIN")
    conn.execute("CREATE TEMP TABLE k(n INTEGER PRIMARY KEY, id TEXT)")
    conn.executemany("INSERT INTO k VALUES (?, ?)", [(c, f"k{c:03d}") for c in range(COMPONENTS)])
    conn.execute("CREATE TEMP TABLE a(n INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO a VALUES (?, ?)", list(enumerate(AGENTS)))
    conn.execute("COMMIT")
    done = _timer()

    def timed(label: str, statement: str, params: tuple[object, ...] = ()) -> None:
        conn.execute("BEGIN")
        conn.execute(statement, params)
        conn.execute("COMMIT")
        done(label)

    # Raw results: time outermost so ids (and the PK index) grow in order. 1 in 997 is down.
    ticks = raw_days * 86400 // INTERVAL_S
    timed(
        "results",
        "WITH RECURSIVE t(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM t WHERE i < ?)"
        " INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status)"
        " SELECT printf('r%08d-%03d-%d', t.i, k.n, a.n), k.id, a.name,"
        "  strftime('%Y-%m-%dT%H:%M:%S.000+00:00', ? - (? - t.i) * ?, 'unixepoch'),"
        "  strftime('%Y-%m-%dT%H:%M:%S.000+00:00', ? - (? - t.i) * ? + 1, 'unixepoch'),"
        "  20 + (t.i * 7 + k.n * 13 + a.n) % 180,"
        "  CASE WHEN (t.i + k.n * 31 + a.n) % 997 = 0 THEN 'down' ELSE 'up' END"
        " FROM t CROSS JOIN k CROSS JOIN a",
        (ticks, now_ts, ticks, INTERVAL_S, now_ts, ticks, INTERVAL_S),
    )
    rollup = (
        "WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < ?)"
        # Series outermost and time ascending: rows arrive in primary-key order.
        " INSERT INTO {table} SELECT k.id, a.name,"
        " substr(strftime('%Y-%m-%dT%H:%M:%S', ? - (? - t.i) * ?, 'unixepoch'), 1, {cut}),"
        " ?, ? - (t.i + k.n) % 3 / 2, 0, (t.i + k.n) % 3 / 2, ? * 110.0, 199.0"
        " FROM k CROSS JOIN a CROSS JOIN t"
    )
    for table, buckets, step, cut in _rollup_shapes(raw_days, history_days):
        per = step // INTERVAL_S
        timed(
            table,
            rollup.format(table=table, cut=cut),
            (buckets - 1, now_ts, buckets - 1, step, per, per, per),
        )
    timed(
        "result_counters",
        "INSERT INTO result_counters SELECT k.id, a.name, s.status,"
        " CASE s.status WHEN 'up' THEN 1150000 ELSE 1150 END"
        " FROM k CROSS JOIN a CROSS JOIN (SELECT 'up' AS status UNION ALL SELECT 'down') s",
    )
    start = to_iso(now - timedelta(days=history_days))
    timed(
        "component_status",
        "INSERT INTO component_status (component_id, status, updated_at)"
        " SELECT printf('c%03d', n), 'operational', ? FROM k",
        (start,),
    )
    timed(
        "component_status_history",
        "INSERT INTO component_status_history (component_id, status, started_at)"
        " SELECT printf('c%03d', n), 'operational', ? FROM k",
        (start,),
    )
    # Daily uptime: mostly clean days, an outage of 10-60 minutes every ~40 days per component.
    timed(
        "component_days",
        "WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < ?)"
        " INSERT INTO component_days (component_id, day, operational_s, major_s)"
        " SELECT printf('c%03d', k.n), date(?, 'unixepoch', -d.i || ' days'),"
        "  86400 - CASE WHEN (d.i + k.n) % 40 = 0 THEN 600 * (1 + k.n % 6) ELSE 0 END,"
        "  CASE WHEN (d.i + k.n) % 40 = 0 THEN 600 * (1 + k.n % 6) ELSE 0 END FROM d CROSS JOIN k",
        (history_days - 1, now_ts),
    )
    timed(
        "check_states",
        "INSERT INTO check_states (check_id, agent, status, since, consecutive_failures,"
        " consecutive_successes,"
        " last_result_at, last_latency_ms) SELECT k.id, a.name, 'up', ?, 0, 10, ?, 42 FROM k CROSS JOIN a",
        (start, to_iso(now)),
    )
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()


def _rollup_shapes(raw_days: int, history_days: int) -> list[tuple[str, int, int, int]]:
    """(table, buckets, seconds per bucket, length of the bucket's ISO prefix)."""
    return [
        # A week of minutes (fewer when fewer raw days are asked for: a quick small run).
        ("rollups_minute", min(7, max(1, raw_days)) * 1440, 60, 16),
        ("rollups_hour", history_days * 24, 3600, 13),
        ("rollups_day", history_days, 86400, 10),
    ]


# PostgreSQL spellings of the SQLite statements above (same rows, same values).
PG_ISO = """to_char(to_timestamp({at}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')"""
PG_COMPONENT = "'c' || lpad(k.n::text, 3, '0')"


def _bulk_postgres(url: str, now: datetime, raw_days: int, history_days: int) -> None:
    import psycopg

    now_ts = int(now.timestamp()) // INTERVAL_S * INTERVAL_S
    start = to_iso(now - timedelta(days=history_days))
    ticks = raw_days * 86400 // INTERVAL_S
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("CREATE TEMP TABLE k(n INTEGER PRIMARY KEY, id TEXT)")
        conn.cursor().executemany(
            "INSERT INTO k VALUES (%s, %s)", [(c, f"k{c:03d}") for c in range(COMPONENTS)]
        )
        conn.execute("CREATE TEMP TABLE a(n INTEGER PRIMARY KEY, name TEXT)")
        conn.cursor().executemany("INSERT INTO a VALUES (%s, %s)", list(enumerate(AGENTS)))
        done = _timer()

        def timed(label: str, statement: str, params: dict[str, Any] | None = None) -> None:
            table = statement.split("INSERT INTO ", 1)[1].split()[0]
            if params:  # psycopg's placeholders are %(name)s: the modulo operator doubles
                statement = statement.replace(" % ", " %% ")
            with _indexes_rebuilt_after(conn, table):
                conn.execute(statement, params)  # type: ignore[arg-type]
            done(f"{label} (indexes rebuilt)")

        at = "%(now)s - (%(ticks)s - t) * %(step)s"
        timed(
            "results",
            "INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status)"
            " SELECT 'r' || lpad(t::text, 8, '0') || '-' || lpad(k.n::text, 3, '0') || '-' || a.n,"
            " k.id, a.name,"
            f" {PG_ISO.format(at=at)} || '.000+00:00', {PG_ISO.format(at=at + ' + 1')} || '.000+00:00',"
            "  20 + (t * 7 + k.n * 13 + a.n) % 180,"
            "  CASE WHEN (t + k.n * 31 + a.n) % 997 = 0 THEN 'down' ELSE 'up' END"
            " FROM generate_series(1, %(ticks)s) t CROSS JOIN k CROSS JOIN a",
            {"now": now_ts, "ticks": ticks, "step": INTERVAL_S},
        )
        for table, buckets, step, cut in _rollup_shapes(raw_days, history_days):
            per = step // INTERVAL_S
            bucket_at = "%(now)s - (%(top)s - t) * %(step)s"
            timed(
                table,
                f"INSERT INTO {table} SELECT k.id, a.name, substr({PG_ISO.format(at=bucket_at)}, 1, {cut}),"
                " %(per)s, %(per)s - (t + k.n) % 3 / 2, 0, (t + k.n) % 3 / 2, %(per)s * 110.0, 199.0"
                " FROM k CROSS JOIN a CROSS JOIN generate_series(0, %(top)s) t",
                {"now": now_ts, "top": buckets - 1, "step": step, "per": per},
            )
        timed(
            "result_counters",
            "INSERT INTO result_counters SELECT k.id, a.name, s.status,"
            " CASE s.status WHEN 'up' THEN 1150000 ELSE 1150 END"
            " FROM k CROSS JOIN a CROSS JOIN (VALUES ('up'), ('down')) s(status)",
        )
        for table in ("component_status", "component_status_history"):
            column = "updated_at" if table == "component_status" else "started_at"
            timed(
                table,
                f"INSERT INTO {table} (component_id, status, {column})"
                f" SELECT {PG_COMPONENT}, 'operational', %(start)s FROM k",
                {"start": start},
            )
        timed(
            "component_days",
            "INSERT INTO component_days (component_id, day, operational_s, major_s)"
            f" SELECT {PG_COMPONENT},"
            "  to_char((to_timestamp(%(now)s) AT TIME ZONE 'UTC')::date - d, 'YYYY-MM-DD'),"
            "  86400 - CASE WHEN (d + k.n) % 40 = 0 THEN 600 * (1 + k.n % 6) ELSE 0 END,"
            "  CASE WHEN (d + k.n) % 40 = 0 THEN 600 * (1 + k.n % 6) ELSE 0 END"
            " FROM generate_series(0, %(top)s) d CROSS JOIN k",
            {"now": now_ts, "top": history_days - 1},
        )
        timed(
            "check_states",
            "INSERT INTO check_states (check_id, agent, status, since, consecutive_failures,"
            " consecutive_successes, last_result_at, last_latency_ms)"
            " SELECT k.id, a.name, 'up', %(start)s, 0, 10, %(now)s, 42 FROM k CROSS JOIN a",
            {"start": start, "now": to_iso(now)},
        )
        # VACUUM sets the visibility map (index-only scans) and the statistics, as autovacuum would.
        for table in BULK_TABLES:
            conn.execute(f"VACUUM (ANALYZE) {table}")
        done("VACUUM (ANALYZE)")


@contextmanager
def _indexes_rebuilt_after(conn: Any, table: str) -> Iterator[None]:
    """Drop `table`'s indexes and unique/primary-key constraints, then recreate them (PostgreSQL)."""
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('p', 'u')",
        (table,),
    ).fetchall()
    owned = {name for name, _ in constraints}
    indexes = [
        (name, definition)
        for name, definition in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (table,)
        ).fetchall()
        if name not in owned
    ]
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    for name, _ in constraints:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    yield
    for name, definition in constraints:
        conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _name, definition in indexes:
        conn.execute(definition)


def _seed_incidents(store: sql.Store, now: datetime, history_days: int) -> None:
    """Two incidents per component over the history (400 days: about one a day), two still open."""
    with sql.write(store):
        for n in range(COMPONENTS * 2):
            step_h = history_days * 24 / (COMPONENTS * 2)
            created = now - timedelta(days=history_days) + timedelta(hours=n * step_h + (n * 7) % 24)
            is_open = n >= COMPONENTS * 2 - 2
            created = now - timedelta(minutes=30 + n % 7) if is_open else created
            resolved = None if is_open else created + timedelta(minutes=10 + n % 50)
            incident_id = sql.insert_returning_id(
                store,
                "INSERT INTO incidents (title, status, impact, created_at, updated_at, resolved_at)"
                " VALUES (:title, :status, :impact, :created, :updated, :resolved) RETURNING id",
                {"title": f"Errors on component {n % COMPONENTS:03d}",
                 "status": "identified" if is_open else "resolved",
                 "impact": ("minor", "major", "critical")[n % 3],
                 "created": to_iso(created), "updated": to_iso(resolved or created),
                 "resolved": to_iso(resolved) if resolved else None},
            )  # fmt: skip
            component = f"c{n % COMPONENTS:03d}"
            sql.run(
                store,
                "INSERT INTO incident_components (incident_id, component_id, status)"
                " VALUES (:id, :component, 'major_outage')",
                {"id": incident_id, "component": component},
            )
            affected = json.dumps(
                [{"component_id": component, "old_status": "operational", "new_status": "major_outage"}]
            )
            updates = [("investigating", created), ("identified", created + timedelta(minutes=5))]
            if resolved:
                updates.append(("resolved", resolved))
            sql.run_many(
                store,
                "INSERT INTO incident_updates (incident_id, status, body, created_at, actor,"
                " affected_components)"
                " VALUES (:id, :status, :body, :at, 'engine', :affected)",
                [{"id": incident_id, "status": status, "body": f"Update: {status}.", "at": to_iso(at),
                  "affected": affected} for status, at in updates],
            )  # fmt: skip
