"""Whole-table access for `copy-database`: the schema's tables in insert order,
row counts, rows in batches, bulk inserts, and identity counters after a copy.

Table and column names here come from our own migrated schema (never from
input), so they are interpolated as quoted identifiers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlite_utils

from statuspage.storage import sql

# Migration bookkeeping: each engine's own, written by migrate(), never copied.
BOOKKEEPING = {"_sqlite_migrations", "upwatch_migrations"}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def schema_tables(db: sql.Store) -> list[str]:
    """upwatch's tables in the database, parents before the tables that reference them."""
    if isinstance(db, sqlite_utils.Database):
        names = [
            row["name"]
            for row in sql.rows(
                db,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
                " ORDER BY name",
            )
        ]
        parents = {
            name: {
                row["table"]
                for row in sql.rows(db, 'SELECT "table" FROM pragma_foreign_key_list(:t)', {"t": name})
            }
            for name in names
        }
    else:
        names = [
            row["table_name"]
            for row in sql.rows(
                db,
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
            )
        ]
        parents = {name: set() for name in names}
        for row in sql.rows(
            db,
            "SELECT tc.table_name AS child, ccu.table_name AS parent"
            " FROM information_schema.table_constraints tc"
            " JOIN information_schema.constraint_column_usage ccu"
            " ON tc.constraint_name = ccu.constraint_name AND tc.table_schema = ccu.table_schema"
            " WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()",
        ):
            parents.setdefault(row["child"], set()).add(row["parent"])
    return _parents_first([name for name in names if name not in BOOKKEEPING], parents)


def _parents_first(names: list[str], parents: dict[str, set[str]]) -> list[str]:
    ordered: list[str] = []
    placed: set[str] = set()

    def place(name: str, path: tuple[str, ...]) -> None:
        if name in placed or name in path:
            return  # placed already, or a self-/cyclic reference (ordered by id within the table)
        for parent in sorted(parents.get(name, ())):
            if parent in names:
                place(parent, (*path, name))
        placed.add(name)
        ordered.append(name)

    for name in names:
        place(name, ())
    return ordered


def columns(db: sql.Store, table: str) -> list[str]:
    """The table's column names in their declared order."""
    if isinstance(db, sqlite_utils.Database):
        found = sql.rows(db, "SELECT name FROM pragma_table_info(:t) ORDER BY cid", {"t": table})
        return [row["name"] for row in found]
    return [
        row["column_name"]
        for row in sql.rows(
            db,
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = :t ORDER BY ordinal_position",
            {"t": table},
        )
    ]


def count(db: sql.Store, table: str) -> int:
    return int(sql.scalar(db, f"SELECT count(*) FROM {_quoted(table)}"))  # noqa: S608 - our own table names


def primary_key(db: sql.Store, table: str) -> list[str]:
    if isinstance(db, sqlite_utils.Database):
        keyed = sql.rows(db, "SELECT name FROM pragma_table_info(:t) WHERE pk > 0 ORDER BY pk", {"t": table})
        return [row["name"] for row in keyed]
    return [
        row["column_name"]
        for row in sql.rows(
            db,
            "SELECT kcu.column_name FROM information_schema.table_constraints tc"
            " JOIN information_schema.key_column_usage kcu"
            " ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema"
            " WHERE tc.table_schema = current_schema() AND tc.table_name = :t"
            " AND tc.constraint_type = 'PRIMARY KEY' ORDER BY kcu.ordinal_position",
            {"t": table},
        )
    ]


# Tables whose rows carry an arrival number beside their columns (rollup watermarks
# point into it): SQLite's rowid, PostgreSQL's `seq`; the copy keeps it.
ARRIVAL_ORDERED = {"results"}
ARRIVAL_KEY = "__arrival"


def copy_columns(source: sql.Store, target: sql.Store, table: str) -> list[str]:
    """The columns both sides have (the arrival column travels separately)."""
    present = set(columns(source, table))
    return [name for name in columns(target, table) if name in present and name != sql.arrival_column(target)]


def read_batches(db: sql.Store, table: str, names: list[str], size: int) -> Iterator[list[dict[str, Any]]]:
    """Every row of `table` (its `names`, plus the arrival number where kept), `size` rows at a time.

    Ordered by arrival where kept, else by the primary key (or all columns).
    """
    selected = [_quoted(n) for n in names]
    if table in ARRIVAL_ORDERED:
        selected.append(f"{sql.arrival_column(db)} AS {ARRIVAL_KEY}")
        order = [sql.arrival_column(db)]
    else:
        order = [_quoted(n) for n in primary_key(db, table) or names]
    select = f"SELECT {', '.join(selected)} FROM {_quoted(table)} ORDER BY {', '.join(order)}"  # noqa: S608
    yield from sql.batches(db, select, None, size)


def insert_rows(db: sql.Store, table: str, names: list[str], batch: list[dict[str, Any]]) -> None:
    targets = [_quoted(n) for n in names]
    keys = list(names)
    if table in ARRIVAL_ORDERED:
        targets.append(sql.arrival_column(db))
        keys.append(ARRIVAL_KEY)
    placeholders = ", ".join(f":p{index}" for index in range(len(keys)))
    statement = f"INSERT INTO {_quoted(table)} ({', '.join(targets)}) VALUES ({placeholders})"  # noqa: S608
    sql.run_many(db, statement, [{f"p{i}": row[k] for i, k in enumerate(keys)} for row in batch])


def clear(db: sql.Store, table: str) -> None:
    """Delete every row (the rows a fresh migration seeded, before the copy replaces them)."""
    sql.run(db, f"DELETE FROM {_quoted(table)}")  # noqa: S608 - our own table names


def reset_identity(db: sql.Store, table: str) -> None:
    """PostgreSQL: move identity counters (`id`, `seq`) past the copied values (SQLite needs nothing)."""
    if sql.engine_name(db) != "postgresql":
        return
    present = columns(db, table)
    for column in ("id", "seq"):
        if column not in present:
            continue
        sequence = sql.scalar(db, "SELECT pg_get_serial_sequence(:t, :c)", {"t": _quoted(table), "c": column})
        if sequence is None:
            continue
        highest = sql.scalar(db, f"SELECT MAX({column}) FROM {_quoted(table)}")  # noqa: S608 - our own names
        sql.scalar(
            db,
            "SELECT setval(CAST(:s AS regclass), :v, :called)",
            {"s": sequence, "v": highest or 1, "called": highest is not None},
        )
