"""The dialect-neutral seam every storage module writes its SQL through.

upwatch runs on SQLite (the embedded default) and PostgreSQL (issue 13). Code
above `statuspage/storage/` never sees SQL; code inside it calls these
functions instead of a driver's `execute`, so the engine underneath can change
without touching the queries. The rules for the SQL text handed in:

- named parameters only (`:name`), never `?` or `%s`;
- the subset both engines speak: `INSERT ... ON CONFLICT (cols) DO NOTHING`
  or `DO UPDATE SET col = excluded.col` (not `INSERT OR IGNORE/REPLACE`),
  `RETURNING id` (not `lastrowid`), no `rowid`, no engine functions such as
  `julianday()` or `datetime('now')`: times are ISO 8601 UTC text from
  `shared.timeutil.to_iso`, passed in and compared as strings;
- a read-then-write runs inside `write(db)`, which takes the write lock up
  front (BEGIN IMMEDIATE on SQLite; on PostgreSQL BEGIN plus one advisory
  lock, see `write`); a claim is a conditional UPDATE with its row count, or
  `FOR UPDATE SKIP LOCKED` (`skip_locked`) inside `transaction`.

`Store` is the handle a storage function takes: the sqlite-utils `Database`
every process opens on a SQLite file (its raw sqlite3 connection runs the SQL,
so SQLite's hot path costs what it did before), or a `PostgresStore`
(`statuspage.storage.postgres`: SQLAlchemy Core `text()` over psycopg 3).
`open_store(location)` opens either from the `database` setting.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlite_utils import Database

from statuspage.storage.transaction import immediate

if TYPE_CHECKING:
    from statuspage.storage.postgres import PostgresStore

Store: TypeAlias = "Database | PostgresStore"
Params = Mapping[str, Any]
# What a unique or foreign-key constraint violation raises, whichever the engine: storage
# functions catch this, never a driver's own class (PostgreSQL's is translated at the seam).
IntegrityError = sqlite3.IntegrityError
# What any other database failure raises on either engine (busy, unreachable, I/O).
Error = sqlite3.Error


def open_store(location: Path | str) -> Store:
    """Open the database a `database` setting names: a `postgresql://` URL or a SQLite file path.

    Opens only; `statuspage.db.open_store_and_migrate` also applies migrations.
    """
    from statuspage.storage.locations import is_postgres_url

    if is_postgres_url(location):
        from statuspage.storage.postgres import PostgresStore

        return PostgresStore(str(location))
    from statuspage.storage.sqlite_file import connect

    return connect(location)


def close(db: Store) -> None:
    """Close the SQLite connection, or return the PostgreSQL connection to its pool."""
    if isinstance(db, Database):
        db.conn.close()
    else:
        db.close()


def _bound(params: Params | None) -> Mapping[str, Any]:
    # The driver wants a dict for named parameters; pass one through without copying (hot paths).
    if params is None:
        return {}
    return params if isinstance(params, dict) else dict(params)


def rows(db: Store, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
    """Every row of a query, each a dict keyed by column name."""
    if not isinstance(db, Database):
        return [dict(row) for row in db.execute(sql, _bound(params)).mappings()]
    cursor = db.conn.execute(sql, _bound(params))
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def one(db: Store, sql: str, params: Params | None = None) -> dict[str, Any] | None:
    """The first row of a query as a dict, or None when there is none."""
    if not isinstance(db, Database):
        row = db.execute(sql, _bound(params)).mappings().first()
        return None if row is None else dict(row)
    cursor = db.conn.execute(sql, _bound(params))
    values = cursor.fetchone()
    if values is None:
        return None
    names = [column[0] for column in cursor.description or ()]
    return dict(zip(names, values, strict=True))


def scalar(db: Store, sql: str, params: Params | None = None) -> Any:
    """The first column of the first row, or None when the query returns no row."""
    if not isinstance(db, Database):
        found = db.execute(sql, _bound(params)).first()
        return None if found is None else found[0]
    values = db.conn.execute(sql, _bound(params)).fetchone()
    return None if values is None else values[0]


def run(db: Store, sql: str, params: Params | None = None) -> int:
    """Run one statement; return the number of rows it changed (the claim's row count)."""
    if not isinstance(db, Database):
        return int(db.execute(sql, _bound(params)).rowcount)
    return int(db.conn.execute(sql, _bound(params)).rowcount)


def run_many(db: Store, sql: str, params: Iterable[Params]) -> int:
    """Run one statement once per parameter set (a batch insert); return the rows changed in all."""
    batch = [dict(p) for p in params]
    if not isinstance(db, Database):
        if not batch:
            return 0
        return max(0, int(db.execute(sql, batch).rowcount))
    return int(db.conn.executemany(sql, batch).rowcount)


def insert_many(
    db: Store,
    table: str,
    columns: Sequence[str],
    values: Iterable[Sequence[Any]],
    *,
    skip_conflicts_on: Sequence[str] = (),
    update_on_conflict: Sequence[str] = (),
) -> int:
    """Insert rows given as tuples in `columns` order; return how many were inserted (or updated).

    The ingest hot path: no dict per row. `table` and `columns` are the caller's
    own names, never input. On SQLite the statement is positional, the driver's
    fast path for tuples; the placeholder style is this module's business.
    With `skip_conflicts_on` (a unique key's columns) a row whose key is stored
    already is left out (`ON CONFLICT (...) DO NOTHING`) and not counted; with
    `update_on_conflict` it replaces the stored row's other columns (an upsert).
    """
    conflicts = (tuple(skip_conflicts_on), tuple(update_on_conflict))
    if not isinstance(db, Database):
        statement = _insert_statement(table, tuple(columns), *conflicts, named=True)
        names, _marks = _list_names("p", len(columns))
        return run_many(db, statement, [dict(zip(names, row, strict=True)) for row in values])
    statement = _insert_statement(table, tuple(columns), *conflicts, named=False)
    return int(db.conn.executemany(statement, values).rowcount)


@lru_cache(maxsize=64)
def _insert_statement(
    table: str, columns: tuple[str, ...], skip_on: tuple[str, ...], update_on: tuple[str, ...], *, named: bool
) -> str:
    # Cached: ingest builds the same two statements on every report.
    marks = _list_names("p", len(columns))[1] if named else ", ".join("?" * len(columns))
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - names are ours
    if skip_on:
        statement += f" ON CONFLICT ({', '.join(skip_on)}) DO NOTHING"
    elif update_on:
        assignments = ", ".join(
            f"{column} = excluded.{column}" for column in columns if column not in update_on
        )
        statement += f" ON CONFLICT ({', '.join(update_on)}) DO UPDATE SET {assignments}"
    return statement


def batches(db: Store, sql: str, params: Params | None, size: int) -> Iterator[list[dict[str, Any]]]:
    """The rows of a large query, `size` at a time, without holding them all in memory.

    PostgreSQL reads through a server-side cursor inside its own transaction.
    """
    if isinstance(db, Database):
        cursor = db.conn.execute(sql, _bound(params))
        names = [column[0] for column in cursor.description or ()]
        while chunk := cursor.fetchmany(size):
            yield [dict(zip(names, values, strict=True)) for values in chunk]
        return
    from statuspage.storage.postgres import statement

    with db.transaction(lock=None):
        options = {"yield_per": size}
        result = db.connection().execute(statement(sql), dict(_bound(params)), execution_options=options)
        for part in result.mappings().partitions(size):
            yield [dict(row) for row in part]


def insert_returning_id(db: Store, sql: str, params: Params | None = None) -> int:
    """Run an `INSERT ... RETURNING id` and return the new row's id."""
    value = scalar(db, sql, params)
    if value is None:
        raise LookupError("INSERT ... RETURNING returned no row")
    return int(value)


@contextmanager
def write(db: Store) -> Iterator[Store]:
    """One write transaction that holds the write lock from its start; nested use joins the outer one.

    SQLite: BEGIN IMMEDIATE. PostgreSQL: BEGIN, then the transaction-scoped
    advisory lock every write() takes (postgres.WRITE_LOCK): the same one
    writer at a time, across every process on the database.
    """
    if isinstance(db, Database):
        with immediate(db) as handle:
            yield handle
        return
    with db.transaction() as store:
        yield store


@contextmanager
def transaction(db: Store) -> Iterator[Store]:
    """A transaction without the global write lock, for claims that lock their own rows.

    SQLite has only one writer anyway (BEGIN IMMEDIATE); on PostgreSQL this is
    a plain BEGIN, for `SELECT ... FOR UPDATE SKIP LOCKED` claims and
    `try_task_lock`, so workers claiming different rows do not wait on each other.
    """
    if isinstance(db, Database):
        with immediate(db) as handle:
            yield handle
        return
    with db.transaction(lock=None) as store:
        yield store


@contextmanager
def savepoint(db: Store) -> Iterator[Store]:
    """Inside a transaction: undo only the statements in this block when it raises, then re-raise.

    For a statement whose constraint violation the caller handles and then carries on
    in the same transaction (an incident that is already open): PostgreSQL aborts the
    whole transaction at an error unless a savepoint was set before it; SQLite only the
    statement, but the same SAVEPOINT / ROLLBACK TO / RELEASE works there too. Outside a
    transaction the statement commits or fails on its own, so this does nothing.
    """
    inside = db.conn.in_transaction if isinstance(db, Database) else db.in_transaction
    if not inside:
        yield db
        return
    run(db, "SAVEPOINT upwatch_savepoint")
    try:
        yield db
    except BaseException:
        run(db, "ROLLBACK TO SAVEPOINT upwatch_savepoint")
        run(db, "RELEASE SAVEPOINT upwatch_savepoint")
        raise
    run(db, "RELEASE SAVEPOINT upwatch_savepoint")


def try_task_lock(db: Store, key: int) -> bool:
    """Inside `transaction`/`write`: True when this process may run task `key` now.

    PostgreSQL: `pg_try_advisory_xact_lock(key)`, held until the transaction
    ends, so exactly one worker runs a rollup, prune or fan-out pass at a time
    and the others skip it instead of waiting. SQLite: always True (BEGIN
    IMMEDIATE already made this the only writer).
    """
    if isinstance(db, Database):
        return True
    return bool(scalar(db, "SELECT pg_try_advisory_xact_lock(:key)", {"key": key}))


def skip_locked(db: Store) -> str:
    """The row-lock clause a claim's SELECT ends with: FOR UPDATE SKIP LOCKED on PostgreSQL, '' on SQLite."""
    return "" if isinstance(db, Database) else " FOR UPDATE SKIP LOCKED"


def tuples(db: Store, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
    """Every row of a query as a plain tuple, in column order: for hot loops, where a dict per row costs."""
    if not isinstance(db, Database):
        return [tuple(values) for values in db.execute(sql, _bound(params))]
    # sqlite3 rows are tuples already: no copy.
    return db.conn.execute(sql, _bound(params)).fetchall()


def in_list(prefix: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """Parameters for `col IN (...)`: the text `:prefix0, :prefix1, ...` and its values.

    Callers handle an empty `values` themselves (`IN ()` is not SQL PostgreSQL accepts).
    """
    found = values if isinstance(values, list | tuple) else list(values)
    names, text = _list_names(prefix, len(found))
    return text, dict(zip(names, found, strict=True))


@lru_cache(maxsize=512)
def _list_names(prefix: str, count: int) -> tuple[tuple[str, ...], str]:
    # Cached: ingest builds the same lists (its checks, 500-id chunks) on every report.
    names = tuple(f"{prefix}{index}" for index in range(count))
    return names, ", ".join(f":{name}" for name in names)


def arrival_column(db: Store) -> str:
    """The column numbering `results` rows in arrival order, for the rollup and prune watermarks.

    A named engine-specific piece: on SQLite the rowid (the table's own b-tree
    key, so free and always increasing while the newest row is kept); on
    PostgreSQL the `seq` identity column (migration 0018_results_arrival_order).
    On SQLite rows commit in that order (one writer); on PostgreSQL agents' reports
    are written in parallel, so a watermark reads its upper end from
    `committed_arrival_horizon`, never a bare max().
    """
    return "rowid" if isinstance(db, Database) else "seq"


def committed_arrival_horizon(db: Store) -> int | None:
    """Outside a transaction: an arrival number up to which every `results` row has committed.

    PostgreSQL: ingest of different agents runs in parallel (per-agent locks), so `seq`
    numbers commit out of order and max(seq) may pass a row still in flight; this waits
    for the writers in flight and returns a number no later insert can fall under
    (`postgres.committed_arrival_horizon`). SQLite: None, meaning a max(rowid) read
    at any moment is one already (the file has one writer: every lower row has committed).
    """
    if isinstance(db, Database):
        return None
    from statuspage.storage.postgres import committed_arrival_horizon as horizon

    return horizon(db)


def engine_name(db: Store) -> str:
    """'sqlite' or 'postgresql': for the few named engine-specific pieces, never for SQL text."""
    return "sqlite" if isinstance(db, Database) else "postgresql"
