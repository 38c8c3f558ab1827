"""Schema migrations (sqlite-utils `Migrations`): append new ones, never edit applied ones.

Times are stored as ISO 8601 UTC text in one fixed format (`shared.timeutil.to_iso`),
so they sort and compare as strings.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("upwatch")


@MIGRATIONS(name="0001_initial")
def m0001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE agents (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            labels TEXT NOT NULL DEFAULT '[]',
            declared_labels TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            last_seen_at TEXT,
            agent_version TEXT,
            clock_skew_s REAL
        );
        -- One live token per agent name; revoked rows stay for the audit trail.
        CREATE UNIQUE INDEX agents_live_name ON agents(name) WHERE revoked_at IS NULL;

        CREATE TABLE results (
            id TEXT PRIMARY KEY,
            check_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            started_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            latency_ms REAL NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('up', 'down', 'degraded')),
            error TEXT,
            metrics TEXT NOT NULL DEFAULT '{}',
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX results_check_time ON results(check_id, started_at);

        -- Current state per (check, agent): the thresholds' counters.
        CREATE TABLE check_states (
            check_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            status TEXT NOT NULL,
            since TEXT NOT NULL,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            consecutive_successes INTEGER NOT NULL DEFAULT 0,
            last_result_at TEXT NOT NULL,
            last_latency_ms REAL,
            last_error TEXT,
            PRIMARY KEY (check_id, agent)
        );

        -- Every change of a (check, agent) state: the facts the engine and history use.
        CREATE TABLE flips (
            id INTEGER PRIMARY KEY,
            check_id TEXT NOT NULL,
            agent TEXT NOT NULL,
            at TEXT NOT NULL,
            old_status TEXT NOT NULL,
            new_status TEXT NOT NULL
        );
        CREATE INDEX flips_check_time ON flips(check_id, at);

        CREATE TABLE component_status (
            component_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
    )
