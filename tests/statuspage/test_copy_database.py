"""copy-database: SQLite -> PostgreSQL -> SQLite keeps every row of every table (counts and a
checksum per table), refuses a non-empty target and an unmigrated source, and runs as a command."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from statuspage.cli import main
from statuspage.copy_database import CopyError, copy_database
from statuspage.db import connect, known_migrations, migrate
from statuspage.storage import sql, tables
from statuspage.storage.agents import create_agent
from statuspage.storage.migrations import MIGRATIONS
from tests.conftest import T0
from tests.statuspage.public_data import seed


def fingerprint(location: str) -> dict[str, tuple[int, str]]:
    """Rows and a checksum of every table's content (order-independent, types normalised)."""
    store = sql.open_store(location)
    try:
        found = {}
        for table in tables.schema_tables(store):
            names = [n for n in tables.columns(store, table) if n != "seq"]  # the arrival number: below
            rows = sorted(
                repr(tuple(row[n] for n in names)) for row in sql.rows(store, f'SELECT * FROM "{table}"')
            )
            found[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
        arrival = sql.arrival_column(store)
        in_order = [
            row["id"] for row in sql.rows(store, f"SELECT id, {arrival} AS n FROM results ORDER BY n")
        ]
        numbers = [row["n"] for row in sql.rows(store, f"SELECT {arrival} AS n FROM results ORDER BY n")]
        found["results arrival"] = (
            len(in_order),
            hashlib.sha256(repr((in_order, numbers)).encode()).hexdigest(),
        )
        return found
    finally:
        sql.close(store)


@pytest.fixture
def filled_sqlite(tmp_path: Path) -> str:
    path = tmp_path / "source.db"
    db = connect(path)
    migrate(db)
    seed(db, T0)
    create_agent(db, "edge-1", ["eu"], T0)
    create_agent(db, "edge-2", [], T0)
    sql.run_many(
        db,
        "INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status, error, metrics)"
        " VALUES (:id, 'api-health', 'edge-1', :at, :at, :ms, :status, :error, '{\"rss_bytes\": 123456789012}')",
        [
            {
                "id": f"00000000-0000-4000-8000-{i:012d}",
                "at": f"2026-11-27T11:{i // 60:02d}:{i % 60:02d}Z",
                "ms": i * 0.1 + 1 / 3,
                "status": "up" if i % 9 else "down",
                "error": None if i % 9 else "timeout: é ✓",
            }
            for i in range(3000)
        ],
    )
    db.conn.close()
    return str(path)


def test_round_trip_sqlite_postgres_sqlite_keeps_every_row(
    filled_sqlite: str, postgres: Any, tmp_path: Path
) -> None:
    before = fingerprint(filled_sqlite)
    assert sum(count for count, _ in before.values()) > 3000
    assert sum(1 for count, _ in before.values() if count) >= 8

    pg = postgres.new_database()
    there = copy_database(filled_sqlite, pg)
    assert there.rows == {table: count for table, (count, _) in before.items() if table != "results arrival"}
    assert fingerprint(pg) == before

    back = str(tmp_path / "back.db")
    copy_database(pg, back)
    assert fingerprint(back) == before

    # Ids go on from the copied ones: a new row on PostgreSQL gets the next id, no clash.
    store = sql.open_store(pg)
    try:
        new_id = sql.insert_returning_id(
            store,
            "INSERT INTO agents (name, token_hash, created_at) VALUES ('edge-3', 'h3', :at) RETURNING id",
            {"at": "2026-01-01T00:00:00Z"},
        )
        assert new_id == 3
    finally:
        sql.close(store)


def test_refuses_a_non_empty_target_and_changes_nothing(filled_sqlite: str, tmp_path: Path) -> None:
    target = tmp_path / "target.db"
    db = connect(target)
    migrate(db)
    create_agent(db, "already-here", [], T0)
    db.conn.close()
    before = fingerprint(str(target))
    with pytest.raises(CopyError, match="not empty: table agents"):
        copy_database(filled_sqlite, str(target))
    assert fingerprint(str(target)) == before


def test_refuses_an_unmigrated_source(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    db = connect(old)
    MIGRATIONS.apply(db, stop_before=known_migrations()[1:])
    db.conn.close()
    with pytest.raises(CopyError, match="migrate"):
        copy_database(str(old), str(tmp_path / "new.db"))
    with pytest.raises(CopyError, match="does not exist"):
        copy_database(str(tmp_path / "missing.db"), str(tmp_path / "new2.db"))


def test_command_prints_one_summary_line(
    filled_sqlite: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = str(tmp_path / "copy.db")
    assert main(["copy-database", filled_sqlite, target]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("copied ") and "tables from" in lines[0]
    assert main(["copy-database", filled_sqlite, target]) == 1
    err = capsys.readouterr().err
    assert "not empty" in err and "Traceback" not in err
