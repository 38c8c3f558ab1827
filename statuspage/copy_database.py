"""`upwatch-statuspage copy-database SRC DST`: move an installation between engines.

SRC and DST are each a SQLite file path or a `postgresql://` URL. The copy:

- refuses a SRC that is not at this version's schema (migrate it first) and a
  SRC or DST written by a newer upwatch;
- refuses a non-empty DST (any table holding more rows than a freshly migrated
  database has: migrations seed a few bookkeeping rows), touching nothing;
- migrates DST, then copies every table parents first, in primary-key order,
  in batches, inside one DST transaction: an error leaves DST as it was;
- keeps every id (PostgreSQL identity counters are moved past them);
- reports progress on a terminal and ends with one summary line.

Stop the collector and workers on SRC first: rows written during the copy may
be missed.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from statuspage.db import applied_migrations as applied
from statuspage.db import connect, describe, known_migrations, migrate
from statuspage.storage import sql, tables

BATCH_ROWS = 2000


class CopyError(Exception):
    """The copy cannot start or failed; the message says why and what to do. DST is unchanged."""


@dataclass
class CopySummary:
    """What was copied: rows per table, and the time it took."""

    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        total = sum(self.rows.values())
        return (
            f"copied {total:,} rows in {len(self.rows)} tables from {self.source} to {self.target}"
            f" in {self.seconds:.1f} s"
        )


def _open_source(location: str) -> sql.Store:
    from statuspage.storage.locations import is_postgres_url

    if not is_postgres_url(location) and not Path(location).is_file():
        raise CopyError(f"source {location} does not exist")
    return sql.open_store(location)


def _seeded_counts() -> dict[str, int]:
    """Rows per table in a freshly migrated database (what counts as empty)."""
    fresh = connect(":memory:")
    try:
        migrate(fresh)
        return {table: tables.count(fresh, table) for table in tables.schema_tables(fresh)}
    finally:
        fresh.conn.close()


def _refuse_non_empty(target: sql.Store) -> None:
    seeded = _seeded_counts()
    for table in tables.schema_tables(target):
        found = tables.count(target, table)
        if found > seeded.get(table, 0):
            raise CopyError(
                f"target {describe(target)} is not empty: table {table} has {found} rows."
                " copy-database only fills an empty database; create a new one (or drop this one) first"
            )


def copy_database(source_location: str, target_location: str, progress: TextIO | None = None) -> CopySummary:
    """Copy every row from SRC to an empty DST. Raises CopyError (or SchemaError); DST is then unchanged."""
    source = _open_source(source_location)
    try:
        known = known_migrations()
        source_applied = applied(source)
        if source_applied != known:
            missing = [name for name in known if name not in source_applied]
            why = (
                f"missing {', '.join(missing)}: run `upwatch-statuspage migrate` on it first"
                if missing
                else "it has migrations this version does not know: use the newer upwatch"
            )
            raise CopyError(f"source {describe(source)} is not at this version's schema ({why})")
        target = sql.open_store(target_location)
        try:
            _refuse_non_empty(target)
            migrate(target)
            return _copy(source, target, progress)
        finally:
            sql.close(target)
    finally:
        sql.close(source)


def _copy(source: sql.Store, target: sql.Store, progress: TextIO | None) -> CopySummary:
    started = time.monotonic()
    summary = CopySummary(describe(source), describe(target))
    order = tables.schema_tables(target)
    available = set(tables.schema_tables(source))
    show = _progress_printer(progress)
    with sql.write(target):
        for table in reversed(order):
            tables.clear(target, table)
        for table in order:
            if table not in available:
                raise CopyError(f"source has no table {table}: is it an upwatch database?")
            names = tables.copy_columns(source, target, table)
            total = tables.count(source, table)
            done = 0
            for batch in tables.read_batches(source, table, names, BATCH_ROWS):
                tables.insert_rows(target, table, names, batch)
                done += len(batch)
                show(table, done, total)
            tables.reset_identity(target, table)
            summary.rows[table] = done
    show("", 0, 0)
    summary.seconds = time.monotonic() - started
    return summary


def _progress_printer(stream: TextIO | None) -> Callable[[str, int, int], None]:
    if stream is None or not stream.isatty():
        return lambda _table, _done, _total: None

    def show(table: str, done: int, total: int) -> None:
        if not table:
            stream.write("\r\033[K")
        else:
            stream.write(f"\r\033[Kcopying {table}: {done:,}/{total:,} rows")
        stream.flush()

    return show


def command(source: str, target: str) -> int:
    """The CLI: 0 on success with the summary line, 1 with a clear message otherwise."""
    from statuspage.db import SchemaError

    try:
        summary = copy_database(source, target, progress=sys.stderr)
    except (CopyError, SchemaError) as error:
        print(f"upwatch-statuspage copy-database: {error}", file=sys.stderr)
        return 1
    except (OSError, ImportError, sqlite3.Error) as error:
        print(f"upwatch-statuspage copy-database: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        # A PostgreSQL error (sqlalchemy.exc.*: unreachable, refused login, a value
        # the target's column type rejects): one line, nothing half-copied.
        if type(error).__module__.startswith(("sqlalchemy", "psycopg")):
            print(f"upwatch-statuspage copy-database: {str(error).splitlines()[0]}", file=sys.stderr)
            return 1
        raise
    print(summary.line())
    return 0
