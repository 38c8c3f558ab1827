"""Opening the database: SQLite connections (WAL, a busy timeout) and migrations applied on open.

A `postgresql://` URL in the `database` setting opens PostgreSQL instead
(`statuspage.storage.postgres`); the same migration list applies there
(`statuspage.storage.postgres_schema`), with the same rules.

Each web request gets its own connection (closed at teardown); the worker
holds one for its lifetime. sqlite-utils wraps the connection so storage
modules can use `Database.atomic()` for short write transactions.

Upgrade rules (docs/operations.md): every process migrates on start; a
database that has a migration this version does not know was written by a
newer upwatch and is refused (DatabaseTooNew), never half-used; all pending
migrations apply in one transaction, so a failing one leaves the database
exactly as it was (MigrationFailed).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from statuspage.storage import sql
from statuspage.storage.migrations import MIGRATIONS
from statuspage.storage.schema_errors import (
    DatabaseTooNew,
    EngineNotReady,
    MigrationFailed,
    SchemaError,
    too_new_message,
)
from statuspage.storage.sqlite_file import BUSY_TIMEOUT_MS, connect

# Callers open files and catch schema errors through this module; the storage layer
# defines them (schema_errors, sqlite_file) so it never imports this module back.
__all__ = [
    "BUSY_TIMEOUT_MS",
    "DatabaseTooNew",
    "EngineNotReady",
    "MigrationFailed",
    "SchemaError",
    "applied_migrations",
    "check_not_newer",
    "connect",
    "describe",
    "known_migrations",
    "migrate",
    "open_and_migrate",
    "open_store_and_migrate",
    "too_new_message",
]


def known_migrations(migrations: Migrations = MIGRATIONS) -> list[str]:
    # sqlite-utils has no public listing of a set's migrations; pending() on an
    # empty in-memory database is exactly that list, without touching any file.
    return [migration.name for migration in migrations.pending(sqlite_utils.Database(memory=True))]


def applied_migrations(db: sql.Store, migrations: Migrations = MIGRATIONS) -> list[str]:
    """Names of the upwatch migrations recorded in the database, in the order applied."""
    if not isinstance(db, sqlite_utils.Database):
        from statuspage.storage import postgres_schema

        return postgres_schema.applied(db, migrations)
    return [migration.name for migration in migrations.applied(db)]


def check_not_newer(db: sql.Store, migrations: Migrations = MIGRATIONS) -> None:
    """Raise DatabaseTooNew when the database records migrations this version does not have."""
    known = set(known_migrations(migrations))
    unknown = [name for name in applied_migrations(db, migrations) if name not in known]
    if unknown:
        raise DatabaseTooNew(too_new_message(describe(db), unknown))


def migrate(db: sql.Store, migrations: Migrations = MIGRATIONS) -> list[str]:
    """Apply pending migrations; return the names applied.

    Raises DatabaseTooNew (nothing is changed) or MigrationFailed (everything
    pending is rolled back; the database is as it was before the call).
    """
    if not isinstance(db, sqlite_utils.Database):
        from statuspage.storage import postgres_schema

        return postgres_schema.migrate(db, migrations)
    check_not_newer(db, migrations)
    if not migrations.pending(db):
        return []
    # One IMMEDIATE transaction around all of them: it takes the write lock
    # first, so two processes starting together (web and worker) cannot both
    # apply the same migration, and sqlite-utils runs each migration in a
    # savepoint inside it (its executescript avoids sqlite3's implicit COMMIT).
    db.execute("BEGIN IMMEDIATE")
    pending: list[str] = []
    try:
        check_not_newer(db, migrations)
        pending = [migration.name for migration in migrations.pending(db)]
        migrations.apply(db)
        db.execute("COMMIT")
    except Exception as error:
        failed = _first_pending(db, migrations)
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        if isinstance(error, SchemaError):
            raise
        raise MigrationFailed(
            f"migration {failed} failed on {describe(db)}: {error!r}. "
            "Nothing was changed: the database is as it was before the upgrade. "
            "Keep running the previous upwatch version and report the error."
        ) from error
    return pending


def _first_pending(db: sqlite_utils.Database, migrations: Migrations) -> str:
    try:
        pending = migrations.pending(db)
    except sqlite3.Error:
        return "(unknown)"
    return pending[0].name if pending else "(unknown)"


def describe(db: sql.Store) -> str:
    """The SQLite file's path, or the PostgreSQL URL without its password."""
    if not isinstance(db, sqlite_utils.Database):
        from statuspage.storage.locations import redacted

        return redacted(db.url)
    row = db.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row and row[2] else ":memory:"


def open_and_migrate(path: Path | str) -> sqlite_utils.Database:
    db = connect(path)
    migrate(db)
    return db


def open_store_and_migrate(location: Path | str) -> sql.Store:
    """Open the SQLite file or PostgreSQL URL a `database` setting names, and migrate it."""
    db = sql.open_store(location)
    try:
        migrate(db)
    except BaseException:
        sql.close(db)
        raise
    return db
