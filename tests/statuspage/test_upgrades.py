"""Upgrade rules: migrations keep every row, a newer database is refused, a failed migration
leaves the database exactly as it was (all on real SQLite files)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from statuspage import create_app
from statuspage.cli import main
from statuspage.db import (
    DatabaseTooNew,
    MigrationFailed,
    applied_migrations,
    connect,
    known_migrations,
    migrate,
)
from statuspage.settings import load_settings
from statuspage.storage import sql
from statuspage.storage.migrations import MIGRATIONS

FIRST = known_migrations()[0]


def snapshot(path: Path) -> dict[str, Any]:
    """Schema and every row of every table: what "as it was" means."""
    conn = sqlite3.connect(path)
    try:
        schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        rows = {
            name: sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    finally:
        conn.close()
    return {"schema": schema, "rows": rows}


def first_migration_only(path: Path) -> Database:
    db = connect(path)
    MIGRATIONS.apply(db, stop_before=known_migrations()[1:])
    assert applied_migrations(db) == [FIRST]
    return db


def fill_first_schema(db: Database) -> None:
    """Rows in every table the first migration made, as an old collector would have left them."""
    with db.atomic():
        db.execute(
            "INSERT INTO agents (name, token_hash, labels, declared_labels, created_at, last_seen_at,"
            " agent_version, clock_skew_s) VALUES ('edge-1', 'h1', '[\"eu\"]', '[]',"
            " '2025-01-01T00:00:00Z', '2025-06-01T00:00:00Z', '0.0.9', 0.25)"
        )
        db.execute(
            "INSERT INTO agents (name, token_hash, created_at, revoked_at)"
            " VALUES ('old', 'h2', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z')"
        )
        for index in range(50):
            db.execute(
                "INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status,"
                " error, metrics, detail) VALUES (?, 'api', 'edge-1', ?, ?, ?, ?, ?, '{\"x\": 1.5}', '{}')",
                [
                    f"00000000-0000-4000-8000-{index:012d}",
                    f"2025-06-01T00:{index:02d}:00Z",
                    f"2025-06-01T00:{index:02d}:01Z",
                    index * 1.5,
                    "up" if index % 7 else "down",
                    None if index % 7 else "timeout",
                ],
            )
        db.execute(
            "INSERT INTO check_states VALUES ('api', 'edge-1', 'up', '2025-06-01T00:00:00Z', 0, 3,"
            " '2025-06-01T00:49:00Z', 73.5, NULL)"
        )
        db.execute(
            "INSERT INTO flips (check_id, agent, at, old_status, new_status)"
            " VALUES ('api', 'edge-1', '2025-06-01T00:07:00Z', 'up', 'down')"
        )
        db.execute("INSERT INTO component_status VALUES ('api', 'operational', '2025-06-01T00:49:00Z')")


def test_upgrade_from_the_first_migration_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = first_migration_only(path)
    fill_first_schema(db)
    db.conn.close()
    before = snapshot(path)

    db = connect(path)
    applied = migrate(db)
    db.conn.close()

    assert applied == known_migrations()[1:]
    after = snapshot(path)
    for table, rows in before["rows"].items():
        if table == "_sqlite_migrations":
            continue
        columns_before = len(rows[0]) if rows else 0
        # Later migrations may add columns (appended) but never lose a row or a value.
        kept = sorted((row[:columns_before] for row in after["rows"][table]), key=repr)
        assert kept == rows, table
    assert len(after["rows"]["results"]) == 50
    assert applied_migrations(connect(path)) == known_migrations()


def test_results_status_rule_becomes_comparisons_and_still_holds(tmp_path: Path) -> None:
    # SQLite rebuilds an IN list's lookup table for every inserted row (m0028): the rule is
    # rewritten in place on a database that holds results, and every connection enforces the
    # new text, one opened before the upgrade included.
    path = tmp_path / "old.db"
    db = first_migration_only(path)
    fill_first_schema(db)
    db.conn.close()
    rows_before = snapshot(path)["rows"]["results"]
    early = sqlite3.connect(path)
    early.execute("SELECT count(*) FROM results").fetchone()

    db = connect(path)
    migrate(db)
    db.conn.close()

    (definition,) = early.execute("SELECT sql FROM sqlite_master WHERE name = 'results'").fetchone()
    assert "IN (" not in definition
    assert "CHECK (status = 'up' OR status = 'down' OR status = 'degraded')" in definition
    assert early.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert snapshot(path)["rows"]["results"] == rows_before
    insert = "INSERT INTO results VALUES (?, 'api', 'edge-1', 't', 't', 1.0, ?, NULL, '{}', '{}')"
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed: status = 'up' OR"):
        early.execute(insert, ("bad", "sideways"))
    for status in ("up", "down", "degraded"):
        early.execute(insert, (status, status))
    early.commit()
    early.close()


def test_upgrade_through_the_cli_and_app_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    first_migration_only(path).conn.close()
    monkeypatch.setenv("UPWATCH_DATABASE", str(path))
    monkeypatch.delenv("UPWATCH_CONFIG", raising=False)
    assert main(["migrate"]) == 0
    assert applied_migrations(connect(path)) == known_migrations()
    assert main(["migrate"]) == 0  # nothing pending: a no-op


def mark_newer(path: Path) -> None:
    db = connect(path)
    migrate(db)
    db["_sqlite_migrations"].insert(
        {"migration_set": "upwatch", "name": "9999_from_the_future", "applied_at": "2030-01-01"}
    )
    db.conn.close()


def test_newer_database_is_refused_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "newer.db"
    mark_newer(path)
    before = snapshot(path)

    with pytest.raises(DatabaseTooNew, match="9999_from_the_future") as refused:
        migrate(connect(path))
    assert "newer upwatch" in str(refused.value)
    with pytest.raises(DatabaseTooNew):
        create_app(load_settings(environ={}, database=str(path)))

    monkeypatch.setenv("UPWATCH_DATABASE", str(path))
    monkeypatch.delenv("UPWATCH_CONFIG", raising=False)
    for command in (["migrate"], ["worker"], ["agent-token", "list"]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert "newer upwatch" in err and "9999_from_the_future" in err
        assert "Traceback" not in err
    assert snapshot(path) == before


def broken_migrations(good_extra: bool) -> Migrations:
    """The real migrations, then (optionally) a good new one, then one that fails half-way."""
    migrations = Migrations("upwatch")
    for migration in MIGRATIONS.pending(Database(memory=True)):
        migrations(name=migration.name)(migration.fn)

    if good_extra:

        @migrations(name="0090_good")
        def good(db: Database) -> None:
            db.executescript("CREATE TABLE extra (id INTEGER PRIMARY KEY); INSERT INTO extra VALUES (1);")

    @migrations(name="0091_broken")
    def broken(db: Database) -> None:
        db.executescript(
            """
            ALTER TABLE agents ADD COLUMN region TEXT;
            UPDATE agents SET region = 'eu';
            DELETE FROM results;
            CREATE TABLE half_done (id INTEGER);
            """
        )
        raise RuntimeError("disk on fire")

    return migrations


@pytest.mark.parametrize("good_extra", [False, True])
def test_failed_migration_leaves_the_database_as_it_was(tmp_path: Path, good_extra: bool) -> None:
    path = tmp_path / "live.db"
    db = first_migration_only(path)
    fill_first_schema(db)
    migrate(db)  # the current version, with data
    db.conn.close()
    before = snapshot(path)

    db = connect(path)
    with pytest.raises(MigrationFailed, match="0091_broken") as failed:
        migrate(db, broken_migrations(good_extra))
    assert "disk on fire" in str(failed.value)
    assert "as it was" in str(failed.value)
    assert not db.conn.in_transaction
    db.conn.close()

    assert snapshot(path) == before
    # Still usable by this version, and the next attempt fails the same way, not worse.
    db = connect(path)
    assert migrate(db) == []
    with pytest.raises(MigrationFailed):
        migrate(db, broken_migrations(good_extra))
    db.conn.close()
    assert snapshot(path) == before


# PostgreSQL: the same list, the same rules, on a real server (tests/pg.py).


def pg_snapshot(store: Any) -> dict[str, Any]:
    tables = [
        row["table_name"]
        for row in sql.rows(
            store,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
        )
    ]
    return {
        table: sorted((tuple(row.values()) for row in sql.rows(store, f'SELECT * FROM "{table}"')), key=repr)
        for table in tables
    }


def columns_by_table(store: Any) -> dict[str, list[str]]:
    if sql.engine_name(store) == "sqlite":
        tables = [
            row["name"]
            for row in sql.rows(
                store,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'",
            )
        ]
        return {
            t: [c["name"] for c in sql.rows(store, f'SELECT name FROM pragma_table_info("{t}")')]
            for t in tables
        }
    listed = sql.rows(
        store,
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        " AND table_name <> 'upwatch_migrations' ORDER BY table_name, ordinal_position",
    )
    found: dict[str, list[str]] = {}
    for row in listed:
        found.setdefault(row["table_name"], []).append(row["column_name"])
    return found


def test_postgres_gets_the_same_tables_and_columns_as_sqlite(postgres: Any, tmp_path: Path) -> None:
    lite = connect(tmp_path / "same.db")
    migrate(lite)
    pg = sql.open_store(postgres.new_database())
    try:
        assert migrate(pg) == known_migrations()
        assert applied_migrations(pg) == known_migrations()
        assert migrate(pg) == []  # nothing pending: a no-op
        expected = columns_by_table(lite)
        expected["results"] = [*expected["results"], "seq"]  # 0018: PostgreSQL's arrival order
        assert columns_by_table(pg) == expected
    finally:
        sql.close(pg)
        lite.conn.close()


def subset(count: int) -> Migrations:
    migrations = Migrations("upwatch")
    for migration in MIGRATIONS.pending(Database(memory=True))[:count]:
        migrations(name=migration.name)(migration.fn)
    return migrations


def test_postgres_upgrade_keeps_every_row_and_refuses_newer(postgres: Any) -> None:
    pg = sql.open_store(postgres.new_database())
    try:
        assert migrate(pg, subset(1)) == [FIRST]
        sql.run(
            pg,
            "INSERT INTO agents (name, token_hash, created_at) VALUES ('edge-1', 'h1', '2025-01-01T00:00:00Z')",
        )
        sql.run_many(
            pg,
            "INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status)"
            " VALUES (:id, 'api', 'edge-1', :at, :at, 1.5, 'up')",
            [{"id": f"r{i}", "at": f"2025-06-01T00:{i:02d}:00Z"} for i in range(20)],
        )
        before = pg_snapshot(pg)
        assert migrate(pg) == known_migrations()[1:]
        after = pg_snapshot(pg)
        for table in ("agents", "results"):
            width = len(before[table][0])
            assert sorted((row[:width] for row in after[table]), key=repr) == before[table]

        sql.run(
            pg,
            "INSERT INTO upwatch_migrations (migration_set, name, applied_at)"
            " VALUES ('upwatch', '9999_from_the_future', '2030-01-01')",
        )
        with pytest.raises(DatabaseTooNew, match="9999_from_the_future"):
            migrate(pg)
    finally:
        sql.close(pg)


def test_postgres_failed_migration_leaves_the_database_as_it_was(postgres: Any) -> None:
    pg = sql.open_store(postgres.new_database())
    try:
        migrate(pg)
        sql.run(
            pg,
            "INSERT INTO agents (name, token_hash, created_at) VALUES ('edge-1', 'h1', '2025-01-01T00:00:00Z')",
        )
        before = pg_snapshot(pg)
        with pytest.raises(MigrationFailed, match="0091_broken"):
            migrate(pg, broken_migrations(good_extra=True))
        assert pg_snapshot(pg) == before
        assert migrate(pg) == []
    finally:
        sql.close(pg)
