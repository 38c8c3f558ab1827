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
  front (BEGIN IMMEDIATE on SQLite; on PostgreSQL a claim is a conditional
  UPDATE with its row count, or `FOR UPDATE SKIP LOCKED`).

`Store` is the handle a storage function takes. Today it is the sqlite-utils
`Database` every process already opens; the PostgreSQL engine puts its own
handle behind the same name and the same functions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlite_utils import Database

from statuspage.storage.transaction import immediate

Store = Database
Params = Mapping[str, Any]
# What a unique or foreign-key constraint violation raises, whichever the engine: storage
# functions catch this, never a driver's own class.
IntegrityError = sqlite3.IntegrityError
# What any database failure raises (busy beyond the timeout, disk full, I/O): callers that
# answer "try again later" catch this.
Error = sqlite3.Error


def _bound(params: Params | None) -> Mapping[str, Any]:
    # The driver wants a dict for named parameters; pass one through without copying (hot paths).
    if params is None:
        return {}
    return params if isinstance(params, dict) else dict(params)


def rows(db: Store, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
    """Every row of a query, each a dict keyed by column name."""
    cursor = db.conn.execute(sql, _bound(params))
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def one(db: Store, sql: str, params: Params | None = None) -> dict[str, Any] | None:
    """The first row of a query as a dict, or None when there is none."""
    cursor = db.conn.execute(sql, _bound(params))
    values = cursor.fetchone()
    if values is None:
        return None
    names = [column[0] for column in cursor.description or ()]
    return dict(zip(names, values, strict=True))


def scalar(db: Store, sql: str, params: Params | None = None) -> Any:
    """The first column of the first row, or None when the query returns no row."""
    values = db.conn.execute(sql, _bound(params)).fetchone()
    return None if values is None else values[0]


def run(db: Store, sql: str, params: Params | None = None) -> int:
    """Run one statement; return the number of rows it changed (the claim's row count)."""
    return int(db.conn.execute(sql, _bound(params)).rowcount)


def run_many(db: Store, sql: str, params: Iterable[Params]) -> int:
    """Run one statement once per parameter set (a batch insert); return the rows changed in all."""
    return int(db.conn.executemany(sql, [dict(p) for p in params]).rowcount)


def insert_many(db: Store, table: str, columns: Sequence[str], values: Iterable[Sequence[Any]]) -> int:
    """Insert rows given as tuples in `columns` order; return how many were inserted.

    The ingest hot path: no dict per row. `table` and `columns` are the caller's
    own names, never input. On SQLite the statement is positional, the driver's
    fast path for tuples; the placeholder style is this module's business.
    """
    marks = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - names are ours
    return int(db.conn.executemany(statement, values).rowcount)


def insert_returning_id(db: Store, sql: str, params: Params | None = None) -> int:
    """Run an `INSERT ... RETURNING id` and return the new row's id."""
    value = scalar(db, sql, params)
    if value is None:
        raise LookupError("INSERT ... RETURNING returned no row")
    return int(value)


@contextmanager
def write(db: Store) -> Iterator[Store]:
    """One write transaction that holds the write lock from its start; nested use joins the outer one."""
    with immediate(db) as handle:
        yield handle


def tuples(db: Store, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
    """Every row of a query as a plain tuple, in column order: for hot loops, where a dict per row costs."""
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
    key, so free and always increasing while the newest row is kept); the
    PostgreSQL schema gives `results` a BIGINT identity column for the same job.
    """
    return "rowid"


def engine_name(db: Store) -> str:
    """'sqlite' or 'postgresql': for the few named engine-specific pieces, never for SQL text."""
    return "sqlite"
